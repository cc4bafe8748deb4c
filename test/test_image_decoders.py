"""Choosing the JPEG decoder: what each jpeg_decoder setting gives where nvImageCodec is absent.

The GPU decoder itself is tested against OpenCV in test_gpu_jpeg_decode.py (GPU machines only).
"""

from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pytest

from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.image_decoders import DECODER_CHOICES, OpenCvDecoder, make_decoder
from yolo_trt_ros.settings import PARAMETERS
from yolo_trt_ros.testing.sample_images import build_sample_images

nvimgcodec_absent = pytest.mark.skipif(
    importlib.util.find_spec("nvidia") is not None
    and importlib.util.find_spec("nvidia.nvimgcodec") is not None,
    reason="nvImageCodec is installed here: these cases are about machines without it",
)


def test_opencv_decoder_gives_bgr_pixels_and_none_for_garbage() -> None:
    street = build_sample_images()["street_1080p"]
    ok, jpeg = cv2.imencode(".jpg", street, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    decoded = OpenCvDecoder().decode(np.asarray(jpeg, np.uint8).ravel())
    assert decoded is not None
    pixels, pixel_format = decoded
    assert pixel_format == "bgr8" and pixels.shape == street.shape
    assert float(np.abs(pixels.astype(np.int16) - street).mean()) < 3.0  # JPEG at quality 95
    assert OpenCvDecoder().decode(np.frombuffer(b"\xff\xd8not a jpeg", np.uint8)) is None


def test_opencv_and_cpu_devices_never_use_the_gpu() -> None:
    assert isinstance(make_decoder("opencv", "cuda:0").decoder, OpenCvDecoder)
    choice = make_decoder("auto", "cpu")
    assert isinstance(choice.decoder, OpenCvDecoder) and "CPU" in choice.reason


@nvimgcodec_absent
def test_auto_falls_back_to_opencv_and_says_why() -> None:
    choice = make_decoder("auto", "auto")
    assert isinstance(choice.decoder, OpenCvDecoder)
    assert "nvImageCodec is not installed" in choice.reason


@nvimgcodec_absent
def test_insisting_on_nvimgcodec_without_it_names_what_to_install() -> None:
    with pytest.raises(InvalidSettingError, match="pip install nvidia-nvimgcodec"):
        make_decoder("nvimgcodec", "cuda:0")


def test_the_parameter_offers_exactly_the_decoders_there_are() -> None:
    (spec,) = [s for s in PARAMETERS if s.name == "jpeg_decoder"]
    assert spec.choices == DECODER_CHOICES


def test_unknown_decoder_is_refused() -> None:
    with pytest.raises(InvalidSettingError, match="jpeg_decoder: 'turbo'"):
        make_decoder("turbo")
