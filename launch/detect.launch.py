"""The main entry: the YOLO detector as a lifecycle node, configured from arguments and profiles.

    ros2 launch yolo_trt_ros detect.launch.py image_topics:=/camera/image_raw
    ros2 launch yolo_trt_ros detect.launch.py image_topics:="[/front/image_raw, /rear/image_raw]"
    ros2 launch yolo_trt_ros detect.launch.py params_file:=my_robot.yaml power_mode:=auto
    ros2 launch yolo_trt_ros detect.launch.py --show-args        # every argument, documented

Parameters come in layers, later ones winning: the node's defaults, the power-mode profile
(power_mode:=15w -> config/power_modes/15w.yaml), params_file, then the arguments given here.
Include it from your own launch file under a namespace and with remappings:

    GroupAction([
        PushROSNamespace("front"),
        SetRemap(src="/front/image", dst="/front_camera/color/image_raw"),
        IncludeLaunchDescription(PythonLaunchDescriptionSource(detect_launch_py)),
    ])

The logic (argument checks, profiles, parameter merging) is yolo_trt_ros.launch_support.
"""

from launch import LaunchDescription
from launch.actions import OpaqueFunction

from yolo_trt_ros.launch_support import DETECT_ARGUMENTS
from yolo_trt_ros.launch_support.launch_files import check_arguments, declare, detector_node


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments, refuse unknown ones; start the detector once they are known."""
    names = [argument.name for argument in DETECT_ARGUMENTS]
    return LaunchDescription(
        [
            check_arguments("detect.launch.py", names),
            *declare(DETECT_ARGUMENTS),
            OpaqueFunction(function=detector_node),
        ]
    )
