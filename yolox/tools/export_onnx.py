"""Export a YOLOX model to ONNX and prove, with onnxruntime, that the file computes what PyTorch does.

    python tools/export_onnx.py -n yolox-s -c yolox_s.pth --output-name yolox_s.onnx
    python tools/export_onnx.py -f exps/my_exp.py -c best_ckpt.pth --dynamic --image photo.jpg
    python tools/export_onnx.py -f exps/my_exp.py -c best_ckpt.pth --int8 --calib-images 300

Output [B, A, 5 + C]: boxes, objectness and class probabilities. Boxes are raw grid offsets
(dx, dy, dw, dh) unless --decode_in_inference bakes the decoding to cx, cy, w, h in input pixels
into the graph (Megvii's convention). Exits with status 1 when onnxruntime and PyTorch differ by
more than 1e-3 on boxes or 1e-4 on scores. --int8 also writes NAME_int8.onnx, quantized by
onnxruntime (static QDQ; needs opset 13, which --int8 raises a lower --opset to); its differences
from PyTorch are logged, not judged.
"""
import argparse
import sys

from loguru import logger

from yolox.deploy.export_check import check_batches, verify_export
from yolox.deploy.model_loading import export_metadata
from yolox.deploy.onnx_export import OnnxExportSettings, check_onnx, export_onnx
from yolox.deploy.quantization.onnxruntime_int8 import MIN_INT8_OPSET, quantize_onnx

from .export_source import add_int8_flags, add_model_source_flags, int8_calibration, int8_path, model_to_export


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-name", type=str, default="yolox.onnx", help="the .onnx file to write")
    parser.add_argument("--input", default="images", type=str, help="name of the graph input")
    parser.add_argument("--output", default="output", type=str, help="name of the graph output")
    parser.add_argument("-o", "--opset", default=11, type=int, help="ONNX opset version")
    parser.add_argument("--batch-size", type=int, default=1, help="batch size of a static graph")
    parser.add_argument("--dynamic", action="store_true", help="symbolic batch axis")
    parser.add_argument("--no-onnxsim", action="store_true", help="skip graph simplification")
    add_int8_flags(parser)
    add_model_source_flags(parser)
    return parser


def main(argv=None) -> int:
    args = make_parser().parse_args(argv)
    exp, loaded = model_to_export(args)
    calibration = int8_calibration(exp, args)
    opset = args.opset
    if calibration is not None and opset < MIN_INT8_OPSET:
        logger.info("--int8: exporting at opset {} (per-channel INT8 needs it) instead of {}", MIN_INT8_OPSET, opset)
        opset = MIN_INT8_OPSET
    settings = OnnxExportSettings(input_size=tuple(exp.test_size), batch_size=args.batch_size,
                                  dynamic=args.dynamic, opset=opset, input_name=args.input,
                                  output_name=args.output, simplify=not args.no_onnxsim)
    metadata = export_metadata(loaded, input_size=settings.input_size,
                               batch_size=None if args.dynamic else args.batch_size, exp_name=exp.exp_name)
    path = export_onnx(loaded.model, args.output_name, settings, metadata)
    status = verify_export(loaded.model, lambda ref, images: check_onnx(path, ref, images, args.input),
                           image=args.image, input_size=settings.input_size,
                           batch_sizes=[1, 2] if args.dynamic else [args.batch_size])
    if calibration is not None:
        quantized = quantize_onnx(path, int8_path(path), calibration)
        (check,) = check_batches(loaded.model, lambda ref, images: check_onnx(quantized, ref, images, args.input),
                                 image=args.image, input_size=settings.input_size, batch_sizes=[args.batch_size])
        logger.info("{} (INT8) vs PyTorch (informational): max |diff| boxes {:.3g}, scores {:.3g}", quantized,
                    check.max_box_diff, check.max_score_diff)
    return status


if __name__ == "__main__":
    sys.exit(main())
