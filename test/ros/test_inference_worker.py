"""The inference thread (yolo_trt_ros.ros.inference_worker), in-process without DDS.

Real frames arrive through yolo_trt_ros.ros.cameras.arrive into the real mailbox; the worker runs
the real frame handler with ONNX Runtime on the bundled YOLO11n. Every frame must land in one
counter, also those taken or left while the worker stops.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from test_cameras import clock, image, make_camera
from test_frame_handler import handler

from yolo_trt_ros.detector import Detector
from yolo_trt_ros.ros.cameras import Camera, Frame, arrive
from yolo_trt_ros.ros.inference_worker import InferenceWorker
from yolo_trt_ros.stream import NewestFrameMailbox

MAX_PIXELS = 1920 * 1080


@pytest.fixture(scope="module")
def detector() -> Iterator[Detector]:
    with Detector.from_model(backend="onnxruntime", device="cpu") as loaded:
        yield loaded


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_frames_are_processed_on_the_thread_until_stopped(detector: Detector) -> None:
    mailbox: NewestFrameMailbox[Frame] = NewestFrameMailbox()
    cameras = {"front": make_camera(name="front"), "rear": make_camera(name="rear")}

    def process(camera: Camera, frame: Frame) -> None:  # the handler stops on the worker's event
        frames.process(camera, frame)

    worker = InferenceWorker(mailbox, cameras.get, process)
    frames = handler(detector, worker.stopping, max_pixels=MAX_PIXELS)
    now_ns = clock()
    worker.start()
    assert worker.running
    for sec in (1, 2):
        for camera in cameras.values():
            arrive(camera, image(sec), None, mailbox, max_pixels=MAX_PIXELS, now_ns=now_ns)
        wait_for(
            lambda: all(c.stats.snapshot().in_flight == 0 for c in cameras.values()),
            "both cameras' frames to be processed",
        )
    worker.stop()
    assert not worker.running and worker.stopping.is_set()
    for camera in cameras.values():
        stats = camera.stats.snapshot()
        assert stats.received == 2 and stats.accounted == stats.received
        assert stats.published + stats.dropped == 2 and stats.published >= 1
        assert len(camera.detections.messages) == stats.published


def test_frames_left_when_stopping_are_discarded_and_a_released_camera_is_skipped() -> None:
    mailbox: NewestFrameMailbox[Frame] = NewestFrameMailbox()
    cameras = {"front": make_camera(name="front")}
    gone = make_camera(name="gone")  # released: the worker no longer finds it
    entered, release = threading.Event(), threading.Event()
    processed: list[str] = []

    def slow(camera: Camera, frame: Frame) -> None:
        processed.append(camera.name)
        entered.set()
        assert release.wait(10)

    worker = InferenceWorker(mailbox, cameras.get, slow)
    now_ns = clock()
    worker.start()
    arrive(cameras["front"], image(1), None, mailbox, max_pixels=MAX_PIXELS, now_ns=now_ns)
    assert entered.wait(10)  # the thread holds frame 1
    arrive(gone, image(1), None, mailbox, max_pixels=MAX_PIXELS, now_ns=now_ns)
    arrive(cameras["front"], image(2), None, mailbox, max_pixels=MAX_PIXELS, now_ns=now_ns)
    stopper = threading.Thread(target=worker.stop)
    stopper.start()
    wait_for(worker.stopping.is_set, "the worker to be told to stop")
    release.set()
    stopper.join(10)
    assert not stopper.is_alive() and not worker.running
    assert processed == ["front"]  # frame 2 and the released camera's frame were not processed
    front = cameras["front"].stats.snapshot()
    assert (front.received, front.discarded, front.in_flight) == (2, 1, 1)  # frame 1: the test's
    assert gone.stats.snapshot().discarded == 0  # counted by nobody: its counters are gone

    # a new start reopens the mailbox and clears the stop
    worker.start()
    assert not worker.stopping.is_set()
    arrive(cameras["front"], image(3), None, mailbox, max_pixels=MAX_PIXELS, now_ns=now_ns)
    wait_for(lambda: processed == ["front", "front"], "frame 3 after the restart")
    worker.stop()
