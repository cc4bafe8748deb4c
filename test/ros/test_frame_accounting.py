"""Frame accounting without a node: the per-camera ledger, sequence gaps and the arrival checks.

The ledger is driven the way the node drives it (a producer putting frames in the real mailbox, an
inference thread taking them) while a third thread reads it; the arrival checks get rmw's own
serialization of real messages and must refuse exactly what the conversion refuses; sequence gaps
are counted on frames really overwritten in a Fast DDS subscription queue.
"""

from __future__ import annotations

import dataclasses
import os
import random
import threading
from typing import Any

import cv2
import numpy as np
import pytest
from conftest import RosHarness
from rclpy.qos import QoSProfile
from rclpy.serialization import serialize_message
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String

from yolo_trt_ros.errors import InvalidImageError
from yolo_trt_ros.ros import compat
from yolo_trt_ros.ros.diagnostics import camera_status
from yolo_trt_ros.ros.frame_check import check_on_arrival
from yolo_trt_ros.ros.image_conversion import compressed_to_array, image_to_array
from yolo_trt_ros.ros.transport import (
    SerializedCompressedImage,
    SerializedImage,
    TransportMonitor,
)
from yolo_trt_ros.stream import NewestFrameMailbox, StreamStats
from yolo_trt_ros.stream.sequence_gaps import SequenceGaps

MAX_PIXELS = 4096 * 4096


def test_one_publishers_skipped_numbers_are_the_frames_it_never_delivered() -> None:
    gaps = SequenceGaps()
    assert gaps.numbered is None
    # 500: sent before the subscription matched, so only a baseline; 503-505 never arrived
    assert [gaps.observe(n) for n in (500, 501, 502, 506, 507)] == [0, 0, 0, 3, 0]
    assert gaps.numbered is True
    assert [gaps.observe(n) for n in (1, 2, 4)] == [0, 0, 1]  # restarted: a new baseline
    rng = random.Random(3)
    delivered = [n for n in range(10, 5000) if n == 10 or rng.random() < 0.7]
    fresh = SequenceGaps()
    assert sum(fresh.observe(n) for n in delivered) == delivered[-1] - 10 + 1 - len(delivered)


def test_without_sequence_numbers_nothing_is_counted_and_it_says_so() -> None:
    gaps = SequenceGaps()
    assert [gaps.observe(None), gaps.observe(None)] == [0, 0]
    assert gaps.numbered is False


def test_named_publishers_are_counted_apart() -> None:
    rng = random.Random(5)
    streams = {
        pid: [n for n in range(start, start + 400) if n == start or rng.random() < 0.8]
        for pid, start in ((b"a", 1), (b"b", 1500), (b"c", 7))
    }
    skipped = sum(s[-1] - s[0] + 1 - len(s) for s in streams.values())
    cursors = dict.fromkeys(streams, 0)
    gaps, counted = SequenceGaps(), 0
    while live := [p for p in streams if cursors[p] < len(streams[p])]:
        pid = rng.choice(live)
        counted += gaps.observe(streams[pid][cursors[pid]], pid)
        cursors[pid] += 1
    assert counted == skipped > 0


def test_unnamed_samples_are_not_attributed_while_publishers_share_the_topic() -> None:
    gaps, asked = SequenceGaps(), []
    publishers = 1

    def count() -> int:
        asked.append(publishers)
        return publishers

    assert [gaps.observe(n, None, count) for n in (10, 11, 12)] == [0, 0, 0]
    assert len(asked) == 1  # asked for the baseline only, not on consecutive numbers
    publishers = 2  # a second camera joins with its own numbers
    assert [gaps.observe(n, None, count) for n in (1, 14, 2, 15)] == [0, 0, 0, 0]
    assert gaps.unattributed == 4
    publishers = 1  # it left: the next number is a new baseline, not a gap of 15 - 12
    assert [gaps.observe(n, None, count) for n in (17, 18, 21)] == [0, 0, 2]
    assert gaps.unattributed == 4


