"""The CUDA helpers and the NVRTC kernels on a real GPU, against the CPU path as reference.

Skipped, with the reason, where no CUDA device is usable (the CI machine): test_resize_taps.py and
test_letterbox.py cover the same geometry and arithmetic on the CPU. Every kernel output is
poisoned with NaN first, so an element the kernel forgot to write fails the comparison.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
import pytest
from gpu_support import cuda_skip_reason, model_path

from yolo_trt_ros.core.decode import DecodeSettings, RawDetections, decode
from yolo_trt_ros.core.letterbox import LetterboxGeometry
from yolo_trt_ros.core.preprocess import PIXEL_FORMATS, Preprocessor
from yolo_trt_ros.errors import CudaError, InvalidImageError

_reason = cuda_skip_reason()
# Module-level skips would hide every test in the folder when launch_testing's pytest plugin
# imports this module (see conftest.py): mark the tests instead, and import only when they run.
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")
if _reason is None:
    from yolo_trt_ros.cuda.runtime import (
        CudaDevice,
        CudaStream,
        DeviceArray,
        DeviceBuffer,
        PinnedBuffer,
        allocation_stats,
        copy_device_to_host,
        copy_device_to_host_now,
        copy_host_to_device,
        copy_host_to_device_now,
    )
    from yolo_trt_ros.gpu.decode import GpuRawDecoder
    from yolo_trt_ros.gpu.kernels import load_module
    from yolo_trt_ros.gpu.letterbox import DeviceImage, GpuLetterbox
    from yolo_trt_ros.gpu.upload import HostImageUploader

FORMATS = ["bgr8", "rgb8", "bgra8", "rgba8", "mono8"]


@pytest.fixture(scope="module")
def device() -> Iterator[CudaDevice]:
    with CudaDevice(0) as opened:
        yield opened


@pytest.fixture(scope="module")
def stream(device: CudaDevice) -> Iterator[CudaStream]:
    with CudaStream(device) as opened:
        yield opened


def poisoned(device: CudaDevice, shape: tuple[int, ...], dtype: npt.DTypeLike) -> DeviceBuffer:
    """A device buffer full of NaN."""
    nan = np.full(shape, np.nan, dtype)
    buffer = DeviceBuffer(device, nan.nbytes)
    copy_host_to_device_now(buffer.ptr, nan)
    return buffer


def to_host(array: DeviceArray) -> npt.NDArray[np.generic]:
    host = np.empty(array.shape, array.dtype)
    copy_device_to_host_now(host, array.ptr)
    return host


# -- runtime ------------------------------------------------------------------------------------


def test_buffers_round_trip_and_close_deterministically(
    device: CudaDevice, stream: CudaStream
) -> None:
    data = np.arange(1000, dtype=np.float32)
    outbound, inbound = PinnedBuffer(device, data.nbytes), PinnedBuffer(device, data.nbytes)
    buffer = DeviceBuffer(device, data.nbytes)
    outbound.array((1000,), np.float32)[:] = data
    copy_host_to_device(buffer.ptr, outbound.ptr, data.nbytes, stream)
    copy_device_to_host(inbound.ptr, buffer.ptr, data.nbytes, stream)
    stream.synchronize()
    assert np.array_equal(inbound.array((1000,), np.float32), data)
    array = buffer.array((10, 100), np.float32)
    interface = array.__cuda_array_interface__
    assert interface["data"] == (buffer.ptr, False) and interface["typestr"] == "<f4"
    assert interface["shape"] == (10, 100) and interface["version"] == 3
    assert np.array_equal(to_host(array).ravel(), data)
    with pytest.raises(CudaError, match="overruns"):
        buffer.array((1001,), np.float32)
    for owner in (buffer, outbound, inbound):
        owner.close()
        owner.close()  # twice is fine
    with pytest.raises(CudaError, match="closed"):
        buffer.array((1,), np.float32)
    with pytest.raises(CudaError, match="does not exist"):
        CudaDevice(99)


def test_device_array_is_wrapped_without_copy_by_torch(device: CudaDevice) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA here")
    with DeviceBuffer(device, 64 * 4) as buffer:
        array = buffer.array((8, 8), np.float32)
        tensor = torch.as_tensor(array, device="cuda:0")
        assert tensor.data_ptr() == buffer.ptr and tensor.shape == (8, 8)
        tensor.fill_(3.0)
        torch.cuda.synchronize()
        assert np.all(to_host(array) == 3.0)


def test_kernels_compile_once_per_process(device: CudaDevice) -> None:
    first = load_module(device, "letterbox.cu")
    assert load_module(device, "letterbox.cu") is first
    major, minor = device.compute_capability
    # A cubin for this GPU, unless NVRTC is older than the GPU (then PTX the driver finishes).
    assert (first.code.kind, first.code.target) == ("cubin", f"sm_{major}{minor}") or (
        first.code.kind == "ptx"
    )


# -- letterbox ----------------------------------------------------------------------------------


def make_image(
    rng: np.random.Generator, height: int, width: int, pixel_format: str, row_padding: int
) -> npt.NDArray[np.uint8]:
    """A random image with a smooth part (like a photo) and noise, rows padded by row_padding bytes."""
    channels = PIXEL_FORMATS[pixel_format][0]
    y, x = np.mgrid[0:height, 0:width]
    smooth = (127 + 120 * np.sin(x / 7.0 + y / 11.0))[..., None] * np.ones(channels)
    noise = rng.integers(-40, 40, (height, width, channels))
    pixels = np.clip(smooth + noise, 0, 255).astype(np.uint8)
    padded = np.zeros((height, width * channels + row_padding), np.uint8)
    padded[:, : width * channels] = pixels.reshape(height, -1)
    view = padded[:, : width * channels].reshape(height, width, channels)
    return view[..., 0] if channels == 1 else view


CASES = [
    # (height, width, row padding, input size, rect)
    (1080, 1920, 0, 640, True),
    (720, 1280, 0, 640, True),
    (480, 640, 0, 640, True),
    (481, 643, 13, 640, False),
    (37, 53, 3, 640, True),
    (3, 1000, 1, 320, False),
    (640, 640, 0, 640, False),
    (1, 1, 0, 64, False),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["fp32", "fp16"])
@pytest.mark.parametrize("pixel_format", FORMATS)
@pytest.mark.parametrize(
    "case", CASES, ids=[f"{c[0]}x{c[1]}+{c[2]}->{c[3]}{'r' if c[4] else ''}" for c in CASES]
)
def test_letterbox_kernel_matches_the_cpu_preprocessor(
    device: CudaDevice,
    stream: CudaStream,
    dtype: type[np.floating],
    pixel_format: str,
    case: tuple[int, int, int, int, bool],
) -> None:
    height, width, padding, size, rect = case
    rng = np.random.default_rng(height * 7919 + width)
    image = make_image(rng, height, width, pixel_format, padding)
    assert padding == 0 or not image.flags.c_contiguous  # the row step really differs
    cpu = Preprocessor(size, rect=rect, dtype=dtype)
    expected, geometry = cpu(image, pixel_format)
    uploaders = {
        "pinned, 3 threads": HostImageUploader(
            device, threads=3, min_band_bytes=1, staging="pinned"
        ),
        "pinned, bands": HostImageUploader(device, min_band_bytes=1, staging="pinned"),
        "pageable": HostImageUploader(device),
    }
    letterbox = GpuLetterbox(device, cpu)
    channels = 1 if image.ndim == 2 else image.shape[2]
    results = {}
    try:
        # Every row, and only the rows the resize reads: all must give the CPU's tensor.
        for rows in (None, letterbox.source_rows(geometry, channels)):
            for name, uploader in uploaders.items():
                with poisoned(device, expected.shape, dtype) as out:
                    source = uploader.upload(image, stream, rows)
                    letterbox.enqueue(
                        source, pixel_format, geometry, out.array(expected.shape, dtype), stream
                    )
                    stream.synchronize()
                    uploader.consumed()
                    label = f"{name}, {'all rows' if rows is None else f'{len(rows)} rows read'}"
                    results[label] = np.asarray(
                        to_host(out.array(expected.shape, dtype)), np.float64
                    )
    finally:
        for uploader in uploaders.values():
            uploader.close()
        letterbox.close()
    for name, got in results.items():
        assert not np.isnan(got).any(), f"{name}: the kernel left elements unwritten"
        error = np.abs(got - expected.astype(np.float64))
        # OpenCV's own arithmetic, so normally bit for bit; at most one grey level anywhere.
        assert error.mean() <= 0.25 / 255, f"{name}: mean error {error.mean() * 255:.4f}/255"
        assert error.max() <= 1 / 255 + 1e-3, f"{name}: max error {error.max() * 255:.3f}/255"


def test_shrinking_by_three_reads_one_row_in_three(device: CudaDevice) -> None:
    letterbox = GpuLetterbox(device, Preprocessor(640, rect=True, dtype=np.float16))
    _, geometry = Preprocessor(640, rect=True)(np.zeros((1080, 1920, 3), np.uint8))
    rows = letterbox.source_rows(geometry, 3)
    assert rows is not None and rows.tolist() == list(range(1, 1080, 3))
    _, same_size = Preprocessor(640, rect=True)(np.zeros((480, 640, 3), np.uint8))
    assert letterbox.source_rows(same_size, 3) is None
    letterbox.close()


def test_letterbox_reads_a_device_image_with_a_row_step(
    device: CudaDevice, stream: CudaStream
) -> None:
    rng = np.random.default_rng(3)
    height, width, step = 301, 517, 517 * 3 + 45
    rows = rng.integers(0, 256, (height, step), dtype=np.uint8)
    image = rows[:, : width * 3].reshape(height, width, 3)
    # BGR tensors and another pad value too: the letterbox copies the CPU preprocessor's settings.
    cpu = Preprocessor(640, rect=True, pad_value=0, channel_order="bgr")
    expected, geometry = cpu(image, "rgb8")
    letterbox = GpuLetterbox(device, cpu)
    with (
        DeviceBuffer(device, rows.nbytes) as source,
        poisoned(device, expected.shape, np.float32) as out,
    ):
        copy_host_to_device_now(source.ptr, rows)
        letterbox.enqueue(
            DeviceImage(source.ptr, height, width, 3, step),
            "rgb8",
            geometry,
            out.array(expected.shape, np.float32),
            stream,
        )
        stream.synchronize()
        got = np.asarray(to_host(out.array(expected.shape, np.float32)), np.float64)
    letterbox.close()
    assert np.abs(got - expected).max() <= 1 / 255 + 1e-6


def test_letterbox_refuses_mismatched_buffers(device: CudaDevice, stream: CudaStream) -> None:
    letterbox = GpuLetterbox(device, Preprocessor(640, rect=True, dtype=np.float16))
    cpu = Preprocessor(640, rect=True)
    _, geometry = cpu(np.zeros((480, 640, 3), np.uint8))
    image = DeviceImage(1 << 20, 480, 640, 3, 640 * 3)
    with DeviceBuffer(device, 3 * 640 * 640 * 4) as out:
        with pytest.raises(CudaError, match="input buffer"):
            letterbox.enqueue(
                image, "bgr8", geometry, out.array((1, 3, 640, 640), np.float32), stream
            )
        with pytest.raises(Exception, match="channel"):
            letterbox.enqueue(
                image, "mono8", geometry, out.array((1, 3, 480, 640), np.float16), stream
            )
    letterbox.close()


# -- decoding -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def heads() -> dict[str, tuple[npt.NDArray[np.float32], LetterboxGeometry]]:
    """Raw YOLO11n heads of the sample images from ONNX Runtime (the CPU reference), with geometry."""
    import onnxruntime

    from yolo_trt_ros.testing.sample_images import build_sample_images

    session = onnxruntime.InferenceSession(str(model_path()), providers=["CPUExecutionProvider"])
    preprocess = Preprocessor(640, rect=True)
    out = {}
    for name, image in build_sample_images().items():
        tensor, geometry = preprocess(image)
        (head,) = session.run(None, {"images": np.array(tensor)})
        out[name] = (head, geometry)
    return out


def assert_same(got: RawDetections, expected: RawDetections) -> None:
    assert got.class_ids.tolist() == expected.class_ids.tolist()
    np.testing.assert_array_equal(got.scores, expected.scores)
    np.testing.assert_array_equal(got.boxes, expected.boxes)


SETTINGS = [
    DecodeSettings(),
    DecodeSettings(conf=0.01, iou=0.5),
    DecodeSettings(conf=0.001, max_nms=200),
    DecodeSettings(classes=(0, 2)),
    DecodeSettings(agnostic=True, max_det=3),
]


@pytest.mark.parametrize("nms", ["gpu", "host"])
@pytest.mark.parametrize("head_dtype", [np.float32, np.float16], ids=["fp32", "fp16"])
def test_gpu_decoder_gives_the_cpu_decoders_answer(
    device: CudaDevice,
    stream: CudaStream,
    heads: dict[str, tuple[npt.NDArray[np.float32], LetterboxGeometry]],
    nms: str,
    head_dtype: type[np.floating],
) -> None:
    decoder = GpuRawDecoder(device, 80, nms=nms)
    try:
        for name, (float_head, geometry) in heads.items():
            head = np.ascontiguousarray(float_head.astype(head_dtype))
            with DeviceBuffer(device, head.nbytes) as buffer:
                copy_host_to_device_now(buffer.ptr, head)
                for settings in SETTINGS:
                    expected = decode("raw", [head], settings)[0]
                    in_source = RawDetections(
                        geometry.to_source(expected.boxes), expected.scores, expected.class_ids
                    )
                    # Boxes in model-input pixels, then mapped back to the image (on the GPU).
                    for mapping, wanted in ((None, expected), (geometry, in_source)):
                        decoder.enqueue(
                            buffer.array(head.shape, head.dtype), settings, stream, mapping
                        )
                        stream.synchronize()
                        try:
                            assert_same(decoder.result(), wanted)
                        except AssertionError as error:
                            where = "source" if mapping else "input"
                            raise AssertionError(f"{name} {settings} {where}: {error}") from None
    finally:
        decoder.close()


def synthetic_head(
    boxes: Sequence[tuple[float, float, float, float]], scores: list[float], classes: list[int]
) -> npt.NDArray[np.float32]:
    anchors = len(boxes)
    head = np.zeros((1, 84, anchors), np.float32)
    for anchor, ((x, y, w, h), score, class_id) in enumerate(
        zip(boxes, scores, classes, strict=True)
    ):
        head[0, :4, anchor] = (x, y, w, h)
        head[0, 4 + class_id, anchor] = score
    return head


def test_ties_degenerate_boxes_and_empty_heads(device: CudaDevice, stream: CudaStream) -> None:
    cases = {
        # equal scores: the earlier anchor wins, the later one is suppressed
        "ties": synthetic_head([(50, 50, 20, 20)] * 6 + [(200, 200, 10, 10)], [0.6] * 7, [1] * 7),
        # zero-area boxes never suppress each other (0/0 IoU), as in torchvision
        "zero_area": synthetic_head([(10, 10, 0, 0)] * 4, [0.9, 0.8, 0.7, 0.9], [3] * 4),
        "nothing": synthetic_head([(10, 10, 5, 5)] * 3, [0.1, 0.2, 0.05], [0, 0, 0]),
        # same box, different classes: both kept unless agnostic
        "classes": synthetic_head([(80, 80, 30, 30)] * 2, [0.9, 0.8], [0, 5]),
    }
    for nms in ("gpu", "host"):
        decoder = GpuRawDecoder(device, 80, nms=nms)
        for name, head in cases.items():
            with DeviceBuffer(device, head.nbytes) as buffer:
                copy_host_to_device_now(buffer.ptr, head)
                for settings in (DecodeSettings(), DecodeSettings(agnostic=True)):
                    decoder.enqueue(buffer.array(head.shape, head.dtype), settings, stream)
                    stream.synchronize()
                    expected = decode("raw", [head], settings)[0]
                    try:
                        assert_same(decoder.result(), expected)
                    except AssertionError as error:
                        raise AssertionError(f"{nms} {name} {settings}: {error}") from None
        decoder.close()


def test_counter_survives_many_frames_without_allocating(
    device: CudaDevice, stream: CudaStream
) -> None:
    head = synthetic_head([(50 + 3 * i, 50, 20, 20) for i in range(100)], [0.5] * 100, [0] * 100)
    decoder = GpuRawDecoder(device, 80)
    with DeviceBuffer(device, head.nbytes) as buffer:
        copy_host_to_device_now(buffer.ptr, head)
        array = buffer.array(head.shape, head.dtype)
        decoder.enqueue(array, DecodeSettings(), stream)
        stream.synchronize()
        first = decoder.result()
        before = allocation_stats().device_allocations
        for _ in range(50):
            decoder.enqueue(array, DecodeSettings(), stream)
        stream.synchronize()
        assert allocation_stats().device_allocations == before
        assert_same(decoder.result(), first)  # the counter was reset every frame
    decoder.close()


class _OnGpu:
    """An object speaking the CUDA Array Interface (version 3), as CuPy and nvImageCodec do."""

    def __init__(self, shape: tuple[int, ...], typestr: str, strides: tuple[int, ...] | None):
        self.__cuda_array_interface__ = {
            "shape": shape,
            "typestr": typestr,
            "data": (1 << 20, False),
            "strides": strides,
            "version": 3,
            "stream": None,
        }


def test_device_image_from_the_cuda_array_interface() -> None:
    padded = DeviceImage.from_cuda_array(_OnGpu((480, 640, 3), "|u1", (2048, 3, 1)))
    assert (padded.ptr, padded.height, padded.width, padded.channels, padded.step) == (
        1 << 20,
        480,
        640,
        3,
        2048,
    )
    packed = DeviceImage.from_cuda_array(_OnGpu((480, 640), "|u1", None))
    assert (packed.channels, packed.step) == (1, 640)
    with pytest.raises(InvalidImageError, match="uint8"):
        DeviceImage.from_cuda_array(_OnGpu((480, 640, 3), "<f4", None))
    with pytest.raises(InvalidImageError, match="packed"):
        DeviceImage.from_cuda_array(_OnGpu((480, 640, 3), "|u1", (1920, 1, 640)))  # planar
    with pytest.raises(InvalidImageError, match="on the GPU"):
        DeviceImage.from_cuda_array(np.zeros((4, 4, 3), np.uint8))
