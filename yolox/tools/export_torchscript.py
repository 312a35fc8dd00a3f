"""Export a YOLOX model to TorchScript (traced) and check the saved file against eager PyTorch.

    python tools/export_torchscript.py -n yolox-s -c yolox_s.pth --output-name yolox_s.torchscript.pt

Output [B, A, 5 + C]: boxes, objectness and class probabilities. Boxes are raw grid offsets
(dx, dy, dw, dh) unless --decode_in_inference bakes the decoding to cx, cy, w, h in input pixels
into the module (Megvii's convention). Any batch size runs at the traced input size. Exits with
status 1 when the saved module and PyTorch differ by more than 1e-3 on boxes or 1e-4 on scores.
"""
import argparse
import sys

from yolox.deploy.export_check import verify_export
from yolox.deploy.model_loading import export_metadata
from yolox.deploy.torchscript_export import check_torchscript, export_torchscript

from .export_source import add_model_source_flags, model_to_export


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-name", type=str, default="yolox.torchscript.pt", help="the file to write")
    parser.add_argument("--batch-size", type=int, default=1, help="batch size used for tracing")
    add_model_source_flags(parser)
    return parser


def main(argv=None) -> int:
    args = make_parser().parse_args(argv)
    exp, loaded = model_to_export(args)
    size = tuple(exp.test_size)
    # Traced at one batch size, the module runs any: the metadata fixes none.
    metadata = export_metadata(loaded, input_size=size, batch_size=None, exp_name=exp.exp_name)
    path = export_torchscript(loaded.model, args.output_name, input_size=size, batch_size=args.batch_size,
                              metadata=metadata)
    return verify_export(loaded.model, lambda ref, images: check_torchscript(path, ref, images),
                         image=args.image, input_size=size, batch_sizes=[1, 2])


if __name__ == "__main__":
    sys.exit(main())
