"""Compressed frames are judged by what they declare before anything is decoded.

Every frame here is built in the test (cv2.imencode of an array whose size the test chose, then
byte patches at offsets found by hand), so the expected sizes are the ones written into the
file, not ones read back by the module under test. ``RecordingDecoder`` wraps the real OpenCV
decoder and records each call, which shows that refused frames never reach the decoder.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from sensor_msgs.msg import CompressedImage

from yolo_trt_ros.errors import InvalidImageError
from yolo_trt_ros.image_decoders import DecodedImage, OpenCvDecoder
from yolo_trt_ros.image_headers import MAX_JPEG_SCANS, check_encoded, jpeg_has_end, read_header
from yolo_trt_ros.media import read_image
from yolo_trt_ros.ros.image_conversion import compressed_to_array

RNG = np.random.default_rng(16)
HEIGHT, WIDTH = 37, 61
BGR = cv2.GaussianBlur(RNG.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8), (3, 3), 0)
LIMIT = 32 * 1024 * 1024


class RecordingDecoder:
    """The real OpenCV decoder, counting the frames it was asked to decode."""

    name = "recording opencv"

    def __init__(self) -> None:
        self.calls = 0
        self._opencv = OpenCvDecoder()

    def decode(self, data: npt.NDArray[np.uint8]) -> DecodedImage | None:
        self.calls += 1
        return self._opencv.decode(data)


def encode(extension: str, image: npt.NDArray[Any] = BGR, *params: int) -> bytes:
    ok, buffer = cv2.imencode(extension, image, list(params))
    assert ok, extension
    return buffer.tobytes()


def sof_offset(data: bytes) -> int:
    """Where the frame header's 0xFF is: the first FF C0/C1/C2 after the tables (built by hand)."""
    return min(data.find(bytes([0xFF, m])) for m in (0xC0, 0xC1, 0xC2) if bytes([0xFF, m]) in data)


def with_size(data: bytes, width: int, height: int, at: int | None = None) -> bytes:
    at = sof_offset(data) if at is None else at
    return data[: at + 5] + struct.pack(">HH", height, width) + data[at + 9 :]


def decode_with(data: bytes, decoder: RecordingDecoder, fmt: str = "jpeg") -> Any:
    return compressed_to_array(CompressedImage(format=fmt, data=data), decoder=decoder)


JPEG = encode(".jpg")
PNG = encode(".png")


def test_the_sizes_written_into_the_file_are_read() -> None:
    for data, fmt, coding in (
        (JPEG, "jpeg", "baseline"),
        (encode(".jpg", BGR, cv2.IMWRITE_JPEG_PROGRESSIVE, 1), "jpeg", "progressive"),
        (encode(".jpg", BGR[:, :, 0]), "jpeg", "baseline"),
        (PNG, "png", "8-bit colour type 2"),
        (encode(".png", BGR[:, :, 0].astype(np.uint16) * 200), "png", "16-bit colour type 0"),
    ):
        header = read_header(memoryview(data))
        assert (header.format, header.coding, header.width, header.height) == (
            fmt,
            coding,
            WIDTH,
            HEIGHT,
        )


# Ways to hide a 16000x16000 frame header from a parser that walks the segments; libjpeg skips
# bytes before a marker (with a warning), so each of these is decoded at full size unless refused.
def _hidden(how: str) -> bytes:
    big = with_size(JPEG, 16000, 16000)
    at = sof_offset(big)
    if how == "one garbage byte before it":
        return big[:at] + b"\x00" + big[at:]
    if how == "seven garbage bytes before it":
        return big[:at] + b"garbage" + big[at:]
    if how == "fill bytes FF FF FF before it":
        return big[:at] + b"\xff\xff\xff" + big[at:]
    if how == "FF 00 pairs before it":
        return big[:at] + b"\xff\x00\xff\x00" + big[at:]
    if how == "behind a comment whose length lies":
        return big[:at] + b"\xff\xfe\x00\x02" + b"\x01" + big[at:]
    if how == "a small frame header first":
        small = JPEG[sof_offset(JPEG) : sof_offset(JPEG) + 19]  # FF C0, length 17, 3 components
        return big[:at] + b"\xff\xfe" + struct.pack(">H", 2 + len(small)) + small + big[at:]
    raise AssertionError(how)


