"""The detector node on a real GPU with TensorRT: configure builds (or loads) an FP16 engine, and a
1080p frame published over DDS comes back as detections from the GPU pipeline; with
``optimize_in_background`` the node answers frames on a quick engine while it builds the optimised
one, and keeps answering across the swap.

Skipped, with the reason, where there is no CUDA device or no TensorRT (the CI machine). The
expected detections come from the CPU pipeline (ONNX Runtime, FP32) on the same pixels: same class,
IoU >= 0.9, for detections scoring above 0.3 (FP16 moves scores a little).
"""

from __future__ import annotations

import functools
import importlib.util
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from builtin_interfaces.msg import Time
from conftest import RosHarness
from diagnostic_msgs.msg import DiagnosticArray
from gpu_support import cuda_skip_reason, model_path, nvimgcodec_skip_reason, unmatched
from node_harness import (
    LATCHED,
    Collector,
    DetectorProcess,
    expected_raw_and_jpeg,
    image_message,
    jpeg_message,
    latest_statuses,
    publish_raw_and_jpeg,
    publish_until,
    spin_for,
)
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from test_image_conversion import make_msg
from vision_msgs.msg import Detection2DArray

from yolo_trt_ros.core.detections import Detections
from yolo_trt_ros.detector import Detector
from yolo_trt_ros.msg import EngineInfo
from yolo_trt_ros.ros.diagnostics import FRAME_OUTCOMES
from yolo_trt_ros.testing.hostile_frames import compressed_cases, mutated, raw_cases
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


def _camera_status(
    diagnostics: Collector[DiagnosticArray], node: str, camera: str
) -> dict[str, str]:
    """The values of a camera's latest status (where its frames went); empty before the first."""
    status = latest_statuses(diagnostics, node).get(camera)
    return {} if status is None else {v.key: v.value for v in status.values}


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
        + f"\nthe camera's status: {_camera_status(diagnostics, node, 'cam')}"
        + f"\n{detectors[0].log[-4000:]}"
    )
    assert answered_on_quick >= 10, "the quick engine answered too few frames to judge the swap"
    with Detector.from_model(model_path(), backend="onnxruntime", device="cpu") as cpu:
        expected, names = cpu(frame), cpu.names
    for stamp in (sent[first], sent[-1]):  # one frame on each engine
        problems = _disagreements(answered[stamp], expected, names, frame.shape[:2])
        assert not problems, (stamp, problems)


def _image(pixels: np.ndarray, encoding: str, pad: int = 0) -> Image:
    """test_image_conversion's packing (junk in the row padding), with a camera frame id."""
    return make_msg(pixels, encoding, pad=pad, header=Header(frame_id="camera"))


