"""What the GPU tests share: why they skip where no CUDA device exists, the model, the comparisons
(the INT8 tests on ONNX Runtime match detections the same way).

The GPU tests need no ROS and import nothing from conftest.py, so on a GPU machine without ROS they
run on their own: ``pytest --noconftest -p no:cacheprovider test/test_gpu_*.py`` with the
repository and test/ on PYTHONPATH. ``YOLO_TRT_ROS_MODEL`` points them at the YOLO11n ONNX where the
bundled model package is not installed.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from yolo_trt_ros.core.detections import Detections
from yolo_trt_ros.core.nms import box_iou

CUDA_PYTHON_MISSING = "cuda-python (cuda.bindings) is not installed: the GPU tests run on a machine with an NVIDIA GPU"


def cuda_skip_reason() -> str | None:
    """Return why the GPU tests cannot run here, or None when a CUDA device is usable."""
    if (
        importlib.util.find_spec("cuda") is None
        or importlib.util.find_spec("cuda.bindings") is None
    ):
        return CUDA_PYTHON_MISSING
    from yolo_trt_ros.cuda.runtime import CudaDevice
    from yolo_trt_ros.errors import CudaError

    try:
        CudaDevice(0).close()
    except CudaError as error:
        return f"no usable CUDA device here: {error}"
    return None


def nvimgcodec_skip_reason() -> str | None:
    """Return why nvImageCodec cannot be used here (not installed), or None."""
    try:
        installed = importlib.util.find_spec("nvidia.nvimgcodec") is not None
    except ModuleNotFoundError:  # no nvidia namespace package at all
        installed = False
    return (
        None if installed else "nvImageCodec (nvidia-nvimgcodec-cu12/-cu13) is not installed here"
    )


def torch_skip_reason() -> str | None:
    """Return why the torch backend tests cannot run here, or None."""
    missing = [name for name in ("torch", "onnx2torch") if importlib.util.find_spec(name) is None]
    if missing:
        return f"the torch backend needs {' and '.join(missing)}, not installed here"
    import torch

    if not torch.cuda.is_available():
        return f"torch {torch.__version__} has no CUDA device here"
    return None


def model_path() -> Path:
    """The YOLO11n ONNX: $YOLO_TRT_ROS_MODEL, else the bundled model."""
    override = os.environ.get("YOLO_TRT_ROS_MODEL")
    if override:
        return Path(override)
    from yolo_trt_ros.models import bundled_model_path

    return bundled_model_path()


def unmatched(
    reference: Detections, candidate: Detections, *, min_score: float, min_iou: float
) -> list[str]:
    """Describe reference detections above ``min_score`` with no same-class candidate at ``min_iou``.

    Candidates are matched greedily, best IoU first, each used once.
    """
    problems: list[str] = []
    free = np.ones(len(candidate), bool)
    ious: npt.NDArray[np.float64] = box_iou(reference.boxes, candidate.boxes)
    for index in np.argsort(-reference.scores, kind="stable"):
        if reference.scores[index] < min_score:
            continue
        same = (candidate.class_ids == reference.class_ids[index]) & free
        row = np.where(same, np.nan_to_num(ious[index], nan=0.0), -1.0)
        best = int(np.argmax(row)) if len(row) else -1
        if best < 0 or row[best] < min_iou:
            problems.append(
                f"{reference.name_of(int(reference.class_ids[index]))} "
                f"{reference.scores[index]:.3f} at {np.round(reference.boxes[index], 1).tolist()}: "
                f"best IoU {max(row.max(initial=-1.0), 0.0):.3f}"
            )
        else:
            free[best] = False
    return problems


PIXEL_FORMATS = {"chelsea_bgra": "bgra8", "camera_gray": "mono8"}  # the sample images not in BGR


def disagreements(
    reference: Any, candidate: Any, images: dict[str, npt.NDArray[np.uint8]], *, min_iou: float
) -> list[str]:
    """Run two detectors over the sample images; describe every detection above 0.3 only one finds."""
    problems: list[str] = []
    for name, image in images.items():
        pixel_format = PIXEL_FORMATS.get(name, "bgr8")
        expected, got = reference(image, pixel_format), candidate(image, pixel_format)
        assert got.image_hw == expected.image_hw
        problems += [
            f"{name}: missing {p}" for p in unmatched(expected, got, min_score=0.3, min_iou=min_iou)
        ]
        problems += [
            f"{name}: extra {p}" for p in unmatched(got, expected, min_score=0.3, min_iou=min_iou)
        ]
    return problems


def best_matches(reference: Detections, other: Detections) -> list[tuple[float, int]]:
    """For each reference detection: the best IoU with a same-class ``other`` and its index.

    (0.0, -1) where ``other`` has none of that class. Not one-to-one: recall at an IoU, as mAP
    counts it against a ranking.
    """
    found: list[tuple[float, int]] = []
    for index in range(len(reference)):
        same = np.flatnonzero(other.class_ids == reference.class_ids[index])
        if not len(same):
            found.append((0.0, -1))
            continue
        ious = box_iou(reference.boxes[index : index + 1], other.boxes[same])[0]
        best = int(np.nanargmax(ious))
        found.append((float(ious[best]), int(same[best])))
    return found
