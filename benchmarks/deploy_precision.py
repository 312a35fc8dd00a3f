"""Accuracy and latency of the deployment files: PyTorch fp32, ONNX Runtime fp32 / INT8, OpenVINO
fp32 / bf16 / INT8 (issue 26).

accuracy: exports the checkpoint (raw box offsets, as tools/export_* do by default), quantizes it
with --calib-images images of --calib-split through the experiment's eval letterbox, and scores
every file with the experiment's own evaluator on its eval split (AP50:95 and AP50, and their
change from the PyTorch fp32 checkpoint). latency: batch 1, median of --repeats forward passes
(no NMS) on one letterboxed image, random weights (the figure does not depend on them).

    python benchmarks/deploy_precision.py accuracy -f exps/example/custom/yolox_nano_bccd.py -c best_ckpt.pth \\
        --calib-images 200 --calib-split train
    python benchmarks/deploy_precision.py latency --models nano s

Timings on a shared machine are noisy: run it on an otherwise idle one for figures to quote.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from yolox.deploy.backend_eval import evaluate_backend  # noqa: E402
from yolox.deploy.backends.openvino_backend import OpenVINOBackend, cpu_supports_bf16  # noqa: E402
from yolox.deploy.export_check import verification_batch  # noqa: E402
from yolox.deploy.metadata import ModelMetadata  # noqa: E402
from yolox.deploy.model_loading import model_for_export  # noqa: E402
from yolox.deploy.onnx_export import OnnxExportSettings, export_onnx  # noqa: E402
from yolox.deploy.openvino_export import export_openvino  # noqa: E402
from yolox.deploy.quantization import calibration_images, quantize_onnx, quantize_openvino  # noqa: E402
from yolox.exp import get_exp  # noqa: E402

MODELS = {"nano": ("yolox-nano", 416), "s": ("yolox-s", 640)}


class OnnxRuntimeFile:
    """A minimal ONNX Runtime Backend for this benchmark (the Detector's backend lives in yolox.deploy)."""

    name = "onnxruntime"

    def __init__(self, path: Path, metadata: ModelMetadata):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = len(os.sched_getaffinity(0))
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.metadata = metadata

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: images})[0]


class TorchModel:
    """The eager model as a Backend, so PyTorch is timed and scored the same way."""

    name = "torch"

    def __init__(self, model: torch.nn.Module, metadata: ModelMetadata):
        self.model, self.metadata = model, metadata

    @torch.no_grad()
    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self.model(torch.from_numpy(images)).numpy()


def build_files(model, metadata: ModelMetadata, folder: Path, calibration: Optional[np.ndarray], *,
                ablation: bool = False) -> Dict[str, Callable[[], object]]:
    """{row label: backend factory} for PyTorch and every exported file (INT8 rows only with
    ``calibration``; ``ablation``: also INT8 files with nothing kept float). Factories: one backend
    lives at a time, so no idle thread pool of another runtime competes with the one measured."""
    onnx_fp32 = export_onnx(model, folder / "model.onnx",
                            OnnxExportSettings(input_size=tuple(metadata.input_size), opset=13))
    ir_fp32 = export_openvino(model, folder / "model.xml", metadata=metadata)
    rows = {"PyTorch fp32": lambda: TorchModel(model, metadata),
            "ONNX Runtime fp32": lambda: OnnxRuntimeFile(onnx_fp32, metadata),
            "OpenVINO fp32": lambda: OpenVINOBackend(ir_fp32, precision="fp32")}
    if cpu_supports_bf16():
        rows["OpenVINO bf16"] = lambda: OpenVINOBackend(ir_fp32, precision="bf16")
    if calibration is not None:
        start = time.perf_counter()
        onnx_int8 = quantize_onnx(onnx_fp32, folder / "model_int8.onnx", calibration)
        ort_s = time.perf_counter() - start
        start = time.perf_counter()
        ir_int8 = quantize_openvino(ir_fp32, folder / "model_int8.xml", calibration)
        ov_s = time.perf_counter() - start
        print(f"calibration + quantization on {len(calibration)} images: onnxruntime {ort_s:.1f} s, "
              f"NNCF {ov_s:.1f} s")
        int8_metadata = ModelMetadata(**{**metadata.__dict__, "precision": "int8"})
        rows["ONNX Runtime INT8"] = lambda: OnnxRuntimeFile(onnx_int8, int8_metadata)
        if ablation:  # the same, with the prediction convs, sigmoid and decode quantized too
            onnx_all = quantize_onnx(onnx_fp32, folder / "model_int8_all.onnx", calibration, keep_float=[])
            ir_all = quantize_openvino(ir_fp32, folder / "model_int8_all.xml", calibration, keep_float=[])
            rows["ONNX Runtime INT8, head quantized too"] = lambda: OnnxRuntimeFile(onnx_all, int8_metadata)
            rows["OpenVINO INT8, head quantized too"] = lambda: OpenVINOBackend(ir_all, precision="fp32")
        rows["OpenVINO INT8 (fp32 rest)"] = lambda: OpenVINOBackend(ir_int8, precision="fp32")
        if cpu_supports_bf16():
            rows["OpenVINO INT8 (bf16 rest)"] = lambda: OpenVINOBackend(ir_int8, precision="bf16")
    return rows


