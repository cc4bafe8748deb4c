"""The command-line tools' number options: a bad value is one argparse line and exit 2, never a
traceback (found by an adversarial run: nan, inf, 1e-300 Hz and out-of-range stamps)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from yolo_trt_ros.cli_numbers import (
    epoch_seconds,
    frame_rate,
    non_negative_count,
    non_negative_seconds,
)
from yolo_trt_ros.tools import make_bag


@pytest.mark.parametrize(
    ("parse", "good", "bad"),
    [
        (
            frame_rate,
            {"30": 30.0, "0.5": 0.5, "0.001": 0.001},
            ["0", "-5", "1e-300", "nan", "inf", "x"],
        ),
        (non_negative_seconds, {"0": 0.0, "2.5": 2.5}, ["-1", "nan", "-inf", "inf", ""]),
        (
            epoch_seconds,
            {"0": 0.0, "1700000000.5": 1700000000.5},
            ["-100", "1e30", "nan", "2147483648"],
        ),
        (non_negative_count, {"0": 0, "7": 7}, ["-5", "1.5", "x"]),
    ],
)
def test_numbers_in_range_are_read_and_the_rest_refused_in_one_line(
    parse: Callable[[str], float], good: dict[str, float], bad: list[str]
) -> None:
    for text, value in good.items():
        assert parse(text) == value
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


@pytest.mark.parametrize("option", [("--start", "nan"), ("--start", "-100"), ("--rate", "0")])
def test_make_bag_refuses_a_bad_number_before_writing(
    option: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        make_bag.main(["photo.jpg", "out.mcap", *option])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert f"argument {option[0]}" in error and "Traceback" not in error
