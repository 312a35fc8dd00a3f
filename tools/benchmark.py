"""Export a checkpoint to every deployable format and print one table: size, AP, latency, throughput.

The code and -h text are in yolox/tools/benchmark.py (also `python -m yolox.tools.benchmark`).
"""
import sys

from yolox.tools.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
