"""A camera stand-in: publish images from files, a folder or a video as a ROS image topic.

    ros2 run yolo_trt_ros image_publisher                       # the bundled sample photo, 2 Hz
    ros2 run yolo_trt_ros image_publisher photos/ --rate 10 --topic /camera/image_raw
    ros2 run yolo_trt_ros image_publisher drive.mp4 --compressed --reliability best_effort

Frames are stamped with the current time and ``--frame-id``; folders play in name order, and
everything loops until ``--count`` frames have gone out (0: forever).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import rclpy
from rclpy.executors import Executor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from yolo_trt_ros.cli_numbers import frame_rate, non_negative_count
from yolo_trt_ros.errors import InvalidImageError
from yolo_trt_ros.media import image_files, is_image_file, read_image, video_frames
from yolo_trt_ros.models import bundled_sample_image_path
from yolo_trt_ros.ros.image_conversion import array_to_image_msg
from yolo_trt_ros.ros.node_runner import run_node

__all__ = ["ImageSourceNode", "frames_from", "main"]


def frames_from(source: Path | None) -> Iterator[npt.NDArray[np.uint8]]:
    """Yield BGR frames from an image, a folder of images or a video, looping forever."""
    path = source or bundled_sample_image_path()
    if path.is_dir():
        images = [read_image(p) for p in image_files(path)]
        yield from itertools.cycle(images)
    elif is_image_file(path):
        yield from itertools.repeat(read_image(path))
    elif path.exists():
        first = True
        while True:
            frames = video_frames(path)
            empty = True
            for frame in frames:
                empty = first = False
                yield frame
            if empty and first:
                raise InvalidImageError(f"{path} has no readable video frames")
    else:
        raise InvalidImageError(f"{path} does not exist")


class ImageSourceNode(Node):
    """Publishes frames at a fixed rate as sensor_msgs/Image (bgr8) or CompressedImage (JPEG)."""

    def __init__(
        self,
        frames: Iterator[npt.NDArray[np.uint8]],
        *,
        topic: str = "image",
        rate_hz: float = 2.0,
        compressed: bool = False,
        reliability: str = "reliable",
        frame_id: str = "camera",
        count: int = 0,
        node_name: str = "image_publisher",
    ) -> None:
        super().__init__(node_name)
        qos = QoSProfile(
            depth=1,
            reliability=ReliabilityPolicy.BEST_EFFORT
            if reliability == "best_effort"
            else ReliabilityPolicy.RELIABLE,
        )
        self.compressed = compressed
        self.publisher = self.create_publisher(CompressedImage if compressed else Image, topic, qos)
        self.frames, self.frame_id, self.count, self.sent = frames, frame_id, count, 0
        self.timer = self.create_timer(1.0 / rate_hz, self.publish_next)

    @property
    def done(self) -> bool:
        """Whether ``count`` frames have been published (never, when count is 0)."""
        return bool(self.count) and self.sent >= self.count

    def publish_next(self) -> None:
        """Publish the next frame, stamped now."""
        if self.done:
            return
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.frame_id)
        frame = next(self.frames)
        if self.compressed:
            ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
            if not ok:
                raise InvalidImageError("JPEG encoding failed")
            self.publisher.publish(
                CompressedImage(header=header, format="jpeg", data=encoded.tobytes())
            )
        else:
            self.publisher.publish(array_to_image_msg(frame, header))
        self.sent += 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="image_publisher",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "source",
        nargs="?",
        type=lambda text: Path(text) if text else None,  # "" (e.g. from a launch file): default
        default=None,
        help="image, folder or video (default: the bundled sample photo)",
    )
    parser.add_argument("--topic", default="image", help="topic to publish on (default: image)")
    parser.add_argument(
        "--rate", type=frame_rate, default=2.0, help="frames per second (default: 2)"
    )
    parser.add_argument(
        "--count",
        type=non_negative_count,
        default=0,
        help="stop after this many frames (default: 0, never)",
    )
    parser.add_argument(
        "--compressed", action="store_true", help="publish sensor_msgs/CompressedImage (JPEG)"
    )
    parser.add_argument(
        "--reliability",
        choices=("reliable", "best_effort"),
        default="reliable",
        help="publisher QoS",
    )
    parser.add_argument("--frame-id", default="camera", help="header.frame_id (default: camera)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Publish until Ctrl-C or ``--count`` frames."""
    args_and_ros = list(sys.argv[1:] if argv is None else argv)
    ros_args = rclpy.utilities.remove_ros_args(["image_publisher", *args_and_ros])[1:]
    args = _parser().parse_args(ros_args)
    try:
        frames = frames_from(args.source)
        first = next(frames)
    except InvalidImageError as error:
        print(f"image_publisher: {error}", file=sys.stderr)
        return 2

    def make_node() -> ImageSourceNode:
        return ImageSourceNode(
            itertools.chain([first], frames),
            topic=args.topic,
            rate_hz=args.rate,
            compressed=args.compressed,
            reliability=args.reliability,
            frame_id=args.frame_id,
            count=args.count,
        )

    return run_node(
        make_node, ["image_publisher", *args_and_ros], spin=_spin_until_done, own_signals=False
    )


def _spin_until_done(node: ImageSourceNode, executor: Executor) -> None:
    while rclpy.ok() and not node.done:
        executor.spin_once(timeout_sec=0.1)


if __name__ == "__main__":
    sys.exit(main())
