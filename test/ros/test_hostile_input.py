"""Hostile and careless input thrown at the real detector executable over DDS: it stays up.

The frames are yolo_trt_ros/testing/hostile_frames.py's (sizes, offsets and magic bytes written there by hand);
good frames of the bus photo are interleaved. The node must refuse every bad frame with its
reason, count it as bad in its diagnostics, keep detecting the good frames (a refused frame never
takes a good one's mailbox slot), log libjpeg's complaints under the camera's name, and answer
malformed parameter requests with a refusal. scripts/soak_hostile.py is the long version.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from builtin_interfaces.msg import Time
from conftest import RosHarness
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.srv import ChangeState, GetAvailableTransitions
from node_harness import (
    Collector,
    DetectorProcess,
    LifecycleClient,
    image_message,
    jpeg_message,
    latest_statuses,
    publish_until,
    status_value,
)
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import GetParameters, SetParameters
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray

from yolo_trt_ros.errors import InvalidImageError
from yolo_trt_ros.ros.image_conversion import (
    check_compressed,
    check_image,
    compressed_to_array,
    image_to_array,
)
from yolo_trt_ros.testing.hostile_frames import (
    HostileFrame,
    compressed_cases,
    decoded_but_warned,
    raw_cases,
)
from yolo_trt_ros.testing.sample_images import build_sample_images

NODE = "detector_hostile"
TOPICS = {"raw": "/hostile/raw", "jpeg": "/hostile/jpeg"}
DEPTH = 100  # publisher and subscription: a burst of bad frames is delivered whole
CASES = {"raw": raw_cases(), "jpeg": compressed_cases()}


@pytest.mark.parametrize(
    "case", [c for cases in CASES.values() for c in cases], ids=lambda c: c.name
)
def test_each_case_is_refused_where_it_says(case: HostileFrame) -> None:
    """In-process: refused on arrival (the cheap check) or only when decoded, with its words."""
    raw = isinstance(case.msg, Image)
    check = functools.partial(check_image if raw else check_compressed, case.msg)
    if case.on_arrival:
        with pytest.raises(InvalidImageError, match=case.words.replace("(", r"\(")):
            check()
    else:
        check()
    with pytest.raises(InvalidImageError) as raised:
        (image_to_array if raw else compressed_to_array)(case.msg)
    assert case.words in str(raised.value)


class _Rig:
    """The node under test, a publisher per camera, its detections and its diagnostics."""

    def __init__(self, ros: RosHarness, process: DetectorProcess) -> None:
        self.ros, self.process = ros, process
        self.client = LifecycleClient(ros, NODE)
        self.bus = build_sample_images()["bus"]
        qos = QoSProfile(depth=DEPTH, reliability=ReliabilityPolicy.RELIABLE)
        self.publishers = {
            "raw": ros.node.create_publisher(Image, TOPICS["raw"], qos),
            "jpeg": ros.node.create_publisher(CompressedImage, TOPICS["jpeg"], qos),
        }
        self.out = {
            c: Collector(ros, Detection2DArray, f"/{NODE}/{c}/detections", DEPTH) for c in TOPICS
        }
        self.diagnostics = Collector(ros, DiagnosticArray, "/diagnostics", DEPTH)

    def good(self, camera: str, sec: int) -> Image | CompressedImage:
        stamp = Time(sec=sec)
        if camera == "raw":
            return image_message(self.bus, stamp, "bus")
        return jpeg_message(self.bus, stamp, "bus")[0]

    def detected(self, camera: str, sec: int) -> bool:
        return any(m.header.stamp.sec == sec for m in self.out[camera].messages)

    def publish_good(self, sec: int) -> None:
        for camera, publisher in self.publishers.items():
            publisher.publish(self.good(camera, sec))

    def until_detected(self, sec: int, what: str) -> None:
        publish_until(
            self.ros,
            functools.partial(self.publish_good, sec),
            lambda: all(self.detected(c, sec) for c in TOPICS),
            timeout=60,
            what=what,
        )

    def counts(self, camera: str) -> dict[str, int]:
        status = latest_statuses(self.diagnostics, NODE).get(camera)
        if status is None:
            return {"bad": -1, "published": -1, "dropped": -1}
        return {
            "bad": int(status_value(status, "bad frames")),
            "published": int(status_value(status, "frames published")),
            "dropped": int(status_value(status, "frames dropped")),
        }

    def last_problem(self, camera: str) -> str:
        return status_value(latest_statuses(self.diagnostics, NODE)[camera], "last problem")

    def set_parameters(self, *parameters: ParameterMsg) -> list[bool]:
        caller = self.ros.node.create_client(SetParameters, f"/{NODE}/set_parameters")
        request = SetParameters.Request(parameters=list(parameters))
        return [bool(r.successful) for r in self.client._call(caller, request).results]


def _burst(rig: _Rig) -> None:
    """Per camera, every frame the cheap checks refuse, a good frame after every fourth.

    Refused frames never take a mailbox slot: each good frame is published or dropped for a newer
    good one, each bad one is counted bad, and the last good frame is detected.
    """
    before = {c: rig.counts(c) for c in TOPICS}
    sent_good = dict.fromkeys(TOPICS, 0)
    bad_sent = {c: sum(1 for case in CASES[c] if case.on_arrival) for c in TOPICS}
    for camera, publisher in rig.publishers.items():
        for index, case in enumerate(c for c in CASES[camera] if c.on_arrival):
            publisher.publish(case.msg)
            if index % 4 == 3:
                publisher.publish(rig.good(camera, 100 + index))
                sent_good[camera] += 1
        publisher.publish(rig.good(camera, 1000))
        sent_good[camera] += 1

    def counted() -> bool:
        now = {c: rig.counts(c) for c in TOPICS}
        return all(
            now[c]["bad"] - before[c]["bad"] == bad_sent[c]
            and now[c]["published"] + now[c]["dropped"]
            == before[c]["published"] + before[c]["dropped"] + sent_good[c]
            for c in TOPICS
        )

    rig.ros.spin_until(counted, 30, "the burst counted: bad frames as bad, good ones as good")
    assert all(rig.detected(c, 1000) for c in TOPICS)
    # the first frame of each kind of problem is logged, though others were logged just before
    log = rig.process.log
    for first_of_kind in (
        "raw: dropped a frame from /hostile/raw: the image has an empty encoding field",
        "raw: dropped a frame from /hostile/raw: the image is empty (0x48",
        "raw: dropped a frame from /hostile/raw: step 191 is smaller",
        "jpeg: dropped a frame from /hostile/jpeg: the compressed image has no data",
        "jpeg: dropped a frame from /hostile/jpeg: format '16UC1; compressedDepth png'",
        "jpeg: dropped a frame from /hostile/jpeg: the data is neither JPEG nor PNG",
        "jpeg: dropped a frame from /hostile/jpeg: absurd size 16000x16000",
    ):
        assert first_of_kind in log, first_of_kind


def _decoder_refusals(rig: _Rig) -> None:
    """Frames only their decoder can refuse: each is counted bad once it is decoded."""

    def more_bad(before: int) -> bool:
        return rig.counts("jpeg")["bad"] > before

    for case in (c for c in CASES["jpeg"] if not c.on_arrival):
        publish_until(
            rig.ros,
            functools.partial(rig.publishers["jpeg"].publish, case.msg),
            functools.partial(more_bad, rig.counts("jpeg")["bad"]),
            timeout=20,
            what=f"the node to count a bad frame ({case.name})",
            period=2.0,
        )
        assert case.words in rig.last_problem("jpeg"), case.name


def _decoder_warning(rig: _Rig) -> None:
    """libjpeg's warning about a frame it still decodes is logged as the camera's, throttled."""
    warned = CompressedImage(header=Header(stamp=Time(sec=2000)), format="jpeg")
    warned.data = decoded_but_warned(rig.bus)
    publish_until(
        rig.ros,
        functools.partial(rig.publishers["jpeg"].publish, warned),
        lambda: "jpeg: the decoder warned about a frame from /hostile/jpeg" in rig.process.log,
        timeout=20,
        what="the decoder's warning in the node's log",
    )
    lines = [line for line in rig.process.log.splitlines() if "Corrupt JPEG data" in line]
    assert lines and all(f"[{NODE}.jpeg]" in line for line in lines), lines


def _malformed_requests(rig: _Rig) -> None:
    """Out-of-range, mistyped and unknown parameters, odd service requests: refused or answered."""
    value = ParameterValue
    refused = rig.set_parameters(
        ParameterMsg(name="max_image_pixels", value=value(type=2, integer_value=0)),
        ParameterMsg(name="max_image_pixels", value=value(type=2, integer_value=-(2**63))),
        ParameterMsg(name="confidence_threshold", value=value(type=3, double_value=float("nan"))),
        ParameterMsg(name="confidence_threshold", value=value(type=4, string_value="high")),
        ParameterMsg(name="iou_threshold", value=value(type=ParameterType.PARAMETER_BYTE_ARRAY)),
        ParameterMsg(name="image_topics", value=value(type=9, string_array_value=[])),
        ParameterMsg(name="jpeg_decoder", value=value(type=4, string_value="x" * 100_000)),
        ParameterMsg(name="no_such_parameter", value=value(type=1, bool_value=True)),
        ParameterMsg(name="", value=value(type=250)),
    )
    assert refused == [False] * 9, refused
    getter = rig.ros.node.create_client(GetParameters, f"/{NODE}/get_parameters")
    rig.client._call(getter, GetParameters.Request(names=[f"unknown_{i}" for i in range(500)]))
    change = ChangeState.Request()
    change.transition.id, change.transition.label = 255, "bogus" * 200
    assert not rig.client._call(rig.client.change, change).success
    transitions = rig.ros.node.create_client(
        GetAvailableTransitions, f"/{NODE}/get_available_transitions"
    )
    assert rig.client._call(transitions, GetAvailableTransitions.Request()).available_transitions


def test_hostile_frames_and_requests_never_stop_the_node(
    ros: RosHarness, tmp_path: Path, detectors: list[DetectorProcess]
) -> None:
    process = DetectorProcess(
        NODE,
        tmp_path,
        image_topics=list(TOPICS.values()),
        input_types=["raw", "compressed"],
        camera_names=list(TOPICS),
        qos_depth=DEPTH,
        autostart=True,
    )
    detectors.append(process)
    rig = _Rig(ros, process)
    rig.until_detected(1, "detections on good frames first")
    ros.spin_until(
        lambda: all(rig.counts(c)["published"] >= 1 for c in TOPICS),
        10,
        "diagnostics that count the first good frames",
    )
    _burst(rig)
    _decoder_refusals(rig)
    _decoder_warning(rig)
    _malformed_requests(rig)
    assert rig.client.state() == "active"
    rig.until_detected(3000, "detections on good frames after the hostile ones")
    raw = next(m for m in rig.out["raw"].messages if m.header.stamp.sec == 3000)
    assert len(raw.detections) >= 4
    assert process.process.poll() is None
