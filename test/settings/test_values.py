"""Device, precision and image size values (``yolo_trt_ros.settings.values``)."""

from __future__ import annotations

import pytest

from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.settings.values import Device, ImageSize, check_precision_on


@pytest.mark.parametrize(
    ("text", "kind", "index"),
    [
        ("auto", "auto", None),
        ("cpu", "cpu", None),
        ("cuda", "cuda", None),
        ("cuda:1", "cuda", 1),
        ("dla:0", "dla", 0),
    ],
)
def test_devices_parse(text: str, kind: str, index: int | None) -> None:
    device = Device.parse(text)
    assert device == Device(kind, index) and str(device) == text


@pytest.mark.parametrize("text", ["gpu", "dla", "cpu:0", "auto:1", "cuda:", "cuda:x", " cuda", ""])
def test_other_device_strings_are_refused(text: str) -> None:
    assert Device.parse(text) is None


def test_device_properties() -> None:
    assert Device("cuda").cuda_index == 0 and Device("cuda", 2).cuda_index == 2
    assert Device("dla", 1).cuda_index is None and Device("dla", 1).is_dla
    assert not Device("cuda", 0).is_dla


def test_dla_runs_fp16_or_int8_only() -> None:
    for precision in ("fp16", "int8", "auto"):
        check_precision_on(Device("dla", 0), precision)
    check_precision_on(Device("cuda", 0), "fp32")
    check_precision_on(None, "fp32")
    with pytest.raises(InvalidSettingError, match="DLA runs FP16 or INT8 only") as error:
        check_precision_on(Device("dla", 1), "fp32")
    assert error.value.parameter == "precision"


@pytest.mark.parametrize(
    ("value", "pair"),
    [
        (640, (640, 640)),
        ("640", (640, 640)),
        ("384,640", (384, 640)),
        ("384x640", (384, 640)),
        ([384, 640], (384, 640)),
        ((64, 32), (64, 32)),
    ],
)
def test_image_sizes_parse(value: int | str | list[int], pair: tuple[int, int]) -> None:
    size = ImageSize.parse(value)
    assert size is not None and size.pair == pair


def test_zero_is_the_models_own_size() -> None:
    assert ImageSize.parse(0) is None and ImageSize.parse("0") is None


@pytest.mark.parametrize("value", ["big", "1,2,3", "", [640, 640, 3], True, 6.4])
def test_malformed_sizes_are_value_errors(value: object) -> None:
    with pytest.raises(ValueError, match=r"not|invalid literal"):
        ImageSize.parse(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [500, "640,500", -64, [0, 640]])
def test_sides_must_be_positive_multiples_of_the_stride(value: int | str | list[int]) -> None:
    with pytest.raises(InvalidSettingError, match="must be positive multiples of 32") as error:
        ImageSize.parse(value)
    assert error.value.parameter == "image_size"
