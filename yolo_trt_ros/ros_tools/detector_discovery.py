"""What a running detector watches, where its outputs go, and what it has counted.

Asked through the detector's own parameter service and read from its diagnostics, so a tool can
measure any detector node by name, wherever its cameras and outputs are.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.srv import GetParameters
from rclpy.node import Node
from rclpy.parameter import parameter_value_to_python

from yolo_trt_ros.errors import DetectorNotFoundError, TopicNotWatchedError
from yolo_trt_ros.settings import camera_names_for

__all__ = [
    "COUNTER_KEYS",
    "DetectorCamera",
    "absolute_node_name",
    "counters_from",
    "find_detector_cameras",
]

# diagnostics key -> report key of the per-camera frame counters
COUNTER_KEYS = {
    "frames received": "received",
    "frames published": "published",
    "frames dropped": "dropped",
    "bad frames": "bad_frames",
}


@dataclass(frozen=True)
class DetectorCamera:
    """One camera of the detector: its image topic, where its outputs go, its name and input type."""

    image_topic: str
    outputs: str  # prefix of <outputs>/detections and <outputs>/timing
    camera: str  # the detector's diagnostics status is "<detector>: <camera>"
    input_type: str  # raw or compressed


def absolute_node_name(name: str) -> str:
    """Return a node name with its leading slash (yolo_detector -> /yolo_detector)."""
    return name if name.startswith("/") else f"/{name}"


def _resolve(topic: str, node: str) -> str:
    """Resolve a topic name the way the detector node does (relative names: its namespace)."""
    namespace = node.rsplit("/", 1)[0]
    if topic.startswith("/"):
        return topic
    if topic.startswith("~"):
        return f"{node}{topic[1:]}"
    return f"{namespace}/{topic}"


def _call(client: Any, request: Any, timeout_s: float) -> Any:
    """Call a service of a node that an executor spins in another thread; None on timeout."""
    deadline = time.monotonic() + timeout_s
    while not client.service_is_ready():
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)
    future = client.call_async(request)
    while not future.done():
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)
    return future.result()


def find_detector_cameras(
    node: Node, detector: str, timeout_s: float, only: Sequence[str] = ()
) -> list[DetectorCamera]:
    """Ask a running detector which cameras it watches; keep those on the ``only`` topics.

    Raises DetectorNotFoundError when it does not answer within ``timeout_s`` or watches none of
    the wanted topics. The node must be spun by an executor in another thread.
    """
    detector = absolute_node_name(detector)
    client = node.create_client(GetParameters, f"{detector}/get_parameters")
    try:
        names = ["image_topics", "camera_names", "input_types"]
        reply = _call(client, GetParameters.Request(names=names), timeout_s)
    finally:
        node.destroy_client(client)
    if reply is None or len(reply.values) != len(names):
        raise DetectorNotFoundError(
            f"no detector node {detector} answered within {timeout_s:.0f} s: start it "
            "(ros2 run yolo_trt_ros detector ...), or name the right node with --detector"
        )
    topics, cameras, types = (parameter_value_to_python(value) for value in reply.values)
    topics = list(topics or [])
    cameras = list(cameras or []) or camera_names_for(topics)
    types = list(types or ["raw"])
    single = len(topics) == 1
    streams = [
        DetectorCamera(
            image_topic=_resolve(topic, detector),
            outputs=detector if single else f"{detector}/{camera}",
            camera=camera,
            input_type=types[index] if len(types) > 1 else types[0],
        )
        for index, (topic, camera) in enumerate(zip(topics, cameras, strict=True))
    ]
    if not only:
        return streams
    by_topic = {stream.image_topic: stream for stream in streams}
    missing = [topic for topic in only if topic not in by_topic]
    if missing:
        raise TopicNotWatchedError(
            f"the detector {detector} watches {', '.join(by_topic) or 'no topic'}, not "
            f"{', '.join(missing)}: point the detector at it (parameter image_topics)"
        )
    return [by_topic[topic] for topic in only]


def counters_from(array: DiagnosticArray, detector: str) -> dict[str, dict[str, int]]:
    """Return the per-camera frame counters in a detector's diagnostics, by camera name."""
    found: dict[str, dict[str, int]] = {}
    prefix = f"{detector}: "
    for status in array.status:
        if not status.name.startswith(prefix):
            continue
        values = {kv.key: kv.value for kv in status.values}
        if all(key in values for key in COUNTER_KEYS):
            found[status.name[len(prefix) :]] = {
                name: int(values[key]) for key, name in COUNTER_KEYS.items()
            }
    return found
