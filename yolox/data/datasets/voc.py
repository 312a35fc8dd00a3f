"""VOCDetection: PASCAL VOC folders (Annotations/, JPEGImages/, ImageSets/Main/*.txt)."""
import os
from typing import Callable, Optional, Sequence, Tuple, Union

from .detection import DetectionDataset
from .image_size import image_size_hw
from .voc_format import discover_voc_classes, read_image_set, voc_records

__all__ = ["VOCDetection"]

ImageSet = Union[str, Tuple[str, str]]


class VOCDetection(DetectionDataset):
    """VOC-format detection data with the same item contract as COCODataset.

    image_sets: entries ``(year, split)`` read ``<data_dir>/VOC<year>/ImageSets/Main/<split>.txt``
    (the VOCdevkit layout, Megvii's default); a plain ``split`` string reads
    ``<data_dir>/ImageSets/Main/<split>.txt`` (a single VOC-style folder such as bccd/voc).
    class_names: None -> the sorted object names found in all xml files of the folders used
    (for PASCAL VOC that is the standard 20-class order), or give them explicitly.
    Image ids are positions (0..N-1); ``records[i].difficult`` keeps VOC's flag for evaluation,
    and difficult boxes are kept in the training targets.
    """

    def __init__(
        self,
        data_dir: str,
        image_sets: Sequence[ImageSet] = (("2007", "trainval"),),
        img_size: Tuple[int, int] = (416, 416),
        preproc: Optional[Callable] = None,
        *,
        class_names: Optional[Sequence[str]] = None,
        cache: bool = False,
        cache_type: str = "ram",
        skip_bad_images: bool = False,
    ):
        self.root = data_dir
        self.image_set = list(image_sets)
        roots = [self._set_root(s) for s in self.image_set]
        entries = [(root, name) for root, s in zip(roots, self.image_set)
                   for name in read_image_set(root, s if isinstance(s, str) else s[1])]
        names = list(class_names) if class_names is not None else discover_voc_classes(sorted(set(roots)))
        tag = "_".join(s if isinstance(s, str) else f"{s[0]}{s[1]}" for s in self.image_set)
        source = f"VOC annotations in {data_dir} ({tag})"
        records, self.box_report = voc_records(entries, names, image_size_hw, source)
        cache_dir = os.path.join(data_dir, f"cache_voc_{tag}_{img_size[0]}x{img_size[1]}")
        super().__init__(records=records, class_names=names, class_ids=range(1, len(names) + 1),
                         img_size=img_size, preproc=preproc, cache=cache, cache_type=cache_type,
                         cache_dir=cache_dir, skip_bad_images=skip_bad_images)

    def _set_root(self, image_set: ImageSet) -> str:
        if isinstance(image_set, str):
            return self.root
        year, _ = image_set
        return os.path.join(self.root, f"VOC{year}")
