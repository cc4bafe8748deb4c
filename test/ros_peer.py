"""A second ROS 2 process for the wire tests: everything it receives crosses real DDS.

    python ros_peer.py [--echo pkg/msg/Name ...] [--action]

--echo   subscribes /peer/in/<pkg>/<Name> and publishes every message back on /peer/out/<pkg>/<Name>
--action serves yolo_trt_ros/action/ExportEngine on /peer/export_engine: two feedback messages,
         then a result that echoes the goal (see _execute_export)

Prints READY once its endpoints exist, and runs until SIGTERM, SIGINT or end of standard input.
"""

import argparse
import importlib
import signal
import sys
import threading
from typing import Any

import rclpy
from rclpy.action import ActionServer
from rclpy.action.server import ServerGoalHandle
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def message_class(type_name: str) -> Any:
    """Import the class of an interface type written as 'pkg/msg/Name'."""
    package, kind, name = type_name.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


def echo_topics(type_name: str) -> tuple[str, str]:
    """Return the (in, out) topics the peer uses for one message type."""
    package, _, name = type_name.split("/")
    return f"/peer/in/{package}/{name}", f"/peer/out/{package}/{name}"


def _execute_export(goal_handle: ServerGoalHandle) -> Any:
    from yolo_trt_ros.action import ExportEngine

    goal = goal_handle.request
    for stage, percent in (("build", 50.0), ("save", 100.0)):
        feedback = ExportEngine.Feedback(
            stage=stage, percent=percent, message=f"{stage} {goal.model}"
        )
        goal_handle.publish_feedback(feedback)
    goal_handle.succeed()
    result = ExportEngine.Result(
        success=True, message=f"echo of {goal.model}", from_cache=goal.force
    )
    result.engine_path = f"{goal.output_dir}/model.engine"
    result.engine.model = goal.model
    result.engine.precision = goal.precision
    result.engine.device = goal.device
    result.engine.input_shape = [max(goal.batch, 1), 3, *goal.image_size]
    return result


class Peer(Node):
    def __init__(self, echo_types: list[str], serve_action: bool) -> None:
        super().__init__("wire_test_peer")
        self._keep: list[object] = []  # endpoints live as long as the node
        for type_name in echo_types:
            cls = message_class(type_name)
            topic_in, topic_out = echo_topics(type_name)
            publisher = self.create_publisher(cls, topic_out, QOS)
            self._keep.append(self.create_subscription(cls, topic_in, publisher.publish, QOS))
        if serve_action:
            from yolo_trt_ros.action import ExportEngine

            self._keep.append(
                ActionServer(self, ExportEngine, "/peer/export_engine", _execute_export)
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--echo", nargs="*", default=[])
    parser.add_argument("--action", action="store_true")
    args = parser.parse_args()

    rclpy.init()
    node = Peer(args.echo, args.action)
    executor = MultiThreadedExecutor()
    executor.add_node(node)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def wait_for_stdin_eof() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=wait_for_stdin_eof, daemon=True).start()
    print("READY", flush=True)
    try:
        while not stop.is_set():
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
