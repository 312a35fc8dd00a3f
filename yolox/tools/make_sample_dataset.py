"""Write the built-in synthetic detection dataset (COCO format) used by exps/example/yolox_nano_sample.py.

    python tools/make_sample_dataset.py                       # datasets/sample, 400 train + 80 val
    python tools/make_sample_dataset.py --out /tmp/s --num-train 40 --num-val 8 --seed 1
"""
import argparse

from yolox.data.synthetic_dataset import SampleSpec, make_sample_dataset


def make_parser() -> argparse.ArgumentParser:
    defaults = SampleSpec()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="datasets/sample", help="output folder (default: datasets/sample)")
    parser.add_argument("--num-train", type=int, default=defaults.num_train, help="training images")
    parser.add_argument("--num-val", type=int, default=defaults.num_val, help="validation images")
    parser.add_argument("--size", type=int, nargs=2, default=defaults.img_size, metavar=("H", "W"),
                        help="image height and width in pixels")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (same seed, same dataset)")
    return parser


def main(argv=None) -> None:
    args = make_parser().parse_args(argv)
    spec = SampleSpec(num_train=args.num_train, num_val=args.num_val, img_size=tuple(args.size), seed=args.seed)
    root = make_sample_dataset(args.out, spec)
    print(f"wrote {spec.num_train} train and {spec.num_val} val images to {root}")


if __name__ == "__main__":
    main()
