"""sensor_msgs Image / CompressedImage <-> NumPy without cv_bridge: layouts, zero copy, refusals.

Every expected byte layout is built here by hand with NumPy (not through the module under test),
and the decoded pixels are checked through the Preprocessor the detector feeds them to.
"""

from __future__ import annotations

import struct
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from yolo_trt_ros.core.preprocess import Preprocessor
from yolo_trt_ros.errors import InvalidImageError
from yolo_trt_ros.ros.image_conversion import (
    DEFAULT_MAX_PIXELS,
    SUPPORTED_ENCODINGS,
    array_to_image_msg,
    check_compressed,
    compressed_to_array,
    image_to_array,
)

HEIGHT, WIDTH = 23, 38  # odd height, width not a multiple of 4: no accidental alignment
RNG = np.random.default_rng(20240611)
BGR = RNG.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
ALPHA = RNG.integers(0, 256, (HEIGHT, WIDTH, 1), dtype=np.uint8)
MONO8 = RNG.integers(0, 256, (HEIGHT, WIDTH), dtype=np.uint8)
MONO16 = RNG.integers(0, 65536, (HEIGHT, WIDTH), dtype=np.uint16)
CHANNEL = {"b": 0, "g": 1, "r": 2}


def tensor(image: npt.NDArray[Any], pixel_format: str) -> npt.NDArray[Any]:
    result: npt.NDArray[Any] = Preprocessor(320)(image, pixel_format)[0].copy()
    return result


def make_msg(pixels: npt.NDArray[Any], encoding: str, *, pad: int = 0, **fields: Any) -> Image:
    """Pack (H, W[, C]) pixels (already in the wire byte order) into rows of step bytes."""
    height, width = pixels.shape[:2]
    row = np.ascontiguousarray(pixels).view(np.uint8).reshape(height, -1)
    step = row.shape[1] + pad
    data = np.full((height, step), 0xAB, np.uint8)  # garbage in the padding
    data[:, : row.shape[1]] = row
    return Image(
        height=height,
        width=width,
        encoding=encoding,
        step=step,
        data=data.tobytes(),
        **fields,
    )


# encoding -> (the message's pixels built from BGR, the expected pixel format)
COLOUR_LAYOUTS = {
    "bgr8": (BGR, "bgr8"),
    "8UC3": (BGR, "bgr8"),
    "rgb8": (BGR[..., ::-1], "rgb8"),
    "bgra8": (np.concatenate([BGR, ALPHA], axis=2), "bgra8"),
    "8UC4": (np.concatenate([BGR, ALPHA], axis=2), "bgra8"),
    "rgba8": (np.concatenate([BGR[..., ::-1], ALPHA], axis=2), "rgba8"),
}


@pytest.mark.parametrize("pad", [0, 13])
@pytest.mark.parametrize("encoding", list(COLOUR_LAYOUTS))
def test_colour_encodings_give_the_original_tensor_without_copying(encoding: str, pad: int) -> None:
    wire, expected_format = COLOUR_LAYOUTS[encoding]
    msg = make_msg(wire, encoding, pad=pad)
    pixels, pixel_format = image_to_array(msg)
    assert pixel_format == expected_format
    assert pixels.shape == wire.shape and pixels.dtype == np.uint8
    np.testing.assert_array_equal(pixels, wire)
    np.testing.assert_array_equal(tensor(pixels, pixel_format), tensor(BGR, "bgr8"))
    assert np.shares_memory(pixels, np.frombuffer(msg.data, np.uint8))
    assert not pixels.flags.writeable


@pytest.mark.parametrize("pad", [0, 5])
@pytest.mark.parametrize("encoding", ["mono8", "8UC1"])
def test_mono8(encoding: str, pad: int) -> None:
    msg = make_msg(MONO8, encoding, pad=pad)
    pixels, pixel_format = image_to_array(msg)
    assert pixel_format == "mono8"
    np.testing.assert_array_equal(pixels, MONO8)
    assert np.shares_memory(pixels, np.frombuffer(msg.data, np.uint8))
    gray_bgr = np.repeat(MONO8[..., None], 3, axis=2)
    np.testing.assert_array_equal(tensor(pixels, pixel_format), tensor(gray_bgr, "bgr8"))


