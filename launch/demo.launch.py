"""The demo as a launch file: a sample camera, the detector, and a printer of its results.

    ros2 launch yolo_trt_ros demo.launch.py                       # the bundled sample photo
    ros2 launch yolo_trt_ros demo.launch.py source:=photos/ rate:=5 out:=annotated/

The same three parts as `ros2 run yolo_trt_ros demo`, as separate nodes: image_publisher on
/yolo_demo/image, the detector (lifecycle node, autostart) and detection_printer.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node

from yolo_trt_ros.launch_support.launch_files import check_arguments


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments and the three nodes."""
    source, rate, out = (
        LaunchConfiguration("source"),
        LaunchConfiguration("rate"),
        LaunchConfiguration("out"),
    )
    camera_args = ["--topic", "/yolo_demo/image", "--rate", rate]
    return LaunchDescription(
        [
            check_arguments("demo.launch.py", ["source", "rate", "out"]),
            DeclareLaunchArgument(
                "source",
                default_value="",
                description="image, folder or video; empty: the bundled sample photo",
            ),
            DeclareLaunchArgument(
                "rate", default_value="2.0", description="camera frames per second"
            ),
            DeclareLaunchArgument(
                "out", default_value="yolo_demo_out", description="folder for annotated images"
            ),
            LifecycleNode(
                package="yolo_trt_ros",
                executable="detector",
                name="yolo_demo_detector",
                namespace="",
                parameters=[
                    {
                        "image_topics": ["/yolo_demo/image"],
                        "autostart": True,
                        "publish_annotated": True,
                    }
                ],
                output="screen",
            ),
            Node(
                package="yolo_trt_ros",
                executable="image_publisher",
                arguments=[source, *camera_args],
                output="screen",
            ),
            Node(
                package="yolo_trt_ros",
                executable="detection_printer",
                arguments=["/yolo_demo_detector", "--out", out],
                output="screen",
            ),
        ]
    )
