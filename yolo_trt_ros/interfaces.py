"""Facts about the ROS interfaces this package speaks, read from the ament index (no rclpy).

vision_msgs is the one interface package a machine may lack. ``scripts/setup.sh`` then generates a
wire-compatible copy; these helpers tell which one is installed and whether its type hashes
(REP 2011, ROS 2 Iron and later) match upstream vision_msgs 4.1.1.
"""

import json
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from yolo_trt_ros.errors import InterfaceNotFoundError

__all__ = [
    "GENERATED_VISION_MSGS_STAMP",
    "UPSTREAM_VISION_MSGS_TYPE_HASHES",
    "UPSTREAM_VISION_MSGS_VERSION",
    "installed_type_hash",
    "is_generated_vision_msgs",
]

UPSTREAM_VISION_MSGS_VERSION = "4.1.1"

#: RIHS01 type hashes of upstream vision_msgs 4.1.1; equal hashes mean wire compatibility.
UPSTREAM_VISION_MSGS_TYPE_HASHES: Mapping[str, str] = MappingProxyType(
    {
        "vision_msgs/msg/BoundingBox2D": "RIHS01_008eacbb0cf8f26e83795547bed013eec3675485ef386ec056d80eaaf1c1ce2f",
        "vision_msgs/msg/BoundingBox2DArray": "RIHS01_2464e82838009386d371b523211c21c91d74d313fcdd6788223c531d621cf691",
        "vision_msgs/msg/BoundingBox3D": "RIHS01_bbb73a65c163d7f9bb29009c7bde9f7faa576bd2d23299c4511d19230dab4698",
        "vision_msgs/msg/BoundingBox3DArray": "RIHS01_a81938db9576b10c2eecd7c5a5da3eac496efd00221b25ed051dfbc81fb56da6",
        "vision_msgs/msg/Classification": "RIHS01_f74db28d0eaef3afb78f48bf2161cd709a1383a0309d3454383b25be11345143",
        "vision_msgs/msg/Detection2D": "RIHS01_0d12b69df5c593b3455b7346fac8205437a7d4bcb09b9e0e0b2dde787ded38ea",
        "vision_msgs/msg/Detection2DArray": "RIHS01_214274120007f4a683866481336b70310268cfa107aebe9d594a6acf75bda968",
        "vision_msgs/msg/Detection3D": "RIHS01_ddd703be132ab0b69d33121f1bb034132bfbb3b0ac5f9fb1516005ba1c8a265b",
        "vision_msgs/msg/Detection3DArray": "RIHS01_793f5eab9595ac1c0da07873cc859db42eae51f0ee76056db8562515d830e018",
        "vision_msgs/msg/LabelInfo": "RIHS01_3d37df4015cdf660cc851c51897f2acd957e1ca6205ba0a99aebffb9406b0783",
        "vision_msgs/msg/ObjectHypothesis": "RIHS01_51da43cec11c01957a64d1e05a24acd18aae7745ec30b74348ad5f6d634f7f90",
        "vision_msgs/msg/ObjectHypothesisWithPose": "RIHS01_41c12344c0396c48b81df12467c192d99b2a0eb1463c5c37194e4223251c80bc",
        "vision_msgs/msg/Point2D": "RIHS01_eab0e83f44ab4de92ceaf76dd7d0e7638f2bdd1d16ffbe16c7a136c48e407247",
        "vision_msgs/msg/Pose2D": "RIHS01_b0b5d1d7b4c20dd4fcde3ed1d4b289a919290572007d67a97043814db25d3648",
        "vision_msgs/msg/VisionClass": "RIHS01_1e4a11f0fed50b5623cb8ff26ca0e37952a48a9c074d16f804b44e9164c2037a",
        "vision_msgs/msg/VisionInfo": "RIHS01_95d3116a17484ad91c9a2686e1d54890bbfc3ff6c6a2de137738c4950d45d284",
    }
)

#: Written into share/vision_msgs/ by scripts/setup.sh when it generated vision_msgs.
GENERATED_VISION_MSGS_STAMP = "yolo_trt_ros_generated.sha256"


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
