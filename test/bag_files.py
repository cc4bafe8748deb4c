"""Bags written directly with the rosbags writers, independent of the package's own bag writer.

Each bag holds a few small images on one topic and a std_msgs/String topic beside it, so tests can
check which topics the replay picks and that it refuses the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from rosbags.rosbag1 import Writer as Ros1Writer
from rosbags.rosbag2 import StoragePlugin
from rosbags.rosbag2 import Writer as Ros2Writer
from rosbags.typesys import Stores, get_typestore

IMAGE_TOPIC = "/cam/image_raw"
TEXT_TOPIC = "/chatter"
FIRST_STAMP_NS = 1_700_000_000_123_456_789
PERIOD_NS = 50_000_000  # 20 Hz

# name -> (rosbag2 storage plugin or None for ROS 1, path of the bag relative to the folder)
FORMATS = {
    "sqlite3": (StoragePlugin.SQLITE3, "bag_sqlite3"),
    "mcap": (StoragePlugin.MCAP, "bag_mcap"),
    "ros1": (None, "recording.bag"),
}


@dataclass(frozen=True)
class Written:
    """What a test bag holds: its path, frames (BGR), their stamps and the message type."""

    path: Path
    frames: list[np.ndarray]
    stamps_ns: list[int]
    message_type: str


def make_frames(count: int, width: int = 64, height: int = 48) -> list[np.ndarray]:
    """Distinct small BGR frames: a gradient with the frame number drawn in."""
    frames = []
    for index in range(count):
        frame = np.zeros((height, width, 3), np.uint8)
        frame[:, :, 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
        frame[:, :, 1] = (index * 37) % 256
        cv2.putText(
            frame, str(index), (5, height - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2
        )
        frames.append(frame)
    return frames


def _messages(
    store_name: Stores, frames: list[np.ndarray], compressed: bool
) -> Iterator[tuple[int, object, str]]:
    store = get_typestore(store_name)
    types = store.types
    ros1 = store_name == Stores.ROS1_NOETIC
    for index, frame in enumerate(frames):
        stamp_ns = FIRST_STAMP_NS + index * PERIOD_NS
        sec, nanosec = divmod(stamp_ns, 1_000_000_000)
        header_fields: dict[str, Any] = {
            "stamp": types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec),
            "frame_id": "cam",
        }
        if ros1:
            header_fields["seq"] = index
        header = types["std_msgs/msg/Header"](**header_fields)
        if compressed:
            ok, encoded = cv2.imencode(".png", frame)  # lossless, so pixels can be compared
            assert ok
            message = types["sensor_msgs/msg/CompressedImage"](
                header=header, format="png", data=encoded.ravel()
            )
            yield stamp_ns, message, "sensor_msgs/msg/CompressedImage"
        else:
            height, width = frame.shape[:2]
            message = types["sensor_msgs/msg/Image"](
                header=header,
                height=height,
                width=width,
                encoding="bgr8",
                is_bigendian=0,
                step=width * 3,
                data=frame.reshape(-1),
            )
            yield stamp_ns, message, "sensor_msgs/msg/Image"


def write_bag(
    folder: Path,
    fmt: str,
    count: int = 4,
    *,
    compressed: bool = False,
    second_camera: str | None = None,
) -> Written:
    """Write a bag of ``count`` frames plus a text topic in format ``fmt`` (a FORMATS key).

    ``second_camera`` adds a topic of that name with the same frames as PNG CompressedImage, each
    with the same stamp as on the first (like a stereo pair).
    """
    plugin, name = FORMATS[fmt]
    path = folder / name
    frames = make_frames(count)
    store_name = Stores.ROS1_NOETIC if plugin is None else Stores.ROS2_JAZZY
    store = get_typestore(store_name)
    serialize = store.serialize_ros1 if plugin is None else store.serialize_cdr
    writer = (
        Ros1Writer(path) if plugin is None else Ros2Writer(path, version=9, storage_plugin=plugin)
    )
    stamps: list[int] = []
    message_type = ""
    with writer:
        text = writer.add_connection(TEXT_TOPIC, "std_msgs/msg/String", typestore=store)
        images = None
        second = _messages(store_name, frames, compressed=True) if second_camera else None
        second_connection = None
        for stamp_ns, message, message_type in _messages(store_name, frames, compressed):
            if images is None:
                images = writer.add_connection(IMAGE_TOPIC, message_type, typestore=store)
            writer.write(images, stamp_ns, serialize(message, message_type))
            if second is not None and second_camera is not None:
                _, png, png_type = next(second)
                if second_connection is None:
                    second_connection = writer.add_connection(
                        second_camera, png_type, typestore=store
                    )
                writer.write(second_connection, stamp_ns, serialize(png, png_type))
            hello = store.types["std_msgs/msg/String"](data=f"frame {len(stamps)}")
            writer.write(text, stamp_ns + 1, serialize(hello, "std_msgs/msg/String"))
            stamps.append(stamp_ns)
    return Written(path, frames, stamps, message_type)


def storage_file(written: Written) -> Path:
    """The file that holds the messages (the bag itself for ROS 1, the .db3/.mcap for rosbag2)."""
    if written.path.is_file():
        return written.path
    (file,) = [p for p in written.path.iterdir() if p.suffix in (".db3", ".mcap")]
    return file


def truncate(file: Path, keep: float = 0.6) -> None:
    """Cut a file short, like a recording killed mid-write."""
    data = file.read_bytes()
    file.write_bytes(data[: int(len(data) * keep)])


def damage_middle(file: Path, length: int = 20_000) -> None:
    """Overwrite bytes in the middle of a file, leaving its start and its index intact."""
    data = bytearray(file.read_bytes())
    middle = len(data) // 2
    data[middle : middle + length] = b"\x5a" * length
    file.write_bytes(bytes(data))
