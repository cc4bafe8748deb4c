"""yolo_trt_ros.ros.compat: the rclpy differences between Humble and Jazzy.

On this machine (Jazzy) the module is tested for real: message-lost events reach a subscription
created through it, over Fast DDS. Humble is not installed here: its branch is tested by feeding
``select_features`` what Humble's rclpy offers, read from the rclpy source of the `humble` branch
(tag 3.3.15, commit b488272b1ba88c703080bfd605417f013697ee40 of github.com/ros2/rclpy), and by
running the fallbacks it selects against the real (Jazzy) rclpy.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import subprocess
import sys
import time
from typing import Any

import pytest
from conftest import RosHarness
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import String

from yolo_trt_ros.interfaces import installed_type_hash
from yolo_trt_ros.ros import compat
from yolo_trt_ros.ros.transport import TransportMonitor, warn_about_transport

# `git ls-tree b488272 rclpy/rclpy/`: the modules of Humble's rclpy (no event_handler, no
# type_hash; the subscription event callbacks are in qos_event.py).
HUMBLE_RCLPY_MODULES = frozenset(
    f"rclpy.{name}"
    for name in [
        "action",
        "callback_groups",
        "client",
        "clock",
        "constants",
        "context",
        "duration",
        "exceptions",
        "executors",
        "expand_topic_name",
        "guard_condition",
        "impl",
        "lifecycle",
        "logging",
        "node",
        "parameter",
        "parameter_service",
        "publisher",
        "qos",
        "qos_event",
        "qos_overriding_options",
        "serialization",
        "service",
        "signals",
        "subscription",
        "task",
        "time",
        "time_source",
        "timer",
        "topic_endpoint_info",
        "topic_or_service_is_hidden",
        "type_support",
        "utilities",
        "validate_full_topic_name",
        "validate_namespace",
        "validate_node_name",
        "validate_parameter_name",
        "validate_topic_name",
        "wait_for_message",
        "waitable",
    ]
)
# rclpy/rclpy/qos_event.py at b488272, lines 132-140: SubscriptionEventCallbacks.__init__
HUMBLE_EVENT_CALLBACK_PARAMETERS = (
    "deadline",
    "incompatible_qos",
    "liveliness",
    "message_lost",
    "use_default_callbacks",
)
# rclpy/rclpy/subscription.py at b488272: Subscription has __init__, handle, destroy, topic_name
# (no get_publisher_count; Node.count_publishers is rclpy/rclpy/node.py line 1844; no CallbackType:
# executors.py line 355 hands the callback msg_info[0], the message only)
HUMBLE_SUBSCRIPTION_ATTRIBUTES = ("__init__", "handle", "destroy", "topic_name")

HUMBLE = compat.RclpyFeatures(
    event_module="rclpy.qos_event",
    message_lost_events=True,
    type_hashes=False,
    subscription_publisher_count=False,
)
JAZZY = compat.RclpyFeatures(
    event_module="rclpy.event_handler",
    message_lost_events=True,
    type_hashes=True,
    subscription_publisher_count=True,
    message_info_callbacks=True,
)
NO_MESSAGE_LOST = dataclasses.replace(HUMBLE, message_lost_events=False)

_BEST_EFFORT = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)


def test_humble_selection_from_its_source() -> None:
    features = compat.select_features(
        HUMBLE_RCLPY_MODULES, HUMBLE_EVENT_CALLBACK_PARAMETERS, HUMBLE_SUBSCRIPTION_ATTRIBUTES
    )
    assert features == HUMBLE
    assert compat.describe(features) == (
        "message-lost events, no type hashes, no message info in callbacks"
    )


def test_selection_without_event_callbacks_or_message_lost() -> None:
    no_events = compat.select_features({"rclpy.node"}, (), ())
    assert no_events.event_module is None and not no_events.message_lost_events
    # an event module whose callbacks take no message_lost= (older than Humble)
    older = compat.select_features({"rclpy.qos_event"}, ("deadline", "liveliness"), ())
    assert older.event_module == "rclpy.qos_event" and not older.message_lost_events
    assert compat.message_lost_callbacks(lambda info: None, older) is None
    # both present (Iron and later): the new module, never the deprecated alias
    both = compat.select_features(set(compat.EVENT_MODULES), ("message_lost",), ())
    assert both.event_module == "rclpy.event_handler"


@pytest.mark.skipif(
    os.environ.get("ROS_DISTRO") not in ("humble", "jazzy"), reason="expectations for Humble, Jazzy"
)
def test_the_installed_rclpy_is_detected_as_its_distribution() -> None:
    from rclpy.topic_endpoint_info import TopicEndpointInfo

    humble = os.environ["ROS_DISTRO"] == "humble"  # not run on Humble so far: see the README
    assert (HUMBLE if humble else JAZZY) == compat.FEATURES
    events = importlib.import_module("rclpy.qos_event" if humble else "rclpy.event_handler")
    assert compat.SubscriptionEventCallbacks is events.SubscriptionEventCallbacks
    assert compat.UnsupportedEventTypeError is events.UnsupportedEventTypeError
    assert compat.HAS_MESSAGE_LOST_EVENTS
    # the type hashes the flag promises (or denies) are there: on the wire and in the ament index
    assert compat.HAS_TYPE_HASHES is not humble
    assert hasattr(TopicEndpointInfo, "topic_type_hash") is not humble
    installed = installed_type_hash("vision_msgs/msg/Detection2DArray")
    assert installed is None if humble else (installed or "").startswith("RIHS01_")


def _message_lost_handlers(subscription: Any) -> list[Any]:
    events = importlib.import_module(compat.FEATURES.event_module or "rclpy.event_handler")
    lost = events.QoSSubscriptionEventType.RCL_SUBSCRIPTION_MESSAGE_LOST
    return [h for h in subscription.event_handlers if h.event_type == lost]


def _string_subscription(
    ros: RosHarness, topic: str, features: compat.RclpyFeatures = compat.FEATURES
) -> tuple[Any, str, list[String]]:
    """A depth-10 String subscription through compat, ignoring losses; what it received goes in the list."""
    received: list[String] = []
    subscription, reason = compat.create_subscription_counting_losses(
        ros.node,
        String,
        topic,
        received.append,
        10,
        on_message_lost=lambda info: None,
        features=features,
    )
    return subscription, reason, received


def _receive_one(ros: RosHarness, publisher: Any, received: list[String]) -> None:
    def arrived() -> bool:
        publisher.publish(String(data="x"))
        return bool(received)

    ros.spin_until(arrived, 10, "a message through the subscription")


_PUBLISHER = """
import sys, time, rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
rclpy.init()
node = rclpy.create_node("compat_lossy_camera")
camera = node.create_publisher(
    Image, "/compat_test/lossy", QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
)
size, count = int(sys.argv[1]), int(sys.argv[2])
frame = Image(height=1, width=size, encoding="mono8", step=size, data=bytes(size))
deadline = time.monotonic() + 20
while camera.get_subscription_count() == 0 and time.monotonic() < deadline:
    time.sleep(0.05)
