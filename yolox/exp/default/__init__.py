"""Megvii's ``yolox.exp.default``: the bundled experiments as modules, e.g.
``from yolox.exp.default.yolox_s import Exp`` or ``from yolox.exp.default import yolox_nano``.

They are the files of the checkout's ``exps/`` folder (present with ``pip install -e .``), found
by adding that folder to this package's search path: one file, two ways to import it.
"""
from ..build import bundled_exps_dir

if bundled_exps_dir().is_dir():
    __path__.append(str(bundled_exps_dir()))  # noqa: F821 (__path__ is set for every package)
