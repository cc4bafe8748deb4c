"""The logic behind the launch files, importable and testable without the ROS 2 launch packages.

``arguments`` declares the launch arguments, ``profiles`` loads and checks the power-mode profiles
(config/power_modes/), ``params_files`` reads what a params file gives a node, and ``plan`` turns
arguments into the node's name, namespace and parameter layers. ``launch_files`` holds the few
lines of glue that need ``launch`` itself; only launch files import it.
"""

from yolo_trt_ros.launch_support.arguments import (
    DETECT_ARGUMENTS,
    EXPORT_ARGUMENTS,
    LaunchArgument,
)
from yolo_trt_ros.launch_support.params_files import read_node_parameters
from yolo_trt_ros.launch_support.plan import (
    DetectorLaunchPlan,
    ExportLaunchPlan,
    plan_detector,
    plan_export,
    write_parameters_file,
)
from yolo_trt_ros.launch_support.profiles import (
    PowerProfile,
    find_profile,
    load_profile,
    profile_for_mode,
    profile_paths,
)

__all__ = [
    "DETECT_ARGUMENTS",
    "EXPORT_ARGUMENTS",
    "DetectorLaunchPlan",
    "ExportLaunchPlan",
    "LaunchArgument",
    "PowerProfile",
    "find_profile",
    "load_profile",
    "plan_detector",
    "plan_export",
    "profile_for_mode",
    "profile_paths",
    "read_node_parameters",
    "write_parameters_file",
]
