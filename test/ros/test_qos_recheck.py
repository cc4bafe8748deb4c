"""A node active before its camera: it re-checks the topic often until a publisher shows up.

The real DetectorNode in this process (ONNX Runtime on the CPU), over real DDS; the camera is a
RELIABLE publisher created once the node is active, as a camera driver started after it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import RosHarness
from node_harness import spin_for
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from yolo_trt_ros.ros.detector_node import DetectorNode
from yolo_trt_ros.ros.qos import RECHECK_S, RECHECK_WAITING_S

TOPIC = "/qos_recheck/image"


@pytest.fixture
def detector(ros: RosHarness) -> Iterator[DetectorNode]:
    node = DetectorNode(
        "qos_recheck_detector",
        context=ros.context,
        parameter_overrides=[
            Parameter("image_topics", value=[TOPIC]),
            Parameter("backend", value="onnxruntime"),
            Parameter("warmup_runs", value=0),
        ],
    )
    ros.executor.add_node(node)
    yield node
    node.shut_down()
    ros.executor.remove_node(node)
    node.destroy_node()


def _recheck_period_s(node: DetectorNode) -> float:
    timer = node._watch.timer  # the period is the behaviour under test
    assert timer is not None
    return float(timer.timer_period_ns) / 1e9


def test_a_camera_appearing_after_activation_is_matched_at_the_next_quick_check(
    ros: RosHarness, detector: DetectorNode
) -> None:
    detector.trigger_configure()
    detector.trigger_activate()
    assert detector.lifecycle_state == "active"
    (camera,) = detector._cameras.values()
    assert camera.reliability == ReliabilityPolicy.BEST_EFFORT  # nothing to match yet
    spin_for(ros, 0.5)  # several re-checks, none finding a publisher
    # often enough that a camera appearing now is matched well within 0.5 s
    assert _recheck_period_s(detector) == pytest.approx(RECHECK_WAITING_S)
    assert RECHECK_WAITING_S <= 0.25

    ros.node.create_publisher(
        Image, TOPIC, QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
    )
    ros.spin_until(
        lambda: camera.reliability == ReliabilityPolicy.RELIABLE,
        timeout=30,
        what="the node re-subscribing RELIABLE to match the camera",
    )
    assert "reliable, matching 1 reliable publisher(s)" in camera.qos_note
    ros.spin_until(
        lambda: _recheck_period_s(detector) == pytest.approx(RECHECK_S),
        timeout=5,
        what="the slow re-check once every topic has a publisher",
    )
