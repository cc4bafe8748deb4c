"""Compare the running Jetson power mode with the one a launch profile was made for.

The result is one line for logs and diagnostics plus a level: OK when the modes agree, nothing is
expected, or the machine is not a Jetson (a quiet, normal answer); WARN when they differ, the mode
cannot be read, or a requested switch failed. Switching happens only when asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from yolo_trt_ros.errors import PowerModeError
from yolo_trt_ros.jetson.nvpmodel import Nvpmodel, PowerMode, PowerModeTable

__all__ = ["PowerModeCheck", "check_power_mode"]

NOT_A_JETSON = "not a Jetson (no nvpmodel): power modes do not apply"


@dataclass(frozen=True)
class PowerModeCheck:
    """Outcome of a power-mode check: level, summary, and the running mode's name ('' if none)."""

    level: Literal["OK", "WARN"]
    summary: str
    mode_name: str = ""
    details: dict[str, str] = field(default_factory=dict)


def _matches(name: str, expected: Sequence[str]) -> bool:
    return name.upper() in {item.strip().upper() for item in expected}


def _first_known(expected: Sequence[str], table: PowerModeTable | None) -> PowerMode | None:
    """Return the first expected mode that this board defines."""
    if table is None:
        return None
    return next((mode for name in expected if (mode := table.find(name)) is not None), None)


def check_power_mode(
    nvpmodel: Nvpmodel, expected: Sequence[str] = (), switch: bool = False
) -> PowerModeCheck:
    """Read the running mode; compare it with `expected`; switch to it first if `switch` is set."""
    expected = [name for name in expected if name.strip()]
    wanted = " or ".join(expected)
    reading = nvpmodel.read()
    details = {"expected power mode": wanted or "any"}
    if not reading.is_jetson:
        note = f" (profile for {wanted} not checked)" if expected else ""
        return PowerModeCheck("OK", NOT_A_JETSON + note, "", details)
    if reading.table is not None:
        details["modes on this board"] = ", ".join(str(mode) for mode in reading.table.modes)
    if reading.mode is None:
        return PowerModeCheck("WARN", f"power mode unknown: {reading.problem}", "", details)
    details["power mode source"] = reading.source
    current = reading.mode
    if not expected or _matches(current.name, expected):
        suffix = " as the launch profile expects" if expected else ""
        return PowerModeCheck("OK", f"{current}{suffix}", current.name, details)
    if switch:
        return _switch(nvpmodel, current, reading.table, expected, details)
    return PowerModeCheck(
        "WARN", _mismatch(current, reading.table, expected), current.name, details
    )


def _mismatch(current: PowerMode, table: PowerModeTable | None, expected: Sequence[str]) -> str:
    wanted = " or ".join(expected)
    target = _first_known(expected, table)
    if target is None:
        known = ", ".join(table.names) if table else "unknown"
        return (
            f"running {current.name} but the launch profile is for {wanted}, which this board "
            f"does not have (its modes: {known}); launch the profile for {current.name}"
        )
    return (
        f"running {current.name} but the launch profile is for {wanted}: switch with "
        f"`sudo nvpmodel -m {target.id}` ({target.name} on this board), set "
        f"set_power_mode:=true, or launch the profile for {current.name}"
    )


def _switch(
    nvpmodel: Nvpmodel,
    current: PowerMode,
    table: PowerModeTable | None,
    expected: Sequence[str],
    details: dict[str, str],
) -> PowerModeCheck:
    target = _first_known(expected, table)
    if target is None:
        return PowerModeCheck("WARN", _mismatch(current, table, expected), current.name, details)
    try:
        now = nvpmodel.switch(target.name)
    except PowerModeError as error:
        return PowerModeCheck("WARN", f"running {current.name}; {error}", current.name, details)
    return PowerModeCheck(
        "OK",
        f"{now}: switched from {current.name} as the launch profile asks",
        now.name,
        details,
    )
