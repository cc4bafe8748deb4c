"""What a compressed frame declares before decoding: JPEG or PNG, its real size, whether it is safe.

``cv2.imdecode`` allocates the whole output from the size in the header, then decodes whatever
data follows, so a few hundred bytes can ask for gigabytes. :func:`check_encoded` refuses, with one
sentence each, before anything is decoded:

* formats other than JPEG and PNG, named by their magic bytes (OpenCV would decode BMP, TIFF,
  WebP, PNM, GIF, JPEG 2000 ... behind a ``jpeg`` format field);
* JPEG codings other than 8-bit Huffman baseline, extended and progressive (arithmetic, lossless,
  hierarchical, 12-bit), and JPEGs with more than :data:`MAX_JPEG_SCANS` scans;
* frames larger than ``max_pixels`` (JPEG: the largest frame header anywhere in the data, see
  :func:`_jpeg_frames`; PNG: the IHDR chunk, which must come first);
* data too short for the declared size: a truncated frame or a decompression bomb. Every block of
  a Huffman-coded JPEG costs at least one bit, and deflate expands at most 1032 : 1;
* frames that need more memory to decode than a baseline frame of ``max_pixels``: a progressive
  JPEG holds every DCT coefficient at once (2 bytes per sample) besides its output.

Decoding memory, measured with OpenCV 5 (VmHWM): 6 bytes per pixel for baseline JPEG, 4:2:0
progressive JPEG and PNG (the bgr8 output, held twice), 8.6 for 4:4:4 progressive JPEG.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from typing import Final

from yolo_trt_ros.errors import InvalidImageError

__all__ = [
    "DECODE_BYTES_PER_PIXEL",
    "DEFAULT_MAX_PIXELS",
    "MAX_JPEG_SCANS",
    "EncodedImage",
    "check_encoded",
    "jpeg_has_end",
    "read_header",
]

MAX_JPEG_SCANS: Final = 100
"""More scans than this is refused: each is a pass over the whole image (encoders write <= 12)."""

DEFAULT_MAX_PIXELS: Final = 32 * 1024 * 1024
"""Largest width * height accepted by default (8192 x 4096; 8K UHD fits): the node's
``max_image_pixels``. Decoding a frame this large takes about 200 MB (the output, held twice),
however small the compressed data that asks for it.
"""

DECODE_BYTES_PER_PIXEL: Final = 6
"""Memory a baseline JPEG or a PNG takes to decode, per pixel: the bgr8 output, held twice."""

_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_JPEG_START: Final = b"\xff\xd8\xff"  # what OpenCV's JPEG decoder recognises
# Every start-of-frame marker libjpeg knows (not C4 DHT, C8 JPG, CC DAC), and start-of-scan.
_JPEG_MARKERS: Final = re.compile(rb"\xff[\xc0-\xc3\xc5-\xc7\xc9-\xcb\xcd-\xcf\xda]")
_SOS: Final = 0xDA
_JPEG_END: Final = b"\xff\xd9"  # EOI; entropy-coded data never holds it (0xFF is stuffed)
_JPEG_END_WINDOW: Final = 256  # bytes searched from the end: encoders and drivers may pad after EOI
_JPEG_CODINGS: Final = {0xC0: "baseline", 0xC1: "extended", 0xC2: "progressive"}
_JPEG_UNSUPPORTED: Final = {
    0xC3: "lossless",
    0xC5: "hierarchical",
    0xC6: "hierarchical progressive",
    0xC7: "hierarchical lossless",
    0xC9: "arithmetic-coded",
    0xCA: "arithmetic-coded progressive",
    0xCB: "arithmetic-coded lossless",
    0xCD: "arithmetic-coded hierarchical",
    0xCE: "arithmetic-coded hierarchical progressive",
    0xCF: "arithmetic-coded hierarchical lossless",
}
_PNG_CHANNELS: Final = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel
_DEFLATE_MAX_RATIO: Final = 1032
# Magic bytes of formats OpenCV decodes but the node does not take, for the refusal message.
_OTHER_FORMATS: Final = (
    (re.compile(rb"BM", re.DOTALL), "BMP"),
    (re.compile(rb"II\*\x00|MM\x00\*", re.DOTALL), "TIFF"),
    (re.compile(rb"RIFF....WEBP", re.DOTALL), "WebP"),
    (re.compile(rb"GIF8[79]a", re.DOTALL), "GIF"),
    (re.compile(rb"P[1-7][\s#]|P[Ff]\s", re.DOTALL), "PNM/PAM/PFM"),
    (re.compile(rb"\x00\x00\x00\x0cjP  |\xff\x4f\xff\x51", re.DOTALL), "JPEG 2000"),
    (re.compile(rb"\xff\x0a|\x00\x00\x00\x0cJXL ", re.DOTALL), "JPEG XL"),
    (re.compile(rb"....ftyp(avif|avis|heic|heix|mif1)", re.DOTALL), "AVIF/HEIF"),
    (re.compile(rb"#\?(RADIANCE|RGBE)", re.DOTALL), "Radiance HDR"),
    (re.compile(rb"\x76\x2f\x31\x01", re.DOTALL), "OpenEXR"),
    (re.compile(rb"\x59\xa6\x6a\x95", re.DOTALL), "Sun raster"),
)


@dataclass(frozen=True)
class EncodedImage:
    """What a JPEG or PNG declares: format, coding, size, and the least data that size needs."""

    format: str  # "jpeg" or "png"
    coding: str  # e.g. "baseline", "progressive", "8-bit colour type 2"
    width: int
    height: int
    min_bytes: int  # fewer bytes cannot hold a complete image of this size
    decode_bytes: int  # about the memory decoding takes

    @property
    def pixels(self) -> int:
        """The number of pixels, width * height."""
        return self.width * self.height


@dataclass(frozen=True)
class _JpegFrame:
    marker: int
    precision: int
    height: int
    width: int
    sampling: tuple[tuple[int, int], ...]  # (h, v) per component; empty when cut off


def _jpeg_frames(data: memoryview) -> tuple[list[_JpegFrame], int]:
    """Every plausible frame header (SOFn) anywhere in the data, and the number of scans.

    libjpeg skips any bytes before a marker, so walking the segments can be fooled; scanning the
    whole buffer cannot. In entropy-coded data 0xFF is always followed by 0x00 or RSTn, so a match
    there is impossible; one inside another segment's payload (an EXIF thumbnail) only makes the
    check stricter. libjpeg refuses a SOFn whose length is not 8 + 3 * components or whose size
    is 0, so such bytes are not counted as a frame.
    """
    frames: list[_JpegFrame] = []
    scans = 0
    end = len(data)
    for match in _JPEG_MARKERS.finditer(data):
        marker, at = data[match.start() + 1], match.start() + 2
        if marker == _SOS:
            scans += 1
            continue
        if at + 7 > end:  # the size is cut off: libjpeg cannot read a frame here either
            continue
        length, precision, height, width = struct.unpack_from(">HBHH", data, at)
        if height == 0 or width == 0:
            continue
        sampling: tuple[tuple[int, int], ...] = ()
        if at + 8 <= end:
            components = data[at + 7]
            if components == 0 or length != 8 + 3 * components:
                continue
            if at + 8 + 3 * components <= end:
                factors = data[at + 9 : at + 8 + 3 * components : 3]
                sampling = tuple((max(f >> 4, 1), max(f & 15, 1)) for f in factors)
        frames.append(_JpegFrame(marker, precision, height, width, sampling))
    return frames, scans


def _jpeg_blocks(frame: _JpegFrame) -> int:
    """Count the 8x8 blocks of all components (one full-size component when they are cut off)."""
    sampling = frame.sampling or ((1, 1),)
    h_max = max(h for h, _ in sampling)
    v_max = max(v for _, v in sampling)
    return sum(
        math.ceil(math.ceil(frame.width * h / h_max) / 8)
        * math.ceil(math.ceil(frame.height * v / v_max) / 8)
        for h, v in sampling
    )


def _jpeg_decode_bytes(frame: _JpegFrame) -> int:
    output = 3 * frame.width * frame.height
    if frame.marker != 0xC2:
        return 2 * output
    return max(2 * output, output + 128 * _jpeg_blocks(frame))  # 64 coefficients of 2 bytes


def _read_jpeg(data: memoryview) -> EncodedImage:
    frames, scans = _jpeg_frames(data)
    if not frames:
        raise InvalidImageError(
            f"the JPEG has no frame header (SOF marker) in its {len(data)} bytes; "
            "the data is truncated or corrupt",
            kind="corrupt",
        )
    for frame in frames:
        if frame.marker in _JPEG_UNSUPPORTED:
            raise InvalidImageError(
                f"{_JPEG_UNSUPPORTED[frame.marker]} JPEG (marker 0xFF{frame.marker:02X}) is not "
                "supported; send baseline or progressive JPEG (what camera drivers and "
                "image_transport write)",
                kind="format",
            )
        if frame.precision != 8:
            raise InvalidImageError(
                f"{frame.precision}-bit JPEG is not supported; send 8-bit JPEG, or PNG or a raw "
                "mono16 image for more bits per sample",
                kind="format",
            )
    if scans > MAX_JPEG_SCANS:
        raise InvalidImageError(
            f"the JPEG has {scans} scans (limit {MAX_JPEG_SCANS}); each is a pass over the whole "
            "image, and encoders write at most about a dozen",
            kind="corrupt",
        )
    largest = max(frames, key=lambda f: f.width * f.height)
    return EncodedImage(
        "jpeg",
        _JPEG_CODINGS[largest.marker],
        largest.width,
        largest.height,
        min_bytes=max(_jpeg_blocks(f) for f in frames) // 8,  # at least a bit per block
        decode_bytes=max(_jpeg_decode_bytes(f) for f in frames),
    )


def _read_png(data: memoryview) -> EncodedImage:
    if len(data) < 33:  # signature, IHDR length and type, 13 bytes of IHDR, its CRC
        raise InvalidImageError(
            f"the PNG is truncated: {len(data)} bytes cannot hold its header", kind="corrupt"
        )
    length, chunk = struct.unpack_from(">I4s", data, 8)
    if length != 13 or chunk != b"IHDR":
        raise InvalidImageError(
            f"the PNG does not start with its IHDR chunk (found {bytes(chunk)!r}, length "
            f"{length}); the data is corrupt",
            kind="corrupt",
        )
    width, height, depth, colour = struct.unpack_from(">IIBB", data, 16)
    channels = _PNG_CHANNELS.get(colour)
    if width == 0 or height == 0 or channels is None or depth not in (1, 2, 4, 8, 16):
        raise InvalidImageError(
            f"the PNG header is invalid ({width}x{height}, colour type {colour}, bit depth "
            f"{depth}); the data is corrupt",
            kind="corrupt",
        )
    raw_bytes = width * height * channels * depth // 8  # before filter bytes and interlacing
    return EncodedImage(
        "png",
        f"{depth}-bit colour type {colour}",
        width,
        height,
        min_bytes=raw_bytes // _DEFLATE_MAX_RATIO,
        decode_bytes=DECODE_BYTES_PER_PIXEL * width * height,
    )


def _describe_other(data: memoryview) -> str:
    head = bytes(data[:16])
    for magic, name in _OTHER_FORMATS:
        if magic.match(head):
            return f"a {name} image"
    return f"neither JPEG nor PNG (it starts with {head[:4].hex(' ')})"


def read_header(data: memoryview) -> EncodedImage:
    """Read a JPEG's or PNG's header without decoding; InvalidImageError for anything else."""
    if bytes(data[:3]) == _JPEG_START:
        return _read_jpeg(data)
    if bytes(data[:8]) == _PNG_SIGNATURE:
        return _read_png(data)
    raise InvalidImageError(
        f"the data is {_describe_other(data)}; the node decodes JPEG and PNG only", kind="format"
    )


def check_encoded(data: memoryview, max_pixels: int) -> EncodedImage:
    """:func:`read_header`, then refuse sizes over ``max_pixels`` and data too short for its size."""
    header = read_header(data)
    if header.pixels > max_pixels:
        raise InvalidImageError(
            f"absurd size {header.width}x{header.height} in the {header.format.upper()} header "
            f"({header.pixels} pixels, limit max_image_pixels {max_pixels}); refused before "
            "decoding",
            kind="size",
        )
    if len(data) < header.min_bytes:
        raise InvalidImageError(
            f"the {header.format.upper()} declares {header.width}x{header.height} pixels but holds "
            f"only {len(data)} bytes (a complete one needs at least {header.min_bytes}); "
            "truncated, or a decompression bomb",
            kind="corrupt",
        )
    budget = DECODE_BYTES_PER_PIXEL * max_pixels
    if header.decode_bytes > budget:
        raise InvalidImageError(
            f"a {header.coding} {header.format.upper()} of {header.width}x{header.height} needs "
            f"about {header.decode_bytes >> 20} MiB to decode (it holds every DCT coefficient at "
            f"once), more than a baseline image of max_image_pixels {max_pixels} "
            f"({budget >> 20} MiB); send baseline JPEG, or raise max_image_pixels",
            kind="size",
        )
    return header


def jpeg_has_end(data: memoryview) -> bool:
    """Whether a JPEG ends with its end-of-image marker (allowing a little padding after it).

    A JPEG cut short in transport has none. Decoders differ there: libjpeg (OpenCV) refuses most
    such frames, nvJPEG decodes the part that arrived and fills in the rest.
    """
    return _JPEG_END in bytes(data[-_JPEG_END_WINDOW:])
