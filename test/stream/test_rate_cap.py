"""The frame-rate cap, on exact synthetic arrival times (no clocks, no sleeping)."""

from __future__ import annotations

import itertools
import math

import pytest

from yolo_trt_ros.stream import RateCap, StreamStats


def admitted(cap: RateCap, arrivals: list[float]) -> list[float]:
    return [t for t in arrivals if cap.admit(t)]


def camera(rate_hz: float, seconds: float, start: float = 100.0) -> list[float]:
    return [start + i / rate_hz for i in range(int(seconds * rate_hz))]


@pytest.mark.parametrize("camera_hz", [5.0, 15.0, 25.0, 30.0, 60.0, 1000.0])
@pytest.mark.parametrize("cap_hz", [1.0, 10.0, 20.0, 30.0])
def test_the_rate_stays_at_or_below_the_cap_and_close_to_it(
    camera_hz: float, cap_hz: float
) -> None:
    seconds = 20.0
    kept = admitted(RateCap(cap_hz), camera(camera_hz, seconds))
    achievable = min(camera_hz, cap_hz) * seconds
    assert len(kept) <= cap_hz * seconds + 1
    # frames come in whole periods of the camera, so a cap between two of its divisors is
    # met as closely as whole frames allow; it never falls to the next divisor
    assert len(kept) >= 0.9 * achievable
    gaps = [b - a for a, b in itertools.pairwise(kept)]
    assert min(gaps) >= 0.5 / cap_hz - 1e-9


def test_a_cap_between_divisors_is_not_rounded_down() -> None:
    # 30 Hz camera, 20 Hz cap: "at least 50 ms since the last frame" would keep every other frame
    # (15 Hz); the schedule keeps two of every three.
    kept = admitted(RateCap(20.0), camera(30.0, 30.0))
    assert len(kept) == pytest.approx(20.0 * 30.0, abs=2)


def test_no_cap_admits_everything_and_bad_caps_are_refused() -> None:
    frames = camera(1000.0, 1.0)
    assert admitted(RateCap(0.0), frames) == frames
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="rate cap"):
            RateCap(bad)


def test_a_pause_earns_no_burst_afterwards() -> None:
    cap = RateCap(10.0)
    admitted(cap, camera(30.0, 2.0, start=0.0))
    resumed = camera(1000.0, 1.0, start=60.0)  # a minute of silence, then a flood
    kept = admitted(cap, resumed)
    assert len([t for t in kept if t < 60.1]) <= 2  # at most one period's worth at once
    assert len(kept) <= 11


def test_skipped_frames_are_counted_apart_from_drops() -> None:
    stats = StreamStats(clock=lambda: 5.0)
    stats.received()  # one frame to the model, two skipped as they arrive
    stats.skipped()
    stats.skipped()
    snapshot = stats.snapshot()
    assert (snapshot.received, snapshot.skipped, snapshot.dropped) == (3, 2, 0)
    assert snapshot.in_flight == 1
