"""Write a grid of augmented training samples with their boxes and class names drawn, so you can
see what the model is fed.

    python tools/visualize_data.py -f exps/my_exp.py -n 16
    python tools/visualize_data.py -f exps/my_exp.py -n 8 --no-aug --output /tmp/plain.jpg seed 3 data_num_workers 0

The samples come from the experiment's own training loader (``exp.get_data_loader``: mosaic,
random affine, MixUp, HSV, flip, letterbox), one batch of ``-n`` images. Default output:
``<exp.output_dir>/<exp.exp_name>/data_vis.jpg``.
"""
import argparse
from pathlib import Path

from loguru import logger

from yolox.data.batch_grid import render_batch_grid
from yolox.utils.image_file import write_image

from .exp_flags import add_exp_flags, build_exp


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--num-images", type=int, default=16, help="how many samples to draw")
    parser.add_argument("--output", type=str, default=None, help="picture to write (.jpg or .png)")
    parser.add_argument("--cols", type=int, default=None, help="tiles per row (default: a near-square grid)")
    parser.add_argument("--tile-size", type=int, default=None, help="longer side of a tile (default: input size)")
    parser.add_argument("--no-aug", action="store_true", help="without mosaic / MixUp (the last epochs' input)")
    add_exp_flags(parser, short_name=False)  # -n is the image count here
    return parser


def main(argv=None) -> Path:
    args = make_parser().parse_args(argv)
    if args.num_images < 1:
        raise SystemExit(f"-n must be at least 1, got {args.num_images}")
    exp = build_exp(args)
    loader = exp.get_data_loader(batch_size=args.num_images, is_distributed=False, no_aug=args.no_aug)
    batches = iter(loader)
    images, labels = next(batches)[:2]  # [n, 3, H, W] float 0-255 BGR; [n, max_labels, 5]
    del batches  # stops the loader's workers
    grid = render_batch_grid(images, labels, class_names=exp.dataset.class_names, cols=args.cols,
                             tile_size=args.tile_size)
    output = Path(args.output) if args.output else Path(exp.output_dir) / exp.exp_name / "data_vis.jpg"
    write_image(grid, output)
    logger.info("wrote {} training samples ({}x{} grid picture) to {}", len(images), grid.shape[1], grid.shape[0],
                output)
    return output


if __name__ == "__main__":
    main()
