"""nvImageCodec JPEG decoding on a real GPU, against OpenCV (libjpeg-turbo) on the CPU.

Skipped, with the reason, where there is no CUDA device or no nvImageCodec (the CI machine).
The two decoders use different IDCTs and chroma upsampling, so pixels differ: the test requires
the GPU decode to be about as close to the image before encoding as OpenCV's, and the same
detections from both decodes.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from gpu_support import cuda_skip_reason, model_path, nvimgcodec_skip_reason, unmatched

from yolo_trt_ros.core.preprocess import to_bgr8
from yolo_trt_ros.detector import Detector
from yolo_trt_ros.image_decoders import NvImgCodecDecoder, OpenCvDecoder, make_decoder

_reason = cuda_skip_reason() or nvimgcodec_skip_reason()
# Marked rather than skipped at module level: see conftest.py
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")


def _jpeg(image: npt.NDArray[np.uint8], quality: int = 90) -> npt.NDArray[np.uint8]:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return np.asarray(encoded, np.uint8).ravel()


def test_gpu_decode_matches_opencv_pixels_and_detections() -> None:
    from yolo_trt_ros.testing.sample_images import build_sample_images

    gpu, cpu = NvImgCodecDecoder(0), OpenCvDecoder()
    with Detector.from_model(model_path()) as detector:
        for name, image in build_sample_images().items():
            if image.ndim != 3 or image.shape[2] != 3:
                continue
            data = _jpeg(image)
            fallbacks = gpu.fallbacks
            on_gpu, on_cpu = gpu.decode(data), cpu.decode(data)
            assert on_gpu is not None and on_cpu is not None, name
            assert gpu.fallbacks == fallbacks, (name, image.shape, gpu.last_fallback)  # on the GPU
            assert on_cpu[1] == "bgr8" and on_gpu[1] in ("bgr8", "rgb8")  # rgb8: nvImageCodec 0.6
            gpu_bgr = to_bgr8(on_gpu[0], on_gpu[1])
            assert gpu_bgr.shape == on_cpu[0].shape == image.shape, name
            # Both decoders against the image before encoding: nvJPEG's IDCT and chroma
            # upsampling differ from libjpeg-turbo's (single pixels at colour edges by tens of
            # levels), but on the whole it must be as faithful to the original as OpenCV is.
            gpu_error = float(np.abs(gpu_bgr.astype(np.int16) - image).mean())
            cpu_error = float(np.abs(on_cpu[0].astype(np.int16) - image).mean())
            assert gpu_error <= 1.25 * cpu_error + 0.25, (name, gpu_error, cpu_error)
            reference, candidate = detector(on_cpu[0]), detector(gpu_bgr)
            assert not unmatched(reference, candidate, min_score=0.4, min_iou=0.9), name
            assert not unmatched(candidate, reference, min_score=0.4, min_iou=0.9), name
    assert gpu.fallbacks == 0 and gpu.gpu_decodes > 0  # decoded on the GPU, not by OpenCV


def test_sizes_change_between_frames_and_other_formats_fall_back() -> None:
    decoder = NvImgCodecDecoder(0)
    rng = np.random.default_rng(3)
    for height, width in ((1080, 1920), (480, 640), (2160, 3840), (480, 640)):
        image = rng.integers(0, 255, (height, width, 3), np.uint8)
        decoded = decoder.decode(_jpeg(image))
        assert decoded is not None and decoded[0].shape == (height, width, 3)
    ok, png = cv2.imencode(".png", image)
    assert ok
    decoded = decoder.decode(np.asarray(png, np.uint8).ravel())  # PNG goes through OpenCV
    assert decoded is not None and np.array_equal(decoded[0], image)
    assert decoder.decode(np.frombuffer(b"\xff\xd8\xff\xe0 broken", np.uint8)) is None


def test_a_jpeg_cut_short_gets_opencvs_answer_not_a_gpu_guess() -> None:
    """nvJPEG decodes the part of a truncated JPEG that arrived; the CPU path (OpenCV) refuses
    such a frame, and the GPU decoder must give the same answer."""
    decoder = NvImgCodecDecoder(0)
    rng = np.random.default_rng(5)
    image = np.asarray(
        cv2.GaussianBlur(rng.integers(0, 255, (480, 640, 3), np.uint8), (9, 9), 0), np.uint8
    )
    whole = _jpeg(image)
    cut = whole[: len(whole) * 2 // 3]
    assert decoder.decode_on_device(whole) is not None
    before = decoder.gpu_decodes, decoder.fallbacks
    assert decoder.decode_on_device(cut) is None
    decoded = decoder.decode(cut)
    expected = OpenCvDecoder().decode(cut)
    assert (decoded is None) == (expected is None)
    if decoded is not None and expected is not None:
        assert np.array_equal(decoded[0], expected[0])
    assert (decoder.gpu_decodes, decoder.fallbacks) == before  # neither: OpenCV decided


def test_auto_picks_the_gpu_decoder_here() -> None:
    choice = make_decoder("auto", "cuda:0")
    assert isinstance(choice.decoder, NvImgCodecDecoder), choice.reason
    assert isinstance(make_decoder("auto", "cpu").decoder, OpenCvDecoder)
