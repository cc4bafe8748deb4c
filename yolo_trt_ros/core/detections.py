"""The detection result type: parallel arrays, in original image pixels, plus class names."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

__all__ = ["Detection", "Detections"]


class Detection(NamedTuple):
    """One detection: xyxy box in original image pixels, score, class id and name."""

    box: tuple[float, float, float, float]
    score: float
    class_id: int
    name: str


@dataclass(frozen=True)
class Detections:
    """Detections for one image, sorted by descending score.

    ``boxes`` is (N, 4) float32 xyxy in original image pixels, clipped to the image; ``scores``
    (N,) float32; ``class_ids`` (N,) int64; ``names`` maps class ids to names.
    """

    boxes: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]
    class_ids: npt.NDArray[np.int64]
    names: Mapping[int, str] = field(default_factory=dict)
    image_hw: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        count = len(self.scores)
        if self.boxes.shape != (count, 4) or self.class_ids.shape != (count,):
            raise ValueError(
                f"inconsistent detections: boxes {self.boxes.shape}, scores {self.scores.shape}, class_ids {self.class_ids.shape}"
            )

    @classmethod
    def empty(
        cls, names: Mapping[int, str] | None = None, image_hw: tuple[int, int] = (0, 0)
    ) -> Detections:
        """No detections."""
        return cls(
            np.zeros((0, 4), np.float32),
            np.zeros(0, np.float32),
            np.zeros(0, np.int64),
            dict(names or {}),
            image_hw,
        )

    def __len__(self) -> int:
        return len(self.scores)

    def name_of(self, class_id: int) -> str:
        """Return the class name for an id, or the id as text when the model names no such class."""
        return self.names.get(int(class_id), str(int(class_id)))

    @property
    def class_names(self) -> list[str]:
        """The class name of each detection."""
        return [self.name_of(c) for c in self.class_ids]

    def __iter__(self) -> Iterator[Detection]:
        for box, score, class_id in zip(
            self.boxes.tolist(), self.scores.tolist(), self.class_ids.tolist(), strict=True
        ):
            yield Detection(tuple(box), score, class_id, self.name_of(class_id))

    def to_list(self) -> list[dict[str, Any]]:
        """Plain Python records, e.g. for JSON."""
        return [d._asdict() | {"box": list(d.box)} for d in self]
