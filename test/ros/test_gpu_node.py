"""The detector node on a real GPU with TensorRT: configure builds (or loads) an FP16 engine, and a
1080p frame published over DDS comes back as detections from the GPU pipeline.

Skipped, with the reason, where there is no CUDA device or no TensorRT (the CI machine). The
expected detections come from the CPU pipeline (ONNX Runtime, FP32) on the same pixels: same class,
IoU >= 0.9, for detections scoring above 0.3 (FP16 moves scores a little).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from conftest import RosHarness
from gpu_support import cuda_skip_reason, model_path, unmatched
from node_harness import (
    LATCHED,
    Collector,
    DetectorProcess,
    expected_raw_and_jpeg,
    publish_raw_and_jpeg,
)
from vision_msgs.msg import Detection2DArray

from yolo_trt_ros.core.detections import Detections
from yolo_trt_ros.detector import Detector
from yolo_trt_ros.msg import EngineInfo
from yolo_trt_ros.testing.sample_images import build_sample_images

_reason = cuda_skip_reason() or (
    None if importlib.util.find_spec("tensorrt") else "TensorRT is not installed here"
)
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")


def _as_detections(
    message: Detection2DArray, names: dict[int, str], hw: tuple[int, int]
) -> Detections:
    by_name = {name: index for index, name in names.items()}
    boxes, scores, classes = [], [], []
    for detection in message.detections:
        box = detection.bbox
        half_w, half_h = box.size_x / 2, box.size_y / 2
        boxes.append(
            [
                box.center.position.x - half_w,
                box.center.position.y - half_h,
                box.center.position.x + half_w,
                box.center.position.y + half_h,
            ]
        )
        hypothesis = detection.results[0].hypothesis
        scores.append(hypothesis.score)
        classes.append(by_name[hypothesis.class_id])
    return Detections(
        np.array(boxes, np.float32).reshape(-1, 4),
        np.array(scores, np.float32),
        np.array(classes, np.int64),
        names,
        hw,
    )


def test_node_detects_with_a_tensorrt_fp16_engine_on_the_gpu_pipeline(
    ros: RosHarness, tmp_path: Path, detectors: list[DetectorProcess]
) -> None:
    node = "detector_gpu"
    frame = max(build_sample_images().values(), key=lambda image: image.size)  # the 1080p composite
    assert frame.shape[:2] == (1080, 1920)
    detectors.append(
        DetectorProcess(
            node,
            tmp_path,
            model=str(model_path()),
            backend="tensorrt",
            precision="fp16",
            device="cuda:0",
            image_topics=["/gpu_test/raw", "/gpu_test/jpeg"],
            input_types=["raw", "compressed"],
            camera_names=["raw", "jpeg"],
            autostart=True,
        )
    )
    engine = Collector(ros, EngineInfo, f"/{node}/engine_info", LATCHED)
    raw_out = Collector(ros, Detection2DArray, f"/{node}/raw/detections")
    jpeg_out = Collector(ros, Detection2DArray, f"/{node}/jpeg/detections")
    stamp = Time(sec=42, nanosec=7)
    # a first configure on a fresh machine builds the quick engine (about a minute on an H200)
    jpeg_bytes = publish_raw_and_jpeg(
        ros,
        frame,
        stamp,
        topics=("/gpu_test/raw", "/gpu_test/jpeg"),
        frame_ids=("camera", "camera_jpeg"),
        until=lambda: bool(raw_out.messages and jpeg_out.messages),
        timeout=420,
        what="detections from the GPU node",
    )
    info = engine.messages[-1]
    assert (info.backend, info.precision, info.device, info.pipeline) == (
        "tensorrt",
        "fp16",
        "cuda:0",
        "gpu",
    )
    assert info.engine_path.endswith(".engine")
    with Detector.from_model(model_path(), backend="onnxruntime", device="cpu") as cpu:
        expected, expected_jpeg = expected_raw_and_jpeg(cpu, frame, jpeg_bytes)
        names = cpu.names
    for message, reference in (
        (raw_out.messages[0], expected),
        (jpeg_out.messages[0], expected_jpeg),
    ):
        assert message.header.stamp == stamp
        got = _as_detections(message, names, (1080, 1920))
        problems = unmatched(reference, got, min_score=0.3, min_iou=0.9)
        problems += unmatched(got, reference, min_score=0.3, min_iou=0.9)
        assert not problems, problems
