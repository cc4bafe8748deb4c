"""The launch glue (yolo_trt_ros/launch_support/launch_files.py) with the real launch packages.

Skipped where launch_ros is not installed (the CI machine; README: "The ros2 CLI and launch in
wheels mode" says how to get it).
"""

from __future__ import annotations

import pytest

pytest.importorskip("launch_ros", reason="launch_ros is not installed: launch glue not tested")

from launch import LaunchContext
from launch.actions import SetEnvironmentVariable
from launch.utilities import perform_substitutions
from launch_ros.actions import LifecycleNode

from yolo_trt_ros.dds import dds_environment
from yolo_trt_ros.launch_support import DETECT_ARGUMENTS
from yolo_trt_ros.launch_support.launch_files import detector_node


def _context() -> LaunchContext:
    context = LaunchContext()
    context.launch_configurations.update({a.name: a.default for a in DETECT_ARGUMENTS})
    return context


def test_the_dds_profile_goes_to_the_detector_process_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("YOLO_TRT_ROS_DDS_PROFILE", raising=False)
    monkeypatch.delenv("RMW_IMPLEMENTATION", raising=False)
    expected = dds_environment().variables
    assert expected  # the shipped Fast DDS profile

    context = _context()
    actions = detector_node(context)
    # nothing set for the launch as a whole, where an including file's later actions would see it
    assert not [a for a in actions if isinstance(a, SetEnvironmentVariable)]
    (node,) = actions
    assert isinstance(node, LifecycleNode)
    given = {
        perform_substitutions(context, name): perform_substitutions(context, value)
        for name, value in node.additional_env or []
    }
    assert given == expected


def test_without_the_profile_the_detector_gets_no_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("YOLO_TRT_ROS_DDS_PROFILE", "off")
    (node,) = detector_node(_context())
    assert not node.additional_env
