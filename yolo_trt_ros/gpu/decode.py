"""Decode the raw YOLO head on the GPU, so only the detections cross back to the host.

``GpuRawDecoder.enqueue`` queues, on the pipeline's stream: the candidate selection (best class per
anchor, confidence threshold, class filter, xywh -> xyxy), then either

* ``nms="gpu"`` (default): one block sorts the candidates and runs NMS, and a copy of at most
  ``max_det`` rows plus a 16-byte header into pinned memory; or
* ``nms="host"``: a copy of the candidates (the first ``HOST_BATCH`` of them; more need a second
  copy after the frame's synchronisation) for NumPy's NMS in ``core.nms``.

``result()`` reads the pinned copy after the caller's single synchronisation. Both give exactly
the CPU decoder's answer (same order, same float32 rounding: the kernels are built without fused
multiply-add). Buffers are sized per anchor count and ``max_det`` and reused across frames.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from yolo_trt_ros.core.decode import DecodeSettings, RawDetections, suppress
from yolo_trt_ros.core.letterbox import LetterboxGeometry
from yolo_trt_ros.cuda.runtime import (
    CudaDevice,
    CudaStream,
    DeviceArray,
    DeviceBuffer,
    PinnedBuffer,
    copy_device_to_host,
    copy_device_to_host_now,
    copy_host_to_device,
    fill_int32,
)
from yolo_trt_ros.errors import CudaError, InvalidSettingError
from yolo_trt_ros.gpu.kernels import Kernel, load_module

__all__ = ["HOST_BATCH", "MAX_CANDIDATES", "NMS_PLACES", "GpuRawDecoder"]

MAX_CANDIDATES: Final = 30720  # postprocess.cu's MAX_CANDIDATES (shared-memory flags of the NMS)
HOST_BATCH: Final = 1024  # candidates copied back with the frame in nms="host" mode
NMS_PLACES: Final = ("gpu", "host")
_CANDIDATE_BYTES: Final = 32  # struct Candidate: 5 floats, 3 ints
_HEADER_BYTES: Final = 16
_ROW_FLOATS: Final = 6
_SELECT_BLOCK: Final = 256
_SUPPRESS_THREADS: Final = 1024
# select_candidates(head, classes, anchors, conf, class mask, candidates, count, capacity)
_SELECT_ARGUMENTS: Final = ("ptr", "i32", "i32", "f32", "ptr", "ptr", "ptr", "i32")
# suppress(candidates, count, capacity, max_nms, sorted, iou, agnostic, max_det, out,
#          map_boxes, left, top, scale_x, scale_y, width, height)
_SUPPRESS_ARGUMENTS: Final = (
    *("ptr", "ptr", "i32", "i32", "ptr", "f32", "i32", "i32", "ptr", "i32"),
    *("f32",) * 6,
)
_NO_MAPPING: Final = (0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0)
_CANDIDATE_DTYPE: Final = np.dtype(
    [
        ("box", np.float32, 4),
        ("score", np.float32),
        ("class_id", np.int32),
        ("anchor", np.int32),
        ("pad", np.int32),
    ]
)


def _mapping(geometry: LetterboxGeometry) -> tuple[float, ...]:
    """Return the suppress kernel's to_source arguments, as the float32 values NumPy uses."""
    scale_x, scale_y = (float(np.float32(scale)) for scale in geometry.scale_xy)
    height, width = geometry.source_hw
    return (1, float(geometry.left), float(geometry.top), scale_x, scale_y, width, height)