@pytest.mark.parametrize("pad", [0, 3])  # an odd step: unaligned uint16 rows
@pytest.mark.parametrize("bigendian", [0, 1])
def test_mono16_honours_endianness(bigendian: int, pad: int) -> None:
    wire = MONO16.astype(">u2" if bigendian else "<u2")
    msg = make_msg(wire, "mono16", pad=pad, is_bigendian=bigendian)
    pixels, pixel_format = image_to_array(msg)
    assert pixel_format == "mono16" and pixels.dtype == np.uint16 and pixels.dtype.isnative
    np.testing.assert_array_equal(pixels, MONO16)
    np.testing.assert_array_equal(tensor(pixels, "mono16"), tensor(MONO16, "mono16"))
    high_byte = np.repeat((MONO16 >> 8).astype(np.uint8)[..., None], 3, axis=2)
    np.testing.assert_array_equal(tensor(pixels, "mono16"), tensor(high_byte, "bgr8"))
    # little-endian on a little-endian host needs no copy; big-endian is swapped into a copy
    assert np.shares_memory(pixels, np.frombuffer(msg.data, np.uint8)) == (not bigendian)


def bayer_mosaic(bgr: npt.NDArray[Any], pattern: str) -> npt.NDArray[np.uint8]:
    """Sample a BGR image in a 2x2 Bayer layout named like ROS ('rggb': R at (0, 0))."""
    mosaic = np.empty(bgr.shape[:2], np.uint8)
    for index, colour in enumerate(pattern):
        y, x = divmod(index, 2)
        mosaic[y::2, x::2] = bgr[y::2, x::2, CHANNEL[colour]]
    return mosaic


@pytest.mark.parametrize("pattern", ["rggb", "bggr", "gbrg", "grbg"])
@pytest.mark.parametrize("colour", ["b", "g", "r"])
def test_bayer_puts_colours_in_the_right_channel(pattern: str, colour: str) -> None:
    pure = np.zeros((24, 32, 3), np.uint8)
    pure[..., CHANNEL[colour]] = 255
    msg = make_msg(bayer_mosaic(pure, pattern), f"bayer_{pattern}8", pad=4)
    pixels, pixel_format = image_to_array(msg)
    assert pixel_format == "bgr8" and pixels.shape == (24, 32, 3)
    inner = pixels[2:-2, 2:-2].reshape(-1, 3)
    dominant = inner.argmax(axis=1)
    assert (dominant == CHANNEL[colour]).mean() > 0.95
    assert inner[:, CHANNEL[colour]].mean() > 200


@pytest.mark.parametrize("pattern", ["rggb", "bggr", "gbrg", "grbg"])
def test_bayer_demosaics_a_smooth_image_closely(pattern: str) -> None:
    smooth = cv2.GaussianBlur(RNG.integers(0, 256, (48, 64, 3), dtype=np.uint8), (15, 15), 5)
    pixels, _ = image_to_array(make_msg(bayer_mosaic(smooth, pattern), f"bayer_{pattern}8"))
    error = np.abs(pixels[2:-2, 2:-2].astype(int) - smooth[2:-2, 2:-2].astype(int))
    assert error.mean() < 3


def yuv422(bgr: npt.NDArray[np.uint8], order: str) -> npt.NDArray[np.uint8]:
    """Pack BGR (equal pixel pairs) as BT.601 video-range 4:2:2, byte order 'uyvy' or 'yuyv'."""
    b, g, r = (bgr[..., i].astype(np.float64) for i in range(3))
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    luma, u8, v8 = (np.clip(np.round(p), 0, 255).astype(np.uint8) for p in (y, u, v))
    chroma = np.empty_like(luma)
    chroma[:, 0::2], chroma[:, 1::2] = u8[:, 0::2], v8[:, 0::2]
    pairs = (chroma, luma) if order == "uyvy" else (luma, chroma)
    return np.stack(pairs, axis=2)


@pytest.mark.parametrize(
    ("encoding", "order"),
    [("yuv422", "uyvy"), ("uyvy", "uyvy"), ("yuv422_yuy2", "yuyv"), ("yuyv", "yuyv")],
)
def test_yuv422_converts_to_bgr(encoding: str, order: str) -> None:
    pairs = np.repeat(BGR[:, ::2], 2, axis=1)  # chroma is shared by pixel pairs: make it lossless
    pixels, pixel_format = image_to_array(make_msg(yuv422(pairs, order), encoding, pad=6))
    assert pixel_format == "bgr8"
    assert np.abs(pixels.astype(int) - pairs.astype(int)).max() <= 3


def test_yuv422_needs_an_even_width() -> None:
    with pytest.raises(InvalidImageError, match="even width"):
        image_to_array(make_msg(np.zeros((4, 5, 2), np.uint8), "yuv422"))


