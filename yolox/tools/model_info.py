"""Print parameters and GFLOPs of the bundled YOLOX sizes (or of one experiment file).

    python tools/model_info.py                 # table of nano .. x at each one's input size
    python tools/model_info.py -f exps/yolox_s.py --tsize 640
"""
import argparse

from tabulate import tabulate

from yolox.exp import get_exp
from yolox.exp.build import bundled_exps_dir
from yolox.utils.model_utils import model_stats

SIZES = ("yolox_nano", "yolox_tiny", "yolox_s", "yolox_m", "yolox_l", "yolox_x")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-f", "--exp_file", default=None, help="one experiment file instead of the bundled sizes")
    parser.add_argument("--tsize", type=int, default=None,
                        help="square input size for the GFLOPs column (default: each experiment's test_size)")
    return parser


def main(argv=None) -> None:
    args = make_parser().parse_args(argv)
    files = [args.exp_file] if args.exp_file else [str(bundled_exps_dir() / f"{name}.py") for name in SIZES]
    rows = []
    for exp_file in files:
        exp = get_exp(exp_file)
        size = (args.tsize, args.tsize) if args.tsize else tuple(exp.test_size)
        stats = model_stats(exp.get_model(), size)
        rows.append((exp.exp_name, exp.depth, exp.width, getattr(exp, "depthwise", False),
                     f"{size[0]}x{size[1]}", f"{stats.params:,}", f"{stats.gflops:.2f}"))
    print(tabulate(rows, headers=["exp", "depth", "width", "depthwise", "input", "params", "GFLOPs"]))


if __name__ == "__main__":
    main()
