"""The GPU detection pipeline: host image -> host detections with one synchronisation per frame.

``GpuDetector`` is a ``Detector`` (same settings, same answers, same ``last_times``) whose frame
never touches the CPU beyond staging the image: on one CUDA stream it queues the upload (pinned,
in bands), the letterbox kernel writing straight into the backend's input buffer, the model
(the input shape's ``DeviceBinding``: a TensorRT engine, or a CUDA graph for the torch backend), the decoding and NMS kernels and
the copy of the detections into pinned memory, then waits once for that copy. Buffers are made
for the first frame of each size and reused, so a steady stream of frames allocates nothing.

Use it like the plain detector::

    from yolo_trt_ros.gpu.pipeline import GpuDetector

    with GpuDetector.from_model("yolo11n.onnx", backend="torch") as detector:
        detections = detector(frame, "bgr8")
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from yolo_trt_ros.backends.base import Backend
from yolo_trt_ros.backends.device import DeviceBackend
from yolo_trt_ros.core.decode import RawDetections, decode
from yolo_trt_ros.core.detections import Detections
from yolo_trt_ros.core.letterbox import LetterboxGeometry
from yolo_trt_ros.core.preprocess import _checked_pixels, guess_pixel_format
from yolo_trt_ros.cuda.runtime import (
    CudaEvent,
    CudaStream,
    DeviceArray,
    PinnedBuffer,
    copy_device_to_host,
)
from yolo_trt_ros.detector import Detector, StageTimes
from yolo_trt_ros.errors import BackendNotAvailableError
from yolo_trt_ros.gpu.decode import GpuRawDecoder
from yolo_trt_ros.gpu.letterbox import DeviceImage, GpuLetterbox
from yolo_trt_ros.gpu.upload import HostImageUploader

__all__ = ["GpuDetector"]

_FORMAT_OF_CHANNELS: Final = {1: "mono8", 3: "bgr8", 4: "bgra8"}  # as guess_pixel_format
# The host-side steps of a call, in order (``GpuDetector.last_host_steps_ms``)
HOST_STEPS: Final = ("validate", "bind", "upload", "letterbox", "forward", "decode", "wait", "read")


class _HostOutputs:
    """Fallback for heads with NMS inside: copy the (small) outputs to pinned memory, decode on the CPU."""

    def __init__(self, backend: DeviceBackend) -> None:
        self._device = backend.cuda_device
        self._buffers: list[PinnedBuffer] = []
        self._views: list[npt.NDArray[Any]] = []

    def enqueue(self, outputs: Sequence[DeviceArray], stream: CudaStream) -> None:
        self._views = []
        for index, output in enumerate(outputs):
            if index == len(self._buffers) or self._buffers[index].nbytes < output.nbytes:
                if index < len(self._buffers):
                    stream.synchronize()
                    self._buffers.pop(index).close()
                self._buffers.insert(index, PinnedBuffer(self._device, output.nbytes))
            buffer = self._buffers[index]
            copy_device_to_host(buffer.ptr, output.ptr, output.nbytes, stream)
            self._views.append(buffer.array(output.shape, output.dtype))

    def outputs(self) -> list[npt.NDArray[Any]]:
        return [np.array(view) for view in self._views]

    def close(self) -> None:
        while self._buffers:
            self._buffers.pop().close()


class GpuDetector(Detector):
    """A ``Detector`` that runs pre- and post-processing on the GPU around a device backend.

    Args:
        backend: a loaded ``DeviceBackend`` (tensorrt or torch); closed with the detector.
        nms: "gpu" (default) or "host": where NMS runs (decoding and filtering are always on the GPU).
        upload_staging: "pageable" (default) or "pinned" (see ``HostImageUploader``).
        upload_threads: threads staging each frame in pinned memory (see ``HostImageUploader``).
        upload_rows_read_only: upload only the source rows the resize reads (same result, fewer
            bytes when shrinking; True by default).
        stage_timing: time inference and postprocessing's GPU work with CUDA events (and
            postprocessing's read-back of the boxes on the host); preprocessing is the rest of the
            frame's wall time, including work queued on the stream before the call
            (``last_times``); False leaves only the total, measured on the host.
        **settings: the ``Detector`` settings (conf, iou, max_det, classes, agnostic, imgsz, rect).

    """

    def __init__(
        self,
        backend: Backend,
        *,
        nms: str = "gpu",
        upload_staging: str = "pageable",
        upload_threads: int = 1,
        upload_rows_read_only: bool = True,
        stage_timing: bool = True,
        **settings: Any,
    ) -> None:
        if not isinstance(backend, DeviceBackend):
            raise BackendNotAvailableError(
                f"the GPU pipeline needs a backend that runs on device buffers (torch, tensorrt), "
                f"not {backend.name}: use Detector for it, or load the model with backend='torch'"
            )
        super().__init__(backend, **settings)
        self.backend: DeviceBackend = backend
        device = backend.cuda_device
        self.cuda_device = device
        self.stream = CudaStream(device)
        self.device_stream = self.stream.ptr
        self.uploader = HostImageUploader(device, threads=upload_threads, staging=upload_staging)
        self.upload_rows_read_only = upload_rows_read_only
        self.letterbox = GpuLetterbox(device, self.preprocessor)
        self.decoder: GpuRawDecoder | None = (
            GpuRawDecoder(device, len(self.names) or self._classes_from_head(), nms=nms)
            if self.layout == "raw"
            else None
        )
        self._host_outputs = _HostOutputs(backend) if self.decoder is None else None
        self.stage_timing = stage_timing
        # before inference, after inference, after postprocessing
        self._events = [CudaEvent(timing=True) for _ in range(3)]
        self._done = CudaEvent()
        self._marks: list[float] = []  # perf_counter at each HOST_STEPS boundary, last call

    def _classes_from_head(self) -> int:
        channels = self.backend.output_specs[0].fixed_dim(1)
        if channels is None:
            raise BackendNotAvailableError(
                "the model names no classes and its head has a dynamic class count: "
                "pass names= to the detector"
            )
        return channels - 4

    @classmethod
    def from_model(
        cls,
        model: Any = None,
        *,
        backend: str = "torch",
        device: str = "auto",
        backend_options: Any = None,
        **settings: Any,
    ) -> GpuDetector:
        """Load a model with a device backend (default torch) and build the GPU pipeline around it."""
        detector = super().from_model(
            model, backend=backend, device=device, backend_options=backend_options, **settings
        )
        assert isinstance(detector, GpuDetector)
        return detector

    def __call__(self, image: Any, pixel_format: str | None = None) -> Detections:
        """Detect objects in one image, on the host or already on this GPU.

        A host image is an (H, W[, C]) uint8 array (OpenCV's BGR unless ``pixel_format`` says).
        An image on the GPU is anything with a CUDA Array Interface (an nvImageCodec decode, a
        CuPy array, a torch tensor): read in place, never copied through host memory; queue its
        producer on ``self.stream`` or name its stream in the interface (this stream waits for it).
        """
        start = time.perf_counter()
        marks = [start]
        frame, pixel_format = self._accept(image, pixel_format)
        geometry = self.preprocessor.geometry(
            (frame.height, frame.width)
            if isinstance(frame, DeviceImage)
            else (frame.shape[0], frame.shape[1])
        )
        self.cuda_device.make_current()
        stream, events = self.stream, self._events
        marks.append(time.perf_counter())
        binding = self.backend.binding((1, 3, *geometry.input_hw))
        marks.append(time.perf_counter())
        source = self._on_device(image, frame, geometry, stream)
        marks.append(time.perf_counter())
        self.letterbox.enqueue(source, pixel_format, geometry, binding.input, stream)
        if self.stage_timing:
            events[0].record(stream)
        marks.append(time.perf_counter())
        outputs = binding.enqueue(stream)
        if self.stage_timing:
            events[1].record(stream)
        marks.append(time.perf_counter())
        if self.decoder is not None:  # boxes come back already in source pixels
            self.decoder.enqueue(outputs[0], self.settings, stream, geometry)
        else:
            assert self._host_outputs is not None
            self._host_outputs.enqueue(outputs, stream)
        if self.stage_timing:
            events[2].record(stream)
        self._done.record(stream)
        marks.append(time.perf_counter())
        self._done.synchronize()  # the one wait of the frame
        self.uploader.consumed()
        marks.append(time.perf_counter())
        raw = self._read_detections(geometry)
        detections = Detections(
            raw.boxes, raw.scores, raw.class_ids, self.names, geometry.source_hw
        )
        marks.append(time.perf_counter())
        self._marks = marks
        total_ms = (marks[-1] - start) * 1e3
        if self.stage_timing:
            infer = events[0].elapsed_ms(events[1])
            # Postprocessing: its GPU work (decode, NMS, copy back) and reading the boxes on the
            # host. Preprocessing: the rest of the frame's wall time, so that work queued on the
            # stream before the call (a JPEG decoded on the GPU for this frame) counts there.
            post = events[1].elapsed_ms(events[2]) + (marks[-1] - marks[-2]) * 1e3
            self.last_times = StageTimes(max(total_ms - infer - post, 0.0), infer, post)
        else:
            self.last_times = StageTimes(0.0, 0.0, total_ms)
        return detections

    @property
    def last_host_steps_ms(self) -> dict[str, float]:
        """Host wall time of the last call's steps (``HOST_STEPS``: validate ... read), in ms.

        "wait" is the one synchronisation: the GPU work not yet done when it was reached.
        """
        steps = itertools.pairwise(self._marks)  # none before the first call
        return {name: (b - a) * 1e3 for name, (a, b) in zip(HOST_STEPS, steps, strict=False)}

    @staticmethod
    def _accept(
        image: Any, pixel_format: str | None
    ) -> tuple[npt.NDArray[np.uint8] | DeviceImage, str]:
        """Check a frame; return its pixels (a host array or a device image) and pixel format."""
        if not isinstance(image, np.ndarray) and hasattr(image, "__cuda_array_interface__"):
            on_gpu = DeviceImage.from_cuda_array(image)
            return on_gpu, pixel_format or _FORMAT_OF_CHANNELS[on_gpu.channels]
        pixel_format = pixel_format or guess_pixel_format(image)
        pixels = _checked_pixels(image, pixel_format)  # mono16 -> its high byte, as on the CPU
        return pixels, "mono8" if pixel_format == "mono16" else pixel_format

    def _on_device(
        self,
        image: Any,
        frame: npt.NDArray[np.uint8] | DeviceImage,
        geometry: LetterboxGeometry,
        stream: CudaStream,
    ) -> DeviceImage:
        """Queue the upload of a host frame, or this stream's wait for a device frame's producer."""
        if isinstance(frame, DeviceImage):
            producer = image.__cuda_array_interface__.get("stream")
            if producer not in (None, 0):  # None: the producer has finished; 0 is not valid
                stream.wait_for(int(producer))
            return frame
        rows = (
            self.letterbox.source_rows(geometry, 1 if frame.ndim == 2 else frame.shape[2])
            if self.upload_rows_read_only
            else None
        )
        return self.uploader.upload(frame, stream, rows)

    def _read_detections(self, geometry: LetterboxGeometry) -> RawDetections:
        """Return the frame's detections in source-image pixels."""
        if self.decoder is not None:
            return self.decoder.result()
        assert self._host_outputs is not None
        raw = decode(self.layout, self._host_outputs.outputs(), self.settings)[0]
        return RawDetections(geometry.to_source(raw.boxes), raw.scores, raw.class_ids)

    def warmup(self, runs: int = 1, image_sizes: Iterable[tuple[int, int]] = ()) -> None:
        """Prepare the model and buffers for the input size and each (height, width) in image_sizes."""
        height, width = self.input_size
        for size in [(height, width), *image_sizes]:
            blank = np.full((*size, 3), 114, np.uint8)
            for _ in range(runs):
                self(blank)

    def close(self) -> None:
        """Release the GPU buffers, the stream and the backend; safe to call twice."""
        if self.stream.closed:
            return
        self.stream.synchronize()
        if self.decoder is not None:
            self.decoder.close()
        if self._host_outputs is not None:
            self._host_outputs.close()
        self.letterbox.close()
        self.uploader.close()
        for event in (*self._events, self._done):
            event.close()
        self.stream.close()
        super().close()
