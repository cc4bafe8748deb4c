"""Messages cross real Fast DDS between two processes, and vision_msgs is wire-compatible.

The peer (test/ros_peer.py) runs in its own process; every message here is published by one
process and received by the other. The expected type hashes are upstream vision_msgs 4.1.1's
(computed by rosidl from the upstream 4.1.1 sources, built apart from this package), an
independent reference: equal hashes are what lets nodes built against the real vision_msgs talk
to ours.
"""

import time
from typing import Any

import pytest
from ros_peer import QOS, echo_topics, message_class

from yolo_trt_ros.ros.compat import HAS_TYPE_HASHES

UPSTREAM_VISION_MSGS_4_1_1 = {
    "vision_msgs/msg/BoundingBox2D": "RIHS01_008eacbb0cf8f26e83795547bed013eec3675485ef386ec056d80eaaf1c1ce2f",
    "vision_msgs/msg/BoundingBox2DArray": "RIHS01_2464e82838009386d371b523211c21c91d74d313fcdd6788223c531d621cf691",
    "vision_msgs/msg/BoundingBox3D": "RIHS01_bbb73a65c163d7f9bb29009c7bde9f7faa576bd2d23299c4511d19230dab4698",
    "vision_msgs/msg/BoundingBox3DArray": "RIHS01_a81938db9576b10c2eecd7c5a5da3eac496efd00221b25ed051dfbc81fb56da6",
    "vision_msgs/msg/Classification": "RIHS01_f74db28d0eaef3afb78f48bf2161cd709a1383a0309d3454383b25be11345143",
    "vision_msgs/msg/Detection2D": "RIHS01_0d12b69df5c593b3455b7346fac8205437a7d4bcb09b9e0e0b2dde787ded38ea",
    "vision_msgs/msg/Detection2DArray": "RIHS01_214274120007f4a683866481336b70310268cfa107aebe9d594a6acf75bda968",
    "vision_msgs/msg/Detection3D": "RIHS01_ddd703be132ab0b69d33121f1bb034132bfbb3b0ac5f9fb1516005ba1c8a265b",
    "vision_msgs/msg/Detection3DArray": "RIHS01_793f5eab9595ac1c0da07873cc859db42eae51f0ee76056db8562515d830e018",
    "vision_msgs/msg/LabelInfo": "RIHS01_3d37df4015cdf660cc851c51897f2acd957e1ca6205ba0a99aebffb9406b0783",
    "vision_msgs/msg/ObjectHypothesis": "RIHS01_51da43cec11c01957a64d1e05a24acd18aae7745ec30b74348ad5f6d634f7f90",
    "vision_msgs/msg/ObjectHypothesisWithPose": "RIHS01_41c12344c0396c48b81df12467c192d99b2a0eb1463c5c37194e4223251c80bc",
    "vision_msgs/msg/Point2D": "RIHS01_eab0e83f44ab4de92ceaf76dd7d0e7638f2bdd1d16ffbe16c7a136c48e407247",
    "vision_msgs/msg/Pose2D": "RIHS01_b0b5d1d7b4c20dd4fcde3ed1d4b289a919290572007d67a97043814db25d3648",
    "vision_msgs/msg/VisionClass": "RIHS01_1e4a11f0fed50b5623cb8ff26ca0e37952a48a9c074d16f804b44e9164c2037a",
    "vision_msgs/msg/VisionInfo": "RIHS01_95d3116a17484ad91c9a2686e1d54890bbfc3ff6c6a2de137738c4950d45d284",
}


def detection_array() -> Any:
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

    array = Detection2DArray()
    array.header.stamp.sec, array.header.stamp.nanosec = 1_700_000_000, 123_456_789
    array.header.frame_id = "camera_front_optical"
    for index, (name, score) in enumerate((("person", 0.91), ("bus", 0.87))):
        detection = Detection2D()
        detection.header = array.header
        detection.id = str(index)
        detection.bbox.center.position.x = 100.5 + index
        detection.bbox.center.position.y = 200.25
        detection.bbox.size_x, detection.bbox.size_y = 50.0, 120.0
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = name
        hypothesis.hypothesis.score = score
        hypothesis.pose.covariance[0] = 0.5
        detection.results.append(hypothesis)
        array.detections.append(detection)
    return array


def inference_timing() -> Any:
    from yolo_trt_ros.msg import InferenceTiming

    timing = InferenceTiming(preprocess_ms=0.75, inference_ms=1.5, postprocess_ms=0.25)
    timing.header.frame_id = "camera_left"
    timing.header.stamp.sec = 42
    timing.receive_time.sec, timing.receive_time.nanosec = 42, 5_000_000
    timing.total_ms = 2.5
    timing.frames_dropped = 3
    return timing


def engine_info() -> Any:
    from yolo_trt_ros.msg import EngineInfo

    return EngineInfo(
        model="/models/yolo11n.onnx",
        backend="tensorrt",
        backend_version="10.3.0",
        engine_path="/cache/ab12.engine",
        cache_key="ab12",
        precision="fp16",
        device="dla:1",
        input_shape=[1, 3, 640, 640],
        build_seconds=612.5,
        from_cache=False,
        power_mode="MAXN_SUPER",
        class_names=["person", "bicycle", "car"],
    )


