"""ROS image messages <-> NumPy arrays, without cv_bridge, validated so a bad frame never crashes.

``image_to_array`` returns a read-only view of the message buffer for the formats the
Preprocessor takes directly (bgr8, rgb8, bgra8, rgba8, mono8, little-endian mono16 and their
OpenCV-style aliases), honouring the row ``step``; Bayer and YUV 4:2:2 frames are converted to
bgr8, big-endian mono16 to native uint16. ``compressed_to_array`` decodes JPEG/PNG to bgr8 with
OpenCV or the decoder it is given (``yolo_trt_ros.image_decoders``), after checking the header.
Every rejected frame raises ``InvalidImageError`` with one sentence that says what is wrong.
"""

from __future__ import annotations

import array
import re
import sys
from collections.abc import Callable
from typing import Any, Final, NamedTuple

import cv2
import numpy as np
import numpy.typing as npt
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from yolo_trt_ros.errors import InvalidImageError
from yolo_trt_ros.image_decoders import ImageDecoder, OpenCvDecoder
from yolo_trt_ros.image_headers import DEFAULT_MAX_PIXELS, EncodedImage, check_encoded
from yolo_trt_ros.native_stderr import capture_decoder_output

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "SUPPORTED_ENCODINGS",
    "array_to_image_msg",
    "check_compressed",
    "check_image",
    "compressed_to_array",
    "image_to_array",
]

_OPENCV: Final = OpenCvDecoder()


class _Layout(NamedTuple):
    channels: int  # values per pixel in the message
    itemsize: int  # bytes per value
    pixel_format: str  # what the returned array is, for the Preprocessor
    conversion: int | None = None  # cv2.cvtColor code to reach pixel_format, if any


# OpenCV names Bayer patterns by the second row's first two pixels: ROS bayer_rggb8 is BayerBG.
_ENCODINGS: Final[dict[str, _Layout]] = {
    "bgr8": _Layout(3, 1, "bgr8"),
    "rgb8": _Layout(3, 1, "rgb8"),
    "bgra8": _Layout(4, 1, "bgra8"),
    "rgba8": _Layout(4, 1, "rgba8"),
    "mono8": _Layout(1, 1, "mono8"),
    "mono16": _Layout(1, 2, "mono16"),
    "8UC1": _Layout(1, 1, "mono8"),
    "8UC3": _Layout(3, 1, "bgr8"),
    "8UC4": _Layout(4, 1, "bgra8"),
    "bayer_rggb8": _Layout(1, 1, "bgr8", cv2.COLOR_BayerBG2BGR),
    "bayer_bggr8": _Layout(1, 1, "bgr8", cv2.COLOR_BayerRG2BGR),
    "bayer_gbrg8": _Layout(1, 1, "bgr8", cv2.COLOR_BayerGR2BGR),
    "bayer_grbg8": _Layout(1, 1, "bgr8", cv2.COLOR_BayerGB2BGR),
    "yuv422": _Layout(2, 1, "bgr8", cv2.COLOR_YUV2BGR_UYVY),
    "uyvy": _Layout(2, 1, "bgr8", cv2.COLOR_YUV2BGR_UYVY),
    "yuv422_yuy2": _Layout(2, 1, "bgr8", cv2.COLOR_YUV2BGR_YUY2),
    "yuyv": _Layout(2, 1, "bgr8", cv2.COLOR_YUV2BGR_YUY2),
}
SUPPORTED_ENCODINGS: Final = tuple(_ENCODINGS)
"""The sensor_msgs/Image encodings image_to_array accepts."""
_DEPTH_OR_FLOAT: Final = re.compile(r"16[US]C1|32SC1|(32|64)FC\d+")
_DEPTH_HINT: Final = "the detector needs a colour or mono camera topic, not a depth topic"


