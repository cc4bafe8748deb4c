"""Malformed camera frames, built by hand, for the hostile-input test and scripts/soak_hostile.py.

Each case says whether the node's cheap checks refuse it as it arrives (so it never takes the
camera's mailbox slot) or only when it is decoded, and the words its refusal must contain. The
sizes, offsets and magic bytes are written here, independently of the package's parsers.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

__all__ = [
    "HostileFrame",
    "compressed_cases",
    "decoded_but_warned",
    "encode",
    "hidden_header_jpeg",
    "mutated",
    "raw_cases",
    "sof_offset",
]

SMALL = cv2.GaussianBlur(
    np.random.default_rng(16).integers(0, 256, (48, 64, 3), dtype=np.uint8), (3, 3), 0
)
U32_MAX = 2**32 - 1


@dataclass(frozen=True)
class HostileFrame:
    """One malformed frame, and what the node must say about it."""

    name: str
    msg: Image | CompressedImage
    on_arrival: bool  # refused by the cheap checks, before the mailbox
    words: str  # in the refusal ("last problem" in diagnostics, the log line)


def encode(extension: str, image: npt.NDArray[Any] = SMALL, *params: int) -> bytes:
    """cv2.imencode, asserting it worked."""
    ok, data = cv2.imencode(extension, image, list(params))
    assert ok, extension
    return data.tobytes()


def sof_offset(jpeg: bytes) -> int:
    """Offset of the frame header's FF Cn, the first after the tables OpenCV writes."""
    return min(jpeg.find(bytes([0xFF, m])) for m in (0xC0, 0xC2) if bytes([0xFF, m]) in jpeg)


def _sized(jpeg: bytes, width: int, height: int) -> bytes:
    at = sof_offset(jpeg)
    return jpeg[: at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9 :]


def hidden_header_jpeg(side: int = 16000) -> bytes:
    """Return a side x side frame header with one stray byte before it (libjpeg skips it, with a warning)."""
    big = _sized(encode(".jpg"), side, side)
    at = sof_offset(big)
    return big[:at] + b"\x00" + big[at:]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(width: int, height: int, colour: int = 2, idat: bytes = b"", first: bytes = b"") -> bytes:
    ihdr = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0))
    idat = idat or zlib.compress(b"\x00" * 100)
    return (
        b"\x89PNG\r\n\x1a\n" + first + ihdr + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")
    )


def _raw(**fields: object) -> Image:
    height, width = SMALL.shape[:2]
    msg = Image(
        header=Header(frame_id="hostile"),
        height=height,
        width=width,
        encoding="bgr8",
        step=width * 3,
        data=SMALL.tobytes(),
    )
    for key, value in fields.items():
        setattr(msg, key, value)
    return msg


def raw_cases() -> list[HostileFrame]:
    """sensor_msgs/Image frames whose fields do not fit together; all refused on arrival."""
    row = SMALL.shape[1] * 3
    size = len(SMALL.tobytes())
    cases = [
        ("empty encoding", _raw(encoding=""), "empty encoding"),
        ("unknown encoding", _raw(encoding="yuv420p10"), "unsupported image encoding"),
        ("depth encoding", _raw(encoding="32FC1", step=256), "depth"),
        ("5000-character encoding", _raw(encoding="x" * 5000), "unsupported image encoding"),
        ("zero width", _raw(width=0), "empty (0x48"),
        ("zero height", _raw(height=0), "empty (64x0"),
        (
            "largest sizes, no data",
            _raw(width=U32_MAX, height=U32_MAX, step=U32_MAX, data=b""),
            "absurd size",
        ),
        ("65536 x 65536", _raw(width=65536, height=65536, step=65536 * 3), "absurd size"),
        ("step smaller than a row", _raw(step=row - 1), f"step {row - 1} is smaller"),
        ("step zero", _raw(step=0), "step 0 is smaller"),
        ("largest step", _raw(step=U32_MAX), "too short"),
        ("one byte short", _raw(data=SMALL.tobytes()[:-1]), f"received {size - 1}"),
        ("no data", _raw(data=b""), "received 0"),
        ("odd-width yuv422", _raw(encoding="yuv422", width=63, step=126), "even width"),
    ]
    return [HostileFrame(name, msg, True, words) for name, msg, words in cases]


def _jpeg_with(marker: int | None = None, precision: int | None = None) -> bytes:
    jpeg = encode(".jpg")
    at = sof_offset(jpeg)
    if marker is not None:
        jpeg = jpeg[: at + 1] + bytes([marker]) + jpeg[at + 2 :]
    if precision is not None:
        jpeg = jpeg[: at + 4] + bytes([precision]) + jpeg[at + 5 :]
    return jpeg


