"""make_bag: image folders, single images and videos become bags that rosbags itself reads back.

The bags are read with rosbags' AnyReader and decoded with rclpy, not with the package's reader.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from bag_files import make_frames
from rclpy.serialization import deserialize_message
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore
from sensor_msgs.msg import CompressedImage, Image

from yolo_trt_ros.errors import BagError
from yolo_trt_ros.replay.bag_writer import BagSettings, write_image_bag
from yolo_trt_ros.testing.node_harness import executables_where_ros2_run_looks


def _read(path: Path) -> list[tuple[str, str, int, bytes]]:
    """(topic, type, bag time, ROS 2 CDR) of every message, through rosbags and nothing else."""
    jazzy = get_typestore(Stores.ROS2_JAZZY)
    out = []
    with AnyReader([path], default_typestore=jazzy) as reader:
        for connection, timestamp, raw in reader.messages():
            cdr = raw if reader.is2 else jazzy.ros1_to_cdr(raw, connection.msgtype)
            out.append((connection.topic, connection.msgtype, timestamp, bytes(cdr)))
    return out


def _make_bag(*args: str) -> subprocess.CompletedProcess[str]:
    tool = executables_where_ros2_run_looks()["make_bag"]
    return subprocess.run(
        [str(tool), *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("fmt", "name"), [("mcap", "bag_mcap"), ("sqlite3", "bag_db3"), ("ros1", "run.bag")]
)
def test_a_folder_becomes_a_bag_in_every_format(tmp_path: Path, fmt: str, name: str) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    frames = make_frames(3)
    for index, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"frame_{index:02d}.png"), frame)
    (folder / "notes.txt").write_text("not an image")
    completed = _make_bag(
        str(folder),
        str(tmp_path / name),
        "--format",
        fmt,
        "--rate",
        "10",
        "--topic",
        "/front/image_raw",
        "--start",
        "100",
    )
    assert completed.returncode == 0, completed.stderr
    assert "wrote 3 frames" in completed.stdout
    messages = _read(tmp_path / name)
    assert [(m[0], m[1]) for m in messages] == [("/front/image_raw", "sensor_msgs/msg/Image")] * 3
    assert [m[2] for m in messages] == [100_000_000_000, 100_100_000_000, 100_200_000_000]
    for (_, _, bag_time, cdr), expected in zip(messages, frames, strict=True):
        image = deserialize_message(cdr, Image)
        assert image.encoding == "bgr8" and image.header.frame_id == "camera"
        assert image.header.stamp.sec * 1_000_000_000 + image.header.stamp.nanosec == bag_time
        pixels = np.frombuffer(bytes(image.data), np.uint8).reshape(image.height, image.width, 3)
        np.testing.assert_array_equal(pixels, expected)


def test_a_video_becomes_a_compressed_bag_at_its_own_rate(tmp_path: Path) -> None:
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 12.0, (64, 48))
    for frame in make_frames(5):
        writer.write(frame)
    writer.release()
    completed = _make_bag(str(video), str(tmp_path / "clip_bag"), "--compressed", "--frames", "7")
    assert completed.returncode == 0, completed.stderr
    messages = _read(tmp_path / "clip_bag")
    assert len(messages) == 7  # the 5-frame clip, then again from the start
    assert {m[1] for m in messages} == {"sensor_msgs/msg/CompressedImage"}
    gaps = np.diff([m[2] for m in messages])
    assert np.allclose(gaps, 1e9 / 12.0, atol=1)  # the video's 12 fps
    first = deserialize_message(messages[0][3], CompressedImage)
    decoded = cv2.imdecode(np.frombuffer(bytes(first.data), np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape == (48, 64, 3)


def test_bad_sources_and_targets(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    completed = _make_bag(str(empty), str(tmp_path / "out"))
    assert completed.returncode == 2 and "holds no images" in completed.stderr
    assert not (tmp_path / "out").exists()
    with pytest.raises(BagError, match="exists already"):
        write_image_bag(iter(make_frames(1)), empty, "mcap", BagSettings())
    with pytest.raises(BagError, match=r"must end with \.bag"):
        write_image_bag(iter(make_frames(1)), tmp_path / "ros1_bag", "ros1", BagSettings())