def test_trailing_bytes_are_ignored() -> None:
    msg = make_msg(BGR, "bgr8")
    msg.data.frombytes(b"extra")
    np.testing.assert_array_equal(image_to_array(msg)[0], BGR)


def bad(**fields: Any) -> Image:
    defaults: dict[str, Any] = {"height": 4, "width": 6, "encoding": "bgr8", "step": 18}
    defaults |= fields
    if "data" not in defaults:  # (setdefault would build the bytes even when data is given)
        defaults["data"] = bytes(defaults["step"] * defaults["height"])
    return Image(**defaults)


@pytest.mark.parametrize(
    ("msg", "keywords"),
    [
        (bad(encoding="foo"), ["unsupported", "'foo'", "bgr8", "bayer_rggb8", "yuv422"]),
        (bad(encoding="rgb16"), ["unsupported"]),
        (bad(encoding=""), ["empty encoding"]),
        (bad(encoding="16UC1", step=12), ["depth", "colour or mono camera"]),
        (bad(encoding="32FC1", step=24), ["depth", "colour or mono camera"]),
        (bad(encoding="64FC3", step=144), ["depth"]),
        (bad(data=bytes(71)), ["too short", "72 bytes", "received 71"]),
        (bad(data=b""), ["too short", "received 0"]),
        (bad(step=17), ["step 17", "18"]),
        (bad(encoding="mono16", step=11), ["step 11", "12"]),
        (bad(width=0, step=0), ["empty", "0x4"]),
        (bad(height=0), ["empty", "6x0"]),
        (bad(width=100_000, height=100_000, step=300_000, data=b""), ["absurd size"]),
    ],
    ids=lambda value: None if isinstance(value, list) else repr(value.encoding),
)
def test_bad_images_are_refused_with_a_reason(msg: Image, keywords: list[str]) -> None:
    with pytest.raises(InvalidImageError) as raised:
        image_to_array(msg)
    for keyword in keywords:
        assert keyword in str(raised.value)


def test_max_pixels_is_a_parameter() -> None:
    assert DEFAULT_MAX_PIXELS >= 8192 * 8192 // 2
    with pytest.raises(InvalidImageError, match="absurd size"):
        image_to_array(make_msg(BGR, "bgr8"), max_pixels=HEIGHT * WIDTH - 1)
    assert image_to_array(make_msg(BGR, "bgr8"), max_pixels=HEIGHT * WIDTH)[0].shape == BGR.shape


def test_supported_encodings() -> None:
    assert set(SUPPORTED_ENCODINGS) >= {"bgr8", "rgb8", "bgra8", "rgba8", "mono8", "mono16"}
    assert "16UC1" not in SUPPORTED_ENCODINGS and "32FC1" not in SUPPORTED_ENCODINGS


def encoded(extension: str, image: npt.NDArray[Any] = BGR, *params: int) -> bytes:
    ok, buffer = cv2.imencode(extension, image, list(params))
    assert ok
    return buffer.tobytes()


@pytest.mark.parametrize(
    ("extension", "format_field"),
    [(".jpg", "jpeg"), (".png", "png"), (".jpg", "rgb8; jpeg compressed bgr8"), (".png", "jpeg")],
)
def test_compressed_decodes_like_imdecode(extension: str, format_field: str) -> None:
    data = encoded(extension)
    pixels, pixel_format = compressed_to_array(CompressedImage(format=format_field, data=data))
    assert pixel_format == "bgr8" and pixels.dtype == np.uint8 and pixels.shape == BGR.shape
    np.testing.assert_array_equal(pixels, cv2.imdecode(np.frombuffer(data, np.uint8), 1))
    if extension != ".jpg":
        np.testing.assert_array_equal(pixels, BGR)  # lossless


def test_compressed_grayscale_and_16_bit_png_become_bgr8() -> None:
    for image in (MONO8, MONO16):
        pixels, _ = compressed_to_array(CompressedImage(format="png", data=encoded(".png", image)))
        assert pixels.shape == (HEIGHT, WIDTH, 3) and pixels.dtype == np.uint8