def test_the_ledger_closes_at_every_moment() -> None:
    """Producer, inference thread and a reader run at once; every snapshot must add up."""
    stats, mailbox = StreamStats(), NewestFrameMailbox[int]()
    rng = random.Random(11)
    plan = [rng.choice(["queued", "queued", "queued", "skipped", "refused"]) for _ in range(20_000)]
    outcomes = {"published": 0, "bad": 0, "error": 0}
    done, violations = threading.Event(), []

    def produce() -> None:
        for index, fate in enumerate(plan):
            if fate == "skipped":
                stats.skipped()
            elif fate == "refused":
                stats.refused("unsupported image encoding 'x'")
            else:
                stats.received()
                if mailbox.put("camera", index):
                    stats.dropped()
        done.set()

    def infer() -> None:
        pick = random.Random(12)
        while True:
            finished = done.is_set()  # before taking: a frame put after this is taken next round
            frames = mailbox.take(timeout=0.01)
            if not frames and finished:
                return
            for _ in frames:
                outcome = pick.choice(list(outcomes))
                outcomes[outcome] += 1
                {
                    "published": lambda: stats.published(1.0),
                    "bad": lambda: stats.bad_frame("could not decode"),
                    "error": lambda: stats.error("RuntimeError"),
                }[outcome]()

    def read() -> None:
        while not done.is_set():
            snap = stats.snapshot()
            # at most one frame being processed, one waiting, one counted but not yet put
            if snap.accounted != snap.received or not 0 <= snap.in_flight <= 3:
                violations.append(snap)

    threads = [threading.Thread(target=f) for f in (produce, infer, read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    mailbox.close()
    for _ in mailbox.take(timeout=0):  # what processing left behind when it stopped
        stats.discarded()
    assert violations == []
    final = stats.snapshot()
    assert final.received == len(plan) and final.accounted == len(plan) and final.in_flight == 0
    assert final.skipped == plan.count("skipped")
    assert final.bad_frames == plan.count("refused") + outcomes["bad"]
    assert (final.published, final.errors) == (outcomes["published"], outcomes["error"])
    assert final.dropped + final.discarded + sum(outcomes.values()) == plan.count("queued")


def _image(**changes: Any) -> Image:
    width, height = 64, 48
    fields: dict[str, Any] = {
        "height": height,
        "width": width,
        "encoding": "bgr8",
        "step": width * 3,
        "data": bytes(width * height * 3),
    }
    fields.update(changes)
    return Image(**fields)


BAD_IMAGES = {
    "empty encoding": _image(encoding=""),
    "unknown encoding": _image(encoding="yuv420p10"),
    "depth": _image(encoding="16UC1", step=128),
    "zero width": _image(width=0, step=0, data=b""),
    "zero height": _image(height=0, data=b""),
    "absurd size": _image(width=100_000, height=100_000, step=300_000, data=b"\0" * 100),
    "step smaller than a row": _image(step=10),
    "data shorter than step*height": _image(data=bytes(100)),
    "odd-width YUV": _image(encoding="yuv422", width=63, step=126, data=bytes(126 * 48)),
}


@pytest.mark.parametrize("serialized", [True, False], ids=["raw", "message"])
@pytest.mark.parametrize("case", list(BAD_IMAGES))
def test_the_arrival_check_refuses_what_conversion_refuses(case: str, serialized: bool) -> None:
    msg = BAD_IMAGES[case]
    with pytest.raises(InvalidImageError) as converting:
        image_to_array(msg, max_pixels=MAX_PIXELS)
    with pytest.raises(InvalidImageError) as arriving:
        check_on_arrival(
            serialize_message(msg) if serialized else msg, compressed=False, max_pixels=MAX_PIXELS
        )
    assert str(arriving.value) == str(converting.value)


def test_the_arrival_check_passes_good_frames_and_parses_serialized_ones_once() -> None:
    msg = _image()
    parsed = check_on_arrival(serialize_message(msg), compressed=False, max_pixels=MAX_PIXELS)
    assert isinstance(parsed, SerializedImage)
    assert (parsed.width, parsed.height, parsed.encoding) == (64, 48, "bgr8")
    assert check_on_arrival(msg, compressed=False, max_pixels=MAX_PIXELS) is msg
    ok, jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), 90, np.uint8))
    assert ok
    compressed = CompressedImage(format="jpeg", data=jpeg.tobytes())
    view = check_on_arrival(serialize_message(compressed), compressed=True, max_pixels=MAX_PIXELS)
    assert isinstance(view, SerializedCompressedImage) and bytes(view.data) == jpeg.tobytes()


def _encoded(extension: str) -> bytes:
    ok, data = cv2.imencode(extension, np.full((48, 64, 3), 90, np.uint8))
    assert ok
    return bytes(data.tobytes())


BAD_COMPRESSED = {
    "empty": ("jpeg", b""),
    "random bytes": ("jpeg", random.Random(1).randbytes(5000)),
    "text": ("png", b"definitely not a PNG" * 50),
    "PNG without its signature": ("rgb8; jpeg compressed bgr8", _encoded(".png")[8:]),
    "depth": ("16UC1; compressedDepth png", _encoded(".png")),
    "absurd PNG size": ("png", _encoded(".png")[:16] + (60_000).to_bytes(4, "big") * 2),
}


@pytest.mark.parametrize("serialized", [True, False], ids=["raw", "message"])
@pytest.mark.parametrize("case", list(BAD_COMPRESSED))
def test_compressed_frames_are_refused_on_arrival_as_decoding_would(
    case: str, serialized: bool
) -> None:
    format_field, data = BAD_COMPRESSED[case]
    msg = CompressedImage(format=format_field, data=data)
    with pytest.raises(InvalidImageError) as decoding:
        compressed_to_array(msg, max_pixels=MAX_PIXELS)
    with pytest.raises(InvalidImageError) as arriving:
        check_on_arrival(
            serialize_message(msg) if serialized else msg, compressed=True, max_pixels=MAX_PIXELS
        )
    assert str(arriving.value) == str(decoding.value)


