"""Print parameters and GFLOPs of the bundled YOLOX sizes or of one experiment.

The code and -h text are in yolox/tools/model_info.py (also `python -m yolox.tools.model_info`).
"""
from yolox.tools.model_info import main

if __name__ == "__main__":
    main()
