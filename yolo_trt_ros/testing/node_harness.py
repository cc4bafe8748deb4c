"""Run the real detector executable in its own process and talk to it over DDS, like a robot would.

Shared by the tests (test/node_harness.py adds the pytest parts) and the soak script
(scripts/soak_hostile.py), so neither reaches into the other's folder. `RosHarness` is one rclpy
context, node and executor. `DetectorProcess` starts `lib/yolo_trt_ros/detector` (where
`ros2 run` finds it) with a params file, and stops it with SIGINT, returning its exit code. Where
that script's interpreter is not the one running the tests (an install copied to a GPU machine),
``YOLO_TRT_ROS_NODE_PYTHON=1`` starts the node module with this interpreter instead.
`LifecycleClient` drives it through the standard lifecycle services; `Collector` gathers messages
from a topic. Needs rclpy and the message packages (the layer of the tools over ROS).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Generic, NoReturn, TypeVar

import cv2
import numpy as np
import rclpy
import rclpy.context
import rclpy.executors
import rclpy.node
import yaml
from ament_index_python.packages import get_package_prefix
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

PACKAGE = "yolo_trt_ros"


def executables_where_ros2_run_looks() -> dict[str, Path]:
    """Return what `ros2 run yolo_trt_ros <name>` finds: executables in <prefix>/lib/<package>/."""
    directory = Path(get_package_prefix(PACKAGE)) / "lib" / PACKAGE
    return {
        path.name: path
        for path in directory.iterdir()
        if path.is_file() and os.access(path, os.X_OK)
    }


class RosHarness:
    """A rclpy context, one node and an executor, with a helper to spin until something holds."""

    def __init__(self) -> None:
        self.context = rclpy.context.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.node.Node("wire_test", context=self.context)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def spin_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Spin until condition() is true; call `timed_out` with `what` after timeout seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                self.timed_out(f"timed out after {timeout:.0f} s waiting for {what}")
            self.executor.spin_once(timeout_sec=0.05)

    def timed_out(self, message: str) -> NoReturn:
        """Raise TimeoutError: a timeout in `spin_until` (the tests fail the test instead)."""
        raise TimeoutError(message)

    def close(self) -> None:
        """Shut the executor down, destroy the node and shut the context down."""
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


Message = TypeVar("Message")

# How the node publishes EngineInfo and LabelInfo: a late subscriber still gets the last one.
LATCHED = QoSProfile(
    depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE
)

TRANSITIONS = {
    "configure": Transition.TRANSITION_CONFIGURE,
    "activate": Transition.TRANSITION_ACTIVATE,
    "deactivate": Transition.TRANSITION_DEACTIVATE,
    "cleanup": Transition.TRANSITION_CLEANUP,
    "shutdown": Transition.TRANSITION_UNCONFIGURED_SHUTDOWN,
}


class DetectorProcess:
    """The detector executable with a params file; logs go to a file the tests can show."""

    def __init__(
        self,
        name: str,
        tmp_path: Path,
        base_params: Path | None = None,
        env: Mapping[str, str] | None = None,
        namespace: str = "",
        **parameters: Any,
    ) -> None:
        self.name = name
        params_file = tmp_path / f"{name}.yaml"
        params_file.write_text(yaml.safe_dump({"/**": {"ros__parameters": parameters}}))
        self.log_path = tmp_path / f"{name}.log"
        self._log = self.log_path.open("w")
        launcher = (
            [sys.executable, "-m", "yolo_trt_ros.ros.detector_node"]
            if os.environ.get("YOLO_TRT_ROS_NODE_PYTHON")
            else [str(executables_where_ros2_run_looks()["detector"])]
        )
        command = [
            *launcher,
            "--ros-args",
            "-r",
            f"__node:={name}",
            *(["-r", f"__ns:={namespace}"] if namespace else []),
        ]
        if base_params is not None:  # the later file overrides the earlier one
            command += ["--params-file", str(base_params)]
        self.process = subprocess.Popen(
            [*command, "--params-file", str(params_file)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )

    @property
    def log(self) -> str:
        """Everything the node printed so far (also after it stopped)."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def rss_mb(self) -> float:
        """Resident memory of the node process, in MiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS line")

    def stop(self, timeout: float = 20.0) -> int:
        """Ctrl-C the node; return its exit code (killing it if it hangs)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                self._log.close()
                return -9
        self._log.close()
        return int(self.process.returncode)


