"""Export a YOLOX model to TorchScript (traced) and check the saved file against eager PyTorch.

    python tools/export_torchscript.py -n yolox-s -c yolox_s.pth --output-name yolox_s.torchscript.pt

Output [B, A, 5 + C]: boxes, objectness and class probabilities. Boxes are raw grid offsets
(dx, dy, dw, dh) unless --decode_in_inference bakes the decoding to cx, cy, w, h in input pixels
into the module (Megvii's convention). Any batch size runs at the traced input size. Exits with
status 1 when the saved module and PyTorch differ by more than 1e-3 on boxes or 1e-4 on scores.
"""
import argparse
import sys

from yolox.core.run import build_exp
from yolox.exp.checkpoint_model import model_for_export
from yolox.deploy.export_check import verify_export
from yolox.deploy.torchscript_export import check_torchscript, export_torchscript


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-name", type=str, default="yolox.torchscript.pt", help="the file to write")
    parser.add_argument("--batch-size", type=int, default=1, help="batch size used for tracing")
    parser.add_argument("--decode_in_inference", action="store_true",
                        help="decode boxes to cx, cy, w, h in input pixels inside the exported model; "
                             "default: raw grid offsets, decoded by the deployment code (Megvii's default)")
    parser.add_argument("--tsize", type=int, default=None, help="square input size (default: the experiment's)")
    parser.add_argument("--image", type=str, default=None, help="image for the check (default: a synthetic one)")
    parser.add_argument("-f", "--exp_file", default=None, type=str, help="experiment file")
    parser.add_argument("-expn", "--experiment-name", type=str, default=None, help="unused; Megvii compatibility")
    parser.add_argument("-n", "--name", type=str, default=None, help="bundled model name, e.g. yolox-s")
    parser.add_argument("-c", "--ckpt", default=None, type=str, help="checkpoint (.pth)")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE experiment overrides")
    return parser


def main(argv=None) -> int:
    args = make_parser().parse_args(argv)
    exp = build_exp(args)
    loaded = model_for_export(exp, args.ckpt, decode_in_inference=args.decode_in_inference)
    size = tuple(exp.test_size)
    path = export_torchscript(loaded.model, args.output_name, input_size=size, batch_size=args.batch_size)
    return verify_export(loaded.model, lambda ref, images: check_torchscript(path, ref, images),
                         image=args.image, input_size=size, batch_sizes=[1, 2])


if __name__ == "__main__":
    sys.exit(main())
