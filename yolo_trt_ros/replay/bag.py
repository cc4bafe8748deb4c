"""Camera images out of a recorded bag, as ROS 2 serialized messages ready to publish.

Built on the ``rosbags`` library, so no ROS installation is needed to read: rosbag2 directories
(sqlite3 or MCAP storage), single ``.db3`` / ``.mcap`` files, and ROS 1 ``.bag`` files. ROS 2
messages come out exactly as recorded (little-endian CDR, the bytes DDS carries); ROS 1 messages
are converted to ROS 2 CDR by rosbags (which also drops the ROS 1 header's ``seq``).

rosbags is optional (no rosdep key): this module imports it only when a bag is opened, and
``open`` raises BagError naming ``pip install rosbags`` where it is missing.

    with ImageBag(Path("drive.mcap")) as bag:
        topics = bag.image_topics(["/camera/image_raw"])  # BagError if missing or not an image
        for frame in bag.frames(topics):
            publish(frame.cdr)
"""

from __future__ import annotations

import functools
import sqlite3
import struct
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from yolo_trt_ros.cdr import encapsulation_is_little_endian, header_stamp_ns
from yolo_trt_ros.closing import ClosesOnExit
from yolo_trt_ros.errors import BagError
from yolo_trt_ros.replay.rosbags_check import require_rosbags

if TYPE_CHECKING:
    from rosbags.highlevel import AnyReader
    from rosbags.interfaces import Connection
    from rosbags.typesys.store import Typestore

__all__ = ["IMAGE_MESSAGE_TYPES", "BagFrame", "ImageBag", "ImageTopic"]

# Message types the replay publishes, and the detector input type each one is.
IMAGE_MESSAGE_TYPES: Mapping[str, str] = {
    "sensor_msgs/msg/Image": "raw",
    "sensor_msgs/msg/CompressedImage": "compressed",
}


@functools.cache
def _read_errors() -> tuple[type[BaseException], ...]:
    """Return what rosbags and the storage libraries under it raise for unreadable files."""
    # imported here: rosbags is optional (require_rosbags has checked it before any read)
    import apsw  # noqa: PLC0415 - rosbags reads sqlite3 storage through it
    from rosbags.highlevel import AnyReaderError  # noqa: PLC0415
    from rosbags.rosbag1 import ReaderError as Ros1ReaderError  # noqa: PLC0415
    from rosbags.rosbag2 import ReaderError as Ros2ReaderError  # noqa: PLC0415
    from rosbags.serde import SerdeError  # noqa: PLC0415

    return (
        AnyReaderError,
        Ros1ReaderError,
        Ros2ReaderError,
        SerdeError,
        apsw.Error,
        sqlite3.Error,
        struct.error,
        EOFError,
        OSError,
        ValueError,
    )


# How to rescue a recording that was cut off (no index or footer written), per storage.
_REPAIR_HINTS: Mapping[str, str] = {
    "ROS 1 bag": "`rosbag reindex` repairs a ROS 1 bag whose recording was interrupted",
    "rosbag2 (mcap)": "`mcap recover` (the MCAP CLI) repairs an MCAP file whose recording was interrupted",
    "rosbag2 (sqlite3)": "`ros2 bag reindex` rebuilds metadata.yaml; `sqlite3 .recover` rescues a damaged .db3",
}


@dataclass(frozen=True)
class ImageTopic:
    """An image topic in a bag: its name, message type, detector input type and message count."""

    name: str
    message_type: str
    kind: str  # "raw" or "compressed", the detector's input_types value
    count: int


@dataclass(frozen=True)
class BagFrame:
    """One recorded image, serialized as ROS 2 little-endian CDR."""

    topic: str
    bag_time_ns: int  # when the recorder received it
    stamp_ns: int  # its header stamp
    cdr: bytes


@functools.cache
def _ros2_typestore() -> Typestore:
    """ROS 2 message definitions (Jazzy; sensor_msgs images are the same in every distro)."""
    from rosbags.typesys import Stores, get_typestore  # noqa: PLC0415 - optional library

    return get_typestore(Stores.ROS2_JAZZY)


def storage_format(path: Path) -> str:
    """Name the bag format of a path, from its name and (for a directory) the files in it."""
    if path.suffix == ".bag":
        return "ROS 1 bag"
    if path.suffix == ".mcap" or (path.is_dir() and any(path.glob("*.mcap"))):
        return "rosbag2 (mcap)"
    return "rosbag2 (sqlite3)"


_Bag = TypeVar("_Bag", bound="ImageBag")  # typing.Self needs Python 3.11


