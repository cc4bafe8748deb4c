"""launch_testing: a power-mode launch file, detect_10w.launch.py, applies its profile.

The profile picks the GPU (device cuda), which this machine lacks, so the test overrides the device
(an argument overrides the profile) and checks that everything else came from
config/power_modes/10w.yaml, read here with plain YAML: input size (in EngineInfo), precision,
frame-rate cap and expected power mode (node parameters). Off a Jetson the power-mode diagnostic
is a quiet OK "not a Jetson". The node must detect on a published image and exit cleanly.

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
import yaml
from ament_index_python.packages import get_package_share_directory
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch_testing.actions import ReadyToTest
from node_harness import (
    LATCHED,
    Collector,
    RosTestCase,
    image_message,
    latest_statuses,
    publish_until,
    sensor_qos,
)
from rcl_interfaces.srv import GetParameters
from rclpy.qos import ReliabilityPolicy
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from yolo_trt_ros.msg import EngineInfo
from yolo_trt_ros.testing.sample_images import build_sample_images

SHARE = Path(get_package_share_directory("yolo_trt_ros"))
PROFILE = yaml.safe_load((SHARE / "config" / "power_modes" / "10w.yaml").read_text())
CAMERA_TOPIC = "/launch_test_10w/image_raw"
NODE = "yolo_detector"


@pytest.mark.launch_test
def generate_test_description() -> LaunchDescription:
    launch_file = SHARE / "launch" / "detect_10w.launch.py"
    return LaunchDescription(
        [
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(str(launch_file)),
                launch_arguments={"device": "cpu", "image_topics": CAMERA_TOPIC}.items(),
            ),
            ReadyToTest(),
        ]
    )


class TestPowerModeLaunch(RosTestCase):
    def test_the_profile_reaches_the_node(self) -> None:
        engine = Collector(self.ros, EngineInfo, f"/{NODE}/engine_info", LATCHED)
        self.ros.spin_until(lambda: bool(engine.messages), 120, "EngineInfo")
        size = PROFILE["image_size"]
        self.assertEqual(list(engine.messages[-1].input_shape), [1, 3, size, size])
        self.assertEqual(engine.messages[-1].power_mode, "")  # not a Jetson

        client = self.ros.node.create_client(GetParameters, f"/{NODE}/get_parameters")
        self.ros.spin_until(client.service_is_ready, 30, "the parameter service")
        names = ["precision", "max_rate_hz", "expected_power_modes", "device"]
        future = client.call_async(GetParameters.Request(names=names))
        self.ros.spin_until(future.done, 30, "the parameters")
        precision, rate, modes, device = future.result().values
        self.assertEqual(precision.string_value, PROFILE["precision"])
        self.assertEqual(rate.double_value, PROFILE["max_rate_hz"])
        self.assertEqual(list(modes.string_array_value), PROFILE["power_modes"])
        self.assertEqual(device.string_value, "cpu")  # the argument overrides the profile

    def test_not_a_jetson_is_a_quiet_ok(self) -> None:
        diagnostics = Collector(self.ros, DiagnosticArray, "/diagnostics")
        self.ros.spin_until(
            lambda: "power mode" in latest_statuses(diagnostics, NODE), 30, "the power mode status"
        )
        status = latest_statuses(diagnostics, NODE)["power mode"]
        self.assertEqual(status.level, DiagnosticStatus.OK)
        self.assertTrue(status.message.startswith("not a Jetson"), status.message)

    def test_detects_the_published_image(self) -> None:
        camera = self.ros.node.create_publisher(
            Image, CAMERA_TOPIC, sensor_qos(ReliabilityPolicy.RELIABLE)
        )
        detections = Collector(self.ros, Detection2DArray, f"/{NODE}/detections")
        frame = image_message(build_sample_images()["bus"], Time(sec=7), "camera_10w")
        publish_until(
            self.ros,
            lambda: camera.publish(frame),
            lambda: bool(detections.messages),
            timeout=120,
            what="detections",
        )
        found = {d.results[0].hypothesis.class_id for d in detections.messages[0].detections}
        self.assertIn("bus", found)


@launch_testing.post_shutdown_test()
class TestPowerModeLaunchShutdown(unittest.TestCase):
    def test_the_node_exits_cleanly(self, proc_info: Any) -> None:
        launch_testing.asserts.assertExitCodes(proc_info)
