"""Requests that used to end the detector process, sent over real DDS to the real executable.

Each case is one service request anyone on the network can send; the node must answer it with a
refusal (or take it) and keep running, and stop cleanly at the end (the detectors fixture checks
the exit code).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from conftest import RosHarness
from node_harness import DetectorProcess, LifecycleClient, publish_until
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters, SetParametersAtomically
from sensor_msgs.msg import Image
from std_msgs.msg import Header


def _set(client: LifecycleClient, service: Any, node: str, name: str, value: ParameterValue) -> Any:
    suffix = "set_parameters" if service is SetParameters else "set_parameters_atomically"
    caller = client.ros.node.create_client(service, f"/{node}/{suffix}")
    request = service.Request(parameters=[ParameterMsg(name=name, value=value)])
    return client._call(caller, request)


def test_malformed_lifecycle_and_parameter_requests_are_refused(
    ros: RosHarness, tmp_path: Path, detectors: list[DetectorProcess]
) -> None:
    node = "detector_requests"
    detectors.append(DetectorProcess(node, tmp_path, confidence_threshold=1.5))  # out of range
    client = LifecycleClient(ros, node)
    assert client.state() == "unconfigured"

    # a transition that does not exist in this state
    assert not client.transition("activate")
    assert client.state() == "unconfigured"

    # a parameter value of no known type, through both set services
    bad = ParameterValue(type=99)
    result = _set(client, SetParameters, node, "confidence_threshold", bad).results[0]
    assert not result.successful and "not a valid parameter value" in result.reason
    atomic = _set(client, SetParametersAtomically, node, "iou_threshold", bad).result
    assert not atomic.successful and "not a valid parameter value" in atomic.reason

    # deleting a parameter (ros2 param delete) would undeclare a dynamically typed one
    unset = ParameterValue(type=ParameterType.PARAMETER_NOT_SET)
    deleted = _set(client, SetParameters, node, "classes", unset).results[0]
    assert not deleted.successful and "cannot be deleted" in deleted.reason

    # values configure would refuse are refused when set, naming the parameter
    for name, value in (("device", "tpu:0"), ("image_size", 100)):
        successful, reason = client.set_parameter(name, value)
        assert not successful and name in reason, (name, reason)

    # the start-up value was refused: configure fails until a valid value is set, then succeeds
    assert not client.transition("configure")
    assert client.set_parameter("confidence_threshold", 0.5) == (True, "")
    assert client.transition("configure")
    assert client.transition("activate")
    assert client.state() == "active"
    log = detectors[0].log
    assert "refused lifecycle transition" in log and "refused a set_parameters request" in log


def test_each_camera_warns_about_its_own_bad_frames(
    ros: RosHarness, tmp_path: Path, detectors: list[DetectorProcess]
) -> None:
    """One camera's throttled warning must not hide another's (the throttle is per camera)."""
    node = "detector_two_bad_cameras"
    process = DetectorProcess(
        node,
        tmp_path,
        image_topics=["/two_bad/left", "/two_bad/right"],
        camera_names=["left", "right"],
        autostart=True,
    )
    detectors.append(process)
    client = LifecycleClient(ros, node)
    ros.spin_until(lambda: client.state() == "active", 60, "the node to activate")
    depth = np.zeros((48, 64), np.uint16)
    bad = Image(
        header=Header(frame_id="camera"),
        height=48,
        width=64,
        encoding="16UC1",
        step=128,
        data=depth.tobytes(),
    )
    publishers = [
        ros.node.create_publisher(Image, f"/two_bad/{side}", 10) for side in ("left", "right")
    ]

    def both_warned() -> bool:
        log = process.log
        return all(
            f"{side}: dropped a frame from /two_bad/{side}" in log for side in ("left", "right")
        )

    def publish() -> None:
        for publisher in publishers:
            publisher.publish(bad)

    publish_until(
        ros,
        publish,
        both_warned,
        timeout=4.0,  # inside the 5 s throttle: a shared throttle would hide the second camera
        what="a warning from each camera",
        period=0.5,
    )