def echo(ros: Any, type_name: str, message: Any) -> Any:
    """Send message to the peer and return what the peer published back."""
    topic_in, topic_out = echo_topics(type_name)
    cls = message_class(type_name)
    received: list[Any] = []
    publisher = ros.node.create_publisher(cls, topic_in, QOS)
    ros.node.create_subscription(cls, topic_out, received.append, QOS)
    ros.spin_until(
        lambda: publisher.get_subscription_count() > 0 and ros.node.count_publishers(topic_out) > 0,
        timeout=20,
        what=f"the peer's endpoints for {type_name}",
    )
    # Seeing the peer's publisher does not mean it has matched our subscription yet, so a single
    # message can be echoed into the void: resend until one comes back (the peer echoes each).
    deadline = time.monotonic() + 10
    while not received:
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after 10 s waiting for the echoed {type_name}")
        publisher.publish(message)
        end = time.monotonic() + 0.5
        while not received and time.monotonic() < end:
            ros.executor.spin_once(timeout_sec=0.05)
    return received[0]


def test_detection_array_crosses_processes_unchanged(ros: Any, ros_peer: Any) -> None:
    ros_peer("--echo", "vision_msgs/msg/Detection2DArray")
    sent = detection_array()
    got = echo(ros, "vision_msgs/msg/Detection2DArray", sent)
    assert got == sent
    assert [d.results[0].hypothesis.class_id for d in got.detections] == ["person", "bus"]
    assert got.detections[0].bbox.center.position.x == 100.5


@pytest.mark.skipif(
    not HAS_TYPE_HASHES, reason="this ROS distribution (Humble) has no type hashes on the wire"
)
def test_vision_msgs_type_hashes_on_the_wire_match_upstream(ros: Any, ros_peer: Any) -> None:
    """The peer publishes each type; its endpoint info carries the type hash DDS discovery saw."""
    ros_peer("--echo", *UPSTREAM_VISION_MSGS_4_1_1)
    seen = {}
    for type_name in UPSTREAM_VISION_MSGS_4_1_1:
        _, topic_out = echo_topics(type_name)

        def peer_publisher_info(topic: str = topic_out) -> list[Any]:
            return [
                info
                for info in ros.node.get_publishers_info_by_topic(topic)
                if info.node_name == "wire_test_peer"
            ]

        ros.spin_until(lambda: bool(peer_publisher_info()), timeout=20, what=topic_out)
        (info,) = peer_publisher_info()
        assert info.topic_type == type_name
        seen[type_name] = str(info.topic_type_hash)
    assert seen == UPSTREAM_VISION_MSGS_4_1_1


def test_installed_type_descriptions_match_upstream() -> None:
    from yolo_trt_ros.interfaces import UPSTREAM_VISION_MSGS_TYPE_HASHES, installed_type_hash

    installed = {name: installed_type_hash(name) for name in UPSTREAM_VISION_MSGS_4_1_1}
    assert installed == UPSTREAM_VISION_MSGS_4_1_1
    # the constants the doctor checks against agree with the reference
    assert dict(UPSTREAM_VISION_MSGS_TYPE_HASHES) == UPSTREAM_VISION_MSGS_4_1_1


@pytest.mark.parametrize(
    ("type_name", "make"),
    [
        ("yolo_trt_ros/msg/InferenceTiming", inference_timing),
        ("yolo_trt_ros/msg/EngineInfo", engine_info),
    ],
)
def test_own_messages_round_trip(ros: Any, ros_peer: Any, type_name: str, make: Any) -> None:
    ros_peer("--echo", type_name)
    sent = make()
    got = echo(ros, type_name, sent)
    assert got == sent
    assert got != make().__class__()  # the fields really carried data


def test_export_action_round_trip(ros: Any, ros_peer: Any) -> None:
    from rclpy.action import ActionClient

    from yolo_trt_ros.action import ExportEngine

    ros_peer("--action")
    client = ActionClient(ros.node, ExportEngine, "/peer/export_engine")
    ros.spin_until(client.server_is_ready, timeout=20, what="the export action server")

    goal = ExportEngine.Goal(
        model="/models/yolo11s.pt",
        output_dir="/tmp/engines",
        precision="int8",
        device="dla:0",
        image_size=[384, 640],
        batch=2,
        calibration_dir="/data/calib",
        force=True,
    )
    feedback: list[Any] = []
    sent = client.send_goal_async(goal, feedback_callback=lambda msg: feedback.append(msg.feedback))
    ros.spin_until(sent.done, timeout=10, what="the goal to be accepted")
    goal_handle = sent.result()
    assert goal_handle is not None and goal_handle.accepted
    result_future = goal_handle.get_result_async()
    ros.spin_until(result_future.done, timeout=10, what="the action result")
    response = result_future.result()
    assert response is not None
    result = response.result

    assert result.success
    assert result.message == "echo of /models/yolo11s.pt"
    assert result.engine_path == "/tmp/engines/model.engine"
    assert result.from_cache is True
    assert (result.engine.model, result.engine.precision, result.engine.device) == (
        "/models/yolo11s.pt",
        "int8",
        "dla:0",
    )
    assert list(result.engine.input_shape) == [2, 3, 384, 640]
    # Feedback is best effort in ROS 2 actions: what arrives must be what the server sent, in order.
    expected = [("build", 50.0), ("save", 100.0)]
    got = [(f.stage, f.percent) for f in feedback]
    assert got == [item for item in expected if item in got]
    assert all(f.message == f"{f.stage} /models/yolo11s.pt" for f in feedback)
