"""Reading bags for replay: every format the tool claims, and bad bags that must be refused clearly.

Bags are written with the rosbags writers directly (test/bag_files.py); what the replay reads back
is decoded by rclpy's own deserializer, so the check is independent of the code under test.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from bag_files import (
    FIRST_STAMP_NS,
    FORMATS,
    IMAGE_TOPIC,
    TEXT_TOPIC,
    damage_middle,
    storage_file,
    truncate,
    write_bag,
)
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CompressedImage, Image

from yolo_trt_ros.cdr import header_stamp_ns, restamped
from yolo_trt_ros.errors import BagError
from yolo_trt_ros.replay.bag import ImageBag
from yolo_trt_ros.testing.node_harness import executables_where_ros2_run_looks


def _pixels(message: Image) -> np.ndarray:
    return np.frombuffer(bytes(message.data), np.uint8).reshape(message.height, message.width, 3)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_reads_back_the_recorded_images(tmp_path: Path, fmt: str) -> None:
    written = write_bag(tmp_path, fmt, count=4)
    with ImageBag(written.path) as bag:
        assert bag.topics == {
            IMAGE_TOPIC: "sensor_msgs/msg/Image",
            TEXT_TOPIC: "std_msgs/msg/String",
        }
        (topic,) = bag.image_topics()  # the text topic is not an image topic
        assert (topic.name, topic.kind, topic.count) == (IMAGE_TOPIC, "raw", 4)
        frames = list(bag.frames([topic]))
    assert [f.topic for f in frames] == [IMAGE_TOPIC] * 4
    assert [f.bag_time_ns for f in frames] == written.stamps_ns
    assert [f.stamp_ns for f in frames] == written.stamps_ns
    for frame, expected in zip(frames, written.frames, strict=True):
        message = deserialize_message(frame.cdr, Image)  # ROS 1 arrives converted to ROS 2 CDR
        assert message.header.frame_id == "cam" and message.encoding == "bgr8"
        np.testing.assert_array_equal(_pixels(message), expected)


@pytest.mark.parametrize("fmt", ["mcap", "sqlite3"])
def test_a_single_storage_file_is_a_bag_too(tmp_path: Path, fmt: str) -> None:
    written = write_bag(tmp_path, fmt, count=3)
    with ImageBag(storage_file(written)) as bag:
        assert [
            f.stamp_ns for f in bag.frames(bag.image_topics([IMAGE_TOPIC]))
        ] == written.stamps_ns


def test_compressed_images_are_replayed_as_recorded(tmp_path: Path) -> None:
    written = write_bag(tmp_path, "ros1", count=2, compressed=True)
    with ImageBag(written.path) as bag:
        (topic,) = bag.image_topics()
        assert topic.kind == "compressed"
        frames = list(bag.frames([topic]))
    for frame, expected in zip(frames, written.frames, strict=True):
        message = deserialize_message(frame.cdr, CompressedImage)
        decoded = cv2.imdecode(np.frombuffer(bytes(message.data), np.uint8), cv2.IMREAD_COLOR)
        np.testing.assert_array_equal(decoded, expected)


def test_restamping_changes_the_stamp_and_nothing_else(tmp_path: Path) -> None:
    written = write_bag(tmp_path, "mcap", count=1)
    with ImageBag(written.path) as bag:
        (frame,) = bag.frames(bag.image_topics())
    new_stamp = 1_234_567_890_987_654_321
    changed = restamped(frame.cdr, new_stamp)
    assert header_stamp_ns(changed) == new_stamp
    before, after = deserialize_message(frame.cdr, Image), deserialize_message(changed, Image)
    assert (after.header.stamp.sec, after.header.stamp.nanosec) == divmod(new_stamp, 1_000_000_000)
    after.header.stamp = before.header.stamp
    assert after == before
    assert header_stamp_ns(frame.cdr) == FIRST_STAMP_NS


def test_missing_topic_and_wrong_type_name_what_the_bag_has(tmp_path: Path) -> None:
    written = write_bag(tmp_path, "mcap", count=2)
    with ImageBag(written.path) as bag:
        with pytest.raises(
            BagError,
            match=r"topic /front/image is not in .*it has: /cam/image_raw \(sensor_msgs/msg/Image\), /chatter \(std_msgs/msg/String\)",
        ):
            bag.image_topics(["/front/image"])
        with pytest.raises(
            BagError,
            match=r"/chatter .* holds std_msgs/msg/String, not an image .*image topics: /cam/image_raw",
        ):
            bag.image_topics([TEXT_TOPIC])


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_truncated_bag_is_refused_with_a_repair_hint(tmp_path: Path, fmt: str) -> None:
    written = write_bag(tmp_path, fmt, count=4)
    truncate(storage_file(written))
    bag = ImageBag(written.path)
    with pytest.raises(BagError, match=r"damaged or truncated; .*(reindex|recover)"):
        bag.open()


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_damage_in_the_middle_stops_the_frames_with_a_clear_error(tmp_path: Path, fmt: str) -> None:
    """Index intact, data damaged: the frames before the damage come out, then a BagError."""
    written = write_bag(tmp_path, fmt, count=30)
    damage_middle(storage_file(written))
    read = []
    with ImageBag(written.path) as bag, pytest.raises(BagError, match="damaged or truncated"):
        for frame in bag.frames(bag.image_topics()):
            read.append(frame.stamp_ns)
    assert 0 < len(read) < 30
    assert read == written.stamps_ns[: len(read)]


def test_paths_that_are_not_bags(tmp_path: Path) -> None:
    with pytest.raises(BagError, match="does not exist"):
        ImageBag(tmp_path / "nothing_here")
    with pytest.raises(BagError, match=r"without metadata\.yaml"):
        ImageBag(tmp_path)


def _replay(*args: str) -> subprocess.CompletedProcess[str]:
    replay = executables_where_ros2_run_looks()["replay"]
    return subprocess.run(
        [str(replay), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_replay_executable_exits_nonzero_on_bad_bags(tmp_path: Path) -> None:
    """Missing topic, wrong type, truncated file, no bag: one clear line each, exit status 2."""
    good = write_bag(tmp_path, "mcap", count=2)
    truncated_dir = tmp_path / "truncated"
    truncated_dir.mkdir()
    truncated = write_bag(truncated_dir, "sqlite3", count=2)
    truncate(storage_file(truncated), keep=0.3)
    cases = {
        "missing topic": (
            [str(good.path), "--topics", "/front/image"],
            "topic /front/image is not in",
        ),
        "wrong type": (
            [str(good.path), "--topics", TEXT_TOPIC],
            "holds std_msgs/msg/String, not an image",
        ),
        "truncated": ([str(truncated.path)], "damaged or truncated"),
        "no bag": ([str(tmp_path / "absent.mcap")], "does not exist"),
    }
    for case, (args, message) in cases.items():
        completed = _replay(*args, "--out", str(tmp_path / "report"))
        assert completed.returncode == 2, f"{case}: {completed.stdout}{completed.stderr}"
        assert message in completed.stderr, f"{case}: {completed.stderr}"
        assert completed.stderr.startswith("replay: "), f"{case}: {completed.stderr}"
    assert not (tmp_path / "report").exists(), "nothing is reported for a replay that never started"
    shutil.rmtree(truncated_dir)
