"""Models with NMS inside (end2end, EfficientNMS) or a fixed input decode like the raw YOLO11n export.

The variants come from test/model_variants.py and run in ONNX Runtime on the CPU; the reference
is the bundled raw model through the same Detector, so no expected output is written down here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from model_variants import make_efficient_nms_model, make_end2end_model, make_static_model

from yolo_trt_ros.core.detections import Detections
from yolo_trt_ros.core.nms import box_iou
from yolo_trt_ros.detector import Detector
from yolo_trt_ros.errors import InvalidSettingError
from yolo_trt_ros.models import bundled_model_path
from yolo_trt_ros.testing.sample_images import Image, build_sample_images

CONF = 0.25  # the in-graph NMS threshold, and the Detector's
IMAGES = ("bus", "zidane", "street_1080p")
NMS_LAYOUTS = ("end2end", "efficient_nms")

OpenDetector = Callable[..., Detector]


@pytest.fixture(scope="module")
def images() -> dict[str, Image]:
    return build_sample_images()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder, raw = tmp_path_factory.mktemp("model_variants"), bundled_model_path()
    return {
        "raw": raw,
        "end2end": make_end2end_model(raw, folder / "end2end.onnx", conf=CONF),
        "efficient_nms": make_efficient_nms_model(raw, folder / "efficient_nms.onnx", conf=CONF),
        "static": make_static_model(raw, folder / "static.onnx"),
    }


@pytest.fixture
def detector(models: dict[str, Path]) -> Iterator[OpenDetector]:
    """detector(kind, **settings): a CPU Detector on one of ``models``, closed after the test."""
    opened: list[Detector] = []

    def open_detector(kind: str, **settings: Any) -> Detector:
        opened.append(Detector.from_model(models[kind], device="cpu", **{"conf": CONF, **settings}))
        return opened[-1]

    yield open_detector
    for each in opened:
        each.close()


def assert_same_detections(actual: Detections, expected: Detections, what: str) -> None:
    """Same count and classes; boxes IoU >= 0.99 and scores within 1e-4, pairing by score order."""
    assert len(actual) == len(expected), (
        f"{what}: {len(actual)} detections, expected {len(expected)}"
    )
    got, want = (
        np.argsort(-actual.scores, kind="stable"),
        np.argsort(-expected.scores, kind="stable"),
    )
    np.testing.assert_array_equal(actual.class_ids[got], expected.class_ids[want], err_msg=what)
    np.testing.assert_allclose(
        actual.scores[got], expected.scores[want], rtol=0, atol=1e-4, err_msg=what
    )
    ious = np.diagonal(box_iou(actual.boxes[got], expected.boxes[want]))
    assert np.all(ious >= 0.99), f"{what}: box IoUs {np.round(ious, 4).tolist()}"


@pytest.mark.parametrize("layout", NMS_LAYOUTS)
def test_nms_variants_are_detected_by_their_outputs(detector: OpenDetector, layout: str) -> None:
    nms_detector = detector(layout)
    assert nms_detector.layout == layout and nms_detector.nms_in_model
    assert nms_detector.backend.metadata.end2end is True
    assert len(nms_detector.names) == 80  # metadata kept
    raw = detector("raw")
    assert raw.layout == "raw" and not raw.nms_in_model


@pytest.mark.parametrize(
    "settings",
    # a Detector conf above the in-graph one is exact too: NMS visits boxes by descending score
    [{}, {"classes": [0]}, {"max_det": 2}, {"conf": 0.5}],
    ids=["defaults", "classes", "max_det", "higher_conf"],
)
@pytest.mark.parametrize("layout", NMS_LAYOUTS)
def test_nms_variants_match_raw_model(
    detector: OpenDetector, images: dict[str, Image], layout: str, settings: dict[str, Any]
) -> None:
    raw = detector("raw", **settings)
    nms_detector = detector(layout, **settings)
    for name in IMAGES:
        expected = raw(images[name])
        assert len(expected) > 0, f"the raw model finds nothing in {name}: a useless comparison"
        assert_same_detections(nms_detector(images[name]), expected, f"{layout} on {name}")
        if "classes" in settings:
            assert set(expected.class_ids.tolist()) == {0}
        if "max_det" in settings:
            assert len(expected) == settings["max_det"]


def test_static_model_runs_square_at_its_fixed_size(
    detector: OpenDetector, images: dict[str, Image]
) -> None:
    static = detector("static")
    assert static.layout == "raw"
    assert static.preprocessor.rect is False
    assert static.input_size == (640, 640)
    assert static.backend.input_specs[0].shape == (1, 3, 640, 640)
    expected = detector("raw", rect=False)(images["bus"])
    assert len(expected) > 0
    assert_same_detections(static(images["bus"]), expected, "static model on bus")


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"imgsz": 320}, "fixed input"), ({"rect": True}, "dynamic-shape model")],
)
def test_static_model_rejects_other_sizes_and_rect(
    models: dict[str, Path], settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidSettingError, match=message):
        Detector.from_model(models["static"], device="cpu", **settings)
