"""Draw the anchors SimOTA assigns to each GT box of a few training batches.

The code and -h text are in yolox/tools/visualize_assign.py (also `python -m yolox.tools.visualize_assign`).
"""
from yolox.tools.visualize_assign import main

if __name__ == "__main__":
    main()