def test_truncated_jpeg_is_refused_or_decoded_like_opencv() -> None:
    large = cv2.GaussianBlur(RNG.integers(0, 256, (240, 320, 3), dtype=np.uint8), (5, 5), 0)
    data = encoded(".jpg", large)[: len(encoded(".jpg", large)) // 2]
    reference = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    msg = CompressedImage(format="jpeg", data=data)
    if reference is None:  # OpenCV 5 refuses a truncated JPEG
        with pytest.raises(InvalidImageError, match=rf"could not decode {len(data)} bytes.*'jpeg'"):
            compressed_to_array(msg)
    else:  # OpenCV 4 returns what it could decode, with a libjpeg warning
        np.testing.assert_array_equal(compressed_to_array(msg)[0], reference)


def patched(data: bytes, offset: int, fmt: str, *values: int) -> bytes:
    return data[:offset] + struct.pack(fmt, *values) + data[offset + struct.calcsize(fmt) :]


def jpeg_sof_offset(data: bytes) -> int:
    return min(
        data.find(bytes([0xFF, marker])) for marker in (0xC0, 0xC2) if bytes([0xFF, marker]) in data
    )


@pytest.mark.parametrize(
    ("format_field", "data", "keywords"),
    [
        ("jpeg", b"", ["no data", "'jpeg'"]),
        ("png", b"\x01\x02\x03" + RNG.integers(0, 256, 997, dtype=np.uint8).tobytes(), ["neither JPEG nor PNG", "01 02 03", "'png'"]),
        ("jpeg", encoded(".bmp"), ["a BMP image", "JPEG and PNG only", "'jpeg'"]),
        ("png", b"\x89PNG\r\n\x1a\n" + bytes(200), ["does not start with its IHDR chunk"]),
        ("png", encoded(".png")[:40], ["could not decode 40 bytes as a 38x23", "PNG"]),
        ("jpeg", b"\xff\xd8\xff", ["no frame header (SOF marker) in its 3 bytes"]),
        ("16UC1; compressedDepth png", encoded(".png", MONO16), ["depth"]),
        ("png", patched(encoded(".png"), 16, ">II", 60_000, 60_000), ["absurd size 60000x60000"]),
        ("jpeg", patched(encoded(".jpg"), jpeg_sof_offset(encoded(".jpg")) + 5, ">HH", 65_000, 65_000), ["absurd size 65000x65000"]),
    ],
)  # fmt: skip
def test_bad_compressed_images_are_refused(
    format_field: str, data: bytes, keywords: list[str]
) -> None:
    with pytest.raises(InvalidImageError) as raised:
        compressed_to_array(CompressedImage(format=format_field, data=data))
    for keyword in keywords:
        assert keyword in str(raised.value)


def test_compressed_max_pixels_before_decoding() -> None:
    for extension in (".png", ".jpg"):
        msg = CompressedImage(format=extension[1:], data=encoded(extension))
        with pytest.raises(InvalidImageError, match="absurd size 38x23"):
            compressed_to_array(msg, max_pixels=100)


def test_array_to_image_msg_round_trips() -> None:
    header = Header(frame_id="camera")
    header.stamp.sec, header.stamp.nanosec = 12, 345
    msg = array_to_image_msg(BGR, header)
    assert (msg.height, msg.width, msg.step, msg.encoding) == (HEIGHT, WIDTH, WIDTH * 3, "bgr8")
    assert msg.is_bigendian == 0 and msg.header == header and len(msg.data) == BGR.size
    pixels, pixel_format = image_to_array(msg)
    assert pixel_format == "bgr8"
    np.testing.assert_array_equal(pixels, BGR)
    strided = BGR[::2, 1::3]  # not contiguous
    np.testing.assert_array_equal(image_to_array(array_to_image_msg(strided, header))[0], strided)


@pytest.mark.parametrize(
    "image", [MONO8, BGR.astype(np.uint16), np.concatenate([BGR, ALPHA], axis=2)]
)
def test_array_to_image_msg_refuses_non_bgr(image: npt.NDArray[Any]) -> None:
    with pytest.raises(InvalidImageError, match="BGR"):
        array_to_image_msg(image, Header())


def test_a_header_read_on_arrival_is_not_read_again() -> None:
    import dataclasses

    image = np.random.default_rng(5).integers(0, 255, (48, 64, 3), np.uint8)
    msg = CompressedImage(format="jpeg", data=encoded(".jpg", image))
    header = check_compressed(msg)
    assert (header.width, header.height) == (64, 48)
    np.testing.assert_array_equal(
        compressed_to_array(msg, header=header)[0], compressed_to_array(msg)[0]
    )
    # the header given is the one used: a wrong one shows (the data is not read again)
    wrong = dataclasses.replace(header, width=8, height=8)
    with pytest.raises(InvalidImageError, match="returned 64x48 pixels for a 8x8 JPEG"):
        compressed_to_array(msg, header=wrong)
