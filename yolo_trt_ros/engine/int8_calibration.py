"""INT8 below TensorRT 10: TensorRT's own calibration of the FP32 network.

TensorRT 8.6 cannot build YOLO11's Q/DQ ONNX: its builder fails an internal assertion
(``chooseHigherPrecision``) for every Q/DQ placement tried (docs/tensorrt.md). So below 10 INT8 is
implicit: with the INT8 and FP16 flags and a calibrator, the builder runs the FP32 network on
calibration images, sets each tensor's range (``DEFAULT_METHOD``: min-max calibration,
``IInt8MinMaxCalibrator``) and picks INT8 kernels where they are faster. The Convs that see the
image or feed an output stay FP16 by precision constraints, as they stay float in the Q/DQ route
(``precision``).

The calibration table TensorRT writes comes back with the engine; the engine manager keeps it, so a
later build of the same model and images (the optimised one after a quick one) skips calibration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from yolo_trt_ros.engine.build_process import ProgressCallback
from yolo_trt_ros.engine.precision import CalibrationReader, convs_to_keep_in_float, import_onnx
from yolo_trt_ros.errors import ModelLoadError

__all__ = ["CALIBRATORS", "DEFAULT_METHOD", "Calibration", "Calibrator", "keep_convs_in_fp16"]

# TensorRT's calibrator classes by method: entropy (KL divergence: clips rare large activations)
# or min-max (keeps the whole range). Min-max on YOLO11n, TensorRT 8.6 on an H200, 36 calibration
# crops: every FP32 detection found, scores 0.05 lower on average; entropy lost 2 of 28 and
# lowered scores by 0.14 (docs/tensorrt.md).
CALIBRATORS: Final = {"entropy": "IInt8EntropyCalibrator2", "minmax": "IInt8MinMaxCalibrator"}
DEFAULT_METHOD = "minmax"


@dataclass(frozen=True)
class Calibration:
    """The calibration images of an INT8 build, and the table of an earlier build on them, if any."""

    files: tuple[Path, ...]
    table: bytes | None = None
    method: str = ""  # a key of CALIBRATORS; "" is DEFAULT_METHOD


def keep_convs_in_fp16(trt: Any, network: Any, onnx_path: Path) -> int:
    """Constrain the first and the output Convs of a parsed network to FP16; return how many.

    TensorRT's ONNX parser names each layer after its ONNX node, so the names match. The builder
    honours the constraints with ``PREFER_PRECISION_CONSTRAINTS`` (set by the caller).
    """
    model = import_onnx().load(str(onnx_path), load_external_data=False)
    names = set(convs_to_keep_in_float(model))
    kept = 0
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        if layer.name in names:
            layer.precision = trt.float16
            layer.set_output_type(0, trt.float16)
            kept += 1
    return kept


class Calibrator:
    """Feeds letterboxed calibration images to TensorRT's builder through one device buffer.

    ``make(trt)`` returns the calibrator TensorRT calls (``CALIBRATORS[DEFAULT_METHOD]``). Errors
    in its callbacks (an unreadable image) are kept and raised by ``raise_if_failed`` after the
    build, because TensorRT would only print them. ``table`` holds the calibration table TensorRT
    wrote (or the one it was given). ``close`` frees the GPU buffer.
    """

    def __init__(
        self,
        calibration: Calibration,
        input_shape: tuple[int, int, int, int],
        device_index: int,
        progress: ProgressCallback,
    ) -> None:
        from yolo_trt_ros.cuda.runtime import CudaDevice, DeviceBuffer  # noqa: PLC0415 - GPU only

        self.table = calibration.table
        self._count = len(calibration.files)
        self._shape = input_shape
        self._reader = CalibrationReader(
            calibration.files, "images", (input_shape[2], input_shape[3])
        )
        self._device = CudaDevice(device_index)
        self._buffer = DeviceBuffer(self._device, int(np.prod(input_shape)) * 4)
        self._progress = progress
        self._done = 0
        self._error: Exception | None = None

    def next_batch(self) -> int | None:
        """Upload the next batch and return its device address, or None when the images are done."""
        from yolo_trt_ros.cuda.runtime import copy_host_to_device_now  # noqa: PLC0415

        if self._error is not None:
            return None
        try:
            images = []
            for _ in range(self._shape[0]):
                batch = self._reader.get_next()
                if batch is None:
                    return None  # a last, partial batch is left out
                images.append(next(iter(batch.values())))
            tensor = np.ascontiguousarray(np.concatenate(images, axis=0), np.float32)
            copy_host_to_device_now(self._buffer.ptr, tensor)
        except Exception as error:  # noqa: BLE001 - TensorRT would swallow it: raised after the build
            self._error = error
            return None
        self._done += len(images)
        self._progress("calibrate", 20.0, f"calibrating INT8: image {self._done} of {self._count}")
        return int(self._buffer.ptr)

    def make(self, trt: Any, method: str | None = None) -> Any:
        """Return the TensorRT calibrator (``CALIBRATORS[method]``) that calls back into this one."""
        owner = self
        base = getattr(trt, CALIBRATORS[method or DEFAULT_METHOD])

        class _Calibrator(base):  # type: ignore[misc, valid-type]
            def __init__(self) -> None:
                base.__init__(self)

            def get_batch_size(self) -> int:
                return owner._shape[0]

            def get_batch(self, names: list[str], p_str: Any = None) -> list[int] | None:
                pointer = owner.next_batch()
                return None if pointer is None else [pointer]

            def read_calibration_cache(self) -> bytes | None:
                return owner.table

            def write_calibration_cache(self, cache: Any) -> None:
                owner.table = bytes(memoryview(cache))

        return _Calibrator()

    def raise_if_failed(self) -> None:
        """Raise what went wrong while TensorRT read the calibration images, if anything did."""
        if self._error is not None:
            raise ModelLoadError(
                f"INT8 calibration failed after {self._done} image(s): {self._error}"
            ) from self._error

    def close(self) -> None:
        """Free the device buffer."""
        self._buffer.close()
        self._device.close()
