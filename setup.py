"""Installable `yolox` package: `pip install -e .` after `pip install -r requirements.txt`
(`pip install -e ".[loggers]"` adds the optional loggers, `".[deploy]"` OpenVINO and NNCF)."""
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent

# Optional: the libraries of `tools/train.py -l wandb` and `-l mlflow`, imported only when chosen.
# mlflow-skinny is MLflow's tracking client without its server and UI (the full `mlflow` provides the
# same module); python-dotenv reads the .env file Megvii's MLflow logger documents.
# deploy: tools/export_openvino.py, the OpenVINO backend and INT8 quantization of an IR (NNCF), imported only
# there; nncf installs against the torch already present (it pins none).
# tests/test_requirements.py reads this literal.
EXTRAS = {
    "loggers": ["wandb>=0.15", "mlflow-skinny>=2.0", "python-dotenv>=0.20"],
    "deploy": ["openvino>=2024.0", "nncf>=2.10"],
}


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
    extras_require=EXTRAS,
    license="Apache-2.0",
)
