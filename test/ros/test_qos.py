"""The subscription's reliability choice (yolo_trt_ros/ros/qos.py)."""

from __future__ import annotations

from rclpy.qos import ReliabilityPolicy

from yolo_trt_ros.ros.qos import choose_reliability

RELIABLE, BEST_EFFORT = ReliabilityPolicy.RELIABLE, ReliabilityPolicy.BEST_EFFORT


def test_qos_choice() -> None:
    assert choose_reliability("auto", [])[0] == BEST_EFFORT
    assert choose_reliability("auto", [RELIABLE, RELIABLE])[0] == RELIABLE
    assert choose_reliability("auto", [RELIABLE, BEST_EFFORT])[0] == BEST_EFFORT
    policy, why = choose_reliability("reliable", [BEST_EFFORT])
    assert policy == RELIABLE and "will not be received" in why
    assert choose_reliability("best_effort", [RELIABLE])[0] == BEST_EFFORT