def _unseen_frames() -> list[tuple[str, str, Any, np.ndarray, str]]:
    """(what, camera, message, the pixels the reference sees, their format) for sizes, encodings
    and JPEG/PNG codings the other GPU tests do not send: odd sizes, padded rows, 1x1, extremes."""
    images = build_sample_images()
    astronaut = cv2.resize(images["astronaut"], (517, 333), interpolation=cv2.INTER_AREA)
    motorcycle, gray = images["motorcycle"], images["camera_gray"]
    zidane_1440p = cv2.resize(images["zidane"], (2560, 1440), interpolation=cv2.INTER_LINEAR)
    strip = cv2.resize(images["street_1080p"], (3000, 200), interpolation=cv2.INTER_AREA)
    raw: list[tuple[str, Any, np.ndarray, str]] = [
        (
            "rgb8 517x333, padded rows",
            _image(astronaut[..., ::-1], "rgb8", 13),
            astronaut,
            "bgr8",
        ),
        ("bgra8", _image(images["chelsea_bgra"], "bgra8"), images["chelsea_bgra"], "bgra8"),
        (
            "rgba8, padded rows",
            _image(cv2.cvtColor(motorcycle, cv2.COLOR_BGR2RGBA), "rgba8", 4),
            motorcycle,
            "bgr8",
        ),
        ("mono8", _image(gray, "mono8"), gray, "mono8"),
        (
            "mono16 (little-endian; the high byte is the grey)",
            _image((gray.astype(np.uint16) << 8) | (255 - gray), "mono16"),
            gray,
            "mono8",
        ),
        (
            "bgr8 1x1",
            _image(np.full((1, 1, 3), 127, np.uint8), "bgr8"),
            np.full((1, 1, 3), 127, np.uint8),
            "bgr8",
        ),
        ("bgr8 2560x1440", _image(zidane_1440p, "bgr8"), zidane_1440p, "bgr8"),
        ("bgr8 3000x200", _image(strip, "bgr8"), strip, "bgr8"),
        (
            "bgr8 1080x810, the bus on its side",
            _image(images["bus_rotated"], "bgr8"),
            images["bus_rotated"],
            "bgr8",
        ),
    ]
    codings: list[tuple[str, str, np.ndarray, list[int]]] = [
        ("JPEG 517x333", ".jpg", astronaut, [cv2.IMWRITE_JPEG_QUALITY, 90]),
        ("grayscale JPEG", ".jpg", gray, []),
        ("progressive JPEG", ".jpg", images["bus"], [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
        ("JPEG with restart markers", ".jpg", images["rocket"], [cv2.IMWRITE_JPEG_RST_INTERVAL, 3]),
        (
            "4:4:4 JPEG",
            ".jpg",
            motorcycle,
            [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444],
        ),
        ("PNG", ".png", images["coffee"], []),
    ]
    compressed = []
    for what, extension, image, options in codings:
        ok, encoded = cv2.imencode(extension, image, options)
        assert ok, what
        data = encoded.tobytes()
        decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)  # the reference decodes with OpenCV
        assert decoded is not None, what
        message = CompressedImage(
            header=Header(frame_id="camera"), format=extension[1:].replace("jpg", "jpeg"), data=data
        )
        compressed.append((what, message, decoded, "bgr8"))
    return [(w, "raw", m, p, f) for w, m, p, f in raw] + [
        (w, "jpeg", m, p, f) for w, m, p, f in compressed
    ]


class _TwoCameras:
    """A node with a raw and a compressed camera, what each was sent, answered and counted."""

    def __init__(self, ros: RosHarness, node: str) -> None:
        self.ros, self.node = ros, node
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.publishers = {
            "raw": ros.node.create_publisher(Image, f"/{node}_in/raw", qos),
            "jpeg": ros.node.create_publisher(CompressedImage, f"/{node}_in/jpeg", qos),
        }
        self.sent = dict.fromkeys(self.publishers, 0)
        self.out = {
            c: Collector(ros, Detection2DArray, f"/{node}/{c}/detections", 100)
            for c in self.publishers
        }
        self.diagnostics = Collector(ros, DiagnosticArray, "/diagnostics", 100)

    def publish(self, camera: str, message: Any) -> None:
        self.publishers[camera].publish(message)
        self.sent[camera] += 1

    def answer(self, camera: str, sec: int) -> Detection2DArray | None:
        return next((m for m in self.out[camera].messages if m.header.stamp.sec == sec), None)

    def until_answered(self, camera: str, message: Any, what: str, timeout: float = 30) -> Any:
        """Publish until the frame (its stamp's seconds unique) is answered; return the answer."""
        sec = message.header.stamp.sec
        publish_until(
            self.ros,
            functools.partial(self.publish, camera, message),
            lambda: self.answer(camera, sec) is not None,
            timeout=timeout,
            what=f"detections of {what}",
        )
        return self.answer(camera, sec)

    def counters(self) -> dict[str, dict[str, int]]:
        """Per camera, the frame counters of its latest status."""
        counts: dict[str, dict[str, int]] = {}
        for camera in self.publishers:
            status = _camera_status(self.diagnostics, self.node, camera)
            counts[camera] = {
                k: int(status[k]) for k in ("frames received", *FRAME_OUTCOMES) if k in status
            }
        return counts

    def counted_after(self, seconds: float) -> dict[str, dict[str, int]]:
        """The counters once every frame received has landed somewhere, from a status published
        ``seconds`` or more from now (the node reports once a second)."""
        first_new = len(self.diagnostics.messages)
        settle = time.monotonic() + seconds

        def closed() -> bool:
            if time.monotonic() < settle or len(self.diagnostics.messages) <= first_new:
                return False
            return all(
                len(c) == 1 + len(FRAME_OUTCOMES)
                and c["frames in flight"] == 0
                and sum(c[k] for k in FRAME_OUTCOMES) == c["frames received"]
                for c in self.counters().values()
            )

        spin_for(self.ros, seconds + 20, closed)
        assert closed(), f"frames unaccounted for: {self.counters()}"
        return self.counters()


def _growth(
    after: dict[str, dict[str, int]], before: dict[str, dict[str, int]], camera: str
) -> dict[str, int]:
    return {key: after[camera][key] - before[camera][key] for key in after[camera]}


def test_gpu_node_takes_unseen_sizes_encodings_and_codings_and_survives_hostile_frames(
    ros: RosHarness, tmp_path: Path, detectors: list[DetectorProcess]
) -> None:
    """Every frame kind the node accepts, through the GPU pipeline and the GPU JPEG decoder (where
    nvImageCodec is installed), gives the CPU pipeline's detections; every malformed frame is
    refused as a bad frame; randomly corrupted JPEGs (fed to nvImageCodec too) are refused or
    detected, never a processing error; each frame is counted once; the node keeps detecting."""
    node = "detector_gpu_unseen"
    rig = _TwoCameras(ros, node)
    detectors.append(
        _tensorrt_fp16_node(
            node,
            tmp_path,
            image_topics=[rig.publishers[c].topic_name for c in ("raw", "jpeg")],
            input_types=["raw", "compressed"],
            camera_names=["raw", "jpeg"],
            qos_depth=100,
        )
    )
    # the reference letterboxes to the engine's square 640x640 input (rect=False): its own
    # default, the smallest stride-32 rectangle, moves weak detections of odd-sized frames
    with Detector.from_model(model_path(), backend="onnxruntime", device="cpu", rect=False) as cpu:
        problems = []
        for index, (what, camera, message, pixels, pixel_format) in enumerate(_unseen_frames()):
            message.header.stamp = Time(sec=100 + index)
            # the first may wait for the engine build
            got = rig.until_answered(camera, message, what, 420 if index == 0 else 30)
            reference = cpu(pixels, pixel_format)
            problems += [
                f"{what}: {p}" for p in _disagreements(got, reference, cpu.names, pixels.shape[:2])
            ]
        assert not problems, problems
        if nvimgcodec_skip_reason() is None:
            decoder = _camera_status(rig.diagnostics, node, "detector").get("JPEG decoder", "")
            assert decoder.startswith("nvimgcodec"), decoder

        # discovery is done: from here every frame sent must be counted once
        before = rig.counted_after(1.0)
        rig.sent = dict.fromkeys(rig.publishers, 0)
        cases = {"raw": raw_cases(), "jpeg": compressed_cases()}
        for camera, hostile in cases.items():
            for case in hostile:
                rig.publish(camera, case.msg)
                spin_for(ros, 0.05)  # one at a time: a frame refused when decoded is not replaced
        refused = rig.counted_after(1.0)
        for camera, hostile in cases.items():
            growth = _growth(refused, before, camera)
            assert growth["frames received"] == rig.sent[camera] == len(hostile), (camera, growth)
            assert growth["bad frames"] == len(hostile), (camera, growth, detectors[0].log[-4000:])

        rig.sent = dict.fromkeys(rig.publishers, 0)
        rng = np.random.default_rng(29)
        jpeg = cv2.imencode(".jpg", build_sample_images()["zidane_tiny"])[1].tobytes()
        for _ in range(60):  # nvImageCodec gets corrupt JPEGs that pass the header checks
            rig.publish("jpeg", CompressedImage(format="jpeg", data=mutated(jpeg, rng)))
            spin_for(ros, 0.05)
        growth = _growth(rig.counted_after(1.0), refused, "jpeg")
        assert growth["frames received"] == rig.sent["jpeg"] == 60, growth
        assert growth["processing errors"] == 0, (growth, detectors[0].log[-4000:])

        frame = build_sample_images()["bus"]
        jpeg_in, jpeg_bytes = jpeg_message(frame, Time(sec=3000), "c")
        expected = expected_raw_and_jpeg(cpu, frame, jpeg_bytes)
        last = (
            rig.until_answered("raw", image_message(frame, Time(sec=3000), "c"), "raw"),
            rig.until_answered("jpeg", jpeg_in, "a JPEG"),
        )
        for answer, reference in zip(last, expected, strict=True):
            problems += _disagreements(answer, reference, cpu.names, frame.shape[:2])
        assert not problems, problems
    assert detectors[0].process.poll() is None
