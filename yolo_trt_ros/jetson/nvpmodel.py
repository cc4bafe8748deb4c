"""Jetson power modes (nvpmodel): parse its files and output, read the running mode, switch by name.

Mode ids differ per board (MAXN_SUPER is 2 on an Orin Nano and 0 on an Orin NX), so modes are
always looked up by name in the board's own table, never by a hard-coded id. Sources:

* ``/etc/nvpmodel.conf``: ``< POWER_MODEL ID=<id> NAME=<name> >`` blocks and ``< PM_CONFIG DEFAULT=<id> >``;
* ``nvpmodel -q``: ``NV Power Mode: <name>`` then the id on the next line;
* ``nvpmodel -p --verbose``: ``POWER_MODEL: ID=<id> NAME=<name>`` lines (when the conf is unreadable);
* ``/var/lib/nvpmodel/status``: ``pmode:<id>`` (when nvpmodel itself is not installed, e.g. in a
  container with the host's files mounted).

A machine with neither nvpmodel nor its conf file is not a Jetson: that is a normal answer, not an
error.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from yolo_trt_ros.errors import PowerModeError

__all__ = [
    "DEFAULT_CONF",
    "DEFAULT_STATUS",
    "Nvpmodel",
    "PowerMode",
    "PowerModeReading",
    "PowerModeTable",
    "parse_nvpmodel_conf",
    "parse_nvpmodel_modes_listing",
    "parse_nvpmodel_query",
    "parse_nvpmodel_status",
]

DEFAULT_CONF: Final = Path("/etc/nvpmodel.conf")
DEFAULT_STATUS: Final = Path("/var/lib/nvpmodel/status")

_HEADER = re.compile(r"^<\s*POWER_MODEL\s+ID=(\d+)\s+NAME=(\S+)\s*>", re.MULTILINE)
_DEFAULT = re.compile(r"^<\s*PM_CONFIG\s+DEFAULT=(\d+)\s*>", re.MULTILINE)
_QUERY = re.compile(r"^NV Power Mode:\s*(\S+)\s*$", re.MULTILINE)
_LISTING = re.compile(r"POWER_MODEL:\s*ID=(\d+)\s+NAME=(\S+)")
_STATUS = re.compile(r"\bpmode:(\d+)\b")


@dataclass(frozen=True)
class PowerMode:
    """One nvpmodel mode of this board."""

    id: int
    name: str

    def __str__(self) -> str:
        return f"{self.name} (id {self.id})"


@dataclass(frozen=True)
class PowerModeTable:
    """The modes a board defines, and the one it boots in."""

    modes: tuple[PowerMode, ...]
    default_id: int | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Mode names in id order."""
        return tuple(mode.name for mode in self.modes)

    def find(self, name: str) -> PowerMode | None:
        """Return the mode of this name (case-insensitive), or None."""
        wanted = name.strip().upper()
        return next((mode for mode in self.modes if mode.name.upper() == wanted), None)

    def by_name(self, name: str) -> PowerMode:
        """Return the mode of this name, or raise PowerModeError listing the board's modes."""
        mode = self.find(name)
        if mode is None:
            raise PowerModeError(
                f"this board has no power mode named {name!r}; its modes are {', '.join(self.names)}"
            )
        return mode

    def by_id(self, mode_id: int) -> PowerMode:
        """Return the mode with this id, or raise PowerModeError."""
        for mode in self.modes:
            if mode.id == mode_id:
                return mode
        raise PowerModeError(
            f"power mode id {mode_id} is not defined in nvpmodel.conf (ids: {[m.id for m in self.modes]})"
        )


def parse_nvpmodel_conf(text: str) -> PowerModeTable:
    """Parse an nvpmodel.conf: its POWER_MODEL blocks and PM_CONFIG default."""
    modes = tuple(
        sorted(
            (PowerMode(int(mode_id), name) for mode_id, name in _HEADER.findall(text)),
            key=lambda mode: mode.id,
        )
    )
    if not modes:
        raise PowerModeError("nvpmodel.conf defines no '< POWER_MODEL ID=<id> NAME=<name> >' block")
    if len({mode.id for mode in modes}) != len(modes):
        raise PowerModeError(f"nvpmodel.conf defines a mode id twice: {list(modes)}")
    default = _DEFAULT.search(text)
    return PowerModeTable(modes, int(default.group(1)) if default else None)


def parse_nvpmodel_modes_listing(text: str) -> PowerModeTable:
    """Parse the POWER_MODEL lines that ``nvpmodel -p --verbose`` prints."""
    seen: dict[int, PowerMode] = {}
    for mode_id, name in _LISTING.findall(text):
        seen.setdefault(int(mode_id), PowerMode(int(mode_id), name))
    if not seen:
        raise PowerModeError("nvpmodel -p --verbose listed no POWER_MODEL")
    return PowerModeTable(tuple(seen[key] for key in sorted(seen)))


