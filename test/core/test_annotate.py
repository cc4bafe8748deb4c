"""draw_detections: a new image, drawn only around the boxes, one colour per class."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from yolo_trt_ros.core.annotate import PALETTE, class_color, default_line_width, draw_detections
from yolo_trt_ros.core.detections import Detections
from yolo_trt_ros.errors import InvalidImageError

NAMES = {0: "person", 1: "car"}
IMAGE = np.random.default_rng(7).integers(0, 256, (480, 640, 3), dtype=np.uint8)


def detections(boxes: list[list[float]], class_ids: list[int]) -> Detections:
    count = len(boxes)
    return Detections(
        np.array(boxes, np.float32).reshape(count, 4),
        np.linspace(0.9, 0.3, count).astype(np.float32),
        np.array(class_ids, np.int64),
        NAMES,
        IMAGE.shape[:2],
    )


# the third box touches the top edge: its label goes inside the box
SCENE = detections(
    [[50, 60, 200, 300], [300, 100, 500, 400], [420, 2, 600, 90], [10.4, 330.6, 120.2, 470.9]],
    [0, 1, 0, 7],  # class 7 has no name: labelled "7"
)


def near_boxes(dets: Detections, line_width: int) -> npt.NDArray[np.bool_]:
    """Pixels a box or its label may touch: the box grown by the line width, plus label room."""
    mask = np.zeros(IMAGE.shape[:2], bool)
    margin = line_width + 2
    text_h = int(30 * line_width / 3) + 6  # HERSHEY_SIMPLEX cap height + descent at scale lw/3
    for (x1, y1, x2, y2), name in zip(
        dets.boxes.astype(int).tolist(), dets.class_names, strict=True
    ):
        text_w = int(25 * line_width / 3 * len(f"{name} 0.00")) + margin
        mask[
            max(y1 - text_h - margin, 0) : max(y2, y1 + text_h) + margin + 1,
            max(x1 - margin, 0) : max(x2, x1 + text_w) + margin + 1,
        ] = True
    return mask


def test_returns_a_new_image_of_the_same_shape() -> None:
    before = IMAGE.copy()
    out = draw_detections(IMAGE, SCENE)
    assert out.shape == IMAGE.shape and out.dtype == np.uint8
    assert not np.shares_memory(out, IMAGE)
    np.testing.assert_array_equal(IMAGE, before)  # input unchanged


@pytest.mark.parametrize("line_width", [None, 1, 5])
def test_pixels_change_only_near_boxes_and_labels(line_width: int | None) -> None:
    out = draw_detections(IMAGE, SCENE, line_width=line_width)
    lw = line_width or default_line_width(IMAGE.shape[:2])
    changed = (out != IMAGE).any(axis=2)
    assert changed.any()
    assert not changed[~near_boxes(SCENE, lw)].any()
    for x1, y1, x2, y2 in SCENE.boxes.astype(int).tolist():  # every box edge is drawn
        assert changed[(y1 + y2) // 2, x1] and changed[(y1 + y2) // 2, x2]
        assert changed[y2, (x1 + x2) // 2]


def edge_colour(image: npt.NDArray[np.uint8], box: list[int]) -> tuple[int, ...]:
    x1, y1, _, y2 = box
    return tuple(int(v) for v in image[(y1 + y2) // 2, x1])


def test_one_colour_per_class() -> None:
    out = draw_detections(IMAGE, SCENE)
    boxes = SCENE.boxes.astype(int).tolist()
    colours = [edge_colour(out, box) for box in boxes]
    assert colours[0] == colours[2] == class_color(0) == PALETTE[0]
    assert colours[1] == class_color(1) != colours[0]
    assert colours[3] == class_color(7) == class_color(27)
    assert len(set(PALETTE)) == 20


def test_label_background_is_filled_with_the_class_colour() -> None:
    plain = np.full_like(IMAGE, 40)
    out = draw_detections(plain, SCENE)
    x1, y1 = 300, 100  # "car 0.70" label sits above the box: its background is the class colour
    label_area = out[y1 - 12 : y1 - 2, x1 + 2 : x1 + 40].reshape(-1, 3)
    colour_share = (label_area == class_color(1)).all(axis=1).mean()
    assert 0.3 < colour_share < 1  # mostly background, some text


def test_empty_detections_give_an_identical_copy() -> None:
    out = draw_detections(IMAGE, Detections.empty(NAMES, IMAGE.shape[:2]))
    np.testing.assert_array_equal(out, IMAGE)
    assert not np.shares_memory(out, IMAGE)


def test_non_contiguous_input_and_odd_boxes() -> None:
    view = IMAGE[::2, ::2]  # strided input
    odd = detections([[-50, -50, 1e9, 1e9], [np.nan, 1, 2, 3], [5, 5, 5, 5]], [3, 4, 5])
    out = draw_detections(view, odd)
    assert out.shape == view.shape
    assert (out != view).any()


@pytest.mark.parametrize(
    "image",
    [IMAGE[..., 0], IMAGE.astype(np.float32), np.zeros((4, 4, 4), np.uint8)],
    ids=["2-D", "float32", "4-channel"],
)
def test_refuses_what_is_not_a_bgr8_image(image: npt.NDArray[np.generic]) -> None:
    with pytest.raises(InvalidImageError):
        draw_detections(image, SCENE)  # type: ignore[arg-type]
