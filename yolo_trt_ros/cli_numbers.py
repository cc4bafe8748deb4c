"""argparse types for the command-line tools' numbers: finite and in range, or one line and exit 2.

``float("nan")``, ``inf`` and values too small or too large for what a tool does with them
(a sleep of 1/rate seconds, a stamp in a bag) otherwise end in a traceback far from the option.
"""

from __future__ import annotations

import argparse
import math
from typing import Final

__all__ = ["epoch_seconds", "frame_rate", "non_negative_count", "non_negative_seconds"]

MIN_RATE_HZ: Final = 0.001  # one frame every 1000 s
MAX_EPOCH_S: Final = 2**31 - 1  # builtin_interfaces/Time.sec is an int32


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def frame_rate(text: str) -> float:
    """Read frames per second: a finite number, at least 0.001."""
    value = _finite(text)
    if value < MIN_RATE_HZ:
        raise argparse.ArgumentTypeError(f"{text} Hz: a frame rate must be at least {MIN_RATE_HZ}")
    return value


def non_negative_seconds(text: str) -> float:
    """Read a duration in seconds: a finite number, 0 or more."""
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} s: a duration cannot be negative")
    return value


def epoch_seconds(text: str) -> float:
    """Read seconds since the epoch that a ROS stamp can hold (0 to 2^31 - 1)."""
    value = _finite(text)
    if not 0 <= value <= MAX_EPOCH_S:
        raise argparse.ArgumentTypeError(
            f"{text}: a ROS stamp holds 0 to {MAX_EPOCH_S} seconds since the epoch"
        )
    return value


def non_negative_count(text: str) -> int:
    """Read a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: a count cannot be negative")
    return value
