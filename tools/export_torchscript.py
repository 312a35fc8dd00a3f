"""Export a YOLOX model to TorchScript (traced) and check the saved file against eager PyTorch.

    python tools/export_torchscript.py -n yolox-s -c yolox_s.pth --output-name yolox_s.torchscript.pt

Output [B, A, 5 + C] like the eval forward (boxes decoded unless --no-decode). Any batch size
runs at the traced input size. Exits with status 1 when the saved module and PyTorch differ by
more than 1e-3 on boxes or 1e-4 on scores.
"""
import argparse
import sys

from loguru import logger

from yolox.deploy.checkpoint_loading import model_for_export
from yolox.deploy.export_check import check_batches
from yolox.deploy.torchscript_export import check_torchscript, export_torchscript
from yolox.exp import get_exp


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-name", type=str, default="yolox.torchscript.pt", help="the file to write")
    parser.add_argument("--batch-size", type=int, default=1, help="batch size used for tracing")
    parser.add_argument("--no-decode", action="store_true", help="leave boxes as raw grid offsets")
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
    exp = get_exp(args.exp_file, args.name)
    exp.merge(args.opts)
    if args.tsize is not None:
        exp.test_size = (args.tsize, args.tsize)
    loaded = model_for_export(exp, args.ckpt, decode_in_inference=not args.no_decode)
    size = tuple(exp.test_size)
    path = export_torchscript(loaded.model, args.output_name, input_size=size, batch_size=args.batch_size)
    checks = check_batches(loaded.model, lambda ref, images: check_torchscript(path, ref, images),
                           image=args.image, input_size=size, batch_sizes=[1, 2])
    for check in checks:
        logger.info(str(check))
    return 0 if all(c.passed for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
