"""detect.launch.py with the Jetson power-mode profile config/power_modes/maxn.yaml.

    ros2 launch yolo_trt_ros detect_maxn.launch.py image_topics:=/camera/image_raw

Every detect.launch.py argument works here too and overrides the profile.
"""

from launch import LaunchDescription

from yolo_trt_ros.launch_support.launch_files import include_detect_with_profile


def generate_launch_description() -> LaunchDescription:
    """Include detect.launch.py with this power mode's profile."""
    return include_detect_with_profile("maxn")