@pytest.mark.parametrize(
    ("format_field", "extension"), [("jpeg", ".jpg"), ("png", ".png"), ("", ".png")]
)
def test_usable_compressed_frames_pass_the_arrival_check(format_field: str, extension: str) -> None:
    msg = CompressedImage(format=format_field, data=_encoded(extension))
    assert check_on_arrival(msg, compressed=True, max_pixels=MAX_PIXELS) is msg
    assert compressed_to_array(msg)[0].shape == (48, 64, 3)


def _values(**kwargs: Any) -> dict[str, str]:
    stats = StreamStats(clock=lambda: 1.0)
    for _ in range(5):
        stats.received()
        stats.published(3.0)
    stats.refused("empty encoding")
    stats.missed(4)
    status = camera_status("/n", "cam", "/cam", {}, stats.snapshot(), True, **kwargs)
    return {value.key: value.value for value in status.values}


def test_diagnostics_say_what_is_known_about_frames_that_never_arrived() -> None:
    known = _values()
    assert (known["frames received"], known["frames published"], known["bad frames"]) == (
        "6",
        "5",
        "1",
    )
    assert (known["frames in flight"], known["frames discarded (stopped)"]) == ("0", "0")
    assert known["frames missed before the callback"] == "4"
    assert known["frames sent (estimated)"] == "10"
    unknown = _values(missed_unknown="rmw_cyclonedds_cpp gives no publication sequence numbers")
    assert unknown["frames missed before the callback"] == (
        "unknown: rmw_cyclonedds_cpp gives no publication sequence numbers"
    )
    assert unknown["frames sent (estimated)"] == "unknown"
    partial = _values(missed_caveat="3 frame(s) came while several publishers shared the topic")
    assert partial["frames missed before the callback"].startswith("4 (at least: 3 frame(s)")
    assert partial["frames sent (estimated)"] == "at least 10"


def test_the_transport_monitor_reads_message_info_and_says_what_it_cannot_count() -> None:
    jazzy = TransportMonitor(best_effort=False)
    if not compat.FEATURES.message_info_callbacks:
        pytest.skip("this rclpy passes no message info to callbacks")
    infos = [{"publication_sequence_number": n, "reception_sequence_number": None} for n in (7, 9)]
    assert [jazzy.missed_before(info) for info in infos] == [0, 1]
    assert jazzy.missed_unknown() == "" and jazzy.missed_caveat() == ""
    cyclone = TransportMonitor(best_effort=False)
    cyclone.missed_before({"publication_sequence_number": None})
    assert "gives no publication sequence numbers" in cyclone.missed_unknown()
    humble_rclpy = dataclasses.replace(compat.FEATURES, message_info_callbacks=False)
    humble = TransportMonitor(best_effort=False, features=humble_rclpy)
    humble.missed_before(None)
    assert "Humble" in humble.missed_unknown()
    shared = TransportMonitor(best_effort=False)
    shared.publishers = lambda: 2
    shared.missed_before({"publication_sequence_number": 3})
    assert shared.missed_caveat().startswith("1 frame(s) came while several publishers")


def test_frames_overwritten_in_the_subscription_queue_are_counted_from_sequence_numbers(
    ros: RosHarness,
) -> None:
    """Over Fast DDS: a burst into a depth-1 queue that is not read loses all but the newest."""
    if not compat.FEATURES.message_info_callbacks:
        pytest.skip("this rclpy passes no message info to callbacks")
    monitor, received, missed = TransportMonitor(best_effort=False), [], [0]

    def on_message(msg: String, info: Any) -> None:
        missed[0] += monitor.missed_before(info)
        received.append(int(msg.data))

    topic = "/accounting_test/burst"
    subscription = ros.node.create_subscription(
        String, topic, compat.with_message_info(on_message), QoSProfile(depth=1)
    )
    monitor.publishers = lambda: compat.publisher_count(ros.node, subscription)
    publisher = ros.node.create_publisher(String, topic, QoSProfile(depth=500))
    ros.spin_until(lambda: publisher.get_subscription_count() == 1, 10, "the subscription")
    publisher.publish(String(data="-1"))  # the baseline: numbers before it were not for us
    ros.spin_until(lambda: received == [-1], 10, "the first message")
    sent = 300
    for index in range(sent):  # nobody takes them meanwhile: the queue keeps the newest only
        publisher.publish(String(data=str(index)))
    ros.spin_until(lambda: received[-1] == sent - 1, 10, "the last message of the burst")
    delivered = len(received) - 1
    assert missed[0] > 0 and delivered < sent
    assert delivered + missed[0] == sent
    if os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp") != "rmw_fastrtps_cpp":
        return
    assert monitor.missed_unknown() == "" and monitor.missed_caveat() == ""
