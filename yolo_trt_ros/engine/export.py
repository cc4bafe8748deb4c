"""``.pt`` -> ONNX through Ultralytics, only when an export is asked for and Ultralytics is installed.

A ``.pt`` file is a pickle: loading it runs code. The detector never opens one on its own; this
module is called only by an explicit export (the export node, or a detector configured with a
``.pt`` model), and Ultralytics stays an optional extra.
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

from yolo_trt_ros.errors import ExportUnavailableError

__all__ = ["export_onnx"]


def export_onnx(
    model: Path,
    target: Path,
    image_size: tuple[int, int],
    *,
    dynamic: bool = False,
    nms: bool = False,
) -> Path:
    """Export a ``.pt`` model to ONNX (opset 17, simplified) at ``target``."""
    try:
        ultralytics = importlib.import_module("ultralytics")
    except ImportError:
        raise ExportUnavailableError(
            f"exporting {model.name} needs Ultralytics, which is not installed: pip install ultralytics "
            "(it brings torch), or export elsewhere with `yolo export model=<file>.pt format=onnx` and use the .onnx"
        ) from None
    exported = ultralytics.YOLO(str(model)).export(
        format="onnx", imgsz=list(image_size), dynamic=dynamic, simplify=True, opset=17, nms=nms
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(exported), target)
    return target
