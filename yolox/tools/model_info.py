"""Print parameters and GFLOPs of the bundled YOLOX sizes, or of one experiment (-f or -n).

    python tools/model_info.py                 # table of nano .. x at each one's input size
    python tools/model_info.py -f exps/yolox_s.py --tsize 640
    python tools/model_info.py -n yolox-s width 0.25
"""
import argparse

from tabulate import tabulate

from yolox.exp import get_exp
from yolox.exp.build import bundled_exps_dir
from yolox.utils.model_utils import model_stats

from .exp_flags import add_exp_flags, build_exp

SIZES = ("yolox_nano", "yolox_tiny", "yolox_s", "yolox_m", "yolox_l", "yolox_x")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tsize", type=int, default=None,
                        help="square input size for the GFLOPs column (default: each experiment's test_size)")
    # Without -f or -n: the table of the bundled sizes.
    add_exp_flags(parser)
    return parser


def main(argv=None) -> None:
    args = make_parser().parse_args(argv)
    if args.exp_file or args.name:
        exps = [build_exp(args)]
    else:
        exps = [get_exp(str(bundled_exps_dir() / f"{name}.py")) for name in SIZES]
    rows = []
    for exp in exps:
        size = (args.tsize, args.tsize) if args.tsize else tuple(exp.test_size)
        stats = model_stats(exp.get_model(), size)
        rows.append((exp.exp_name, exp.depth, exp.width, getattr(exp, "depthwise", False),
                     f"{size[0]}x{size[1]}", f"{stats.params:,}", f"{stats.gflops:.2f}"))
    print(tabulate(rows, headers=["exp", "depth", "width", "depthwise", "input", "params", "GFLOPs"]))


if __name__ == "__main__":
    main()