time.sleep(0.5)
for _ in range(count):
    camera.publish(frame)
    time.sleep(0.01)
time.sleep(1.0)
"""


def test_message_lost_events_reach_a_subscription_created_through_compat(
    ros: RosHarness,
) -> None:
    """6 MB best-effort frames at 100 Hz over Fast DDS's default transports: most are lost."""
    received: list[bytes] = []
    monitor = TransportMonitor(best_effort=True)
    subscription, reason = compat.create_subscription_counting_losses(
        ros.node,
        Image,
        "/compat_test/lossy",
        received.append,
        _BEST_EFFORT,
        on_message_lost=monitor.on_message_lost,
        raw=True,
    )
    assert reason == ""
    assert len(_message_lost_handlers(subscription)) == 1
    env = {
        k: v for k, v in os.environ.items() if "FASTRTPS" not in k and "FASTDDS" not in k
    }  # the default Fast DDS transports, as a camera driver without our profile would use
    sent = 30
    camera = subprocess.Popen([sys.executable, "-c", _PUBLISHER, "6000000", str(sent)], env=env)
    try:
        deadline = time.monotonic() + 60
        while camera.poll() is None and time.monotonic() < deadline:
            ros.executor.spin_once(timeout_sec=0.05)
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            ros.executor.spin_once(timeout_sec=0.05)
    finally:
        camera.kill()
        camera.wait()
    if len(received) >= sent:
        pytest.skip("no frame was lost on this machine: nothing for the event to report")
    assert monitor.lost_total > 0, (len(received), sent)
    assert monitor.lost_recently() == monitor.lost_total  # every event also counted in time
    assert len(received) + monitor.lost_total <= sent


