"""The latched EngineInfo and LabelInfo topics (yolo_trt_ros.ros.model_topics), in this process.

A real rclpy node in the test's context publishes; subscriptions made afterwards (transient
local, as the node harness subscribes) must still get the last message on each topic.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import RosHarness
from node_harness import LATCHED
from rclpy.node import Node
from std_msgs.msg import Header
from vision_msgs.msg import LabelInfo

from yolo_trt_ros.msg import EngineInfo
from yolo_trt_ros.ros import messages
from yolo_trt_ros.ros.model_topics import ModelTopics

NAMES = {0: "person", 1: "bicycle"}


@pytest.fixture
def node(ros: RosHarness) -> Iterator[Node]:
    publisher = Node("model_topics_test", context=ros.context)
    ros.executor.add_node(publisher)
    yield publisher
    ros.executor.remove_node(publisher)
    publisher.destroy_node()


def late_subscriber(ros: RosHarness, message_type: Any, topic: str) -> list[Any]:
    received: list[Any] = []
    ros.node.create_subscription(message_type, topic, received.append, LATCHED)
    return received


def labels(threshold: float) -> LabelInfo:
    return messages.label_info(NAMES, Header(frame_id="x"), threshold)


def own_topics(node: Node) -> set[str]:
    return {publisher.topic_name for publisher in node.publishers}


def test_a_late_subscriber_gets_engine_info_and_labels_beside_each_camera(
    ros: RosHarness, node: Node
) -> None:
    topics = ModelTopics(node)
    topics.publish_labels(labels(0.1))  # before the first publish: nowhere to go, no topic made
    assert not {"/model_topics_test/label_info"} & own_topics(node)
    topics.publish(EngineInfo(model="m.onnx"), labels(0.25), ["front", "rear"])
    engine = late_subscriber(ros, EngineInfo, "/model_topics_test/engine_info")
    label_lists = [
        late_subscriber(ros, LabelInfo, f"/model_topics_test{where}/label_info")
        for where in ("", "/front", "/rear")
    ]
    ros.spin_until(
        lambda: bool(engine) and all(label_lists), 10, "EngineInfo and LabelInfo, latched"
    )
    assert engine[0].model == "m.onnx"
    assert all(got[0].threshold == pytest.approx(0.25) for got in label_lists)

    topics.publish_labels(labels(0.5))  # a new threshold
    ros.spin_until(lambda: all(len(got) == 2 for got in label_lists), 10, "the new threshold")
    assert all(got[1].threshold == pytest.approx(0.5) for got in label_lists)
    assert len(engine) == 1


def test_release_removes_the_topics_and_the_next_publish_makes_them_again(
    ros: RosHarness, node: Node
) -> None:
    topics = ModelTopics(node)
    topics.publish(EngineInfo(model="a"), labels(0.25), ["front"])
    made = {"/model_topics_test/engine_info", "/model_topics_test/label_info"}
    assert made <= own_topics(node)
    assert "/model_topics_test/front/label_info" not in own_topics(node)  # one camera
    topics.destroy()
    assert not made & own_topics(node)
    topics.publish_labels(labels(0.5))  # released: goes nowhere
    topics.publish(EngineInfo(model="b"), labels(0.25), ["front"])
    assert made <= own_topics(node)
    engine = late_subscriber(ros, EngineInfo, "/model_topics_test/engine_info")
    ros.spin_until(lambda: bool(engine), 10, "EngineInfo after the new publish")
    assert [info.model for info in engine] == ["b"]
