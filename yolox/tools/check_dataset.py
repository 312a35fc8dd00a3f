"""Check an experiment's train and val data before training: the first thing to run when a custom
training shows AP 0.

    python tools/check_dataset.py -f exps/my_exp.py
    python tools/check_dataset.py -f exps/my_exp.py data_dir /data/other num_classes 3

Reads the annotations through the experiment's own builders (``exp.get_dataset()``,
``exp.get_eval_dataset()``), so it sees exactly what training and evaluation will see; no image is
decoded. Prints per split: images, boxes, boxes per image, the class histogram, COCO size buckets,
images without boxes, and whether ``num_classes`` matches the data. Exits 1 when a split cannot be
read (the error names the file) or ``num_classes`` does not match.
"""
import argparse
import sys

from yolox.data import AnnotationError, ImageReadError
from yolox.data.dataset_report import compare_splits, format_report, summarize_dataset

from .exp_flags import add_exp_flags, build_exp


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_exp_flags(parser)
    return parser


def main(argv=None) -> int:
    args = make_parser().parse_args(argv)
    exp = build_exp(args)
    reports, failed = [], False
    for split, build in (("train", exp.get_dataset), ("val", exp.get_eval_dataset)):
        try:
            dataset = build()
        except (AnnotationError, ImageReadError, FileNotFoundError) as err:
            print(f"[{split}] ERROR: {err}")
            failed = True
            continue
        reports.append(summarize_dataset(dataset, split=split, exp_num_classes=exp.num_classes))
        print(format_report(reports[-1]))
    for warning in compare_splits(reports):
        print(warning)
    failed = failed or not all(r.num_classes_matches for r in reports)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
