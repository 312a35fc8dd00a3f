"""Write a grid of augmented training samples with their boxes drawn.

The code and -h text are in yolox/tools/visualize_data.py (also `python -m yolox.tools.visualize_data`).
"""
from yolox.tools.visualize_data import main

if __name__ == "__main__":
    main()
