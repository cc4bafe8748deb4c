"""Decoders for compressed camera frames (JPEG, PNG): OpenCV on the CPU, nvImageCodec on the GPU.

OpenCV's ``imdecode`` (libjpeg-turbo) is always there. nvImageCodec (``nvidia-nvimgcodec-cu12`` /
``-cu13`` on x86-64 and SBSA, ``nvidia-nvimgcodec-tegra-cu12`` on Jetson, where it drives the
hardware JPEG engine) decodes JPEG on the GPU when it is installed; other formats still go
through OpenCV. Decoders return pixels in host memory, which is what the inference backends take.
No ROS here: the node picks one with :func:`make_decoder` from its ``jpeg_decoder`` parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.image_headers import jpeg_has_end

__all__ = [
    "DECODER_CHOICES",
    "DecodedImage",
    "DecoderChoice",
    "ImageDecoder",
    "NvImgCodecDecoder",
    "OpenCvDecoder",
    "make_decoder",
]

DECODER_CHOICES: Final = ("auto", "opencv", "nvimgcodec")
DecodedImage = tuple[npt.NDArray[np.uint8], str]  # (H, W, C) pixels and their pixel format
_JPEG_START: Final = b"\xff\xd8"
_CUDA_DEVICE: Final = re.compile(r"cuda:(\d+)")
_NVIMGCODEC_HINT: Final = (
    "install nvImageCodec for GPU JPEG decoding: pip install nvidia-nvimgcodec-cu12 (or -cu13; "
    "nvidia-nvimgcodec-tegra-cu12 on Jetson) with nvidia-nvjpeg, or set jpeg_decoder: opencv"
)


class ImageDecoder(Protocol):
    """Turns an encoded image into pixels; ``None`` when the bytes are not a decodable image."""

    @property
    def name(self) -> str:
        """Which decoder this is, with its device, for logs and diagnostics."""
        ...

    def decode(self, data: npt.NDArray[np.uint8]) -> DecodedImage | None:
        """Decode ``data`` (the encoded bytes) into host pixels and their pixel format."""
        ...


class OpenCvDecoder:
    """``cv2.imdecode`` on the CPU (libjpeg-turbo for JPEG); any format OpenCV reads, as bgr8."""

    name = "opencv (CPU)"

    def decode(self, data: npt.NDArray[np.uint8]) -> DecodedImage | None:
        """Decode with OpenCV; it asserts on some malformed input instead of returning None."""
        try:
            image: npt.NDArray[Any] | None = cv2.imdecode(data, cv2.IMREAD_COLOR)
        except cv2.error:
            return None
        if image is None or image.size == 0:
            return None
        return np.asarray(image, np.uint8), "bgr8"


class NvImgCodecDecoder:
    """JPEG on the GPU with nvImageCodec (nvJPEG, or the Jetson JPEG engine).

    ``decode`` copies the result to the host; ``decode_on_device`` leaves it on the GPU for the
    GPU pipeline (``GpuDetector`` reads it in place). Anything that is not a JPEG, and a JPEG
    nvImageCodec cannot decode, is handed to OpenCV by ``decode``, so no frame is lost to the
    choice of decoder; ``gpu_decodes`` and ``fallbacks`` count which way frames went. A JPEG
    without its end-of-image marker (cut short) goes to OpenCV uncounted, so that it gets the
    answer the CPU path gives: nvJPEG would decode the part that arrived.
    """

    def __init__(self, device_id: int = 0) -> None:
        try:
            from nvidia import nvimgcodec  # noqa: PLC0415 - optional, GPU machines only
        except ImportError as error:
            raise InvalidSettingError(
                f"jpeg_decoder nvimgcodec: nvImageCodec is not installed ({error}); {_NVIMGCODEC_HINT}"
            ) from error
        self._codec: Any = nvimgcodec
        try:
            self._decoder: Any = nvimgcodec.Decoder(device_id=device_id)
        except Exception as error:  # no CUDA device or driver; the binding raises RuntimeError
            raise InvalidSettingError(
                f"jpeg_decoder nvimgcodec: no usable CUDA device {device_id} ({error}); "
                "set jpeg_decoder: opencv on machines without a GPU"
            ) from error
        sample_formats = getattr(nvimgcodec, "SampleFormat", None)
        if sample_formats is not None:  # 0.7 and later: interleaved BGR, as OpenCV gives
            self._params: Any = nvimgcodec.DecodeParams(
                sample_format=sample_formats.I_BGR, apply_exif_orientation=False
            )
            self.pixel_format = "bgr8"
        else:  # 0.6: interleaved RGB (the pipeline and the CPU path take rgb8 as it is)
            self._params = nvimgcodec.DecodeParams(
                apply_exif_orientation=False, color_spec=nvimgcodec.ColorSpec.RGB
            )
            self.pixel_format = "rgb8"
        self._fallback = OpenCvDecoder()
        self.device_id = device_id
        self.gpu_decodes = 0
        self.fallbacks = 0
        self.last_fallback = ""  # why the latest JPEG went to OpenCV
        self.name = f"nvimgcodec {getattr(nvimgcodec, '__version__', '')} (GPU {device_id})"

    def decode_on_device(
        self, data: npt.NDArray[np.uint8], cuda_stream: int = 0
    ) -> tuple[Any, str] | None:
        """Decode a JPEG into GPU memory, queued on ``cuda_stream`` (a raw stream handle).

        Returns nvImageCodec's image (with a CUDA Array Interface; valid while referenced) and its
        pixel format (``pixel_format``: bgr8, or rgb8 with nvImageCodec 0.6), or None for anything
        it cannot decode (then use ``decode``).
        """
        if bytes(data[:2]) != _JPEG_START or not jpeg_has_end(data.data):
            return None  # not a JPEG, or cut short: OpenCV decides, as it would on the CPU path
        try:
            stream = self._codec.CodeStream(data)
            image = self._decoder.decode(stream, params=self._params, cuda_stream=cuda_stream)
            if image is None:  # seen once per fresh decoder on nvImageCodec 0.6: ask again
                image = self._decoder.decode(stream, params=self._params, cuda_stream=cuda_stream)
        except Exception as error:  # noqa: BLE001 - whatever nvImageCodec refuses, OpenCV gets a try
            image, why = None, f"{type(error).__name__}: {error}"
        else:
            why = "nvImageCodec decoded nothing, twice"
        if image is None:
            self.fallbacks += 1
            self.last_fallback = why
            return None
        self.gpu_decodes += 1
        return image, self.pixel_format

    def decode(self, data: npt.NDArray[np.uint8]) -> DecodedImage | None:
        """Decode a JPEG on the GPU and copy it to the host; others and failures go to OpenCV."""
        decoded = self.decode_on_device(data)
        if decoded is None:
            return self._fallback.decode(data)
        return np.asarray(decoded[0].cpu(), np.uint8), decoded[1]


@dataclass(frozen=True)
class DecoderChoice:
    """The decoder a ``jpeg_decoder`` setting gave, and why (for the log and diagnostics)."""

    decoder: ImageDecoder
    reason: str


def make_decoder(choice: str, device: str = "auto") -> DecoderChoice:
    """Build the decoder for a ``jpeg_decoder`` value and the node's ``device`` parameter.

    ``auto`` uses nvImageCodec when it is installed and the node runs on (or may use) a GPU, and
    OpenCV otherwise; ``nvimgcodec`` insists on it and raises ``InvalidSettingError`` with what
    to install; ``opencv`` never touches the GPU.
    """
    if choice not in DECODER_CHOICES:
        raise InvalidSettingError(
            f"parameter jpeg_decoder: {choice!r} is not one of {', '.join(DECODER_CHOICES)}"
        )
    if choice == "opencv":
        return DecoderChoice(OpenCvDecoder(), "jpeg_decoder: opencv")
    match = _CUDA_DEVICE.fullmatch(device)  # GPU decode on cuda:N; GPU 0 for cuda, dla:N, auto
    device_id = int(match.group(1)) if match else 0
    if choice == "nvimgcodec":
        return DecoderChoice(NvImgCodecDecoder(device_id), "jpeg_decoder: nvimgcodec")
    if device == "cpu":
        return DecoderChoice(OpenCvDecoder(), "auto: the node runs on the CPU")
    try:
        return DecoderChoice(NvImgCodecDecoder(device_id), "auto: nvImageCodec and a GPU found")
    except InvalidSettingError as error:
        return DecoderChoice(OpenCvDecoder(), f"auto: {str(error).split('; ')[0]}")
