"""Decoders on hand-built model outputs: thresholds, class filter, max_det, and layout detection."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from yolo_trt_ros.core.decode import DecodeSettings, decode, detect_output_layout
from yolo_trt_ros.core.metadata import parse_ultralytics_metadata
from yolo_trt_ros.errors import InvalidSettingError, UnsupportedModelError

NUM_CLASSES = 5


def _raw_output(
    rows: Sequence[tuple[float, float, float, float, int, float]], anchors: int = 40
) -> np.ndarray:
    """A (1, 4 + C, anchors) head output holding the given (cx, cy, w, h, class, score) rows."""
    output = np.zeros((1, 4 + NUM_CLASSES, anchors), np.float32)
    output[0, :4] = 1.0  # empty anchors: tiny boxes with every score 0
    for anchor, (cx, cy, w, h, cls, score) in enumerate(rows):
        output[0, :4, anchor] = (cx, cy, w, h)
        output[0, 4 + cls, anchor] = score
        output[0, 4 + (cls + 1) % NUM_CLASSES, anchor] = score / 3  # a weaker second class
    return output


ROWS: list[tuple[float, float, float, float, int, float]] = [
    (50, 50, 20, 20, 0, 0.9),
    (52, 50, 20, 20, 0, 0.8),  # overlaps the first, same class: suppressed
    (52, 50, 20, 20, 1, 0.7),  # same place, other class: kept unless agnostic
    (150, 150, 10, 30, 2, 0.6),
    (
        300,
        20,
        40,
        10,
        3,
        0.25,
    ),  # exactly at the default threshold: dropped (score must exceed conf)
]


def _decode_raw(settings: DecodeSettings) -> tuple[list[list[float]], list[float], list[int]]:
    result = decode("raw", [_raw_output(ROWS)], settings)[0]
    return result.boxes.tolist(), result.scores.tolist(), result.class_ids.tolist()


def test_raw_default_settings() -> None:
    boxes, scores, classes = _decode_raw(DecodeSettings())
    assert classes == [0, 1, 2]
    assert scores == pytest.approx([0.9, 0.7, 0.6])
    assert boxes[0] == pytest.approx([40, 40, 60, 60]) and boxes[2] == pytest.approx(
        [145, 135, 155, 165]
    )


def test_raw_agnostic_class_filter_and_max_det() -> None:
    assert _decode_raw(DecodeSettings(agnostic=True))[2] == [0, 2]
    assert _decode_raw(DecodeSettings(classes=(1, 2)))[2] == [1, 2]
    assert _decode_raw(DecodeSettings(max_det=2))[2] == [0, 1]
    assert _decode_raw(DecodeSettings(conf=0.2))[2] == [0, 1, 2, 3]
    assert _decode_raw(DecodeSettings(conf=0.95))[2] == []


def test_raw_max_nms_keeps_the_best_candidates() -> None:
    assert _decode_raw(DecodeSettings(max_nms=1))[2] == [0]


def test_raw_batch_gives_one_result_per_image() -> None:
    batch = np.concatenate([_raw_output(ROWS), _raw_output([]), _raw_output(ROWS[3:4])])
    results = decode("raw", [batch], DecodeSettings())
    assert [r.class_ids.tolist() for r in results] == [[0, 1, 2], [], [2]]


def _suppressed_rows() -> np.ndarray:
    return np.array(
        [
            [40, 40, 60, 60, 0.9, 0],
            [145, 135, 155, 165, 0.6, 2],
            [42, 40, 62, 60, 0.7, 1],
            [0, 0, 0, 0, 0.0, 0],
        ],
        np.float32,
    )


def test_end2end_and_efficient_nms_decoders_agree() -> None:
    rows = _suppressed_rows()
    settings = DecodeSettings(conf=0.5)
    end2end = decode("end2end", [rows[None]], settings)[0]
    efficient = decode(
        "efficient_nms",
        [
            np.array([[3]], np.int32),
            rows[None, :, :4],
            rows[None, :, 4],
            rows[None, :, 5].astype(np.int32),
        ],
        settings,
    )[0]
    assert (
        end2end.class_ids.tolist() == efficient.class_ids.tolist() == [0, 1, 2]
    )  # sorted by score
    np.testing.assert_array_equal(end2end.boxes, efficient.boxes)
    only_class_2 = decode("end2end", [rows[None]], DecodeSettings(classes=(2,)))[0]
    assert only_class_2.class_ids.tolist() == [2]


def test_already_suppressed_rows_in_any_order_keep_the_best() -> None:
    rows = _suppressed_rows()[[3, 1, 2, 0]]  # e.g. ONNX NonMaxSuppression output, grouped by class
    best = decode("end2end", [rows[None]], DecodeSettings(max_det=1))[0]
    assert best.scores.tolist() == [pytest.approx(0.9)] and best.class_ids.tolist() == [0]


def test_efficient_nms_ignores_rows_beyond_num_dets() -> None:
    rows = _suppressed_rows()
    result = decode(
        "efficient_nms",
        [np.array([[1]]), rows[None, :, :4], rows[None, :, 4], rows[None, :, 5]],
        DecodeSettings(conf=0.1),
    )[0]
    assert result.class_ids.tolist() == [0]


@pytest.mark.parametrize(
    ("shapes", "num_classes", "layout"),
    [
        ([(1, 84, 8400)], 80, "raw"),
        ([("batch", 84, "anchors")], 80, "raw"),
        ([(1, 84, 8400)], None, "raw"),
        ([(1, 300, 6)], 80, "end2end"),
        ([("batch", "num", 6)], 80, "end2end"),
        ([(1, 1), (1, 100, 4), (1, 100), (1, 100)], 80, "efficient_nms"),
    ],
)
def test_layout_detection(
    shapes: list[tuple[int | str, ...]], num_classes: int | None, layout: str
) -> None:
    assert detect_output_layout(shapes, num_classes) == layout


def test_metadata_settles_an_end2end_model_with_84_rows() -> None:
    assert detect_output_layout([(1, 84, 6)], 80) == "raw"  # shape alone: a raw head with 6 anchors
    assert detect_output_layout([(1, 84, 6)], 80, end2end=True) == "end2end"


@pytest.mark.parametrize(
    ("shapes", "message"),
    [
        ([(1, 116, 8400), (1, 32, 160, 160)], "segmentation or pose"),
        ([(1, 1000)], "not a YOLO detection head"),
        ([(1, 3, 80, 80, 85)], "not a YOLO detection head"),
    ],
)
def test_unsupported_outputs_are_named(shapes: list[tuple[int, ...]], message: str) -> None:
    with pytest.raises(UnsupportedModelError, match=message):
        detect_output_layout(shapes, 80)


def test_unknown_layout_name() -> None:
    with pytest.raises(UnsupportedModelError, match="unknown output layout"):
        decode("yolov5", [np.zeros((1, 85, 10), np.float32)], DecodeSettings())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"conf": -0.1},
        {"conf": 1.01},
        {"iou": 2.0},
        {"max_det": 0},
        {"max_nms": 0},
        {"classes": (-1,)},
    ],
)
def test_settings_are_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidSettingError):
        DecodeSettings(**kwargs)  # type: ignore[arg-type]


def test_metadata_from_onnx_strings_and_engine_json() -> None:
    onnx_style = {
        "names": "{0: 'person', 1: 'bicycle'}",
        "imgsz": "[640, 480]",
        "stride": "32",
        "task": "detect",
        "args": "{'batch': 1, 'half': False, 'dynamic': True, 'nms': False}",
        "author": "Ultralytics",
        "version": "8.3.250",
    }
    engine_style = {
        "names": {"0": "person", "1": "bicycle"},
        "imgsz": [640, 480],
        "stride": 32,
        "task": "detect",
        "args": {"dynamic": True, "nms": False, "half": False},
    }
    parsed = [parse_ultralytics_metadata(raw) for raw in (onnx_style, engine_style)]
    for meta in parsed:
        assert meta.names == {0: "person", 1: "bicycle"} and meta.num_classes == 2
        assert (meta.imgsz, meta.stride, meta.task, meta.dynamic, meta.end2end, meta.half) == (
            (640, 480),
            32,
            "detect",
            True,
            False,
            False,
        )
    assert parsed[0].producer == "Ultralytics 8.3.250"
    assert parse_ultralytics_metadata(
        {"names": "['a', 'b']", "imgsz": "320", "end2end": "True"}
    ).names == {0: "a", 1: "b"}
    assert parse_ultralytics_metadata({"end2end": "True"}).end2end is True
    empty = parse_ultralytics_metadata({})
    assert empty.names == {} and empty.num_classes is None and empty.imgsz is None


def test_metadata_with_unusable_names() -> None:
    with pytest.raises(UnsupportedModelError, match="names"):
        parse_ultralytics_metadata({"names": "not a mapping"})
