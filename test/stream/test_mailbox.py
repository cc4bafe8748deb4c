"""The node's ROS-light parts on their own: QoS choice, mailbox, stats, diagnostics."""

from __future__ import annotations

import threading

import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.qos import ReliabilityPolicy

from yolo_trt_ros.ros.diagnostics import camera_level
from yolo_trt_ros.ros.qos import choose_reliability
from yolo_trt_ros.stream import NewestFrameMailbox, StreamStats

RELIABLE, BEST_EFFORT = ReliabilityPolicy.RELIABLE, ReliabilityPolicy.BEST_EFFORT


def test_qos_choice() -> None:
    assert choose_reliability("auto", [])[0] == BEST_EFFORT
    assert choose_reliability("auto", [RELIABLE, RELIABLE])[0] == RELIABLE
    assert choose_reliability("auto", [RELIABLE, BEST_EFFORT])[0] == BEST_EFFORT
    policy, why = choose_reliability("reliable", [BEST_EFFORT])
    assert policy == RELIABLE and "will not be received" in why
    assert choose_reliability("best_effort", [RELIABLE])[0] == BEST_EFFORT


def test_mailbox_keeps_the_newest_frame_per_camera() -> None:
    mailbox: NewestFrameMailbox[int] = NewestFrameMailbox()
    assert mailbox.put("left", 1) is False
    assert mailbox.put("right", 10) is False
    assert mailbox.put("left", 2) is True  # frame 1 dropped
    assert mailbox.take(timeout=0) == [("left", 2), ("right", 10)]
    assert mailbox.take(timeout=0.01) == []
    woken: list[list[tuple[str, int]]] = []
    consumer = threading.Thread(target=lambda: woken.append(mailbox.take(timeout=10)))
    consumer.start()
    mailbox.put("left", 3)
    consumer.join(timeout=5)
    assert woken == [[("left", 3)]]
    mailbox.close()
    assert mailbox.take(timeout=10) == []  # closed: returns at once
    mailbox.put("left", 4)
    assert mailbox.clear() == 1


class FakeClock:
    """A hand-driven clock, so rates and windows are exact."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_stats_rates_percentiles_and_window() -> None:
    clock = FakeClock()
    stats = StreamStats(window_s=5.0, clock=clock)
    for latency in range(1, 11):  # 10 frames at 2 Hz, latencies 1..10 ms
        stats.received()
        stats.published(float(latency))
        clock.now += 0.5
    stats.dropped(3)
    stats.bad_frame("bad encoding")
    snapshot = stats.snapshot()
    assert snapshot.input_hz == pytest.approx(10 / 5.0) and snapshot.output_hz == pytest.approx(2.0)
    assert snapshot.latency_p50_ms == pytest.approx(5.5) and snapshot.latency_max_ms == 10
    assert (snapshot.received, snapshot.published, snapshot.dropped, snapshot.bad_frames) == (
        10,
        10,
        3,
        1,
    )
    assert (
        snapshot.last_problem == "bad encoding"
        and snapshot.seconds_since_input == pytest.approx(0.5)
    )
    clock.now += 10
    later = stats.snapshot()
    assert later.input_hz == 0 and later.dropped_recently == 0 and later.bad_recently == 0
    assert later.dropped == 3  # totals stay


def test_camera_levels_mean_something() -> None:
    clock = FakeClock()
    stats = StreamStats(clock=clock)
    assert camera_level(stats.snapshot(), active=False, topic="/c")[0] == DiagnosticStatus.OK
    assert camera_level(stats.snapshot(), active=True, topic="/c") == (
        DiagnosticStatus.WARN,
        "no image received on /c yet",
    )
    for _ in range(10):
        stats.received()
        stats.published(20.0)
        clock.now += 0.1
    assert camera_level(stats.snapshot(), True, "/c")[0] == DiagnosticStatus.OK
    stats.dropped(40)
    level, message = camera_level(stats.snapshot(), True, "/c")
    assert level == DiagnosticStatus.WARN and "faster than the model" in message
    stats.bad_frame("encoding 16UC1 is a depth image")
    assert camera_level(stats.snapshot(), True, "/c") == (
        DiagnosticStatus.WARN,
        "1 unusable frame(s) dropped: encoding 16UC1 is a depth image",
    )
    stats.error("RuntimeError: boom")
    assert camera_level(stats.snapshot(), True, "/c")[0] == DiagnosticStatus.ERROR
    clock.now += 30
    level, message = camera_level(stats.snapshot(), True, "/c")
    assert level == DiagnosticStatus.WARN and "no image on /c for 30 s" in message
