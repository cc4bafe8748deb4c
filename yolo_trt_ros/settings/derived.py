"""What the node works out from its settings and what it finds: class ids, camera names.

``resolve_classes`` needs the model's class names (known after loading it), ``camera_names_for``
the image topics; both are pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from yolo_trt_ros.errors import InvalidSettingError

__all__ = ["camera_names_for", "resolve_classes"]


def resolve_classes(classes: Sequence[str | int], names: dict[int, str]) -> tuple[int, ...] | None:
    """Turn class names or indices (as text or int) into model class ids; None means all classes."""
    if not classes:
        return None
    by_name = {name: index for index, name in names.items()}
    resolved = []
    for item in classes:
        text = str(item).strip()
        if text.lstrip("-").isdigit():
            index = int(text)
            if names and index not in names:
                raise InvalidSettingError.of(
                    "classes", f"index {index} is not a class of this model (0..{len(names) - 1})"
                )
            resolved.append(index)
        elif text in by_name:
            resolved.append(by_name[text])
        else:
            raise InvalidSettingError.of(
                "classes",
                f"{text!r} is not a class of this model (e.g. {', '.join(list(by_name)[:5])})",
            )
    return tuple(sorted(set(resolved)))


_IMAGE_SUFFIXES = {
    "image",
    "image_raw",
    "image_rect",
    "image_color",
    "image_rect_color",
    "compressed",
    "color",
    "rgb",
}


def camera_names_for(topics: list[str] | tuple[str, ...]) -> list[str]:
    """Derive short unique camera names from topics: /front/camera/image_raw -> front_camera."""
    names = []
    for index, topic in enumerate(topics):
        parts = [p for p in topic.strip("/~").split("/") if p and p not in _IMAGE_SUFFIXES]
        name = re.sub(r"[^A-Za-z0-9_]", "_", "_".join(parts)) or f"camera{index}"
        names.append(name if name[0].isalpha() else f"camera_{name}")
    if len(set(names)) != len(names):
        return [f"camera{index}" for index in range(len(topics))]
    return names
