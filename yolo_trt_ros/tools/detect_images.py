"""Detect objects in image files without ROS: one JSON line per image.

    detect_images bus.jpg zidane.jpg --conf 0.4
    ros2 run yolo_trt_ros detect_images frame.png --model yolo11s.onnx --device cuda:0

Each line holds the file, the image size, the stage times and the detections (box in pixels
x1 y1 x2 y2, score, class id, name). What runs (backend, precision, device, pipeline) is decided as
the node decides it (``yolo_trt_ros.runtime_plan``) and printed once on stderr. Exit status 1 if
any file could not be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from yolo_trt_ros.engine.cache import EngineCache
from yolo_trt_ros.engine.manager import EngineManager
from yolo_trt_ros.errors import InvalidImageError, YoloTrtRosError
from yolo_trt_ros.media import read_image
from yolo_trt_ros.models import bundled_model_path
from yolo_trt_ros.runtime_plan import (
    BACKEND_CHOICES,
    PIPELINE_CHOICES,
    PRECISION_CHOICES,
    open_detector,
    prepare_model,
    resolve_plan,
)


def _progress(stage: str, percent: float, message: str) -> None:
    print(f"detect_images [{stage} {percent:.0f}%]: {message}", file=sys.stderr)


__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="detect_images",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("images", nargs="+", type=Path, help="image files (anything OpenCV reads)")
    parser.add_argument(
        "--model", type=Path, default=None, help="model file (default: the bundled YOLO11n ONNX)"
    )
    parser.add_argument(
        "--backend",
        default="auto",
        choices=BACKEND_CHOICES,
        help="inference backend (default: auto)",
    )
    parser.add_argument(
        "--precision",
        default="auto",
        choices=PRECISION_CHOICES[:3],
        help="auto (fp16 on GPU backends), fp32 or fp16 (a .engine keeps its own)",
    )
    parser.add_argument("--device", default="auto", help="cpu, cuda:0, ... (default: auto)")
    parser.add_argument(
        "--pipeline", default="auto", choices=PIPELINE_CHOICES, help="gpu or host (default: auto)"
    )
    parser.add_argument(
        "--conf", type=float, default=0.25, help="confidence threshold (default: 0.25)"
    )
    parser.add_argument("--iou", type=float, default=0.7, help="NMS IoU threshold (default: 0.7)")
    parser.add_argument(
        "--max-det", type=int, default=300, help="most detections per image (default: 300)"
    )
    parser.add_argument(
        "--classes", type=int, nargs="*", default=None, help="keep only these class ids"
    )
    parser.add_argument("--agnostic", action="store_true", help="class-agnostic NMS")
    parser.add_argument(
        "--imgsz", type=int, default=None, help="model input size (default: the model's)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the detector over the given files and print one JSON object per image."""
    args = _parser().parse_args(argv)
    try:
        model = args.model or bundled_model_path()
        plan = resolve_plan(model, args.backend, args.precision, args.device, args.pipeline)
        print(f"detect_images: {plan.describe()}", file=sys.stderr)
        manager = EngineManager(EngineCache(), progress=_progress)
        prepared = prepare_model(plan, model, manager)
        detector = open_detector(
            plan,
            prepared.path,
            conf=args.conf,
            iou=args.iou,
            max_det=args.max_det,
            classes=args.classes,
            agnostic=args.agnostic,
            imgsz=args.imgsz,
        )
    except YoloTrtRosError as error:
        print(f"detect_images: {error}", file=sys.stderr)
        return 2
    status = 0
    with detector:
        for path in args.images:
            try:
                image = read_image(path)  # BGR, as Ultralytics reads files
            except InvalidImageError as error:
                print(f"detect_images: {error}; skipped", file=sys.stderr)
                status = 1
                continue
            found = detector(image)
            times = detector.last_times
            record = {
                "image": str(path),
                "height": found.image_hw[0],
                "width": found.image_hw[1],
                "ms": {
                    "preprocess": round(times.preprocess_ms, 3),
                    "inference": round(times.inference_ms, 3),
                    "postprocess": round(times.postprocess_ms, 3),
                },
                "detections": found.to_list(),
            }
            print(json.dumps(record))
    return status


if __name__ == "__main__":
    sys.exit(main())
