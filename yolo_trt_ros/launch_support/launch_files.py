"""Glue between the launch plans and ROS 2 launch: only launch files import this module.

It needs the ``launch`` and ``launch_ros`` packages, which the rest of ``launch_support`` does not,
so the logic stays unit-testable where launch is not installed; this glue is exercised by the
launch_testing tests (test/test_launch_*.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import launch.logging
from ament_index_python.packages import get_package_share_directory
from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, SetEnvironmentVariable
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch_ros.actions import LifecycleNode, Node

from yolo_trt_ros.dds import dds_environment
from yolo_trt_ros.launch_support.arguments import LaunchArgument, parse_bool
from yolo_trt_ros.launch_support.plan import (
    DetectorLaunchPlan,
    ExportLaunchPlan,
    plan_detector,
    plan_export,
    write_parameters_file,
)

__all__ = [
    "declare",
    "detector_node",
    "export_node",
    "include_detect_with_profile",
    "share_directory",
]

PACKAGE = "yolo_trt_ros"


def share_directory() -> Path:
    """Return the package's installed share directory (launch/, config/)."""
    return Path(get_package_share_directory(PACKAGE))


def declare(arguments: tuple[LaunchArgument, ...]) -> list[DeclareLaunchArgument]:
    """Declare launch arguments from a table (so --show-args documents them)."""
    return [
        DeclareLaunchArgument(arg.name, default_value=arg.default, description=arg.description)
        for arg in arguments
    ]


def _pushed_namespace(context: LaunchContext) -> str:
    return str(context.launch_configurations.get("ros_namespace") or "")


def _start(
    node_class: type[Node], executable: str, plan: DetectorLaunchPlan | ExportLaunchPlan
) -> Node:
    files = [
        layer if isinstance(layer, str) else str(write_parameters_file(layer))
        for layer in plan.parameters
    ]
    return node_class(
        package=PACKAGE,
        executable=executable,
        name=plan.name,
        namespace=plan.namespace,
        parameters=files,
        ros_arguments=list(plan.ros_arguments),
        output="screen",
    )


def detector_node(context: LaunchContext) -> list[Any]:
    """OpaqueFunction body of detect.launch.py: resolve the arguments, return the lifecycle node."""
    plan = plan_detector(
        context.launch_configurations,
        share_directory() / "config",
        pushed_namespace=_pushed_namespace(context),
    )
    logger = launch.logging.get_logger("detect.launch.py")
    for note in plan.notes:
        logger.info(note)
    for warning in plan.warnings:
        logger.warning(warning)
    enabled = parse_bool(
        "dds_profile", str(context.launch_configurations.get("dds_profile", "true"))
    )
    dds = dds_environment(enabled=enabled)
    logger.info(f"DDS: {dds.reason}")
    variables = [SetEnvironmentVariable(name, value) for name, value in dds.variables.items()]
    return [*variables, _start(LifecycleNode, "detector", plan)]


def export_node(context: LaunchContext) -> list[Any]:
    """OpaqueFunction body of export.launch.py: the export node with the parameters given."""
    plan = plan_export(context.launch_configurations, pushed_namespace=_pushed_namespace(context))
    return [_start(Node, "export", plan)]


def include_detect_with_profile(profile: str) -> LaunchDescription:
    """Return a launch description that includes detect.launch.py with a power-mode profile."""
    detect = share_directory() / "launch" / "detect.launch.py"
    return LaunchDescription(
        [
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(str(detect)),
                launch_arguments={"power_mode": profile}.items(),
            )
        ]
    )
