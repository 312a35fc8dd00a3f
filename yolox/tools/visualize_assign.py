"""Draw, for a few training batches, each GT box and the anchor centres SimOTA assigned to it.

    python tools/visualize_assign.py -f exps/my_exp.py -c YOLOX_outputs/my_exp/latest_ckpt.pth -b 4
    python tools/visualize_assign.py -n yolox-s --no-aug --max-batches 2 data_num_workers 0

One colour per GT; a dot's size grows with its anchor's stride; each box is labelled with its
class and anchor count. Pictures go to YOLOX_outputs/<exp>/assign_vis/<timestamp>/. Without -c the
predictions (and so the cost) come from random weights; the geometry is still the real one.
"""
import argparse
import time
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

import torch
from loguru import logger
from torch import nn

from yolox.deploy.model_loading import load_model
from yolox.deploy.demo import write_image
from yolox.models.assignment_view import compute_assignments
from yolox.utils.visualize import draw_assignments, tensor_to_image

from .exp_flags import add_exp_flags, build_exp


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-b", "--batch-size", type=int, default=4, help="images per batch")
    parser.add_argument("--max-batches", type=int, default=1, help="how many batches to draw")
    parser.add_argument("--no-aug", action="store_true", help="without mosaic / MixUp (the last epochs' input)")
    parser.add_argument("--output-dir", type=str, default=None, help="where to write (default under YOLOX_outputs)")
    add_exp_flags(parser, ckpt_help="checkpoint whose predictions drive the cost; random weights without")
    return parser


def render_assignment_batches(model: nn.Module, loader: Iterable, *, save_dir: Path, max_batches: int = 1,
                              class_names: Optional[Sequence[str]] = None) -> List[Path]:
    """Draw the assignments of the first ``max_batches`` training batches ``(images, labels, ...)``
    into ``save_dir/assign_<batch>_<image>.png``; returns the files written."""
    device = next(model.parameters()).device
    written: List[Path] = []
    for n, batch in enumerate(loader):
        if n >= max_batches:
            break
        images, labels = batch[0].to(device=device, dtype=torch.float32), batch[1].to(device)
        for i, view in enumerate(compute_assignments(model, images, labels)):
            picture = draw_assignments(tensor_to_image(images[i]), view, class_names)
            written.append(write_image(picture, save_dir / f"assign_{n}_{i}.png"))
            logger.info("batch {} image {}: {} GT boxes, anchors per GT {}", n, i, len(view.gt_boxes),
                        view.anchors_per_gt().tolist())
    return written


def main(argv=None) -> None:
    args = make_parser().parse_args(argv)
    exp = build_exp(args)
    loader = exp.get_data_loader(args.batch_size, False, no_aug=args.no_aug)
    # after the loader: the dataset's names are known
    loaded = load_model(exp, args.ckpt, device="cpu", allow_pickle=args.unsafe_load)
    save_dir = (Path(args.output_dir) if args.output_dir else
                Path(exp.output_dir) / exp.exp_name / "assign_vis" / time.strftime("%Y_%m_%d_%H_%M_%S"))
    written = render_assignment_batches(loaded.model, loader, save_dir=save_dir, max_batches=args.max_batches,
                                        class_names=loaded.class_names)
    logger.info("wrote {} pictures to {}", len(written), save_dir)


if __name__ == "__main__":
    main()
