"""What the export tools share: the flags naming the model to export (its experiment, checkpoint,
input size, decode switch, check image) and that model; the INT8 flags of export_onnx and
export_openvino and the calibration images they name."""
import argparse
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from yolox.deploy.model_loading import LoadedModel, model_for_export

from .exp_flags import add_exp_flags, build_exp

__all__ = ["add_model_source_flags", "model_to_export", "add_int8_flags", "int8_calibration", "int8_path"]

DEFAULT_CALIB_IMAGES = 300


def add_model_source_flags(parser: argparse.ArgumentParser) -> None:
    """The export tools' shared flags; ends with the trailing ``KEY VALUE`` overrides, so it comes
    after a tool's own flags."""
    parser.add_argument("--decode_in_inference", action="store_true",
                        help="decode boxes to cx, cy, w, h in input pixels inside the exported model; "
                             "default: raw grid offsets, decoded by the deployment code (Megvii's default)")
    parser.add_argument("--image", type=str, default=None, help="image for the check (default: a synthetic one)")
    parser.add_argument("-expn", "--experiment-name", type=str, default=None, help="unused; Megvii compatibility")
    add_exp_flags(parser, ckpt_help="checkpoint (.pth); random weights without", tsize=True)


def model_to_export(args: argparse.Namespace) -> Tuple[object, LoadedModel]:
    """The experiment of the parsed flags and its CPU eval model with the checkpoint's weights, boxes
    decoded in the graph only with ``--decode_in_inference``."""
    exp = build_exp(args)
    loaded = model_for_export(exp, args.ckpt, decode_in_inference=args.decode_in_inference,
                              allow_pickle=args.unsafe_load)
    return exp, loaded


def add_int8_flags(parser: argparse.ArgumentParser) -> None:
    """--int8, --calib-images N, --calib-split: an INT8 copy written beside the float file."""
    group = parser.add_argument_group("INT8 post-training quantization")
    group.add_argument("--int8", action="store_true",
                       help="also write an INT8 copy beside the float file (NAME_int8.EXT), the head's prediction "
                            "convolutions, sigmoid and decode kept float")
    group.add_argument("--calib-images", type=int, default=None, metavar="N",
                       help=f"calibration images for --int8 (default {DEFAULT_CALIB_IMAGES}, or the whole split when "
                            "smaller), letterboxed by the experiment's eval transform")
    group.add_argument("--calib-split", choices=("val", "train"), default="val",
                       help="where the calibration images come from: the experiment's eval dataset (val, default) or "
                            "its training images through the same eval letterbox (train: the eval split stays unseen)")


def int8_calibration(exp, args: argparse.Namespace) -> Optional[np.ndarray]:
    """The calibration images [N, 3, h, w] the INT8 flags ask for; None without --int8."""
    if not args.int8:
        if args.calib_images is not None:
            raise SystemExit("--calib-images is for --int8; add --int8 to write an INT8 copy")
        return None
    from yolox.deploy.quantization import calibration_images

    count = DEFAULT_CALIB_IMAGES if args.calib_images is None else args.calib_images
    return calibration_images(exp, count, split=args.calib_split)


def int8_path(float_path) -> Path:
    """Where the INT8 copy of ``float_path`` goes: ``yolox.onnx`` -> ``yolox_int8.onnx``."""
    path = Path(float_path)
    return path.with_name(f"{path.stem}_int8{path.suffix}")
