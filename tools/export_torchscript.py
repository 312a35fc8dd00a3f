"""Export a YOLOX model to TorchScript and check the saved file.

The code and -h text are in yolox/tools/export_torchscript.py (also `python -m yolox.tools.export_torchscript`).
"""
import sys

from yolox.tools.export_torchscript import main

if __name__ == "__main__":
    sys.exit(main())
