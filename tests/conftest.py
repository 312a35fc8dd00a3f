"""Shared test fixtures and the skip policy.

Tests that need ../shared (golden fixtures, real datasets) skip with a reason in a plain clone. Under
CI (``CI=true``) ../shared is present and every requirement installed, so a skip there can only hide
breakage: it fails instead, naming what was missing. Tests marked ``cuda`` are the one exception:
without a GPU they skip everywhere, and the run's summary says how many did.
"""
import json
import os
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
UNDER_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
CUDA_SKIP_REASON = "needs CUDA (no GPU on this machine)"

# One intra-op thread for the tests and, through OMP_NUM_THREADS, for the processes they start, unless
# the caller set OMP_NUM_THREADS. The tests' models are tiny, and on a shared 2-core machine OpenMP's
# spin-waiting pools cost far more than they compute: tests/test_trainer_runs.py took 175 s (90 s of
# CPU) with 2 threads at load average 8, and 31 s (20 s of CPU) with 1.
TEST_THREADS = int(os.environ.setdefault("OMP_NUM_THREADS", "1"))
torch.set_num_threads(TEST_THREADS)


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        pytest.skip(f"{what} not found at {path} (../shared is absent in a plain clone)")
    return path


@pytest.fixture
def capture_log():
    """``capture_log(level)``: a list that collects loguru's messages at ``level`` and above until
    the test ends."""
    from loguru import logger

    handlers = []

    def start(level: str = "INFO") -> list:
        messages = []
        handlers.append(logger.add(lambda m: messages.append(m.record["message"]), level=level))
        return messages

    yield start
    for handler in handlers:
        logger.remove(handler)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return _require(SHARED_DIR / "reference", "reference fixtures")


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    return _require(SHARED_DIR / "datasets", "shared datasets")


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    for item in items:
        if item.get_closest_marker("cuda"):
            item.add_marker(pytest.mark.skip(reason=CUDA_SKIP_REASON))


def _ci_failure(report, what: str) -> None:
    """Turn a skip report into a failure that says why the skip is not allowed under CI."""
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"CI=true: {what} may not skip here, it would hide breakage. Skip reason: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if UNDER_CI and report.skipped and not hasattr(report, "wasxfail") and not item.get_closest_marker("cuda"):
        _ci_failure(report, f"test {item.nodeid}")


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if UNDER_CI and report.skipped:
        _ci_failure(report, f"module {collector.nodeid}")


def pytest_terminal_summary(terminalreporter):
    cuda_skips = [r for r in terminalreporter.stats.get("skipped", [])
                  if isinstance(r.longrepr, tuple) and r.longrepr[2].endswith(CUDA_SKIP_REASON)]
    if cuda_skips:
        terminalreporter.write_line(f"{len(cuda_skips)} test(s) marked cuda skipped: no GPU on this machine")


@pytest.fixture(scope="module")
def mini_coco(datasets_dir):
    """The shared COCO val2017 mini set (158 images, all 80 categories)."""
    root = datasets_dir / "coco_val2017_mini"
    if not (root / "annotations" / "instances_val2017.json").is_file():
        pytest.skip(f"coco_val2017_mini not found under {datasets_dir}")
    return root


@pytest.fixture(scope="module")
def six_image_coco(mini_coco, tmp_path_factory):
    """A COCO folder with 6 of the mini images (two of them with crowd regions) and all 80 categories."""
    data = json.loads((mini_coco / "annotations" / "instances_val2017.json").read_text())
    crowd_images = sorted({a["image_id"] for a in data["annotations"] if a["iscrowd"]})[:2]
    keep = set(crowd_images) | {139, 802, 10764, 11813}
    subset = dict(data, images=[i for i in data["images"] if i["id"] in keep],
                  annotations=[a for a in data["annotations"] if a["image_id"] in keep])
    root = tmp_path_factory.mktemp("coco6")
    (root / "annotations").mkdir()
    (root / "annotations" / "six.json").write_text(json.dumps(subset))
    (root / "val2017").symlink_to(mini_coco / "val2017", target_is_directory=True)
    return root, subset


SAMPLE_MODEL_EXP = '''
from yolox.exp import Exp as BaseExp


class Exp(BaseExp):
    """The fixed-init sample model of tests/conftest.py's ``sample_model`` on its 4 validation scenes."""

    def __init__(self):
        super().__init__()
        self.depth, self.width, self.num_classes = 0.33, 0.125, 5
        self.data_dir = {data_dir!r}
        self.val_ann = "instances_val2017.json"
        self.input_size = self.test_size = (128, 128)
        self.test_conf = 0.01
        self.data_num_workers = 0
        self.output_dir = {output_dir!r}
'''


@pytest.fixture(scope="session")
def sample_model(tmp_path_factory):
    """A 5-class sample checkpoint (width 0.125, 128 px, checkpoint meta with names) and its
    experiment file on 4 synthetic validation scenes: {"ckpt", "exp_file", "data_dir", "images"}.

    Not trained (a CPU here takes seconds per iteration): fixed weights that make image-dependent
    predictions, as tests/test_onnx_demo.py's ``tiny_model``: Kaiming-initialised convolutions keep
    the activations of this narrow net alive to the head, small prediction weights and an
    objectness bias of -1 let some 50 boxes per image, about 3 strides wide, pass a 0.3 threshold."""


    from yolox.data.synthetic_dataset import SAMPLE_CLASSES, SampleSpec, make_sample_dataset
    from yolox.exp import get_exp
    from yolox.utils.checkpoint.layout import model_meta

    root = tmp_path_factory.mktemp("sample_model")
    data_dir = make_sample_dataset(root / "data", SampleSpec(num_train=1, num_val=4, img_size=(128, 128),
                                                             min_side=16, max_side=48, seed=0))
    exp_file = root / "sample_model_exp.py"
    exp_file.write_text(SAMPLE_MODEL_EXP.format(data_dir=str(data_dir), output_dir=str(root / "out")))
    exp = get_exp(str(exp_file))
    torch.manual_seed(0)
    from _lively_init import lively_init

    model = lively_init(exp.get_model().eval(), obj_std=3e-3, obj_bias=-1.0, cls_std=2e-3)
    ckpt = root / "sample_ckpt.pth"
    torch.save({"model": model.state_dict(), "meta": model_meta(exp, list(SAMPLE_CLASSES))}, ckpt)
    images = sorted((Path(data_dir) / "val2017").glob("*.jpg"))
    return {"ckpt": ckpt, "exp_file": exp_file, "data_dir": Path(data_dir), "images": images}
