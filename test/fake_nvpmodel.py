"""A stand-in for NVIDIA's `nvpmodel` tool, put on PATH by tests.

nvpmodel exists only on Jetsons, which CI does not have, so tests that exercise reading and
switching the power mode run this fake instead. It speaks nvpmodel's documented output formats
(`nvpmodel -q`: "NV Power Mode: <name>" then the id; `-p --verbose`: "POWER_MODEL: ID=<id>
NAME=<name>" lines; `-m <id>` switches) and records every call, so a test can check which mode id
was requested. The mode table it serves is given by the test, independently of the code under test.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

SCRIPT = """#!{python}
import json, sys
from pathlib import Path
here = Path(__file__).resolve().parent
config = json.loads((here / "config.json").read_text())
state = here / "state"
with (here / "calls.log").open("a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
modes = {{int(k): v for k, v in config["modes"].items()}}
args = sys.argv[1:]
if args[:1] == ["-q"]:
    mode = int(state.read_text())
    print("NVPM WARN: fan mode is not set!")
    print(f"NV Power Mode: {{modes[mode]}}")
    print(mode)
elif args[:1] == ["-p"]:
    for mode, name in sorted(modes.items()):
        print(f"NVPM VERB: POWER_MODEL: ID={{mode}} NAME={{name}}")
elif args[:1] == ["-m"]:
    if config["refuse"]:
        print("NVPM ERROR: failed to set power mode: Permission denied", file=sys.stderr)
        sys.exit(255)
    if config["needs_reboot"]:
        print(f"NVPM WARN: Reboot required for changing to this power mode: {{args[1]}}")
        print("NVPM WARN: DO YOU WANT TO REBOOT NOW? enter YES/yes to confirm:")
        sys.stdin.read()
        sys.exit(0)
    state.write_text(args[1])
else:
    sys.exit(1)
"""


class FakeNvpmodel:
    """A fake `nvpmodel` in its own directory; `path_env` puts it first on PATH."""

    def __init__(
        self,
        directory: Path,
        modes: dict[int, str],
        current: int,
        *,
        refuse: bool = False,
        needs_reboot: bool = False,
    ) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        executable = directory / "nvpmodel"
        executable.write_text(SCRIPT.format(python=sys.executable))
        executable.chmod(0o755)
        (directory / "config.json").write_text(
            json.dumps({"modes": modes, "refuse": refuse, "needs_reboot": needs_reboot})
        )
        (directory / "state").write_text(str(current))

    @property
    def path_env(self) -> str:
        """PATH with the fake first."""
        return f"{self.directory}{os.pathsep}{os.environ.get('PATH', '')}"

    @property
    def current(self) -> int:
        """The mode id the fake board is in now."""
        return int((self.directory / "state").read_text())

    @property
    def calls(self) -> list[str]:
        """Every argument list the fake was called with, in order."""
        log = self.directory / "calls.log"
        return log.read_text().splitlines() if log.exists() else []