@pytest.mark.parametrize("features", [HUMBLE, JAZZY], ids=["humble", "jazzy"])
def test_message_info_reaches_the_callback_where_rclpy_gives_it(
    ros: RosHarness, features: compat.RclpyFeatures
) -> None:
    if features.message_info_callbacks and not compat.FEATURES.message_info_callbacks:
        pytest.skip("this rclpy passes no message info to callbacks")
    got: list[tuple[str, Any]] = []
    topic = f"/compat_test/info_{'jazzy' if features.message_info_callbacks else 'humble'}"
    ros.node.create_subscription(
        String,
        topic,
        compat.with_message_info(lambda msg, info: got.append((msg.data, info)), features),
        10,
    )
    publisher = ros.node.create_publisher(String, topic, 10)
    ros.spin_until(lambda: publisher.get_subscription_count() == 1, 10, "the subscription")
    for data in ("a", "b"):
        publisher.publish(String(data=data))
    ros.spin_until(lambda: len(got) == 2, 10, "both messages")
    assert [data for data, _ in got] == ["a", "b"]
    if not features.message_info_callbacks:
        assert [info for _, info in got] == [None, None]
        assert compat.publication_of(None) == (None, None)
        return
    numbers = [compat.publication_of(info)[0] for _, info in got]
    if os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp") == "rmw_fastrtps_cpp":
        assert numbers == [1, 2]  # the writer's own sequence numbers, from its first sample
    else:
        assert numbers in ([1, 2], [None, None])


def test_publication_of_reads_sequence_numbers_and_publisher_gids() -> None:
    gid = {"implementation_identifier": "rmw_fastrtps_cpp", "data": b"\x01" * 16}
    assert compat.publication_of({"publication_sequence_number": 7}) == (7, None)
    assert compat.publication_of({"publication_sequence_number": 7, "publisher_gid": gid}) == (
        7,
        b"\x01" * 16,
    )
    assert compat.publication_of({"publication_sequence_number": None, "publisher_gid": None}) == (
        None,
        None,
    )


def test_humble_fallbacks_work_against_real_rclpy(ros: RosHarness) -> None:
    subscription, reason, received = _string_subscription(
        ros, "/compat_test/humble", features=HUMBLE
    )
    assert reason == ""  # Humble has message-lost events
    assert len(_message_lost_handlers(subscription)) == 1
    publisher = ros.node.create_publisher(String, "/compat_test/humble", 10)
    ros.spin_until(
        lambda: compat.publisher_count(ros.node, subscription, HUMBLE) == 1,
        10,
        "the publisher in the graph (Node.count_publishers, Humble's way)",
    )
    assert compat.publisher_count(ros.node, subscription) == 1  # Iron and later's way agrees
    _receive_one(ros, publisher, received)
    ros.node.destroy_publisher(publisher)
    ros.spin_until(
        lambda: compat.publisher_count(ros.node, subscription, HUMBLE) == 0,
        10,
        "the publisher gone from the graph",
    )


def test_without_message_lost_events_the_subscription_works_and_says_so(
    ros: RosHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscription, reason, received = _string_subscription(
        ros, "/compat_test/no_events", features=NO_MESSAGE_LOST
    )
    assert reason == compat.MESSAGE_LOST_UNAVAILABLE
    assert _message_lost_handlers(subscription) == []
    publisher = ros.node.create_publisher(String, "/compat_test/no_events", 10)
    _receive_one(ros, publisher, received)
    # what the node's diagnostics then say about a camera whose frames are at risk
    for name in ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    monitor = TransportMonitor(best_effort=True)
    monitor.losses_unreported = reason
    monitor.observe(6_220_800)  # a 1080p rgb8 frame over best effort without the profile
    status = warn_about_transport(DiagnosticStatus(level=DiagnosticStatus.OK), monitor, True)
    values = {v.key: v.value for v in status.values}
    expected = "not counted: message-lost events are not available on this ROS distribution"
    assert values["frames lost in transport"] == expected
    assert status.level == DiagnosticStatus.WARN
    assert status.message.startswith("BEST_EFFORT 6.2 MB frames do not fit")
    assert status.message.endswith(f"(frames lost in transport are {expected})")


def test_a_middleware_refusing_message_lost_events_still_gets_a_subscription(
    ros: RosHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rclpy raises UnsupportedEventTypeError from create_event_handlers when the rmw lacks it."""

    class Refusing(compat.SubscriptionEventCallbacks):
        def create_event_handlers(self, *args: Any, **kwargs: Any) -> Any:
            raise compat.UnsupportedEventTypeError("message lost")

    monkeypatch.setattr(compat, "SubscriptionEventCallbacks", Refusing)
    subscription, reason, received = _string_subscription(ros, "/compat_test/refused")
    rmw = importlib.import_module("rclpy.utilities").get_rmw_implementation_identifier()
    assert reason == f"message-lost events are not supported by {rmw}"
    assert [s for s in ros.node.subscriptions if s.topic_name == "/compat_test/refused"] == [
        subscription
    ]
    publisher = ros.node.create_publisher(String, "/compat_test/refused", 10)
    _receive_one(ros, publisher, received)
