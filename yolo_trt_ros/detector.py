"""The plain-Python detector: ``Detector.from_model("yolo11n.onnx")(image) -> Detections``.

No ROS here: the ROS node wraps this class, and anyone else can use it directly::

    from yolo_trt_ros.detector import Detector

    with Detector.from_model("yolo11n.onnx", conf=0.4) as detector:
        for det in detector(cv2.imread("bus.jpg")):
            print(det.name, det.score, det.box)
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from yolo_trt_ros.backends.base import Backend
from yolo_trt_ros.backends.registry import load_backend
from yolo_trt_ros.closing import ClosesOnExit
from yolo_trt_ros.core.decode import DecodeSettings, decode, detect_output_layout
from yolo_trt_ros.core.detections import Detections
from yolo_trt_ros.core.letterbox import normalize_size
from yolo_trt_ros.core.preprocess import Preprocessor
from yolo_trt_ros.errors import InvalidSettingError, UnsupportedModelError
from yolo_trt_ros.models import bundled_model_path

__all__ = ["DEFAULT_IMAGE_SIZE", "Detector", "StageTimes"]

DEFAULT_IMAGE_SIZE = (640, 640)


@dataclass(frozen=True)
class StageTimes:
    """Wall time of each stage of one detection, in milliseconds."""

    preprocess_ms: float = 0.0
    inference_ms: float = 0.0
    postprocess_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        """All three stages."""
        return self.preprocess_ms + self.inference_ms + self.postprocess_ms


def _static_input_hw(backend: Backend) -> tuple[int, int] | None:
    spec = backend.input_specs[0]
    if len(spec.shape) != 4 or spec.fixed_dim(1) not in (3, None):
        raise UnsupportedModelError(
            f"model input {spec.name} has shape {spec.shape}; a YOLO detector takes (N, 3, H, W)"
        )
    height, width = spec.fixed_dim(2), spec.fixed_dim(3)
    return (height, width) if height is not None and width is not None else None


class Detector(ClosesOnExit):
    """Letterbox, infer and decode with one backend; returns boxes in original image pixels.

    Args:
        backend: a loaded backend; the detector closes it on ``close``.
        conf: drop detections scoring at or below this (Ultralytics' default 0.25).
        iou: NMS IoU threshold (Ultralytics' default 0.7).
        max_det: keep at most this many detections per image.
        classes: keep only these class ids (None: all).
        agnostic: suppress overlapping boxes across classes too.
        imgsz: model input size, int or (height, width); default: the model's fixed input shape,
            else its metadata, else 640.
        rect: pad only to a multiple of the stride instead of the full square (fewer pixels to
            infer). Default: on for models with dynamic input shape, as Ultralytics does; a model
            with a fixed input shape cannot use it.
        names: class names to use instead of the model's own.

    A model with NMS inside (end-to-end or EfficientNMS outputs) has its IoU threshold and class
    awareness baked in: there ``iou`` and ``agnostic`` have no effect (see ``nms_in_model``), while
    ``conf`` above the model's own threshold, ``classes`` and ``max_det`` still apply.

    """

    #: The CUDA stream (raw handle) a producer of images on the GPU queues them on, for a detector
    #: that reads GPU images in place (``GpuDetector``); None: host images only.
    device_stream: int | None = None

    def __init__(
        self,
        backend: Backend,
        *,
        conf: float = 0.25,
        iou: float = 0.7,
        max_det: int = 300,
        classes: Iterable[int] | None = None,
        agnostic: bool = False,
        imgsz: int | tuple[int, int] | None = None,
        rect: bool | None = None,
        names: Mapping[int, str] | None = None,
    ) -> None:
        metadata = backend.metadata
        if metadata.task not in (None, "detect"):
            raise UnsupportedModelError(
                f"the model's task is {metadata.task!r}; this detector runs detection models"
            )
        self.backend = backend
        self.names: dict[int, str] = dict(names or metadata.names)
        static_hw = _static_input_hw(backend)
        size = (
            normalize_size(imgsz)
            if imgsz is not None
            else static_hw or metadata.imgsz or DEFAULT_IMAGE_SIZE
        )
        if static_hw is not None and size != static_hw:
            raise InvalidSettingError(
                f"image size {size} differs from the model's fixed input {static_hw}: omit imgsz or re-export the model"
            )
        if rect and static_hw is not None:
            raise InvalidSettingError(
                f"rect letterboxing needs a dynamic-shape model; this one is fixed at {static_hw}"
            )
        self.settings = self._checked_settings(
            DecodeSettings(
                conf=conf,
                iou=iou,
                max_det=max_det,
                classes=None if classes is None else tuple(int(c) for c in classes),
                agnostic=agnostic,
            )
        )
        self.layout = detect_output_layout(
            [spec.shape for spec in backend.output_specs], len(self.names) or None, metadata.end2end
        )
        self.preprocessor = Preprocessor(
            size,
            rect=static_hw is None if rect is None else rect,
            stride=metadata.stride or 32,
            dtype=backend.input_specs[0].dtype,
        )
        self.last_times = StageTimes()

    @classmethod
    def from_model(
        cls,
        model: str | Path | None = None,
        *,
        backend: str = "auto",
        device: str = "auto",
        backend_options: Mapping[str, Any] | None = None,
        **settings: Any,
    ) -> Detector:
        """Load a model file (default: the bundled YOLO11n ONNX) and build a detector around it.

        ``settings`` are the keyword arguments of ``Detector`` (conf, iou, max_det, classes, ...).
        """
        path = Path(model) if model is not None else bundled_model_path()
        loaded = load_backend(path, backend, device, **dict(backend_options or {}))
        try:
            return cls(loaded, **settings)
        except Exception:
            loaded.close()
            raise

    def _checked_settings(self, settings: DecodeSettings) -> DecodeSettings:
        unknown = [c for c in settings.classes or () if self.names and c not in self.names]
        if unknown:
            raise InvalidSettingError(
                f"class ids {unknown} are not in this model (0..{len(self.names) - 1})"
            )
        return settings

    def update_settings(self, **changes: Any) -> None:
        """Change conf, iou, max_det, classes or agnostic for the following frames (validated)."""
        if "classes" in changes and changes["classes"] is not None:
            changes["classes"] = tuple(int(c) for c in changes["classes"])
        try:
            updated = replace(self.settings, **changes)
        except TypeError as error:
            raise InvalidSettingError(f"unknown detection setting: {error}") from None
        self.settings = self._checked_settings(updated)

    @property
    def nms_in_model(self) -> bool:
        """Whether the model suppresses overlapping boxes itself (``iou`` and ``agnostic`` unused)."""
        return self.layout != "raw"

    @property
    def input_size(self) -> tuple[int, int]:
        """The (height, width) images are letterboxed into (in rect mode, the bound)."""
        return self.preprocessor.input_size

    def __call__(
        self, image: npt.NDArray[np.generic], pixel_format: str | None = None
    ) -> Detections:
        """Detect objects in one image ((H, W[, C]) uint8; OpenCV's BGR unless pixel_format says)."""
        start = time.perf_counter()
        tensor, geometry = self.preprocessor(image, pixel_format)
        preprocessed = time.perf_counter()
        outputs = self.backend.infer(tensor)
        inferred = time.perf_counter()
        raw = decode(self.layout, outputs, self.settings)[0]
        detections = Detections(
            geometry.to_source(raw.boxes), raw.scores, raw.class_ids, self.names, geometry.source_hw
        )
        done = time.perf_counter()
        self.last_times = StageTimes(
            (preprocessed - start) * 1e3, (inferred - preprocessed) * 1e3, (done - inferred) * 1e3
        )
        return detections

    def warmup(self, runs: int = 1) -> None:
        """Run the model on a blank frame so the first real frame does not pay for lazy setup."""
        height, width = self.input_size
        blank = np.full((height, width, 3), 114, np.uint8)
        for _ in range(runs):
            self(blank)

    def close(self) -> None:
        """Release the backend."""
        self.backend.close()
