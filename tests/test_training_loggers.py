"""Megvii's command lines for W&B and MLflow, unchanged, on one short epoch of the sample: what each
logger received is read back from its local store (W&B offline files, an MLflow file store)."""
import json

import pytest

from _sink_helpers import RUN_NAME, make_small_sample, sample_argv, skip_model_summary, wandb_offline_records
from _train_helpers import load_train_tool, read_ckpt

pytestmark = pytest.mark.slow  # each trains one epoch of one iteration


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return make_small_sample(tmp_path_factory.mktemp("sample"))


@pytest.fixture(autouse=True)
def _no_model_summary(monkeypatch):
    skip_model_summary(monkeypatch)


def test_wandb_offline_gets_losses_ap_images_and_the_checkpoint(tmp_path, sample, monkeypatch):
    wandb = pytest.importorskip("wandb")
    for name in ("DIR", "CACHE_DIR", "DATA_DIR", "CONFIG_DIR"):  # nothing written under $HOME
        monkeypatch.setenv(f"WANDB_{name}", str(tmp_path / "wandb_home"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    save_dir = tmp_path / "wandb_runs"
    argv = ["-l", "wandb"] + sample_argv(sample, tmp_path / "out", max_epoch=1) + [
        "wandb-project", "yolox-test", "wandb-name", "tiny", "wandb-save_dir", str(save_dir),
        "wandb-num_eval_images", "1", "wandb-log_checkpoints", "True"]
    try:
        assert load_train_tool().main(argv) == 0
    finally:
        wandb.teardown()  # the wandb service process ends with the test
    records = wandb_offline_records(save_dir)

    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert (run.project, run.display_name) == ("yolox-test", "tiny")
    # wandb 0.31 writes a key with "/" as its parts (nested_key)
    history = [{item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in r.history.item}
               for r in records if r.WhichOneof("record_type") == "history"]
    train = [h for h in history if "train/total_loss" in h]
    assert train and train[0]["train/step"] == 1 and train[0]["train/total_loss"] > 0 and "train/lr" in train[0]
    (val,) = [h for h in history if "val/COCOAP50_95" in h]
    best_ap = read_ckpt(tmp_path / "out" / RUN_NAME / "best_ckpt.pth")["best_ap"]
    assert val["train/epoch"] == 1 and val["val/COCOAP50_95"] == pytest.approx(best_ap)
    assert val["val/COCOAP50"] >= val["val/COCOAP50_95"]
    assert val["val/predictions/count"] == 1  # wandb-num_eval_images 1

    (artifact,) = [r.artifact for r in records if r.WhichOneof("record_type") == "artifact"]
    assert artifact.type == "model" and set(artifact.aliases) == {"latest", "best", "epoch-1"}
    (entry,) = artifact.manifest.contents
    assert entry.path == "model_ckpt.pth"
    assert entry.size == (tmp_path / "out" / RUN_NAME / "latest_ckpt.pth").stat().st_size


def test_mlflow_file_store_gets_params_metrics_and_the_best_checkpoint(tmp_path, sample, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    store = f"file:{tmp_path / 'mlruns'}"
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 otherwise refuses a folder store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "yolox-test")
    monkeypatch.setenv("MLFLOW_TAGS", '{"purpose": "test"}')
    monkeypatch.setenv("YOLOX_MLFLOW_RUN_NAME", "tiny")
    monkeypatch.setenv("YOLOX_MLFLOW_LOG_MODEL_ARTIFACTS", "True")
    monkeypatch.chdir(tmp_path)  # no .env of the checkout's is read
    assert load_train_tool().main(["-l", "mlflow"] + sample_argv(sample, tmp_path / "out", max_epoch=1)) == 0

    client = MlflowClient(store)
    (run,) = client.search_runs([client.get_experiment_by_name("yolox-test").experiment_id])
    assert run.info.run_name == "tiny" and run.info.status == "FINISHED" and run.data.tags["purpose"] == "test"
    assert run.data.params["max_epoch"] == "1" and run.data.params["batch_size"] == "4"
    assert run.data.params["experiment_name"] == RUN_NAME
    (loss,) = client.get_metric_history(run.info.run_id, "train/total_loss")
    assert loss.step == 1 and loss.value > 0
    (ap,) = client.get_metric_history(run.info.run_id, "val/COCOAP50_95")
    best = tmp_path / "out" / RUN_NAME / "best_ckpt.pth"
    assert ap.step == 1 and ap.value == pytest.approx(read_ckpt(best)["best_ap"])

    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, RUN_NAME)}
    assert {f"{RUN_NAME}/train_log.txt", f"{RUN_NAME}/results.csv", f"{RUN_NAME}/best_ckpt"} <= artifacts
    local = client.download_artifacts(run.info.run_id, f"{RUN_NAME}/best_ckpt/best_ckpt.pth", str(tmp_path / "dl"))
    assert open(local, "rb").read() == best.read_bytes()
