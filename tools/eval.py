"""Evaluate a checkpoint: COCO AP, a per-class table, the time per image.

The code and -h text are in yolox/tools/eval.py (also `python -m yolox.tools.eval`).
"""
import sys

from yolox.tools.eval import main

if __name__ == "__main__":
    sys.exit(main())
