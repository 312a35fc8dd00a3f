"""Draw a model's detections on images, a video or a webcam stream.

    python tools/demo.py image -n yolox-s -c yolox_s.pth --path assets/ --conf 0.25 --save_result
    python tools/demo.py video -f exps/my_exp.py -c best_ckpt.pth --path clip.mp4 --save_result
    python tools/demo.py image -f exps/my_exp.py -c yolox.onnx --path assets/  # an exported file: its backend
    python tools/demo.py webcam -n yolox-nano -c yolox_nano.pth --camid 0 --save_result  # Ctrl-C stops, keeps the video

Pictures go to YOLOX_outputs/<exp>/vis_res/<timestamp>/; with --save_json the detections too, as a
COCO results json (detections.json), with --save_txt as YOLO txt (labels/<image>.txt), both in the
original image's pixels. The checkpoint's own num_classes builds
the head; class names come from the checkpoint, the experiment, or COCO's for 80 classes.
"""
import argparse
from pathlib import Path

import torch
from loguru import logger

from yolox.deploy.backends import is_exported_model
from yolox.deploy.detector import Detector
from yolox.deploy.model_loading import load_model
from yolox.deploy.demo import demo_images, demo_video, vis_folder
from yolox.deploy.predictor import Predictor
from yolox.deploy.saved_detections import SavedDetections
from yolox.utils.precision import AMP_CHOICES, amp_request

from .exp_flags import add_exp_flags, build_exp


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("demo", choices=["image", "video", "webcam"], help="what to run on")
    parser.add_argument("-expn", "--experiment-name", type=str, default=None, help="output folder name")
    parser.add_argument("--path", type=str, default=None, help="image file or folder (image), video file (video)")
    parser.add_argument("--camid", type=int, default=0, help="webcam index")
    parser.add_argument("--save_result", action="store_true", help="save the drawn pictures / video")
    parser.add_argument("--save_json", action="store_true",
                        help="save the detections as a COCO results json (detections.json: image_id, file_name, "
                             "category_id, bbox x,y,w,h in original pixels, score)")
    parser.add_argument("--save_txt", action="store_true",
                        help="save the detections as YOLO txt, one labels/<image>.txt per image or frame "
                             "(class cx cy w h score, normalised)")
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu", help="run on the CPU or the first GPU")
    parser.add_argument("--conf", type=float, default=0.3, help="score threshold")
    parser.add_argument("--nms", type=float, default=0.3, help="NMS IoU threshold")
    parser.add_argument("--fp16", action="store_true", help="mixed precision: fp16 autocast on a GPU, bf16 on a CPU")
    parser.add_argument("--amp", default=None, choices=AMP_CHOICES, help="mixed precision by name: fp16 or bf16")
    parser.add_argument("--legacy", action="store_true", help="old YOLOX preprocessing (RGB, mean/std)")
    parser.add_argument("--fuse", action="store_true", help="fold BatchNorm into the convolutions")
    # No opts positional: main takes the KEY VALUE overrides from what parse_known_args leaves over.
    add_exp_flags(parser, ckpt_help="checkpoint (.pth) or exported model (TorchScript, .onnx, OpenVINO .xml); "
                  "random weights without", tsize=True, overrides=False)
    parser.epilog = "Trailing KEY VALUE pairs override experiment attributes (an unknown key is an error)."
    return parser


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def make_predictor(exp, args: argparse.Namespace):
    """(what predicts and draws, the class names): a ``Predictor`` of the checkpoint, or a ``Detector``
    of an exported file (TorchScript, .onnx, .xml: its backend, its metadata's input size and names)."""
    device = "cuda" if args.device == "gpu" else "cpu"
    if is_exported_model(args.ckpt):
        torch_flags = [f for f, v in (("--fp16", args.fp16), ("--amp", args.amp), ("--fuse", args.fuse)) if v]
        if torch_flags:
            raise SystemExit(f"{' '.join(torch_flags)}: for a .pth checkpoint; {args.ckpt} runs in the precision "
                             "it was exported in")
        detector = Detector(args.ckpt, exp=exp, conf=args.conf, nms=args.nms, device=device,
                            legacy=True if args.legacy else None)
        logger.info("{}: the {} backend, {} classes, input {}", args.ckpt, detector.backend.name,
                    detector.metadata.num_classes, detector.metadata.input_size)
        return detector, detector.class_names
    loaded = load_model(exp, args.ckpt, device=device, fuse=args.fuse, allow_pickle=args.unsafe_load)
    logger.info("{} classes, names from the {}", loaded.num_classes, loaded.class_names_source)
    predictor = Predictor(loaded.model, num_classes=loaded.num_classes, test_size=exp.test_size, conf=args.conf,
                          nms=args.nms, class_names=loaded.class_names, fp16=amp_request(args.fp16, args.amp),
                          legacy=args.legacy)
    return predictor, loaded.class_names


def main(argv=None) -> None:
    parser = make_parser()
    # KEY VALUE overrides follow the options; the positional mode stops argparse.REMAINDER from
    # collecting them, so they are what parse_known_args leaves over.
    args, args.opts = parser.parse_known_args(argv)
    unknown_flags = [a for a in args.opts if a.startswith("-") and not _is_number(a)]
    if unknown_flags:
        parser.error(f"unrecognized arguments: {' '.join(unknown_flags)}")
    if args.demo != "webcam" and args.path is None:
        raise SystemExit(f"demo {args.demo}: give --path")
    if args.device == "gpu" and not torch.cuda.is_available():
        raise SystemExit("--device gpu: no CUDA device is available")
    exp = build_exp(args)
    predictor, class_names = make_predictor(exp, args)
    out_dir = vis_folder(exp.output_dir, args.experiment_name or exp.exp_name)
    save_dir = out_dir if args.save_result else None
    saved = None
    if args.save_json or args.save_txt:
        saved = SavedDetections(json_path=out_dir / "detections.json" if args.save_json else None,
                                txt_dir=out_dir / "labels" if args.save_txt else None, class_names=class_names)
    if args.demo == "image":
        demo_images(predictor, args.path, save_dir, saved=saved)
    else:
        source = args.path if args.demo == "video" else args.camid
        name = "camera.mp4" if args.demo == "webcam" else f"{Path(args.path).stem}.mp4"
        demo_video(predictor, source, save_dir / name if save_dir is not None else None, saved=saved)
    if saved is not None:
        json_path = saved.close()
        where = [f"to {json_path}"] if json_path else []
        where += [f"as YOLO txt in {saved.txt_dir}"] if saved.txt_dir else []
        logger.info("saved the detections of {} images {}", saved.images, " and ".join(where))


if __name__ == "__main__":
    main()
