"""What a model says about itself: class names, image size, stride, task (Ultralytics metadata).

Ultralytics writes the same keys into ONNX ``metadata_props`` (as Python literals in strings) and
into the JSON header of its ``.engine`` files (as JSON values); this parser accepts both.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from yolo_trt_ros.errors import UnsupportedModelError

__all__ = ["ModelMetadata", "parse_ultralytics_metadata"]


@dataclass(frozen=True)
class ModelMetadata:
    """A model's self-description; every field is optional because plain ONNX files carry none."""

    names: dict[int, str] = field(default_factory=dict)
    imgsz: tuple[int, int] | None = None
    stride: int | None = None
    task: str | None = None
    end2end: bool | None = None
    dynamic: bool | None = None
    half: bool | None = None
    batch: int | None = None
    channels: int | None = None
    producer: str = ""

    @property
    def num_classes(self) -> int | None:
        """How many classes the names cover, if the model names them."""
        return len(self.names) or None


def _literal(value: Any) -> Any:
    """Return a metadata value as Python data: JSON values pass through, strings are parsed."""
    if not isinstance(value, str):
        return value
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def _as_bool(value: Any) -> bool | None:
    value = _literal(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _as_int(value: Any) -> int | None:
    value = _literal(value)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _as_imgsz(value: Any) -> tuple[int, int] | None:
    value = _literal(value)
    if isinstance(value, int):
        return value, value
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int) for v in value)
    ):
        return int(value[0]), int(value[1])
    return None


def _as_names(value: Any) -> dict[int, str]:
    value = _literal(value)
    if isinstance(value, Mapping):
        try:
            return {int(k): str(v) for k, v in value.items()}
        except (TypeError, ValueError):
            pass
    elif isinstance(value, list | tuple):
        return dict(enumerate(map(str, value)))
    raise UnsupportedModelError(
        f"model metadata 'names' is not a class-name mapping or list: {str(value)[:80]!r}"
    )


def parse_ultralytics_metadata(raw: Mapping[str, Any]) -> ModelMetadata:
    """Parse Ultralytics metadata (ONNX ``metadata_props`` strings or engine-header JSON values)."""
    args = _literal(raw.get("args", {}))
    args = args if isinstance(args, Mapping) else {}
    end2end = _as_bool(raw["end2end"]) if "end2end" in raw else _as_bool(args.get("nms"))
    return ModelMetadata(
        names=_as_names(raw["names"]) if "names" in raw else {},
        imgsz=_as_imgsz(raw.get("imgsz")),
        stride=_as_int(raw.get("stride")),
        task=str(raw["task"]) if "task" in raw else None,
        end2end=end2end,
        dynamic=_as_bool(args.get("dynamic")),
        half=_as_bool(args.get("half")),
        batch=_as_int(raw.get("batch")),
        channels=_as_int(raw.get("channels")),
        producer=f"{raw.get('author', '')} {raw.get('version', '')}".strip(),
    )