@pytest.mark.parametrize(
    "how",
    [
        "one garbage byte before it",
        "seven garbage bytes before it",
        "fill bytes FF FF FF before it",
        "FF 00 pairs before it",
        "behind a comment whose length lies",
        "a small frame header first",
    ],
)
def test_a_hidden_oversized_jpeg_header_is_refused_before_decoding(how: str) -> None:
    decoder = RecordingDecoder()
    with pytest.raises(
        InvalidImageError, match="absurd size 16000x16000 in the JPEG header"
    ) as raised:
        decode_with(_hidden(how), decoder)
    assert raised.value.kind == "size"
    assert decoder.calls == 0


def test_hidden_headers_are_really_what_libjpeg_reads() -> None:
    """The same tricks around a frame header of the true size decode at that size."""
    for how in ("one garbage byte before it", "fill bytes FF FF FF before it"):
        at = sof_offset(JPEG)
        data = JPEG[:at] + (b"\x00" if "garbage" in how else b"\xff\xff\xff") + JPEG[at:]
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert decoded is not None and decoded.shape == BGR.shape, how
        patched = with_size(data, WIDTH * 2, HEIGHT * 2, at=at + (1 if "garbage" in how else 3))
        doubled = cv2.imdecode(np.frombuffer(patched, np.uint8), cv2.IMREAD_COLOR)
        assert doubled is not None and doubled.shape == (HEIGHT * 2, WIDTH * 2, 3), how
        assert read_header(memoryview(patched)).width == WIDTH * 2


def test_bytes_that_only_look_like_a_frame_header_do_not_count() -> None:
    """A comment holding FF C0 and a huge size, but a length libjpeg refuses, is not a frame."""
    fake = b"\xff\xc0\x00\x05\x08\xff\xff\xff\xff"  # length 5: never 8 + 3 * components
    at = sof_offset(JPEG)
    data = JPEG[:at] + b"\xff\xfe" + struct.pack(">H", 2 + len(fake)) + fake + JPEG[at:]
    image, _ = decode_with(data, RecordingDecoder())
    assert image.shape == BGR.shape


@pytest.mark.parametrize(
    ("marker", "words"),
    [
        (0xC3, "lossless JPEG"),
        (0xC9, "arithmetic-coded JPEG"),
        (0xCA, "arithmetic-coded progressive JPEG"),
        (0xC5, "hierarchical JPEG"),
    ],
)
def test_jpeg_codings_the_node_does_not_take_are_named(marker: int, words: str) -> None:
    at = sof_offset(JPEG)
    data = JPEG[: at + 1] + bytes([marker]) + JPEG[at + 2 :]
    decoder = RecordingDecoder()
    with pytest.raises(InvalidImageError, match=words) as raised:
        decode_with(data, decoder)
    assert raised.value.kind == "format" and decoder.calls == 0


def test_12_bit_jpeg_is_refused_with_the_reason() -> None:
    at = sof_offset(JPEG)
    data = JPEG[: at + 4] + bytes([12]) + JPEG[at + 5 :]
    with pytest.raises(InvalidImageError, match="12-bit JPEG is not supported"):
        decode_with(data, RecordingDecoder())


def test_too_many_scans_are_refused() -> None:
    at = sof_offset(JPEG)
    payload = b"\xff\xda" * (MAX_JPEG_SCANS + 1)
    data = JPEG[:at] + b"\xff\xfe" + struct.pack(">H", 2 + len(payload)) + payload + JPEG[at:]
    with pytest.raises(InvalidImageError, match=f"{MAX_JPEG_SCANS + 2} scans"):
        check_encoded(memoryview(data), LIMIT)


