"""What tools/export_onnx.py and tools/export_torchscript.py share: the flags naming the model to
export (its experiment, checkpoint, input size, decode switch, check image) and that model."""
import argparse
from typing import Tuple

from yolox.deploy.model_loading import LoadedModel, model_for_export

from .exp_flags import add_exp_flags, build_exp

__all__ = ["add_model_source_flags", "model_to_export"]


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
