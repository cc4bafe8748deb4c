"""The cheap checks a camera frame gets as it arrives, before it may take its camera's mailbox slot.

The mailbox keeps one frame per camera, and a new frame replaces the one waiting there; so a frame
that cannot be used must be refused on arrival, or a stream of them would push out every good
frame. These checks read only the message fields and the first bytes of the data (encoding, sizes,
step, data length; JPEG/PNG signature and header size), in microseconds, on the executor thread.
What they cannot see (a corrupt JPEG body) is still refused when the frame is decoded.
"""

from __future__ import annotations

from typing import TypeAlias

from sensor_msgs.msg import CompressedImage, Image

from yolo_trt_ros.image_headers import EncodedImage
from yolo_trt_ros.ros.image_conversion import check_compressed, check_image
from yolo_trt_ros.ros.transport import (
    SerializedCompressedImage,
    SerializedImage,
    frame_from_cdr,
)

__all__ = ["ArrivedFrame", "check_on_arrival", "judge_on_arrival"]

ArrivedFrame: TypeAlias = Image | CompressedImage | SerializedImage | SerializedCompressedImage


def check_on_arrival(
    msg: Image | CompressedImage | bytes, *, compressed: bool, max_pixels: int
) -> ArrivedFrame:
    """Check a frame's fields; return it with its fields readable (serialized bytes are parsed).

    Raises InvalidImageError, with one sentence that says what is wrong, for a frame that cannot
    be used. Parsing serialized bytes copies no pixels, and the inference thread reuses the result.
    """
    return judge_on_arrival(msg, compressed=compressed, max_pixels=max_pixels)[0]


def judge_on_arrival(
    msg: Image | CompressedImage | bytes, *, compressed: bool, max_pixels: int
) -> tuple[ArrivedFrame, EncodedImage | None]:
    """``check_on_arrival``, also returning what a compressed frame's header declares (else None).

    The decode reuses that header instead of reading the data a second time.
    """
    frame: ArrivedFrame = (
        frame_from_cdr(msg, compressed=compressed) if isinstance(msg, bytes) else msg
    )
    if compressed:
        return frame, check_compressed(frame, max_pixels=max_pixels)
    check_image(frame, max_pixels=max_pixels)
    return frame, None
