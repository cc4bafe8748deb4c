"""The node's ROS-light parts on their own: configuration, QoS choice, mailbox, stats, diagnostics."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.qos import ReliabilityPolicy

from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.ros.diagnostics import camera_level
from yolo_trt_ros.ros.parameters import (
    PARAMETERS,
    DetectorConfig,
    camera_names_for,
    descriptor_for,
    resolve_classes,
)
from yolo_trt_ros.ros.qos import choose_reliability
from yolo_trt_ros.stream import NewestFrameMailbox, StreamStats

RELIABLE, BEST_EFFORT = ReliabilityPolicy.RELIABLE, ReliabilityPolicy.BEST_EFFORT


def test_every_parameter_is_documented_and_the_defaults_are_valid() -> None:
    for spec in PARAMETERS:
        descriptor = descriptor_for(spec)
        assert len(descriptor.description) > 20, spec.name
        if spec.choices:
            assert spec.default in spec.choices and all(
                c in descriptor.description for c in spec.choices
            )
    defaults = DetectorConfig.from_values({spec.name: spec.default for spec in PARAMETERS})
    assert defaults == DetectorConfig()
    assert {spec.name for spec in PARAMETERS} == set(DetectorConfig.__dataclass_fields__)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"confidence_threshold": float("nan")}, "not a number"),
        ({"iou_threshold": 1.5}, "outside"),
        ({"backend": "openvino"}, "not one of"),
        ({"device": "gpu"}, "device"),
        ({"image_size": 500}, "multiple of 32"),
        ({"image_topics": []}, "at least one"),
        ({"image_topics": ["/a", "/a"]}, "twice"),
        ({"image_topics": ["/a", "/b"], "input_types": ["raw", "raw", "raw"]}, "one per topic"),
        ({"input_types": ["h264"]}, "raw or compressed"),
        ({"image_topics": ["/a", "/b"], "camera_names": ["left"]}, "one name per topic"),
        ({"image_topics": ["/a", "/b"], "camera_names": ["x", "x"]}, "unique"),
        ({"camera_names": ["front-left"]}, "not valid"),
        ({"classes": [1.5]}, "class names or indices"),
        ({"qos_depth": 0}, "outside"),
        ({"max_rate_hz": -1.0}, "outside"),
        ({"expected_power_modes": ["15 W"]}, "not nvpmodel mode names"),
        ({"expected_power_modes": [15]}, "list of strings"),
    ],
)
def test_bad_configurations_name_the_parameter(changes: dict[str, Any], message: str) -> None:
    values = {spec.name: spec.default for spec in PARAMETERS} | changes
    with pytest.raises(InvalidSettingError, match=message) as error:
        DetectorConfig.from_values(values)
    assert "parameter " in str(error.value)


def test_classes_by_name_or_index() -> None:
    names = {0: "person", 1: "bicycle", 2: "car"}
    assert resolve_classes([], names) is None
    assert resolve_classes(["car", 0, "1", "person"], names) == (0, 1, 2)
    with pytest.raises(InvalidSettingError, match="'truck' is not a class"):
        resolve_classes(["truck"], names)
    with pytest.raises(InvalidSettingError, match="index 7"):
        resolve_classes([7], names)


def test_camera_names_from_topics() -> None:
    assert camera_names_for(["/front/camera/image_raw", "/rear/image_rect_color"]) == [
        "front_camera",
        "rear",
    ]
    assert camera_names_for(["image"]) == ["camera0"]
    assert camera_names_for(["/a/image_raw", "/a/compressed"]) == [
        "camera0",
        "camera1",
    ]  # would collide
    assert camera_names_for(["/2d/image"]) == ["camera_2d"]


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


def test_the_shipped_params_file_lists_every_parameter_with_its_default() -> None:
    import yaml
    from conftest import REPO_ROOT

    text = (REPO_ROOT / "config" / "detector.yaml").read_text()
    values = yaml.safe_load(text)["/**"]["ros__parameters"]
    # autostart is left unset so that detect.launch.py's default (true) applies with this file
    for spec in PARAMETERS:
        if spec.default is None or spec.name == "autostart":
            assert f"# {spec.name}:" in text, f"{spec.name} is not documented"
            assert spec.name not in values, f"{spec.name} is set"
        else:
            assert values[spec.name] == spec.default, spec.name
    assert set(values) <= {spec.name for spec in PARAMETERS}
    assert DetectorConfig.from_values(values) == DetectorConfig()
