"""Export a YOLOX model to OpenVINO IR and check it against PyTorch.

The code and -h text are in yolox/tools/export_openvino.py (also `python -m yolox.tools.export_openvino`).
"""
import sys

from yolox.tools.export_openvino import main

if __name__ == "__main__":
    sys.exit(main())
