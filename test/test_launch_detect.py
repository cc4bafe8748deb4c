"""launch_testing: detect.launch.py, included the way a robot's launch file would include it.

It is included under a pushed namespace (/robot) with a remapping of its input onto the test's
camera topic, and must come up as a lifecycle node, configure and activate (autostart), publish
for a published test image exactly the detections the detection core finds on the same pixels,
and exit cleanly (code 0) when launch stops it.

Where the ROS 2 launch packages are not installed (the CI machine), this module is skipped.
"""

from __future__ import annotations

import unittest
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "launch_testing",
    reason="launch_testing is not installed (ROS 2 launch tools absent): launch tests skipped",
)

import launch_testing
import launch_testing.asserts
from ament_index_python.packages import get_package_share_directory
from builtin_interfaces.msg import Time
from launch import LaunchDescription
from launch.actions import GroupAction, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch_ros.actions import PushROSNamespace, SetRemap
from launch_testing.actions import ReadyToTest
from node_harness import (
    Collector,
    LifecycleClient,
    RosTestCase,
    image_message,
    publish_until,
    sensor_qos,
)
from rclpy.qos import ReliabilityPolicy
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from yolo_trt_ros.detector import Detector
from yolo_trt_ros.testing.sample_images import build_sample_images

CAMERA_TOPIC = "/launch_test_camera/color/image_raw"
NODE = "/robot/front_detector"


@pytest.mark.launch_test
def generate_test_description() -> LaunchDescription:
    detect = Path(get_package_share_directory("yolo_trt_ros")) / "launch" / "detect.launch.py"
    return LaunchDescription(
        [
            GroupAction(
                [
                    PushROSNamespace("robot"),
                    SetRemap(src="/robot/image", dst=CAMERA_TOPIC),
                    IncludeLaunchDescription(
                        PythonLaunchDescriptionSource(str(detect)),
                        launch_arguments={"name": "front_detector", "device": "cpu"}.items(),
                    ),
                ]
            ),
            ReadyToTest(),
        ]
    )


class TestDetectLaunch(RosTestCase):
    def test_comes_up_configured_and_active(self, proc_output: Any) -> None:
        proc_output.assertWaitFor("configured in", timeout=120)
        proc_output.assertWaitFor("active: watching", timeout=30)
        self.assertEqual(LifecycleClient(self.ros, NODE.lstrip("/")).state(), "active")

    def test_detects_the_published_image(self) -> None:
        bus = build_sample_images()["bus"]
        camera = self.ros.node.create_publisher(
            Image, CAMERA_TOPIC, sensor_qos(ReliabilityPolicy.RELIABLE)
        )
        detections = Collector(self.ros, Detection2DArray, f"{NODE}/detections")
        frame = image_message(bus, Time(sec=42), "launch_test_camera")
        publish_until(
            self.ros,
            lambda: camera.publish(frame),
            lambda: bool(detections.messages),
            timeout=120,
            what=f"detections on {NODE}/detections",
        )
        with Detector.from_model() as core:
            expected = core(bus)
        message = detections.messages[0]
        self.assertEqual(message.header.frame_id, "launch_test_camera")
        self.assertEqual(
            [d.results[0].hypothesis.class_id for d in message.detections],
            list(expected.class_names),
        )
        self.assertIn("bus", expected.class_names)


@launch_testing.post_shutdown_test()
class TestDetectLaunchShutdown(unittest.TestCase):
    def test_the_node_exits_cleanly(self, proc_info: Any, proc_output: Any) -> None:
        launch_testing.asserts.assertExitCodes(proc_info)
        for output in proc_output:
            self.assertNotIn("Traceback", output.text.decode(errors="replace"))
