"""The pinned pytest loads launch_testing's pytest plugin, old and new.

launch_testing before 3.4.12 (Jazzy) and Humble's implement `pytest_pycollect_makemodule(path,
parent)` with pytest's legacy `path` argument, which pytest 9 removed: under pytest 9 every run
aborts with PluginValidationError before collecting a test. requirements/ pins a pytest that
accepts both that signature and the new one (`module_path`) of launch_testing 3.4.12 and later.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# The hook signatures of launch_testing/pytest/hooks.py before 3.4.12, bodies reduced to "not
# a launch test" so that pytest's own collector takes every module.
OLD_LAUNCH_TESTING_HOOKS = """
def pytest_pycollect_makemodule(path, parent):
    return None
"""

NEW_LAUNCH_TESTING_HOOKS = """
def pytest_pycollect_makemodule(module_path, parent):
    return None
"""


@pytest.mark.parametrize(
    "hooks", [OLD_LAUNCH_TESTING_HOOKS, NEW_LAUNCH_TESTING_HOOKS], ids=["before-3.4.12", "3.4.12"]
)
def test_pytest_loads_a_plugin_with_launch_testings_hook_signature(
    tmp_path: Path, hooks: str
) -> None:
    (tmp_path / "launch_testing_like_hooks.py").write_text(hooks)
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert True\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    # A subprocess: plugins register at start-up. Where launch_testing itself is installed its
    # entry point loads it here too, so the real plugin is checked as well.
    command = ["-p", "launch_testing_like_hooks", "-p", "no:cacheprovider", "-q", "test_one.py"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *command],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "PluginValidationError" not in result.stdout + result.stderr, result.stderr[-3000:]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "1 passed" in result.stdout


def pinned_pytest(requirements: Path) -> str:
    match = re.search(r"^pytest==(\S+)$", requirements.read_text(), re.MULTILINE)
    assert match, f"{requirements} pins no pytest"
    return match.group(1)


def test_every_requirements_file_pins_the_same_pytest_and_it_is_installed() -> None:
    files = ["dev.txt", "constraints.txt", "py310.txt"]
    pins = {name: pinned_pytest(REPO_ROOT / "requirements" / name) for name in files}
    assert len(set(pins.values())) == 1, pins
    assert pytest.__version__ == pins["dev.txt"], (
        f"pytest {pytest.__version__} is installed, requirements/ pin {pins['dev.txt']}: "
        "rerun scripts/setup.sh"
    )