def check_image(msg: Any, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """Check a sensor_msgs/Image's fields without reading its pixels: encoding, sizes, step, length.

    ``msg`` is an Image or a ``SerializedImage``. Cheap enough to run as each frame arrives;
    raises InvalidImageError for any frame ``image_to_array`` would refuse before converting.
    """
    _checked_layout(msg, max_pixels)


def _checked_layout(msg: Any, max_pixels: int) -> _Layout:
    encoding = str(msg.encoding)
    if not encoding:
        raise InvalidImageError(
            "the image has an empty encoding field; the publisher must set e.g. 'bgr8'",
            kind="encoding",
        )
    layout = _ENCODINGS.get(encoding)
    if layout is None:
        if _DEPTH_OR_FLOAT.fullmatch(encoding):
            raise InvalidImageError(
                f"image encoding {encoding!r} is a depth/float image; {_DEPTH_HINT}",
                kind="encoding",
            )
        raise InvalidImageError(
            f"unsupported image encoding {encoding!r}; supported: {', '.join(SUPPORTED_ENCODINGS)}",
            kind="encoding",
        )
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height == 0 or width == 0:
        raise InvalidImageError(
            f"the image is empty ({width}x{height} pixels); check the camera driver",
            kind="size",
        )
    if height * width > max_pixels:
        raise InvalidImageError(
            f"absurd size {width}x{height} ({height * width} pixels, limit {max_pixels}); "
            "the message header is probably corrupt",
            kind="size",
        )
    pixel_bytes = layout.channels * layout.itemsize
    if step < width * pixel_bytes:
        raise InvalidImageError(
            f"step {step} is smaller than width * bytes per pixel = {width * pixel_bytes} "
            f"for a {width}-pixel-wide {encoding} image",
            kind="layout",
        )
    if len(msg.data) < step * height:
        raise InvalidImageError(
            f"the image data is too short: expected step * height = {step * height} bytes, "
            f"received {len(msg.data)}",
            kind="layout",
        )
    if layout.channels == 2 and width % 2:  # YUV 4:2:2 shares chroma between pixel pairs
        raise InvalidImageError(
            f"a {encoding} image needs an even width, got {width}", kind="layout"
        )
    return layout


def image_to_array(
    msg: Image, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[npt.NDArray[Any], str]:
    """Return the pixels of a sensor_msgs/Image, (H, W) or (H, W, C), and their pixel format.

    For directly usable encodings the array is a read-only view of ``msg.data`` (no copy; row
    padding is skipped through strides), valid while the message lives. uint8 except mono16
    (native uint16). Raises InvalidImageError for any frame that cannot be used.
    """
    layout = _checked_layout(msg, max_pixels)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    pixel_bytes = layout.channels * layout.itemsize
    buffer = np.frombuffer(msg.data, np.uint8)
    dtype = np.dtype(np.uint8 if layout.itemsize == 1 else ">u2" if msg.is_bigendian else "<u2")
    shape: tuple[int, ...] = (height, width)
    strides: tuple[int, ...] = (step, pixel_bytes)
    if layout.channels > 1:
        shape, strides = (*shape, layout.channels), (*strides, layout.itemsize)
    pixels = np.ndarray(shape, dtype, buffer=buffer, strides=strides)
    pixels.flags.writeable = False  # a view of the message: never write through it
    if layout.conversion is not None:
        pixels = np.asarray(cv2.cvtColor(pixels, layout.conversion), np.uint8)
    elif layout.itemsize == 2:
        pixels = pixels.astype(np.uint16, copy=False)  # copies only when byte-swapping
    return pixels, layout.pixel_format


def check_compressed(msg: Any, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> EncodedImage:
    """Check a CompressedImage without decoding it; return what its JPEG or PNG header declares.

    ``msg`` is a CompressedImage or a ``SerializedCompressedImage``. Refuses depth formats, empty
    data, formats other than JPEG and PNG, sizes over max_pixels and data too short for its size
    (``yolo_trt_ros.image_headers.check_encoded``); cheap enough to run as each frame arrives.
    """
    format_field = str(msg.format)
    data = memoryview(msg.data).cast("B")
    if "compresseddepth" in format_field.lower():
        raise InvalidImageError(
            f"format {format_field!r} is a compressedDepth (depth) image; {_DEPTH_HINT}",
            kind="encoding",
        )
    if len(data) == 0:
        raise InvalidImageError(
            f"the compressed image has no data (format field says {format_field!r})",
            kind="corrupt",
        )
    try:
        return check_encoded(data, max_pixels)
    except InvalidImageError as error:
        raise InvalidImageError(
            f"{error} (format field says {format_field!r})", kind=error.kind
        ) from None


def compressed_to_array(
    msg: CompressedImage,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    decoder: ImageDecoder | None = None,
    on_decoder_message: Callable[[str], None] | None = None,
    header: EncodedImage | None = None,
) -> tuple[npt.NDArray[np.uint8], str]:
    """Decode a sensor_msgs/CompressedImage holding a JPEG or PNG, to bgr8.

    ``decoder`` defaults to OpenCV; the node passes the one its ``jpeg_decoder`` parameter chose.
    :func:`check_compressed` runs first (``header``: its result when it already ran, on arrival):
    nothing is decoded that it refuses. What the decoder
    prints to stderr (libjpeg's "Corrupt JPEG data: ...") goes to ``on_decoder_message`` for a
    frame that decoded (to stderr as before when None), and into the refusal for one that did not.
    """
    header = header or check_compressed(msg, max_pixels=max_pixels)  # once per frame
    format_field = str(msg.format)
    data = memoryview(msg.data).cast("B")
    with capture_decoder_output() as printed:
        decoded = (decoder or _OPENCV).decode(np.frombuffer(data, np.uint8))
    if decoded is None:
        said = f"; the decoder said: {printed.text}" if printed.lines else ""
        raise InvalidImageError(
            f"could not decode {len(data)} bytes as a {header.width}x{header.height} "
            f"{header.coding} {header.format.upper()} (format field says {format_field!r}): "
            f"the data is truncated or corrupt{said}",
            kind="corrupt",
        )
    if printed.lines:
        if on_decoder_message is None:
            print(*printed.lines, sep="\n", file=sys.stderr)
        else:
            on_decoder_message(printed.text)
    image, pixel_format = decoded
    if image.shape[0] * image.shape[1] > header.pixels:  # cannot be: the header was read wrong
        raise InvalidImageError(
            f"the decoder returned {image.shape[1]}x{image.shape[0]} pixels for a "
            f"{header.width}x{header.height} {header.format.upper()}",
            kind="corrupt",
        )
    return image, pixel_format


def compressed_to_device(
    msg: CompressedImage,
    *,
    decoder: ImageDecoder | None,
    cuda_stream: int | None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    header: EncodedImage | None = None,
) -> tuple[Any, str] | None:
    """Decode a JPEG CompressedImage straight into GPU memory for the GPU pipeline, or return None.

    Only with a decoder that decodes on the device (nvImageCodec's ``decode_on_device``) and a
    detector that takes GPU images (``cuda_stream``: its CUDA stream, on which the decode is
    queued). The header check of :func:`compressed_to_array` runs first. None: decode with
    :func:`compressed_to_array` (no GPU decoder, a PNG, or a JPEG nvImageCodec cannot decode).
    Returns the image (with a CUDA Array Interface: ``GpuDetector`` reads it in place) and its
    pixel format.
    """
    decode_on_device = getattr(decoder, "decode_on_device", None)
    if decode_on_device is None or cuda_stream is None:
        return None
    header = header or check_compressed(msg, max_pixels=max_pixels)
    if header.format != "jpeg":
        return None
    decoded = decode_on_device(np.frombuffer(memoryview(msg.data).cast("B"), np.uint8), cuda_stream)
    if decoded is None:
        return None
    height, width = (int(side) for side in decoded[0].__cuda_array_interface__["shape"][:2])
    if height * width > header.pixels:  # cannot be: the header was read wrong
        raise InvalidImageError(
            f"the GPU decoder returned {width}x{height} pixels for a "
            f"{header.width}x{header.height} JPEG",
            kind="corrupt",
        )
    return decoded[0], str(decoded[1])


def array_to_image_msg(image: npt.NDArray[np.uint8], header: Header) -> Image:
    """Return a bgr8 sensor_msgs/Image holding a copy of an (H, W, 3) uint8 BGR image."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InvalidImageError(
            f"expected an (H, W, 3) uint8 BGR image, got {image.shape} {image.dtype}"
        )
    height, width = int(image.shape[0]), int(image.shape[1])
    msg = Image(header=header, height=height, width=width, encoding="bgr8", step=width * 3)
    msg.is_bigendian = 0
    # 1920x1080 (6.2 MB), measured with rclpy Jazzy: appending to the message's own array.array
    # in place takes 0.16 ms; assigning bytes or bytearray 0.38 ms (the setter copies again); a
    # numpy array 345 ms and a memoryview 200 ms (the setter converts element by element).
    if isinstance(msg.data, array.array):
        msg.data.frombytes(np.ascontiguousarray(image).reshape(-1).data)
    else:  # pragma: no cover - message classes whose uint8[] is not an array.array
        msg.data = np.ascontiguousarray(image).tobytes()
    return msg