class ImageBag(ClosesOnExit):
    """A bag opened for replaying its image topics (a context manager; see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise BagError(
                f"bag {self.path} does not exist: pass a rosbag2 directory, a .db3 or .mcap file, "
                "or a ROS 1 .bag file"
            )
        if self.path.is_dir() and not (self.path / "metadata.yaml").exists():
            raise BagError(
                f"{self.path} is a directory without metadata.yaml, so it is not a rosbag2 bag; "
                "pass the bag directory itself, or one of its .db3/.mcap files"
            )
        self.format = storage_format(self.path)
        self._reader: AnyReader | None = None

    def open(self) -> None:
        """Open the bag and read its index; a damaged or truncated file raises BagError.

        Without the rosbags library this raises BagError naming ``pip install rosbags``.
        """
        require_rosbags("reading bags")
        from rosbags.highlevel import AnyReader  # noqa: PLC0415 - optional library

        # Only a bag without embedded definitions (rosbag2 sqlite3 before Iron) needs these.
        reader = AnyReader([self.path], default_typestore=_ros2_typestore())
        try:
            reader.open()
        except _read_errors() as error:
            raise BagError(self._damaged(error)) from None
        self._reader = reader

    def close(self) -> None:
        """Close the bag (safe to call twice)."""
        if self._reader is not None:
            reader, self._reader = self._reader, None
            reader.close()

    def __enter__(self: _Bag) -> _Bag:
        self.open()
        return self

    def _damaged(self, error: BaseException | str) -> str:
        hint = _REPAIR_HINTS[self.format]
        return (
            f"cannot read {self.format} {self.path}: {str(error).rstrip('.') or type(error).__name__}. "
            f"The file is damaged or truncated; {hint}"
        )

    @property
    def reader(self) -> AnyReader:
        """The open rosbags reader."""
        if self._reader is None:
            raise BagError(f"bag {self.path} is not open: use `with ImageBag(path) as bag:`")
        return self._reader

    @property
    def topics(self) -> dict[str, str]:
        """Every topic in the bag and its message type."""
        return {name: info.msgtype or "(mixed types)" for name, info in self.reader.topics.items()}

    def image_topics(self, wanted: Sequence[str] = ()) -> list[ImageTopic]:
        """Return the wanted image topics (all image topics when none are named).

        Raises BagError naming what is there when a topic is missing or is not an image topic.
        """
        infos = self.reader.topics
        found = {}
        for name, info in infos.items():
            kind = IMAGE_MESSAGE_TYPES.get(info.msgtype or "")
            if kind is not None:
                found[name] = ImageTopic(name, str(info.msgtype), kind, info.msgcount)
        if not wanted:
            if not found:
                raise BagError(
                    f"{self.path} has no image topics ({' or '.join(IMAGE_MESSAGE_TYPES)}); "
                    f"it has: {self._listing()}"
                )
            return sorted(found.values(), key=lambda topic: topic.name)
        chosen = []
        for name in wanted:
            if name in found:
                chosen.append(found[name])
            elif name in infos:
                raise BagError(
                    f"topic {name} in {self.path} holds {infos[name].msgtype or 'several types'}, not an image "
                    f"({' or '.join(IMAGE_MESSAGE_TYPES)}); image topics: "
                    f"{', '.join(found) or 'none'}"
                )
            else:
                raise BagError(f"topic {name} is not in {self.path}; it has: {self._listing()}")
        empty = [topic.name for topic in chosen if topic.count == 0]
        if empty:
            raise BagError(f"topic(s) {', '.join(empty)} in {self.path} hold no messages")
        return chosen

    def _listing(self) -> str:
        topics = self.topics
        return ", ".join(f"{name} ({kind})" for name, kind in sorted(topics.items())) or "nothing"

    def frames(self, topics: Sequence[ImageTopic]) -> Iterator[BagFrame]:
        """Yield the messages of these topics in recording order, as ROS 2 little-endian CDR."""
        reader = self.reader
        names = {topic.name for topic in topics}
        connections = [c for c in reader.connections if c.topic in names]
        read: Counter[str] = Counter()
        try:
            for connection, bag_time_ns, raw in reader.messages(connections=connections):
                cdr = self._as_ros2_cdr(connection, raw)
                yield BagFrame(connection.topic, bag_time_ns, header_stamp_ns(cdr), cdr)
                read[connection.topic] += 1
        except _read_errors() as error:
            raise BagError(self._damaged(error)) from None
        # A damaged MCAP chunk can end the stream early without an error: compare with the index.
        short = [
            f"{read[t.name]} of the {t.count} on {t.name}" for t in topics if read[t.name] < t.count
        ]
        if short:
            raise BagError(self._damaged(f"read only {', '.join(short)} messages it indexes"))

    def _as_ros2_cdr(self, connection: Connection, raw: bytes) -> bytes:
        typestore = self.reader.typestore
        if not self.reader.is2:
            return bytes(_ros2_typestore().ros1_to_cdr(raw, connection.msgtype))
        if encapsulation_is_little_endian(raw):
            return bytes(raw)
        # Recorded on a big-endian machine: re-encode (rare, and slower).
        message = typestore.deserialize_cdr(raw, connection.msgtype)
        return bytes(typestore.serialize_cdr(message, connection.msgtype, little_endian=True))
