"""Frames from image files, folders of images and video files (OpenCV, no ROS), in BGR order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from yolo_trt_ros.errors import InvalidImageError
from yolo_trt_ros.image_decoders import OpenCvDecoder
from yolo_trt_ros.image_headers import DEFAULT_MAX_PIXELS, check_encoded

__all__ = [
    "IMAGE_SUFFIXES",
    "image_files",
    "is_image_file",
    "read_image",
    "video_frames",
    "video_rate_hz",
]

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
)


def is_image_file(path: Path) -> bool:
    """Whether a path names a still image (by its suffix)."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def read_image(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> npt.NDArray[np.uint8]:
    """Read an image file as BGR; InvalidImageError if OpenCV cannot read it.

    A JPEG or PNG larger than max_pixels, or too short for its size, is refused before it is
    decoded (``yolo_trt_ros.image_headers``); other formats are left to OpenCV.
    """
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as error:
        raise InvalidImageError(f"cannot read {path}: {error}") from None
    try:
        check_encoded(memoryview(data.data), max_pixels)
    except InvalidImageError as error:
        if error.kind != "format":  # not JPEG or PNG, or a coding OpenCV may still read
            raise InvalidImageError(f"{path}: {error}", kind=error.kind) from None
    decoded = OpenCvDecoder().decode(data)
    if decoded is None:
        raise InvalidImageError(f"cannot read {path} as an image")
    return decoded[0]


def image_files(folder: Path) -> list[Path]:
    """List the images in a folder, in name order; InvalidImageError if there are none."""
    files = sorted(p for p in folder.iterdir() if is_image_file(p))
    if not files:
        raise InvalidImageError(f"{folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def video_frames(path: Path) -> Iterator[npt.NDArray[np.uint8]]:
    """Yield the frames of a video file once, as BGR; InvalidImageError if it cannot be opened."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise InvalidImageError(f"cannot open {path} as a video")
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield np.asarray(frame, np.uint8)
    finally:
        capture.release()


def video_rate_hz(path: Path) -> float | None:
    """Return the frame rate a video file declares, or None when it declares none."""
    capture = cv2.VideoCapture(str(path))
    try:
        rate = float(capture.get(cv2.CAP_PROP_FPS)) if capture.isOpened() else 0.0
    finally:
        capture.release()
    return rate if rate > 0 else None
