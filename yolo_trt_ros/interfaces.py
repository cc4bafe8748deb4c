"""Facts about the ROS interfaces this package speaks, read from the ament index (no rclpy).

vision_msgs is the one interface package a machine may lack. ``scripts/setup.sh`` then generates a
wire-compatible copy; these helpers tell which one is installed and whether its type hashes
(REP 2011, ROS 2 Iron and later) match upstream vision_msgs 4.1.1.
"""

import json
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from yolo_trt_ros.errors import YoloTrtRosError

__all__ = [
    "GENERATED_VISION_MSGS_STAMP",
    "UPSTREAM_VISION_MSGS_TYPE_HASHES",
    "UPSTREAM_VISION_MSGS_VERSION",
    "InterfaceNotFoundError",
    "installed_type_hash",
    "is_generated_vision_msgs",
]

UPSTREAM_VISION_MSGS_VERSION = "4.1.1"

#: RIHS01 type hashes of upstream vision_msgs 4.1.1; equal hashes mean wire compatibility.
UPSTREAM_VISION_MSGS_TYPE_HASHES: Mapping[str, str] = MappingProxyType(
    {
        "vision_msgs/msg/Detection2DArray": "RIHS01_214274120007f4a683866481336b70310268cfa107aebe9d594a6acf75bda968",
        "vision_msgs/msg/Detection2D": "RIHS01_0d12b69df5c593b3455b7346fac8205437a7d4bcb09b9e0e0b2dde787ded38ea",
        "vision_msgs/msg/ObjectHypothesisWithPose": "RIHS01_41c12344c0396c48b81df12467c192d99b2a0eb1463c5c37194e4223251c80bc",
        "vision_msgs/msg/BoundingBox2D": "RIHS01_008eacbb0cf8f26e83795547bed013eec3675485ef386ec056d80eaaf1c1ce2f",
    }
)

#: Written into share/vision_msgs/ by scripts/setup.sh when it generated vision_msgs.
GENERATED_VISION_MSGS_STAMP = "yolo_trt_ros_generated.sha256"


class InterfaceNotFoundError(YoloTrtRosError):
    """An interface package or type is not installed in any prefix of AMENT_PREFIX_PATH."""


def _share_directory(package: str) -> Path:
    from ament_index_python.packages import (  # noqa: PLC0415 - ROS-only dependency
        PackageNotFoundError,
        get_package_share_directory,
    )

    try:
        return Path(get_package_share_directory(package))
    except PackageNotFoundError:
        raise InterfaceNotFoundError(
            f"ROS package '{package}' is not in the ament index: source the ROS setup "
            "(`source install/setup.bash`) or run scripts/setup.sh."
        ) from None


def installed_type_hash(type_name: str) -> str | None:
    """Return the RIHS01 hash of an installed interface type such as ``pkg/msg/Name``.

    Returns None where the installed ROS predates type hashes (Humble has no type descriptions).
    """
    package, kind, name = _split_type_name(type_name)
    share = _share_directory(package)
    description = share / kind / f"{name}.json"
    if not description.is_file():
        if (share / kind / f"{name}.idl").is_file():
            return None
        raise InterfaceNotFoundError(f"'{type_name}' is not installed in {share}.")
    hashes = json.loads(description.read_text(encoding="utf-8"))["type_hashes"]
    for entry in hashes:
        if entry["type_name"] == type_name:
            return str(entry["hash_string"])
    raise InterfaceNotFoundError(f"{description} holds no type hash for '{type_name}'.")


def is_generated_vision_msgs() -> bool:
    """Return True when the installed vision_msgs is the copy scripts/setup.sh generated."""
    return (_share_directory("vision_msgs") / GENERATED_VISION_MSGS_STAMP).is_file()


def _split_type_name(type_name: str) -> tuple[str, str, str]:
    parts = type_name.split("/")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"Expected an interface type like 'pkg/msg/Name', got '{type_name}'.")
    return parts[0], parts[1], parts[2]
