"""The export node: turns a model (.pt, .onnx) into an engine for this device, or serves requests.

    ros2 launch yolo_trt_ros export.launch.py model:=yolo11s.onnx precision:=fp16
    ros2 launch yolo_trt_ros export.launch.py params_file:=export.yaml device:=dla:0

Arguments that are given override the params file; the rest pass through untouched. The logic is
yolo_trt_ros.launch_support.plan.plan_export.
"""

from launch import LaunchDescription
from launch.actions import OpaqueFunction

from yolo_trt_ros.launch_support import EXPORT_ARGUMENTS
from yolo_trt_ros.launch_support.launch_files import check_arguments, declare, export_node


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments, refuse unknown ones; start the export node once they are known."""
    names = [argument.name for argument in EXPORT_ARGUMENTS]
    return LaunchDescription(
        [
            check_arguments("export.launch.py", names),
            *declare(EXPORT_ARGUMENTS),
            OpaqueFunction(function=export_node),
        ]
    )
