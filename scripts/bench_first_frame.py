#!/usr/bin/env python3
r"""Measure how soon the detector node answers a camera that appears before or after it starts.

Node start -> first detection, and camera appearing -> first detection when the node is active
before the camera exists.

Each run starts the detector node (``python -m yolo_trt_ros.ros.detector_node``, autostart,
ONNX Runtime unless ``--backend``) in its own process, in a private localhost ROS domain with the
shipped DDS profile applied as the launch files do. This process is the camera: a RELIABLE,
depth-1 publisher of ``--size`` rgb8 frames (the frames of scripts/bench_node.py) at
``--rate`` Hz, each stamped with the wall clock, as camera drivers publish. Two cases:

* ``camera_first``: the camera publishes before the node starts; measured: node start -> node
  active (its diagnostics say so) -> first Detection2DArray here.
* ``node_first``: the node is active before the camera's publisher exists; measured: publisher
  created -> first Detection2DArray here, and which frame that was (its stamp after the publisher
  was created): the frames before it were lost or not yet subscribed to. The camera is
  discoverable from the moment its publisher exists (one participant, already known).

JSON to stdout and ``--out``: per case the median and every run. The goal for ``node_first``:
the first frame processed within 0.5 s of the camera appearing (``first_detection_s``).

    source install/setup.bash
    python scripts/bench_first_frame.py --runs 3 --out first_frame.json
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

DETECTOR = "first_frame_detector"  # + the run's number: an earlier run's late message never counts
TOPIC = "/first_frame/image"


def _ros_environment(dds_profile: bool) -> str:
    """Put this process (and the node it starts) in a private localhost domain; return the DDS note."""
    from yolo_trt_ros.testing.benchmarks import private_ros_environment  # noqa: PLC0415

    if not dds_profile:
        os.environ["YOLO_TRT_ROS_DDS_PROFILE"] = "off"
    variables, reason = private_ros_environment()
    os.environ.update(variables)
    return reason


class Camera:
    """The camera and the listener: publishes stamped frames, records detections and node state."""

    def __init__(self, size: tuple[int, int]) -> None:
        import numpy as np  # noqa: PLC0415
        import rclpy  # noqa: PLC0415
        from diagnostic_msgs.msg import DiagnosticArray  # noqa: PLC0415
        from rclpy.executors import SingleThreadedExecutor  # noqa: PLC0415
        from std_msgs.msg import Header  # noqa: PLC0415
        from vision_msgs.msg import Detection2DArray  # noqa: PLC0415

        from yolo_trt_ros.ros.image_conversion import array_to_image_msg  # noqa: PLC0415
        from yolo_trt_ros.testing.benchmarks import street_frames_or_sample  # noqa: PLC0415

        rclpy.init()
        self.node = rclpy.create_node("first_frame_camera")
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        label = f"{size[0]}x{size[1]}"
        street = street_frames_or_sample([label])[0][label]
        self.message = array_to_image_msg(np.ascontiguousarray(street[:, :, ::-1]), Header())
        self.message.encoding = "rgb8"
        self.detections: list[tuple[float, float]] = []  # (arrival, stamp) wall-clock seconds
        self.state = ""
        self.qos = ""
        self.detector = ""
        self._detections_type = Detection2DArray
        self._detections: Any = None
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.publisher: Any = None

    def watch(self, detector: str) -> None:
        """Listen to this detector node (a new one per run)."""
        if self._detections is not None:
            self.node.destroy_subscription(self._detections)
        self.detector, self.state, self.qos = detector, "", ""
        self.detections.clear()
        self._detections = self.node.create_subscription(
            self._detections_type, f"/{detector}/detections", self._on_detections, 10
        )

    def _on_detections(self, msg: Any) -> None:
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        self.detections.append((time.time(), stamp))

    def _on_diagnostics(self, msg: Any) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            if status.name == f"/{self.detector}: detector":
                self.state = values.get("lifecycle state", "")
            elif status.name.startswith(f"/{self.detector}: "):
                self.qos = values.get("QoS", self.qos)

    def open_camera(self) -> float:
        """Create the camera's publisher (RELIABLE, depth 1); return when, wall clock."""
        from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: PLC0415

        qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
        self.publisher = self.node.create_publisher(type(self.message), TOPIC, qos)
        return time.time()

    def close_camera(self) -> None:
        """Remove the camera's publisher."""
        if self.publisher is not None:
            self.node.destroy_publisher(self.publisher)
            self.publisher = None

    def run(self, seconds: float, rate: float, until: Any) -> None:
        """Spin for up to ``seconds``, publishing a frame every 1/rate s if the camera is open."""
        end = time.monotonic() + seconds
        next_frame = time.monotonic()
        while time.monotonic() < end and not until():
            if self.publisher is not None and time.monotonic() >= next_frame:
                now = time.time()
                self.message.header.stamp.sec = int(now)
                self.message.header.stamp.nanosec = int((now % 1) * 1e9)
                self.publisher.publish(self.message)
                next_frame += 1.0 / rate
            self.executor.spin_once(timeout_sec=0.005)

    def close(self) -> None:
        """Leave ROS."""
        import rclpy  # noqa: PLC0415

        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown()


