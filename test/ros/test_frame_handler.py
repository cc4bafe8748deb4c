"""One frame through the model (yolo_trt_ros.ros.frame_handler), in-process without DDS.

A real ONNX Runtime detector on the bundled YOLO11n, real sensor_msgs messages built from the
sample images; the camera's outputs keep what they are given. The detections published must be
the ones the detector finds on the same pixels, and each frame must land in one counter.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np
import pytest
from builtin_interfaces.msg import Time
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from test_cameras import Topic, make_camera
from vision_msgs.msg import Detection2DArray

from yolo_trt_ros.detector import Detector
from yolo_trt_ros.image_decoders import make_decoder
from yolo_trt_ros.msg import InferenceTiming
from yolo_trt_ros.ros.cameras import Camera, Frame
from yolo_trt_ros.ros.frame_check import check_on_arrival
from yolo_trt_ros.ros.frame_handler import FrameHandler
from yolo_trt_ros.ros.image_conversion import array_to_image_msg
from yolo_trt_ros.testing.sample_images import build_sample_images

MAX_PIXELS = 4096 * 4096
HEADER = Header(stamp=Time(sec=12, nanosec=345), frame_id="front_camera")


@pytest.fixture(scope="module")
def detector() -> Iterator[Detector]:
    with Detector.from_model(backend="onnxruntime", device="cpu") as loaded:
        yield loaded


@pytest.fixture(scope="module")
def bus() -> np.ndarray:
    return build_sample_images()["bus"]


def handler(
    detector: Detector | None, stopping: threading.Event | None = None, **settings: Any
) -> FrameHandler:
    options: dict[str, Any] = {"max_pixels": MAX_PIXELS, "class_id_style": "name", "decoder": None}
    options.update(settings)
    return FrameHandler(
        lambda: detector, threading.Lock(), stopping or threading.Event(), **options
    )


def frame(msg: Any, compressed: bool = False) -> Frame:
    checked = check_on_arrival(msg, compressed=compressed, max_pixels=MAX_PIXELS)
    return Frame(checked, 1_000_000_123, 0.0)


def published(camera: Camera) -> Detection2DArray:
    assert isinstance(camera.detections, Topic)
    (message,) = camera.detections.messages
    # serialized bytes where the middleware serializes as detection_cdr does (Fast DDS here)
    assert isinstance(message, bytes)
    decoded = deserialize_message(message, Detection2DArray)
    assert isinstance(decoded, Detection2DArray)
    return decoded


def centers_and_labels(message: Detection2DArray) -> list[tuple[float, float, str]]:
    return [
        (d.bbox.center.position.x, d.bbox.center.position.y, d.results[0].hypothesis.class_id)
        for d in message.detections
    ]


def expected(detector: Detector, pixels: np.ndarray) -> list[tuple[float, float, str]]:
    found = detector(pixels)
    return [
        ((x1 + x2) / 2, (y1 + y2) / 2, found.name_of(int(c)))
        for (x1, y1, x2, y2), c in zip(found.boxes.tolist(), found.class_ids, strict=True)
    ]


def test_an_image_gives_the_detectors_detections_with_the_images_header(
    detector: Detector, bus: np.ndarray
) -> None:
    camera = make_camera()
    handler(detector).process(camera, frame(array_to_image_msg(bus, HEADER)))
    message = published(camera)
    assert message.header == HEADER and all(d.header == HEADER for d in message.detections)
    got, want = centers_and_labels(message), expected(detector, bus)
    assert len(got) == len(want) >= 4 and "person" in {label for *_, label in got}
    np.testing.assert_allclose([g[:2] for g in got], [w[:2] for w in want], atol=1e-3)
    assert [g[2] for g in got] == [w[2] for w in want]
    stats = camera.stats.snapshot()
    assert (stats.published, stats.bad_frames, stats.errors) == (1, 0, 0)


def test_class_ids_as_numbers_when_asked(detector: Detector, bus: np.ndarray) -> None:
    camera = make_camera()
    handler(detector, class_id_style="id").process(camera, frame(array_to_image_msg(bus, HEADER)))
    labels = {label for *_, label in centers_and_labels(published(camera))}
    assert "0" in labels and all(label.isdigit() for label in labels)


def test_timing_carries_the_drops_since_the_previous_detected_frame(
    detector: Detector, bus: np.ndarray
) -> None:
    camera = make_camera()
    frames = handler(detector)
    camera.drops_seen = 3
    frames.process(camera, frame(array_to_image_msg(bus, HEADER)))
    frames.process(camera, frame(array_to_image_msg(bus, HEADER)))
    assert isinstance(camera.timing, Topic)
    first, second = camera.timing.messages
    assert isinstance(first, InferenceTiming) and first.header == HEADER
    assert (first.frames_dropped, second.frames_dropped) == (3, 0)
    assert first.receive_time == Time(sec=1, nanosec=123)
    assert first.preprocess_ms > 0 and first.inference_ms > 0 and first.postprocess_ms > 0


def test_timing_and_annotated_only_while_someone_listens(
    detector: Detector, bus: np.ndarray
) -> None:
    camera = make_camera()
    camera.timing = Topic("/front/timing", subscribers=0)
    quiet, watched = Topic("/front/annotated", subscribers=0), Topic("/front/annotated")
    frames = handler(detector)
    camera.annotated = quiet
    frames.process(camera, frame(array_to_image_msg(bus, HEADER)))
    camera.annotated = watched
    frames.process(camera, frame(array_to_image_msg(bus, HEADER)))
    assert camera.timing.messages == [] and quiet.messages == []
    (drawn,) = watched.messages
    assert isinstance(drawn, Image) and drawn.header == HEADER and drawn.encoding == "bgr8"
    pixels = np.frombuffer(bytes(drawn.data), np.uint8).reshape(bus.shape)
    assert pixels.shape == bus.shape and not np.array_equal(pixels, bus)  # boxes were drawn


def test_a_serialized_frame_gives_the_same_detections_as_the_message(
    detector: Detector, bus: np.ndarray
) -> None:
    by_message, by_bytes = make_camera(), make_camera()
    message = array_to_image_msg(bus, HEADER)
    frames = handler(detector)
    frames.process(by_message, frame(message))
    frames.process(by_bytes, frame(serialize_message(message)))
    assert published(by_bytes) == published(by_message)


def test_a_jpeg_is_decoded_by_the_chosen_decoder(detector: Detector, bus: np.ndarray) -> None:
    camera = make_camera("compressed")
    ok, encoded = cv2.imencode(".jpg", bus, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    message = CompressedImage(header=HEADER, format="jpeg", data=encoded.tobytes())
    frames = handler(detector, decoder=make_decoder("opencv"))
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    assert decoded is not None
    pixels, pixel_format = frames.pixels(camera, message, None)  # no CUDA stream: on the host
    assert pixel_format == "bgr8" and np.array_equal(pixels, decoded)
    frames.process(camera, frame(message, compressed=True))
    got, want = centers_and_labels(published(camera)), expected(detector, decoded)
    np.testing.assert_allclose([g[:2] for g in got], [w[:2] for w in want], atol=1e-3)


def test_a_jpeg_whose_body_is_corrupt_is_a_bad_frame(detector: Detector, bus: np.ndarray) -> None:
    camera = make_camera("compressed")
    ok, encoded = cv2.imencode(".jpg", bus)
    assert ok
    data = encoded.tobytes()
    corrupt = data[:600] + bytes(len(data) - 600)  # the header survives the arrival check
    handler(detector).process(
        camera, frame(CompressedImage(header=HEADER, format="jpeg", data=corrupt), True)
    )
    assert isinstance(camera.detections, Topic) and camera.detections.messages == []
    stats = camera.stats.snapshot()
    assert (stats.bad_frames, stats.published, stats.errors) == (1, 0, 0)


def test_without_a_detector_the_frame_is_discarded(bus: np.ndarray) -> None:
    camera = make_camera()
    handler(None).process(camera, frame(array_to_image_msg(bus, HEADER)))
    assert isinstance(camera.detections, Topic) and camera.detections.messages == []
    assert camera.stats.snapshot().discarded == 1


class GoneTopic(Topic):
    """An output whose publisher was destroyed."""

    def publish(self, msg: Any) -> None:
        raise RuntimeError("publisher is destroyed")


@pytest.mark.parametrize("stopping", [False, True])
def test_a_failure_is_an_error_unless_the_node_is_stopping(
    detector: Detector, bus: np.ndarray, stopping: bool
) -> None:
    camera = make_camera()
    camera.detections = GoneTopic("/front/detections")
    stop = threading.Event()
    if stopping:
        stop.set()
    handler(detector, stop).process(camera, frame(array_to_image_msg(bus, HEADER)))
    stats = camera.stats.snapshot()
    assert (stats.errors, stats.discarded) == ((0, 1) if stopping else (1, 0))
    assert stats.published == 0