class Collector(Generic[Message]):
    """Subscribe to a topic and keep every message."""

    def __init__(
        self, ros: RosHarness, message_type: type[Message], topic: str, qos: QoSProfile | int = 10
    ) -> None:
        self.messages: list[Message] = []
        self.subscription = ros.node.create_subscription(
            message_type, topic, self.messages.append, qos
        )


class LifecycleClient:
    """The standard lifecycle and parameter services of one node."""

    def __init__(self, ros: RosHarness, node: str) -> None:
        self.ros = ros
        self.change = ros.node.create_client(ChangeState, f"/{node}/change_state")
        self.get = ros.node.create_client(GetState, f"/{node}/get_state")
        self.set_parameters_client = ros.node.create_client(
            SetParameters, f"/{node}/set_parameters"
        )

    def _call(self, client: Any, request: Any, timeout: float = 60.0) -> Any:
        self.ros.spin_until(client.service_is_ready, 30.0, f"service {client.srv_name}")
        future = client.call_async(request)
        self.ros.spin_until(future.done, timeout, f"a reply from {client.srv_name}")
        return future.result()

    def state(self) -> str:
        """Return the node's lifecycle state label."""
        return str(self._call(self.get, GetState.Request()).current_state.label)

    def transition(self, name: str) -> bool:
        """Request a transition; return whether it succeeded."""
        request = ChangeState.Request()
        request.transition.id = TRANSITIONS[name]
        return bool(self._call(self.change, request).success)

    def set_parameter(self, name: str, value: Any) -> tuple[bool, str]:
        """Set one parameter (str, float, bool or int); return (successful, reason)."""
        kinds = {
            str: ("string_value", ParameterType.PARAMETER_STRING),
            float: ("double_value", ParameterType.PARAMETER_DOUBLE),
            bool: ("bool_value", ParameterType.PARAMETER_BOOL),
            int: ("integer_value", ParameterType.PARAMETER_INTEGER),
        }
        field, kind = kinds[type(value)]
        parameter_value = ParameterValue(type=kind, **{field: value})
        request = SetParameters.Request(parameters=[ParameterMsg(name=name, value=parameter_value)])
        result = self._call(self.set_parameters_client, request).results[0]
        return bool(result.successful), str(result.reason)


def image_message(image: np.ndarray, stamp: Time, frame_id: str) -> Image:
    """Build a bgr8 sensor_msgs/Image by hand, independent of the package's converter."""
    height, width = image.shape[:2]
    header = Header(stamp=stamp, frame_id=frame_id)
    return Image(
        header=header,
        height=height,
        width=width,
        encoding="bgr8",
        is_bigendian=0,
        step=width * 3,
        data=image.tobytes(),
    )


def jpeg_message(image: np.ndarray, stamp: Time, frame_id: str) -> tuple[CompressedImage, bytes]:
    """Return a JPEG CompressedImage, and its bytes."""
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    data = encoded.tobytes()
    return CompressedImage(
        header=Header(stamp=stamp, frame_id=frame_id), format="jpeg", data=data
    ), data


def publish_until(
    ros: RosHarness,
    publish: Callable[[], None],
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    period: float = 0.5,
) -> None:
    """Publish repeatedly (discovery takes a moment) until condition() holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        publish()
        spin_for(ros, period, condition)


def spin_for(
    ros: RosHarness, seconds: float, condition: Callable[[], bool] = lambda: False
) -> None:
    """Spin the test node for a while, or until condition() holds."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and not condition():
        ros.executor.spin_once(timeout_sec=0.05)


def sensor_qos(reliability: ReliabilityPolicy) -> QoSProfile:
    """Depth-1 QoS with the given reliability, like a camera driver's."""
    return QoSProfile(depth=1, reliability=reliability)


def latest_statuses(
    diagnostics: Collector[DiagnosticArray], node: str
) -> dict[str, DiagnosticStatus]:
    """Return the newest diagnostic status of each part of a node ("detector", a camera, ...)."""
    latest: dict[str, DiagnosticStatus] = {}
    for array in diagnostics.messages:
        for status in array.status:
            if status.name.startswith(f"/{node}: "):
                latest[status.name.split(": ", 1)[1]] = status
    return latest


def status_value(status: DiagnosticStatus, key: str) -> str:
    """One key's value in a diagnostic status."""
    return str(next(kv.value for kv in status.values if kv.key == key))
