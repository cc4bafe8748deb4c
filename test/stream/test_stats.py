"""The per-camera counters (yolo_trt_ros/stream/stats.py): rates, percentiles and the window."""

from __future__ import annotations

import pytest
from fake_clock import FakeClock

from yolo_trt_ros.stream import StreamStats


def test_stats_rates_percentiles_and_window() -> None:
    clock = FakeClock()
    stats = StreamStats(window_s=5.0, clock=clock)
    for latency in range(1, 11):  # 10 frames at 2 Hz, latencies 1..10 ms
        stats.received()
        stats.published(float(latency))
        clock.now += 0.5
    stats.dropped(3)
    stats.bad_frame("bad encoding")
    snapshot = stats.snapshot()
    assert snapshot.input_hz == pytest.approx(10 / 5.0) and snapshot.output_hz == pytest.approx(2.0)
    assert snapshot.latency_p50_ms == pytest.approx(5.5) and snapshot.latency_max_ms == 10
    assert (snapshot.received, snapshot.published, snapshot.dropped, snapshot.bad_frames) == (
        10,
        10,
        3,
        1,
    )
    assert (
        snapshot.last_problem == "bad encoding"
        and snapshot.seconds_since_input == pytest.approx(0.5)
    )
    clock.now += 10
    later = stats.snapshot()
    assert later.input_hz == 0 and later.dropped_recently == 0 and later.bad_recently == 0
    assert later.dropped == 3  # totals stay
