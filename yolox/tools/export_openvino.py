"""Export a YOLOX model to OpenVINO IR (NAME.xml + NAME.bin) and prove that it computes what PyTorch does.

    python tools/export_openvino.py -n yolox-s -c yolox_s.pth --output-name yolox_s.xml
    python tools/export_openvino.py -f exps/my_exp.py -c best_ckpt.pth --int8 --calib-images 300

Weights are float32; at run time the CPU computes in bf16 where it can (OpenVINOBackend's
precision). Output [B, A, 5 + C]: boxes, objectness and class probabilities; boxes are raw grid
offsets unless --decode_in_inference. The check runs the IR in fp32 and exits with status 1 when it
differs from PyTorch by more than 1e-3 on boxes or 1e-4 on scores; bf16 and INT8 differences are
logged, not judged (their accuracy is an AP question: see the README's deployment section).
--int8 also writes NAME_int8.xml, quantized with NNCF.
"""
import argparse
import sys

from loguru import logger

from yolox.deploy.export_check import check_batches, verify_export
from yolox.deploy.model_loading import export_metadata
from yolox.deploy.openvino_export import check_openvino, export_openvino

from .export_source import add_int8_flags, add_model_source_flags, int8_calibration, int8_path, model_to_export


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-name", type=str, default="yolox.xml", help="the .xml file to write (and its .bin)")
    parser.add_argument("--batch-size", type=int, default=1, help="batch size of a static model")
    parser.add_argument("--dynamic", action="store_true", help="any batch size")
    add_int8_flags(parser)
    add_model_source_flags(parser)
    return parser


def main(argv=None) -> int:
    args = make_parser().parse_args(argv)
    exp, loaded = model_to_export(args)
    calibration = int8_calibration(exp, args)
    size = (int(exp.test_size[0]), int(exp.test_size[1]))
    metadata = export_metadata(loaded, input_size=size, batch_size=None if args.dynamic else args.batch_size,
                               exp_name=str(getattr(exp, "exp_name", "") or ""))
    path = export_openvino(loaded.model, args.output_name, metadata=metadata, batch_size=args.batch_size,
                           dynamic=args.dynamic)
    batch_sizes = [1, 2] if args.dynamic else [args.batch_size]
    status = verify_export(loaded.model, lambda ref, images: check_openvino(path, ref, images),
                           image=args.image, input_size=size, batch_sizes=batch_sizes)
    _log_reduced_precision(loaded.model, path, args, size)
    if calibration is not None:
        from yolox.deploy.quantization import quantize_openvino

        quantized = quantize_openvino(path, int8_path(path), calibration)
        _log_differences(loaded.model, quantized, args, size, precision="fp32", what="INT8")
    return status


def _log_reduced_precision(model, path, args, size) -> None:
    from yolox.deploy.backends.openvino_backend import cpu_supports_bf16

    if cpu_supports_bf16():
        _log_differences(model, path, args, size, precision="bf16", what="bf16")
    else:
        logger.info("this CPU has no bf16: OpenVINOBackend will run {} in fp32", path)


def _log_differences(model, path, args, size, *, precision: str, what: str) -> None:
    (check,) = check_batches(model, lambda ref, images: check_openvino(path, ref, images, precision=precision),
                             image=args.image, input_size=size, batch_sizes=[args.batch_size])
    logger.info("{} (informational): max |diff| boxes {:.3g}, scores {:.3g}", f"{path} in {what} vs PyTorch",
                check.max_box_diff, check.max_score_diff)


if __name__ == "__main__":
    sys.exit(main())