class GpuRawDecoder:
    """Raw-head decoding (``[1, 4 + classes, anchors]``, FP16 or FP32) with NMS on GPU or host."""

    def __init__(self, device: CudaDevice, num_classes: int, *, nms: str = "gpu") -> None:
        if nms not in NMS_PLACES:
            raise InvalidSettingError(f"nms runs on {' or '.join(NMS_PLACES)}, not {nms!r}")
        if num_classes < 1:
            raise InvalidSettingError(f"a detection head has at least one class, got {num_classes}")
        self.device = device
        self.num_classes = num_classes
        self.nms = nms
        module = load_module(device, "postprocess.cu")
        self._select = {
            np.dtype(np.float16): Kernel(module, "select_candidates_fp16", _SELECT_ARGUMENTS),
            np.dtype(np.float32): Kernel(module, "select_candidates_fp32", _SELECT_ARGUMENTS),
        }
        self._suppress = Kernel(module, "suppress", _SUPPRESS_ARGUMENTS)
        self._capacity = 0
        self._max_det = 0
        self._work: DeviceBuffer | None = None  # count | candidates | sorted | output
        self._host: PinnedBuffer | None = None
        self._header_view = np.zeros(4, np.int32)  # views of _host once it exists
        self._rows_view = np.zeros((0, _ROW_FLOATS), np.float32)
        self._mask_device = DeviceBuffer(device, num_classes)
        self._mask_host = PinnedBuffer(device, num_classes)
        self._mask_classes: tuple[int, ...] | None = None
        self._mask_dirty = False
        self._settings = DecodeSettings()
        self._pending_stream: CudaStream | None = None
        self._thresholds_for: tuple[object, ...] = ()
        self._geometry: LetterboxGeometry | None = None
        self._thresholds = (0.0, 0.0)

    # Layout of the work buffer: [count int32 | pad to 256] [candidates] [sorted] [header + rows].
    def _offsets(self) -> tuple[int, int, int]:
        candidates = 256
        sorted_ = candidates + self._capacity * _CANDIDATE_BYTES
        output = sorted_ + self._capacity * _CANDIDATE_BYTES
        return candidates, sorted_, output

    def _output_bytes(self) -> int:
        rows = self._max_det * _ROW_FLOATS * 4
        return _HEADER_BYTES + (
            max(rows, HOST_BATCH * _CANDIDATE_BYTES) if self.nms == "host" else rows
        )

    def _reserve(self, anchors: int, max_det: int, stream: CudaStream) -> None:
        capacity = min(anchors, MAX_CANDIDATES)
        if self._work is not None and capacity <= self._capacity and max_det <= self._max_det:
            return
        stream.synchronize()  # only when the model's anchor count or max_det grows
        self._free_work()
        self._capacity, self._max_det = max(capacity, self._capacity), max(max_det, self._max_det)
        _, _, output = self._offsets()
        self._work = DeviceBuffer(self.device, output + self._output_bytes())
        self._host = PinnedBuffer(self.device, self._output_bytes())
        self._header_view = self._host.array((4,), np.int32)
        self._rows_view = self._host.array((self._max_det, _ROW_FLOATS), np.float32, _HEADER_BYTES)
        fill_int32(self._work.ptr, 0, 1)  # the candidate counter starts at zero

    def _class_mask_ptr(self, settings: DecodeSettings, stream: CudaStream) -> int:
        """Device pointer of the allowed-class flags (0: no filter), uploaded when they change."""
        if settings.classes is None:
            return 0
        if settings.classes != self._mask_classes:
            flags = self._mask_host.array((self.num_classes,), np.uint8)
            flags[:] = 0
            wanted = [c for c in settings.classes if 0 <= c < self.num_classes]
            flags[wanted] = 1
            # Stream-ordered: the frames queued after this see the new mask, earlier ones the old.
            copy_host_to_device(
                self._mask_device.ptr, self._mask_host.ptr, self.num_classes, stream
            )
            self._mask_classes = settings.classes
        return self._mask_device.ptr

    def enqueue(
        self,
        head: DeviceArray,
        settings: DecodeSettings,
        stream: CudaStream,
        geometry: LetterboxGeometry | None = None,
    ) -> None:
        """Queue decoding of one raw head output on ``stream`` (read the result after syncing).

        With ``geometry`` the boxes come back in source-image pixels, mapped exactly as
        ``geometry.to_source`` maps them (on the GPU with ``nms="gpu"``); without, in model-input
        pixels.
        """
        if len(head.shape) != 3 or head.shape[0] != 1 or head.shape[1] != 4 + self.num_classes:
            raise CudaError(
                f"the GPU decoder takes a (1, {4 + self.num_classes}, anchors) head, got {head.shape}"
            )
        kernel = self._select.get(head.dtype)
        if kernel is None:
            raise CudaError(f"the GPU decoder reads float16 or float32 heads, not {head.dtype}")
        anchors = int(head.shape[2])
        self._reserve(anchors, settings.max_det, stream)
        assert self._work is not None and self._host is not None
        candidates, sorted_, output = self._offsets()
        work = self._work.ptr
        if (settings, head.dtype) != self._thresholds_for:
            # The CPU decoder compares scores with conf in the head's own precision, IoUs in float32.
            self._thresholds = (
                float(np.asarray(settings.conf, dtype=head.dtype)),
                float(np.float32(settings.iou)),
            )
            self._thresholds_for = (settings, head.dtype)
        conf, iou = self._thresholds
        kernel.launch(
            ((anchors + _SELECT_BLOCK - 1) // _SELECT_BLOCK, 1, 1),
            (_SELECT_BLOCK, 1, 1),
            stream,
            head.ptr,
            self.num_classes,
            anchors,
            conf,
            self._class_mask_ptr(settings, stream),
            work + candidates,
            work,
            self._capacity,
        )
        if self.nms == "gpu":
            self._suppress.launch(
                (1, 1, 1),
                (_SUPPRESS_THREADS, 1, 1),
                stream,
                work + candidates,
                work,
                self._capacity,
                settings.max_nms,
                work + sorted_,
                iou,
                int(settings.agnostic),
                settings.max_det,
                work + output,
                *(_NO_MAPPING if geometry is None else _mapping(geometry)),
            )
            copy_device_to_host(
                self._host.ptr, work + output, _HEADER_BYTES + settings.max_det * 24, stream
            )
        else:
            copy_device_to_host(self._host.ptr, work, 4, stream)
            batch = min(HOST_BATCH, self._capacity) * _CANDIDATE_BYTES
            copy_device_to_host(self._host.ptr + _HEADER_BYTES, work + candidates, batch, stream)
            fill_int32(work, 0, 1, stream)
        self._settings = settings
        self._geometry = geometry
        self._pending_stream = stream

    def result(self) -> RawDetections:
        """Return the decoded detections of the last ``enqueue`` (call after synchronising)."""
        if self._host is None or self._work is None or self._pending_stream is None:
            raise RuntimeError("result() needs an enqueue() first")
        header = self._header_view
        if self.nms == "gpu":
            rows = self._rows_view[: int(header[0])].copy()
            return RawDetections(rows[:, :4], rows[:, 4], rows[:, 5].astype(np.int64))
        raw = self._host_nms(min(int(header[0]), self._capacity))
        if self._geometry is None:
            return raw
        return RawDetections(self._geometry.to_source(raw.boxes), raw.scores, raw.class_ids)

    def _host_nms(self, count: int) -> RawDetections:
        assert self._host is not None and self._work is not None
        settings = self._settings
        first = min(count, HOST_BATCH)
        found = np.array(self._host.array((first,), _CANDIDATE_DTYPE, offset=_HEADER_BYTES))
        if count > first:  # rare (very low thresholds): fetch the rest, the frame is done anyway
            rest = np.empty(count - first, _CANDIDATE_DTYPE)
            candidates = self._work.ptr + self._offsets()[0] + first * _CANDIDATE_BYTES
            copy_device_to_host_now(rest, candidates)
            found = np.concatenate([found, rest])
        found = found[np.argsort(found["anchor"], kind="stable")]  # the CPU decoder's order
        return suppress(
            np.ascontiguousarray(found["box"]),
            np.ascontiguousarray(found["score"]),
            found["class_id"].astype(np.int64),
            settings,
        )

    def _free_work(self) -> None:
        if self._work is not None:
            self._work.close()
        if self._host is not None:
            self._host.close()
        self._work, self._host = None, None

    def close(self) -> None:
        """Free the decoder's buffers (after the work queued on them); safe to call twice."""
        if self._pending_stream is not None and not self._pending_stream.closed:
            self._pending_stream.synchronize()
            self._pending_stream = None
        self._free_work()
        self._mask_device.close()
        self._mask_host.close()
