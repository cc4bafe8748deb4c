"""A hand-driven clock for the frame-flow counters, so rates and windows are exact."""

from __future__ import annotations


class FakeClock:
    """A hand-driven clock, so rates and windows are exact."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now
