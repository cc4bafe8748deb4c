"""Write camera frames into a bag (rosbag2 sqlite3 or MCAP, or ROS 1), without ROS installed.

Messages are built and serialized with the ``rosbags`` type stores (ROS 2 Jazzy, ROS 1 Noetic),
stamped ``start + i / rate`` in both the header and the bag's receive time, like a camera
recorded at that rate. rosbags is optional (no rosdep key): it is imported only when a bag is
written, and ``write_image_bag`` raises BagError naming ``pip install rosbags`` where it is missing.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import numpy.typing as npt

from yolo_trt_ros.errors import BagError, InvalidImageError
from yolo_trt_ros.replay.rosbags_check import require_rosbags

if TYPE_CHECKING:
    from rosbags.typesys.store import Typestore

__all__ = ["BAG_FORMATS", "BagSettings", "write_image_bag"]

_NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class _Format:
    store: str  # the rosbags ``Stores`` member (by name: rosbags is imported only to write)
    storage: str | None  # the rosbag2 ``StoragePlugin`` member; None for a ROS 1 bag
    suffix: str  # what the output path must end with ("" for a rosbag2 directory)

    def open_writer(self, path: Path) -> Any:
        """Open a new rosbags writer for this format at ``path`` (a context manager)."""
        if self.storage is None:
            from rosbags.rosbag1 import Writer as Ros1Writer  # noqa: PLC0415 - optional library

            return Ros1Writer(path)
        from rosbags.rosbag2 import StoragePlugin  # noqa: PLC0415
        from rosbags.rosbag2 import Writer as Ros2Writer  # noqa: PLC0415

        return Ros2Writer(path, version=9, storage_plugin=StoragePlugin[self.storage])


BAG_FORMATS: Mapping[str, _Format] = {
    "mcap": _Format("ROS2_JAZZY", "MCAP", ""),
    "sqlite3": _Format("ROS2_JAZZY", "SQLITE3", ""),
    "ros1": _Format("ROS1_NOETIC", None, ".bag"),
}


@dataclass(frozen=True)
class BagSettings:
    """How frames become messages: topic, rate, raw or JPEG, frame id, first stamp."""

    topic: str = "/camera/image_raw"
    rate_hz: float = 30.0
    compressed: bool = False
    frame_id: str = "camera"
    start_ns: int | None = None  # None: now
    jpeg_quality: int = 90


def _image_message(
    store: Typestore, image: npt.NDArray[np.uint8], header: Any, settings: BagSettings
) -> tuple[str, object]:
    types = store.types
    if settings.compressed:
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, settings.jpeg_quality])
        if not ok:
            raise InvalidImageError("JPEG encoding failed")
        message = types["sensor_msgs/msg/CompressedImage"](
            header=header,
            format="bgr8; jpeg compressed bgr8",
            data=np.asarray(encoded, np.uint8).ravel(),
        )
        return "sensor_msgs/msg/CompressedImage", message
    if image.ndim == 2:
        encoding, channels = "mono8", 1
    elif image.ndim == 3 and image.shape[2] == 3:
        encoding, channels = "bgr8", 3
    else:
        raise InvalidImageError(f"cannot store an image of shape {image.shape} (want HxW or HxWx3)")
    height, width = image.shape[:2]
    message = types["sensor_msgs/msg/Image"](
        header=header,
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=0,
        step=width * channels,
        data=np.ascontiguousarray(image).reshape(-1),
    )
    return "sensor_msgs/msg/Image", message


def _header(store: Typestore, index: int, stamp_ns: int, frame_id: str, ros1: bool) -> Any:
    types = store.types
    sec, nanosec = divmod(stamp_ns, _NS_PER_S)
    stamp = types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec)
    fields: dict[str, Any] = {"stamp": stamp, "frame_id": frame_id}
    if ros1:
        fields["seq"] = index
    return types["std_msgs/msg/Header"](**fields)


def write_image_bag(
    frames: Iterable[npt.NDArray[np.uint8]], path: Path, fmt: str, settings: BagSettings
) -> int:
    """Write BGR (or mono) frames as one image topic into a new bag; return how many.

    ``fmt`` is a key of BAG_FORMATS. Raises BagError if the path exists, the format is unknown or
    the rosbags library is missing, InvalidImageError for frames that cannot be stored. A failed
    write leaves no partial bag.
    """
    if fmt not in BAG_FORMATS:
        raise BagError(f"unknown bag format {fmt!r}; choose one of {', '.join(BAG_FORMATS)}")
    if not settings.rate_hz > 0:
        raise BagError(f"the frame rate must be positive, not {settings.rate_hz}")
    bag_format = BAG_FORMATS[fmt]
    if path.exists():
        raise BagError(f"{path} exists already; choose a new path (bags are never overwritten)")
    if bag_format.suffix and path.suffix != bag_format.suffix:
        raise BagError(f"a {fmt} bag's name must end with {bag_format.suffix}: {path}")
    require_rosbags("writing bags")
    from rosbags.rosbag1 import WriterError as Ros1WriterError  # noqa: PLC0415 - optional library
    from rosbags.rosbag2 import WriterError  # noqa: PLC0415
    from rosbags.typesys import Stores, get_typestore  # noqa: PLC0415

    store = get_typestore(Stores[bag_format.store])
    ros1 = fmt == "ros1"
    serialize = store.serialize_ros1 if ros1 else store.serialize_cdr
    start = time.time_ns() if settings.start_ns is None else settings.start_ns
    written = 0
    try:
        with bag_format.open_writer(path) as writer:
            connection = None
            for index, image in enumerate(frames):
                stamp = start + round(index * _NS_PER_S / settings.rate_hz)
                header = _header(store, index, stamp, settings.frame_id, ros1)
                message_type, message = _image_message(store, image, header, settings)
                if connection is None:
                    connection = writer.add_connection(
                        settings.topic, message_type, typestore=store
                    )
                writer.write(connection, stamp, serialize(message, message_type))
                written += 1
    except (WriterError, Ros1WriterError, OSError) as error:
        _remove(path)
        raise BagError(f"cannot write {path}: {error}") from None
    except BaseException:
        _remove(path)
        raise
    if written == 0:
        _remove(path)
        raise InvalidImageError("no frames to write: the source holds no images")
    return written


def _remove(path: Path) -> None:
    """Delete a bag this module started writing (it did not exist before)."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
