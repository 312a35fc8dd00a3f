"""Export a YOLOX model to ONNX and check it with onnxruntime.

The code and -h text are in yolox/tools/export_onnx.py (also `python -m yolox.tools.export_onnx`).
"""
import sys

from yolox.tools.export_onnx import main

if __name__ == "__main__":
    sys.exit(main())
