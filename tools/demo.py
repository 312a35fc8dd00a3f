"""Draw a model's detections on images, a video or a webcam stream.

The code and -h text are in yolox/tools/demo.py (also `python -m yolox.tools.demo`).
"""
from yolox.tools.demo import main

if __name__ == "__main__":
    main()