def _start_node(args: argparse.Namespace, name: str, log: Any) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "yolo_trt_ros.ros.detector_node", "--ros-args"]
    command += ["-r", f"__node:={name}", "-p", "autostart:=true", "-p", "warmup_runs:=1"]
    command += ["-p", "diagnostics_period:=0.1"]  # node_active_s to 0.1 s
    command += ["-p", f"image_topics:=['{TOPIC}']", "-p", f"backend:={args.backend}"]
    # from the log's folder: `-m` from the source tree would shadow the installed package
    return subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, cwd=Path(log.name).resolve().parent
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _one_run(
    camera: Camera, args: argparse.Namespace, case: str, index: int, log: Any
) -> dict[str, Any]:
    name = f"{DETECTOR}_{case}_{index}"
    camera.watch(name)
    result: dict[str, Any] = {}
    if case == "camera_first":
        camera.open_camera()
        camera.run(1.0, args.rate, lambda: False)  # the camera is up and publishing
    started = time.time()
    process = _start_node(args, name, log)
    try:
        camera.run(
            args.timeout, args.rate, lambda: camera.state == "active" or process.poll() is not None
        )
        if process.poll() is not None:
            raise RuntimeError(f"the node exited ({process.returncode}); see {args.log}")
        result["node_active_s"] = round(time.time() - started, 3) if camera.state else None
        if case == "node_first":
            camera.run(args.settle, args.rate, lambda: False)  # active, no camera yet
            started = camera.open_camera()
        camera.run(args.timeout, args.rate, lambda: bool(camera.detections))
        if camera.detections:
            arrival, stamp = camera.detections[0]
            result["first_detection_s"] = round(arrival - started, 3)
            result["first_answered_frame_sent_s"] = round(stamp - started, 3)
        else:
            result["first_detection_s"] = None
        camera.run(1.5, args.rate, lambda: False)  # one more diagnostics message: the QoS now
        result["qos"] = camera.qos
    finally:
        camera.close_camera()
        _stop(process)
    return result


def main() -> int:
    """Run the cases; print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", default="1920x1080", help="frame size WIDTHxHEIGHT")
    parser.add_argument("--rate", type=float, default=10.0, help="camera frames per second")
    parser.add_argument("--backend", default="onnxruntime")
    parser.add_argument("--settle", type=float, default=3.0, help="s the node waits, camera-less")
    parser.add_argument("--timeout", type=float, default=60.0, help="s to wait for each step")
    parser.add_argument("--cases", nargs="+", default=["camera_first", "node_first"])
    parser.add_argument("--no-dds-profile", action="store_true", help="as without the launch files")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--log", type=Path, default=Path("first_frame_node.log"))
    args = parser.parse_args()
    dds = _ros_environment(not args.no_dds_profile)
    width, height = (int(v) for v in args.size.split("x"))
    camera = Camera((width, height))
    report: dict[str, Any] = {
        "benchmark": "first_frame",
        "settings": {**{k: str(v) for k, v in vars(args).items()}, "dds": dds},
        "goal": "node_first.first_detection_s <= 0.5",
        "cases": {},
    }
    try:
        with args.log.open("wb") as log:
            for case in args.cases:
                runs = []
                for index in range(args.runs):
                    runs.append(_one_run(camera, args, case, index, log))
                    print(f"{case} run {index + 1}: {runs[-1]}", file=sys.stderr)
                medians = {
                    key: statistics.median(values)
                    for key in ("node_active_s", "first_detection_s", "first_answered_frame_sent_s")
                    if (values := [r[key] for r in runs if r.get(key) is not None])
                }
                report["cases"][case] = {"median": medians, "runs": runs}
    finally:
        camera.close()
    from yolo_trt_ros.testing.benchmarks import emit_report  # noqa: PLC0415

    emit_report(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
