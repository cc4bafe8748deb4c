"""The detector node on a real GPU with TensorRT: configure builds (or loads) an FP16 engine, and a
1080p frame published over DDS comes back as detections from the GPU pipeline; with
``optimize_in_background`` the node answers frames on a quick engine while it builds the optimised
one, and keeps answering across the swap.

Skipped, with the reason, where there is no CUDA device or no TensorRT (the CI machine). The
expected detections come from the CPU pipeline (ONNX Runtime, FP32) on the same pixels: same class,
IoU >= 0.9, for detections scoring above 0.3 (FP16 moves scores a little).
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from conftest import RosHarness
from diagnostic_msgs.msg import DiagnosticArray
from gpu_support import cuda_skip_reason, model_path, unmatched
from node_harness import (
    LATCHED,
    Collector,
    DetectorProcess,
    expected_raw_and_jpeg,
    image_message,
    publish_raw_and_jpeg,
    spin_for,
)
from sensor_msgs.msg import Image
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


def _camera_counters(arrays: list[DiagnosticArray], node: str) -> dict[str, str]:
    """The frame counters of the node's latest camera status (where its frames went)."""
    for array in reversed(arrays):
        for status in array.status:
            if status.name.startswith(f"{node}: ") and any(
                v.key == "frames received" for v in status.values
            ):
                return {v.key: v.value for v in status.values if v.key.startswith("frames")}
    return {}


def _tensorrt_fp16_node(name: str, tmp_path: Path, **parameters: Any) -> DetectorProcess:
    """The detector on the GPU with the model as a TensorRT FP16 engine, started at once."""
    return DetectorProcess(
        name,
        tmp_path,
        model=str(model_path()),
        backend="tensorrt",
        precision="fp16",
        device="cuda:0",
        autostart=True,
        **parameters,
    )


def _disagreements(
    message: Detection2DArray, reference: Detections, names: dict[int, str], hw: tuple[int, int]
) -> list[str]:
    """Detections above 0.3 that only one side has (same class, IoU >= 0.9: FP16 moves scores)."""
    got = _as_detections(message, names, hw)
    return unmatched(reference, got, min_score=0.3, min_iou=0.9) + unmatched(
        got, reference, min_score=0.3, min_iou=0.9
    )


def _stamp(message: Detection2DArray) -> tuple[int, int]:
    return message.header.stamp.sec, message.header.stamp.nanosec


def test_node_detects_with_a_tensorrt_fp16_engine_on_the_gpu_pipeline(
    ros: RosHarness, tmp_path: Path, detectors: list[DetectorProcess]
) -> None:
    node = "detector_gpu"
    frame = max(build_sample_images().values(), key=lambda image: image.size)  # the 1080p composite
    assert frame.shape[:2] == (1080, 1920)
    detectors.append(
        _tensorrt_fp16_node(
            node,
            tmp_path,
            image_topics=["/gpu_test/raw", "/gpu_test/jpeg"],
            input_types=["raw", "compressed"],
            camera_names=["raw", "jpeg"],
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
        problems = _disagreements(message, reference, names, (1080, 1920))
        assert not problems, problems


def test_node_answers_every_frame_while_it_swaps_in_the_optimised_engine(
    ros: RosHarness, tmp_path: Path, detectors: list[DetectorProcess]
) -> None:
    """A fresh engine cache: the quick level-0 engine first, then level 1 built beside the live
    pipeline (about five minutes on an H200 with TensorRT 8.6) and swapped in. Frames go out at
    10 Hz the whole time; each must be answered, on both engines, with the CPU pipeline's boxes."""
    node, optimised_level = "detector_swap", 1
    frame = build_sample_images()["bus"]
    detectors.append(
        _tensorrt_fp16_node(
            node,
            tmp_path,
            image_topics=["/swap_test/image"],
            camera_names=["cam"],
            optimize_in_background=True,
            optimization_level=optimised_level,
            engine_cache_dir=str(tmp_path / "engines"),
        )
    )
    engine = Collector(ros, EngineInfo, f"/{node}/engine_info", LATCHED)
    answers = Collector(ros, Detection2DArray, f"/{node}/detections", 100)
    diagnostics = Collector(ros, DiagnosticArray, "/diagnostics")
    camera = ros.node.create_publisher(Image, "/swap_test/image", 10)
    sent: list[tuple[int, int]] = []
    sent_at: dict[tuple[int, int], float] = {}  # monotonic time of each publish

    def publish(first_sec: int, index: int) -> None:  # one frame, then 0.1 s: 10 Hz
        stamp = Time(sec=first_sec + index // 10, nanosec=(index % 10) * 100_000_000)
        camera.publish(image_message(frame, stamp, "camera"))
        sent.append((stamp.sec, stamp.nanosec))
        sent_at[sent[-1]] = time.monotonic()
        spin_for(ros, 0.1)

    answered_on_quick = 0
    deadline = time.monotonic() + 900
    while not (engine.messages and engine.messages[-1].optimization_level == optimised_level):
        assert time.monotonic() < deadline, (
            f"no optimised engine after 900 s:\n{detectors[0].log[-3000:]}"
        )
        if engine.messages:  # the quick engine runs: count what it answers
            answered_on_quick = len(answers.messages)
        publish(1000, len(sent))
    swapped_at = time.monotonic()  # the optimised engine's EngineInfo has arrived
    for index in range(30):  # 3 s more on the optimised engine
        publish(5000, index)
    last = sent[-1]
    spin_for(ros, 3.0, lambda: any(_stamp(m) == last for m in answers.messages))

    levels = [info.optimization_level for info in engine.messages]
    assert levels[0] == 0 and levels[-1] == optimised_level, levels
    assert all(info.pipeline == "gpu" and info.precision == "fp16" for info in engine.messages)
    answered = {_stamp(m): m for m in answers.messages}
    first = next(index for index, stamp in enumerate(sent) if stamp in answered)  # after discovery
    missing = [stamp for stamp in sent[first:] if stamp not in answered]
    assert not missing, (
        f"{len(missing)} of {len(sent) - first} frames unanswered, published at (s after the first "
        "answered frame, s after the optimised engine's EngineInfo): "
        + ", ".join(
            f"({sent_at[m] - sent_at[sent[first]]:.1f}, {sent_at[m] - swapped_at:.1f})"
            for m in missing[:10]
        )
        + f"\nthe node's counters: {_camera_counters(diagnostics.messages, node)}"
        + f"\n{detectors[0].log[-4000:]}"
    )
    assert answered_on_quick >= 10, "the quick engine answered too few frames to judge the swap"
    with Detector.from_model(model_path(), backend="onnxruntime", device="cpu") as cpu:
        expected, names = cpu(frame), cpu.names
    for stamp in (sent[first], sent[-1]):  # one frame on each engine
        problems = _disagreements(answered[stamp], expected, names, frame.shape[:2])
        assert not problems, (stamp, problems)
