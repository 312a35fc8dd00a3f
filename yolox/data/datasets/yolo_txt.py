"""YOLODataset: Ultralytics-style YOLO-txt folders (images/<split>/, labels/<split>/*.txt)."""
import os
from typing import Callable, Optional, Sequence, Tuple, Union

from ..errors import AnnotationError
from .detection import DetectionDataset
from .yolo_format import labels_dir_for, read_class_names, read_data_yaml, yolo_records

__all__ = ["YOLODataset"]


class YOLODataset(DetectionDataset):
    """YOLO-txt detection data with the same item contract as COCODataset.

    Folders: images in ``images_dir`` (default: the data yaml's ``<split>`` entry, else
    ``<data_dir>/images/<split>``), labels in ``labels_dir`` (default: that path with its last
    ``images`` replaced by ``labels``), one ``class cx cy w h`` line per box, normalised.
    class_names: a sequence, or a path to a data yaml / names file; default: the ``names`` of
    ``data_yaml`` (default ``<data_dir>/data.yaml`` when it exists).
    Image ids are positions; in the ``coco`` view class ``i`` is category ``i + 1``.
    """

    def __init__(
        self,
        data_dir: str,
        split: str = "train",
        img_size: Tuple[int, int] = (416, 416),
        preproc: Optional[Callable] = None,
        *,
        class_names: Optional[Union[str, Sequence[str]]] = None,
        data_yaml: Optional[str] = None,
        images_dir: Optional[str] = None,
        labels_dir: Optional[str] = None,
        cache: bool = False,
        cache_type: str = "ram",
        skip_bad_images: bool = False,
    ):
        self.data_dir, self.split = data_dir, split
        yaml_path = self._yaml_path(data_yaml)
        yaml_data = read_data_yaml(yaml_path) if yaml_path else {}
        names = self._class_names(class_names, yaml_data, yaml_path)
        self.images_dir = images_dir or self._images_dir(yaml_data, yaml_path)
        self.labels_dir = labels_dir or labels_dir_for(self.images_dir)
        records, self.box_report = yolo_records(self.images_dir, self.labels_dir, names)
        cache_dir = os.path.join(data_dir, f"cache_{split.replace('/', '_')}_{img_size[0]}x{img_size[1]}")
        super().__init__(records=records, class_names=names, class_ids=range(1, len(names) + 1),
                         img_size=img_size, preproc=preproc, cache=cache, cache_type=cache_type,
                         cache_dir=cache_dir, skip_bad_images=skip_bad_images)

    def _yaml_path(self, data_yaml: Optional[str]) -> Optional[str]:
        if data_yaml is not None:
            path = data_yaml if os.path.isabs(data_yaml) else os.path.join(self.data_dir, data_yaml)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"YOLO data yaml not found: {path}")
            return path
        default = os.path.join(self.data_dir, "data.yaml")
        return default if os.path.isfile(default) else None

    def _class_names(self, class_names, yaml_data, yaml_path):
        if class_names is not None:
            return read_class_names(class_names)
        if "names" in yaml_data:
            return read_class_names(yaml_path)
        raise AnnotationError(
            f"YOLO dataset {self.data_dir}: no class names; pass class_names= (a list, a yaml or a names file) "
            f"or add a data.yaml with 'names'"
        )

    def _images_dir(self, yaml_data, yaml_path) -> str:
        entry = yaml_data.get(self.split)
        if not isinstance(entry, str):
            return os.path.join(self.data_dir, "images", self.split)
        # Ultralytics resolves split folders against the yaml's 'path', itself relative to the yaml.
        base = os.path.join(os.path.dirname(yaml_path), str(yaml_data.get("path", "")))
        return os.path.normpath(os.path.join(base, entry))
