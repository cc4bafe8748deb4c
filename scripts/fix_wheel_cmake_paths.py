"""Point the ROS 2 wheels' exported CMake targets at this interpreter's include directories.

The `ros-jazzy-*` message wheels export `*rosidl_generator_pyExport.cmake` files that name the
include directories of the machine that built them (/opt/python/cpXY-cpXY/...). CMake refuses
imported targets whose include directories do not exist, so generating any interface package
against the wheels fails until they are rewritten. Idempotent: already-fixed files match nothing.
"""

import argparse
import re
import sysconfig
from pathlib import Path

import numpy

_PYTHON_INCLUDE = re.compile(r"/opt/python/cp\d+-cp\d+t?/include/python[\d.]+t?")
_NUMPY_INCLUDE = re.compile(r"/opt/python/[^\";\s]*/site-packages/numpy/(?:_core|core)/include")


def fix(prefix: Path) -> list[Path]:
    """Rewrite the exported CMake files under prefix/share; return the files changed."""
    replacements = (
        (_PYTHON_INCLUDE, sysconfig.get_paths()["include"]),
        (_NUMPY_INCLUDE, numpy.get_include()),
    )
    changed = []
    for path in sorted((prefix / "share").glob("*/cmake/*.cmake")):
        text = path.read_text(encoding="utf-8")
        fixed = text
        for pattern, replacement in replacements:
            fixed = pattern.sub(replacement, fixed)
        if fixed != text:
            path.write_text(fixed, encoding="utf-8")
            changed.append(path)
    return changed


def main() -> None:
    """Command-line entry: --prefix is the venv that holds the wheels."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--prefix", type=Path, required=True)
    args = parser.parse_args()
    changed = fix(args.prefix)
    if changed:
        print(f"Fixed the include directories in {len(changed)} exported CMake files.")


if __name__ == "__main__":
    main()
