"""Train a YOLOX experiment; the code and -h text are in yolox/tools/train.py (also `python -m yolox.tools.train`)."""
import sys

from yolox.tools.train import main

if __name__ == "__main__":
    sys.exit(main())
