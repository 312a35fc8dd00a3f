"""Write the built-in synthetic detection dataset (COCO format).

The code and -h text are in yolox/tools/make_sample_dataset.py (also `python -m yolox.tools.make_sample_dataset`).
"""
from yolox.tools.make_sample_dataset import main

if __name__ == "__main__":
    main()