def _blocks(width: int, height: int) -> int:
    return -(-width // 8) * -(-height // 8)


SIDE = 4096  # 16 Mpx: even 4:4:4 progressive decodes within the default limit


@pytest.mark.parametrize(
    ("image", "params", "blocks"),
    [  # 8x8 blocks a complete frame codes, counted by hand from the sampling written
        (np.zeros((SIDE, SIDE), np.uint8), [], _blocks(SIDE, SIDE)),
        (
            np.zeros((SIDE, SIDE, 3), np.uint8),
            [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444],
            3 * _blocks(SIDE, SIDE),
        ),
        (
            np.zeros((SIDE, SIDE, 3), np.uint8),
            [],
            _blocks(SIDE, SIDE) + 2 * _blocks(SIDE // 2, SIDE // 2),
        ),
    ],
    ids=["gray", "4:4:4", "4:2:0"],
)
def test_a_jpeg_bomb_is_refused_and_the_smallest_real_jpeg_is_not(
    image: npt.NDArray[np.uint8], params: list[int], blocks: int
) -> None:
    small = image[:800, :800]  # the same header, patched to SIDE x SIDE below
    data = encode(".jpg", small, *params)
    bomb = with_size(data, SIDE, SIDE)
    decoder = RecordingDecoder()
    with pytest.raises(InvalidImageError) as raised:
        decode_with(bomb, decoder)
    assert f"holds only {len(bomb)} bytes (a complete one needs at least {blocks // 8})" in str(
        raised.value
    )
    assert raised.value.kind == "corrupt" and decoder.calls == 0
    # a uniform frame is the smallest a real encoder writes: progressive, it still passes
    real = encode(".jpg", image, cv2.IMWRITE_JPEG_PROGRESSIVE, 1, *params)
    assert len(real) >= blocks // 8
    assert check_encoded(memoryview(real), LIMIT).width == SIDE


def test_a_progressive_jpeg_may_not_need_more_memory_than_a_baseline_one_of_the_limit() -> None:
    """4:4:4 progressive: 3 bytes of output and 3 x 2 of coefficients per pixel, held at once."""
    square = np.zeros((512, 512, 3), np.uint8)
    full = [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    progressive = [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]
    limit = 512 * 512  # the frame is exactly as large as allowed
    for params in ([], full, progressive):
        assert check_encoded(memoryview(encode(".jpg", square, *params)), limit).width == 512
    data = encode(".jpg", square, *full, *progressive)
    with pytest.raises(InvalidImageError) as raised:
        check_encoded(memoryview(data), limit)
    assert "needs about 2 MiB to decode" in str(raised.value)  # 9 * 512 * 512 bytes = 2.25 MiB
    assert "max_image_pixels 262144 (1 MiB)" in str(raised.value)  # 6 * 512 * 512 bytes
    assert raised.value.kind == "size"
    assert check_encoded(memoryview(data), limit * 3 // 2).coding == "progressive"


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(width: int, height: int, idat: bytes, first: bytes = b"") -> bytes:
    ihdr = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    end = _png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + first + ihdr + _png_chunk(b"IDAT", idat) + end


def test_png_size_comes_from_the_first_chunk_and_bombs_are_refused() -> None:
    row = b"\x00" + bytes(3 * 5000)
    pixels = zlib.compress(row * 5000, 9)  # a real 5000x5000 black PNG, deflated to the limit
    image, _ = decode_with(_png(5000, 5000, pixels), RecordingDecoder(), "png")
    assert image.shape == (5000, 5000, 3)
    decoder = RecordingDecoder()
    with pytest.raises(InvalidImageError, match="declares 5000x5000 pixels but holds only") as bomb:
        decode_with(_png(5000, 5000, pixels[: len(pixels) // 3]), decoder, "png")
    assert bomb.value.kind == "corrupt"
    with pytest.raises(InvalidImageError, match="does not start with its IHDR chunk"):
        decode_with(_png(20, 20, pixels, first=_png_chunk(b"tEXt", b"a\x00b")), decoder, "png")
    with pytest.raises(InvalidImageError, match="absurd size 100000x100000 in the PNG header"):
        decode_with(_png(100_000, 100_000, pixels), decoder, "png")
    assert decoder.calls == 0


@pytest.mark.parametrize(
    ("extension", "name"),
    [
        (".bmp", "BMP"),
        (".tiff", "TIFF"),
        (".webp", "WebP"),
        (".ppm", "PNM/PAM/PFM"),
        (".pam", "PNM/PAM/PFM"),
        (".gif", "GIF"),
        (".sr", "Sun raster"),
        (".avif", "AVIF/HEIF"),
    ],
)
def test_other_formats_labelled_jpeg_are_refused_by_name(extension: str, name: str) -> None:
    data = encode(extension)
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is not None  # OpenCV would
    decoder = RecordingDecoder()
    with pytest.raises(
        InvalidImageError, match=f"is a {name} image; the node decodes JPEG and PNG"
    ):
        decode_with(data, decoder)
    assert decoder.calls == 0


def test_progressive_grayscale_and_cmyk_jpegs_decode_to_their_size() -> None:
    for data in (
        encode(".jpg", BGR, cv2.IMWRITE_JPEG_PROGRESSIVE, 1),
        encode(".jpg", BGR[:, :, 1]),
        encode(".jpg", BGR, cv2.IMWRITE_JPEG_RST_INTERVAL, 1),
    ):
        image, pixel_format = decode_with(data, RecordingDecoder())
        assert pixel_format == "bgr8" and image.shape == BGR.shape
    pil_image = pytest.importorskip("PIL.Image")  # Pillow writes CMYK JPEGs (Adobe APP14)
    cmyk = io.BytesIO()
    pil_image.new("CMYK", (WIDTH, HEIGHT), (0, 255, 255, 0)).save(cmyk, format="JPEG")
    image, _ = decode_with(cmyk.getvalue(), RecordingDecoder())
    assert image.shape == BGR.shape
    assert image[HEIGHT // 2, WIDTH // 2, 2] > 200 > image[HEIGHT // 2, WIDTH // 2, 0]  # red


def test_image_files_are_checked_before_decoding_too(tmp_path: Path) -> None:
    files = {
        "hidden.jpg": _hidden("one garbage byte before it"),
        "bomb.png": _png(5000, 5000, zlib.compress(b"\x00" * 100)),
        "good.jpg": JPEG,
        "good.png": PNG,
        "good.bmp": encode(".bmp"),  # other formats are left to OpenCV
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    with pytest.raises(InvalidImageError, match=r"hidden\.jpg: absurd size 16000x16000"):
        read_image(tmp_path / "hidden.jpg")
    with pytest.raises(InvalidImageError, match=r"bomb\.png: the PNG declares 5000x5000"):
        read_image(tmp_path / "bomb.png")
    for name in ("good.jpg", "good.png", "good.bmp"):
        assert read_image(tmp_path / name).shape == BGR.shape, name
    np.testing.assert_array_equal(read_image(tmp_path / "good.png"), BGR)  # lossless
    with pytest.raises(InvalidImageError, match="cannot read"):
        read_image(tmp_path / "missing.jpg")


def test_a_jpeg_cut_short_has_no_end_marker() -> None:
    image = cv2.GaussianBlur(
        np.random.default_rng(2).integers(0, 255, (240, 320, 3), np.uint8), (5, 5), 0
    )
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok
    whole = encoded.tobytes()
    assert whole.endswith(b"\xff\xd9")  # independent of the package: what libjpeg writes
    assert jpeg_has_end(memoryview(whole))
    assert jpeg_has_end(memoryview(whole + bytes(100)))  # a driver's padding after the marker
    for cut in (len(whole) - 1, len(whole) * 2 // 3, len(whole) // 2, 700):
        assert not jpeg_has_end(memoryview(whole[:cut])), cut
    assert jpeg_has_end(memoryview(whole[: len(whole) // 2] + b"\xff\xd9"))  # cut, then closed
    assert not jpeg_has_end(memoryview(whole + bytes(300)))  # more padding than is looked at
