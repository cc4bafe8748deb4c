"""Class ids and camera names worked out from the settings (``yolo_trt_ros.settings.derived``)."""

from __future__ import annotations

import pytest

from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.settings import camera_names_for, resolve_classes


def test_classes_by_name_or_index() -> None:
    names = {0: "person", 1: "bicycle", 2: "car"}
    assert resolve_classes([], names) is None
    assert resolve_classes(["car", 0, "1", "person"], names) == (0, 1, 2)
    with pytest.raises(InvalidSettingError, match="'truck' is not a class"):
        resolve_classes(["truck"], names)
    with pytest.raises(InvalidSettingError, match="index 7"):
        resolve_classes([7], names)


def test_camera_names_from_topics() -> None:
    assert camera_names_for(["/front/camera/image_raw", "/rear/image_rect_color"]) == [
        "front_camera",
        "rear",
    ]
    assert camera_names_for(["image"]) == ["camera0"]
    assert camera_names_for(["/a/image_raw", "/a/compressed"]) == [
        "camera0",
        "camera1",
    ]  # would collide
    assert camera_names_for(["/2d/image"]) == ["camera_2d"]