def _many_scans(count: int) -> bytes:
    jpeg = encode(".jpg")
    at = sof_offset(jpeg)
    payload = b"\xff\xda" * count
    return jpeg[:at] + b"\xff\xfe" + struct.pack(">H", 2 + len(payload)) + payload + jpeg[at:]


def compressed_cases() -> list[HostileFrame]:
    """CompressedImage frames: refused on arrival (header checks) or when decoded."""
    jpeg, png = encode(".jpg"), encode(".png")
    broken_crc = bytearray(png)
    idat = png.find(b"IDAT")
    broken_crc[idat + 4 + struct.unpack(">I", png[idat - 4 : idat])[0]] ^= 0xFF
    arrival: list[tuple[str, str, bytes, str]] = [
        ("empty data", "jpeg", b"", "no data"),
        ("compressedDepth", "16UC1; compressedDepth png", png, "compressedDepth"),
        ("random bytes", "jpeg", bytes(range(7, 256)) * 4, "neither JPEG nor PNG"),
        ("JPEG start only", "jpeg", b"\xff\xd8\xff", "no frame header"),
        ("hidden 16000x16000 header", "jpeg", hidden_header_jpeg(), "absurd size 16000x16000"),
        ("65535x65535 header", "jpeg", _sized(jpeg, 65535, 65535), "absurd size 65535x65535"),
        ("5000x5000 bomb", "jpeg", _sized(jpeg, 5000, 5000), "but holds only"),
        ("zero-size JPEG", "jpeg", _sized(jpeg, 0, 0), "no frame header"),
        ("arithmetic-coded JPEG", "jpeg", _jpeg_with(marker=0xC9), "arithmetic-coded JPEG"),
        ("lossless JPEG", "jpeg", _jpeg_with(marker=0xC3), "lossless JPEG"),
        ("12-bit JPEG", "jpeg", _jpeg_with(precision=12), "12-bit JPEG"),
        ("150 scans", "jpeg", _many_scans(150), "scans (limit"),
        ("PNG 100000x100000", "png", _png(100_000, 100_000), "absurd size 100000x100000"),
        ("chunk before IHDR", "png", _png(8, 8, first=_png_chunk(b"tEXt", b"a\x00b")), "IHDR"),
        ("PNG bomb", "png", _png(5000, 5000), "but holds only"),
        ("PNG colour type 5", "png", _png(8, 8, colour=5), "header is invalid"),
        ("PNG header cut", "png", png[:20], "truncated"),
        ("BMP labelled jpeg", "jpeg", encode(".bmp"), "a BMP image"),
        ("TIFF labelled jpeg", "jpeg", encode(".tiff"), "a TIFF image"),
        ("WebP labelled jpeg", "jpeg", encode(".webp"), "a WebP image"),
        ("PPM labelled jpeg", "jpeg", encode(".ppm"), "a PNM/PAM/PFM image"),
        ("GIF labelled png", "png", encode(".gif"), "a GIF image"),
    ]
    decoded: list[tuple[str, str, bytes, str]] = [
        ("JPEG cut in half", "jpeg", jpeg[: len(jpeg) // 2], "could not decode"),
        ("PNG cut in half", "png", png[: len(png) // 2], "could not decode"),
        ("PNG with a broken CRC", "png", bytes(broken_crc), "could not decode"),
    ]
    return [
        HostileFrame(
            name, CompressedImage(header=Header(frame_id="hostile"), format=f, data=d), on, w
        )
        for on, group in ((True, arrival), (False, decoded))
        for name, f, d, w in group
    ]


def decoded_but_warned(image: npt.NDArray[np.uint8]) -> bytes:
    """Return a JPEG of image cut inside its scan and closed with EOI: libjpeg warns, and decodes it."""
    jpeg = encode(".jpg", image)
    return jpeg[: len(jpeg) // 2] + b"\xff\xd9"


def mutated(data: bytes, rng: np.random.Generator) -> bytes:
    """Return a random corruption of an encoded image: flipped bytes, a cut, inserted junk or a new size."""
    choice = int(rng.integers(0, 5))
    buffer = bytearray(data)
    if choice == 0:
        for at in rng.integers(0, len(buffer), int(rng.integers(1, 20))):
            buffer[at] = int(rng.integers(0, 256))
    elif choice == 1:
        del buffer[int(rng.integers(0, len(buffer))) :]
    elif choice == 2:
        at = int(rng.integers(0, len(buffer)))
        buffer[at:at] = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
    elif choice == 3 and data[:2] == b"\xff\xd8":
        side = int(rng.choice([0, 1, 9000, 16000, 65535]))
        return hidden_header_jpeg(side) if side else _sized(data, 0, 0)
    else:
        buffer[:] = rng.integers(0, 256, len(buffer), dtype=np.uint8).tobytes()
    return bytes(buffer)