def parse_nvpmodel_query(text: str) -> PowerMode:
    """Parse ``nvpmodel -q``: a line ``NV Power Mode: <name>`` followed by the mode id."""
    match = _QUERY.search(text)
    if match is None:
        raise PowerModeError(f"no 'NV Power Mode:' line in nvpmodel -q output: {text.strip()!r}")
    following = text[match.end() :].split()
    if not following or not following[0].isdigit():
        raise PowerModeError(
            f"nvpmodel -q printed no mode id after the mode name: {text.strip()!r}"
        )
    return PowerMode(int(following[0]), match.group(1))


def parse_nvpmodel_status(text: str) -> int:
    """Parse /var/lib/nvpmodel/status (``pmode:0002``, maybe more fields) into the mode id."""
    match = _STATUS.search(text)
    if match is None:
        raise PowerModeError(f"no 'pmode:<id>' in the nvpmodel status file: {text.strip()!r}")
    return int(match.group(1))


@dataclass(frozen=True)
class PowerModeReading:
    """What the machine says about its power mode."""

    is_jetson: bool
    mode: PowerMode | None = None
    table: PowerModeTable | None = None
    source: str = ""  # where the mode came from
    problem: str = ""  # why the mode is unknown on a Jetson


class Nvpmodel:
    """Read and switch the running power mode (nvpmodel on PATH, else its conf and status files)."""

    def __init__(
        self,
        executable: str = "nvpmodel",
        conf_path: Path = DEFAULT_CONF,
        status_path: Path = DEFAULT_STATUS,
        timeout_s: float = 20.0,
    ) -> None:
        self.executable = executable
        self.conf_path = conf_path
        self.status_path = status_path
        self.timeout_s = timeout_s

    def _run(self, *args: str) -> str:
        executable = shutil.which(self.executable)
        if executable is None:
            raise PowerModeError(f"{self.executable} is not on PATH")
        try:
            completed = subprocess.run(
                [executable, *args],
                stdin=subprocess.DEVNULL,  # a mode that needs a reboot asks; never answer yes
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise PowerModeError(f"{self.executable} {' '.join(args)} failed: {error}") from None
        output = (completed.stdout + completed.stderr).strip()
        if completed.returncode != 0:
            raise PowerModeError(
                f"{self.executable} {' '.join(args)} exited with {completed.returncode}: {output}"
            )
        return output

    def table(self) -> PowerModeTable:
        """Return this board's modes: from the conf file, else from ``nvpmodel -p --verbose``."""
        try:
            return parse_nvpmodel_conf(self.conf_path.read_text(encoding="utf-8", errors="replace"))
        except OSError as conf_error:
            try:
                return parse_nvpmodel_modes_listing(self._run("-p", "--verbose"))
            except PowerModeError as listing_error:
                raise PowerModeError(
                    f"cannot list the power modes: {self.conf_path}: {conf_error.strerror}; {listing_error}"
                ) from None

    def read(self) -> PowerModeReading:
        """Return the running mode, or why it is unknown, or that this is not a Jetson."""
        has_tool = shutil.which(self.executable) is not None
        if not has_tool and not self.conf_path.exists():
            return PowerModeReading(is_jetson=False)
        try:
            table: PowerModeTable | None = self.table()
        except PowerModeError:
            table = None
        try:
            if has_tool:
                mode = parse_nvpmodel_query(self._run("-q"))
                source = f"{self.executable} -q"
            else:
                if table is None:
                    raise PowerModeError(f"{self.conf_path} lists no power modes")
                mode_id = parse_nvpmodel_status(self.status_path.read_text(encoding="utf-8"))
                mode = table.by_id(mode_id)
                source = f"{self.status_path} + {self.conf_path}"
        except (PowerModeError, OSError) as error:
            return PowerModeReading(is_jetson=True, table=table, problem=str(error))
        return PowerModeReading(is_jetson=True, mode=mode, table=table, source=source)

    def switch(self, name: str) -> PowerMode:
        """Switch to the mode of this name (``nvpmodel -m <its id on this board>``), then re-read it."""
        target = self.table().by_name(name)
        try:
            output = self._run("-m", str(target.id))
        except PowerModeError as error:
            raise PowerModeError(
                f"could not switch to {target}: {error}. Switching needs root: run "
                f"`sudo nvpmodel -m {target.id}` yourself"
            ) from None
        now = self.read().mode
        if now is None or now.id != target.id:
            raise PowerModeError(
                f"nvpmodel -m {target.id} did not switch to {target.name} (now {now}); this mode "
                f"may need a reboot: run `sudo nvpmodel -m {target.id}` and confirm. {output}".strip()
            )
        return now
