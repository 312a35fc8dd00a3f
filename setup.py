"""Installable `yolox` package: `pip install -e .` after `pip install -r requirements.txt`."""
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent


def read_requirements() -> list:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#") and not ln.startswith("pytest")]


setup(
    name="yolox",
    version="0.1.0",
    description="YOLOX object detection: models, SimOTA training, COCO evaluation",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.8",
    packages=find_packages(include=["yolox", "yolox.*"]),
    install_requires=read_requirements(),
    license="Apache-2.0",
)
