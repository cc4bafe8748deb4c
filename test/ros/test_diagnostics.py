"""The camera levels of the diagnostics (yolo_trt_ros/ros/diagnostics.py) mean something."""

from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticStatus
from fake_clock import FakeClock

from yolo_trt_ros.ros.diagnostics import camera_level
from yolo_trt_ros.stream import StreamStats


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
