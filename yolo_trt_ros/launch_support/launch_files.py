"""Glue between the launch plans and ROS 2 launch: only launch files import this module.

It needs the ``launch`` and ``launch_ros`` packages, which the rest of ``launch_support`` does not,
so the logic stays unit-testable where launch is not installed; this glue is exercised by the
launch_testing tests (test/test_launch_*.py).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import launch.logging
from ament_index_python.packages import get_package_share_directory
from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch_ros.actions import LifecycleNode, Node

from yolo_trt_ros.dds import dds_environment
from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.launch_support.arguments import (
    DETECT_ARGUMENTS,
    LaunchArgument,
    misspelled_argument_warnings,
    parse_bool,
    ros2_launch_file,
    unknown_argument_error,
)
from yolo_trt_ros.launch_support.plan import (
    DetectorLaunchPlan,
    ExportLaunchPlan,
    plan_detector,
    plan_export,
    write_parameters_file,
)

__all__ = [
    "check_arguments",
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


def check_arguments(launch_file: str, declared: Sequence[str]) -> OpaqueFunction:
    """Return an action refusing arguments the launch file does not declare (launch ignores them).

    Refused when this file is the one `ros2 launch` runs; when it is included, the command line's
    arguments belong to the including file, and only a name close to one of ours is warned about.
    """

    def check(context: LaunchContext) -> list[Any]:
        given = [word.split(":=", 1)[0] for word in context.argv if ":=" in word]
        if ros2_launch_file(sys.argv) == launch_file:
            error = unknown_argument_error(launch_file, declared, given)
            if error is not None:
                raise InvalidSettingError(error)
        else:
            logger = launch.logging.get_logger(launch_file)
            for warning in misspelled_argument_warnings(launch_file, declared, given):
                logger.warning(warning)
        return []

    return OpaqueFunction(function=check)


def _pushed_namespace(context: LaunchContext) -> str:
    return str(context.launch_configurations.get("ros_namespace") or "")


def _start(
    node_class: type[Node],
    executable: str,
    plan: DetectorLaunchPlan | ExportLaunchPlan,
    env: dict[str, str] | None = None,
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
        additional_env=env,
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
    # Only the detector's process gets the variables: set for the launch, they would also reach
    # the actions of a launch file that includes this one, after it.
    if dds.variables:
        logger.info(
            f"DDS: {dds.reason}, for the detector only; give the camera driver the same "
            "(additional_env=yolo_trt_ros.dds.dds_environment().variables on its Node, "
            "README: Camera transport), or large frames are lost between them"
        )
    else:
        logger.info(f"DDS: {dds.reason}")
    return [_start(LifecycleNode, "detector", plan, dict(dds.variables))]


def export_node(context: LaunchContext) -> list[Any]:
    """OpaqueFunction body of export.launch.py: the export node with the parameters given."""
    plan = plan_export(context.launch_configurations, pushed_namespace=_pushed_namespace(context))
    return [_start(Node, "export", plan)]


def include_detect_with_profile(profile: str) -> LaunchDescription:
    """Return a launch description that includes detect.launch.py with a power-mode profile."""
    detect = share_directory() / "launch" / "detect.launch.py"
    return LaunchDescription(
        [
            check_arguments(f"detect_{profile}.launch.py", [a.name for a in DETECT_ARGUMENTS]),
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(str(detect)),
                launch_arguments={"power_mode": profile}.items(),
            ),
        ]
    )
