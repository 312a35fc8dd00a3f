"""Check an experiment's train and val data before training.

The code and -h text are in yolox/tools/check_dataset.py (also `python -m yolox.tools.check_dataset`).
"""
import sys

from yolox.tools.check_dataset import main

if __name__ == "__main__":
    sys.exit(main())