def median_ms(fn: Callable[[], object], *, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def run_accuracy(args) -> None:
    exp = get_exp(args.exp_file, args.name)
    exp.merge(args.opts or [])
    loaded = model_for_export(exp, args.ckpt, decode_in_inference=False)
    size = (int(exp.test_size[0]), int(exp.test_size[1]))
    metadata = ModelMetadata(class_names=loaded.class_names, input_size=size, decoded=False, batch_size=1,
                             exp_name=str(exp.exp_name))
    calibration = calibration_images(exp, args.calib_images, split=args.calib_split)
    image = verification_batch(None, size, 1)
    with tempfile.TemporaryDirectory() as tmp:
        rows = build_files(loaded.model, metadata, Path(args.out or tmp), calibration, ablation=args.ablation)
        table, reference = [], None
        for label, make_backend in rows.items():
            backend = make_backend()
            ap50_95, ap50, _ = evaluate_backend(exp, backend)
            reference = reference or (ap50_95, ap50)
            latency = median_ms(lambda b=backend: b(image), warmup=3, repeats=args.repeats)
            table.append([label, f"{ap50_95:.4f}", f"{ap50:.4f}", f"{ap50_95 - reference[0]:+.4f}",
                          f"{ap50 - reference[1]:+.4f}", f"{latency:.1f}"])
            print(table[-1], flush=True)
            del backend
    print(tabulate(table, headers=["file", "AP50:95", "AP50", "Δ AP50:95", "Δ AP50", "ms (batch 1)"],
                   tablefmt="github"))


def run_latency(args) -> None:
    table = []
    for key in args.models:
        name, size = MODELS[key]
        exp = get_exp(exp_name=name)
        exp.test_size = (size, size)
        torch.manual_seed(0)
        model = exp.get_model().eval()
        metadata = ModelMetadata(class_names=[f"class_{i}" for i in range(exp.num_classes)], input_size=(size, size),
                                 batch_size=1)
        calibration = verification_batch(None, (size, size), 8) if args.int8 else None
        image = verification_batch(None, (size, size), 1)
        with tempfile.TemporaryDirectory() as tmp:
            for label, make_backend in build_files(model, metadata, Path(tmp), calibration).items():
                backend = make_backend()
                ms = median_ms(lambda b=backend, x=image: b(x), warmup=3, repeats=args.repeats)
                del backend
                table.append([f"{key} {size}", label, f"{ms:.1f}"])
                print(table[-1], flush=True)
    print(tabulate(table, headers=["model", "file", "ms (batch 1, median)"], tablefmt="github"))


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    acc = sub.add_parser("accuracy", help="AP of every file on the experiment's eval split")
    acc.add_argument("-f", "--exp_file", default=None)
    acc.add_argument("-n", "--name", default=None)
    acc.add_argument("-c", "--ckpt", default=None)
    acc.add_argument("--calib-images", type=int, default=200)
    acc.add_argument("--calib-split", choices=("val", "train"), default="train")
    acc.add_argument("--out", default=None, help="keep the files in this folder")
    acc.add_argument("--ablation", action="store_true",
                     help="also score INT8 files whose prediction convs, sigmoid and decode are quantized too")
    acc.add_argument("--repeats", type=int, default=20)
    acc.add_argument("opts", nargs=argparse.REMAINDER)
    lat = sub.add_parser("latency", help="batch-1 forward latency, random weights")
    lat.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["nano", "s"])
    lat.add_argument("--repeats", type=int, default=30)
    lat.add_argument("--no-int8", dest="int8", action="store_false", help="skip the INT8 rows")
    for sub_parser in (acc, lat):
        sub_parser.add_argument("--torch-threads", type=int, default=None,
                                help="PyTorch's intra-op threads (default: one per core). On a machine shared with "
                                     "other work, 1 can be several times faster: OpenMP's spinning threads wait for a "
                                     "descheduled sibling")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.torch_threads or len(os.sched_getaffinity(0)))
    run_accuracy(args) if args.mode == "accuracy" else run_latency(args)


if __name__ == "__main__":
    main()
