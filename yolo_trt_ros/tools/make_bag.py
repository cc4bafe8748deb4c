"""Make a test bag from an image folder, an image or a video: a camera recording without a robot.

    ros2 run yolo_trt_ros make_bag photos/ street_bag                  # rosbag2, MCAP storage
    ros2 run yolo_trt_ros make_bag drive.mp4 drive_bag --format sqlite3 --compressed
    ros2 run yolo_trt_ros make_bag bus.jpg bus.bag --frames 100 --rate 15  # ROS 1 (from the name)

A folder plays its images in name order, a video its frames; ``--frames N`` stops after N frames,
repeating the source as needed (a single image is repeated 30 times unless told otherwise).
Frames are stamped as if a camera recorded them at ``--rate`` (a video's own rate by default).
Needs no ROS installation (the rosbags library writes the bag).
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

from yolo_trt_ros.cli_numbers import epoch_seconds, frame_rate
from yolo_trt_ros.errors import YoloTrtRosError
from yolo_trt_ros.media import image_files, is_image_file, read_image, video_frames, video_rate_hz
from yolo_trt_ros.replay.bag_writer import BAG_FORMATS, BagSettings, write_image_bag

__all__ = ["main", "source_frames"]

_DEFAULT_IMAGE_REPEATS = 30
_DEFAULT_RATE_HZ = 30.0


def source_frames(source: Path, limit: int | None) -> Iterator[npt.NDArray[np.uint8]]:
    """Frames of a folder, image or video; ``limit`` frames, repeating the source, when given."""
    frames: Iterator[npt.NDArray[np.uint8]]
    if source.is_dir():
        files = image_files(source)
        frames = (read_image(p) for p in (files if limit is None else itertools.cycle(files)))
    elif is_image_file(source):
        frames = itertools.repeat(read_image(source), limit or _DEFAULT_IMAGE_REPEATS)
    elif source.exists():
        frames = video_frames(source) if limit is None else _looped_video(source)
    else:
        raise YoloTrtRosError(f"{source} does not exist: pass an image folder, an image or a video")
    return frames if limit is None else itertools.islice(frames, limit)


def _looped_video(source: Path) -> Iterator[npt.NDArray[np.uint8]]:
    """Yield the video's frames again and again (stop if a pass yields none)."""
    while True:
        empty = True
        for frame in video_frames(source):
            empty = False
            yield frame
        if empty:
            return


def _resized(
    frames: Iterator[npt.NDArray[np.uint8]], size: tuple[int, int] | None
) -> Iterator[npt.NDArray[np.uint8]]:
    for frame in frames:
        yield frame if size is None else np.asarray(cv2.resize(frame, size), np.uint8)


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxHEIGHT, e.g. 1280x720, not {text!r}"
        ) from None
    if width <= 0 or height <= 0:
        raise argparse.ArgumentTypeError(f"width and height must be positive: {text!r}")
    return width, height


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make_bag", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", type=Path, help="image folder, image file or video file")
    parser.add_argument(
        "out", type=Path, help="bag to create: a rosbag2 directory, or NAME.bag for ROS 1"
    )
    parser.add_argument(
        "--format",
        choices=tuple(BAG_FORMATS),
        default=None,
        help="storage (default: ros1 when OUT ends with .bag, else mcap)",
    )
    parser.add_argument(
        "--topic", default="/camera/image_raw", help="image topic (default: %(default)s)"
    )
    parser.add_argument(
        "--rate",
        type=frame_rate,
        default=None,
        help="recorded frame rate in Hz (default: the video's, or 30)",
    )
    parser.add_argument("--frames", type=int, default=None, help="how many frames to write")
    parser.add_argument(
        "--compressed",
        action="store_true",
        help="store sensor_msgs/CompressedImage (JPEG) instead of raw bgr8 Image",
    )
    parser.add_argument("--jpeg-quality", type=int, default=90, help="JPEG quality (default: 90)")
    parser.add_argument("--frame-id", default="camera", help="header.frame_id (default: camera)")
    parser.add_argument("--resize", type=_size, default=None, help="scale frames to WIDTHxHEIGHT")
    parser.add_argument(
        "--start",
        type=epoch_seconds,
        default=None,
        help="first stamp, seconds since the epoch (default: now)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Write the bag; exit status 2 with one line on stderr when something is wrong."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.frames is not None and args.frames <= 0:
        parser.error("--frames must be positive")
    fmt = args.format or ("ros1" if args.out.suffix == ".bag" else "mcap")
    rate = args.rate
    if rate is None and args.source.is_file() and not is_image_file(args.source):
        rate = video_rate_hz(args.source)
    settings = BagSettings(
        topic=args.topic,
        rate_hz=rate or _DEFAULT_RATE_HZ,
        compressed=args.compressed,
        frame_id=args.frame_id,
        start_ns=None if args.start is None else round(args.start * 1e9),
        jpeg_quality=args.jpeg_quality,
    )
    try:
        frames = _resized(source_frames(args.source, args.frames), args.resize)
        count = write_image_bag(frames, args.out, fmt, settings)
    except YoloTrtRosError as error:
        print(f"make_bag: {error}", file=sys.stderr)
        return 2
    kind = "CompressedImage (JPEG)" if settings.compressed else "Image"
    print(
        f"wrote {count} frames ({kind}) at {settings.rate_hz:g} Hz on {settings.topic} "
        f"to {args.out} ({fmt})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
