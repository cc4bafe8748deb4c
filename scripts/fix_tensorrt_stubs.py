#!/usr/bin/env python3
"""Make NVIDIA's ``tensorrt-stubs`` parse, so mypy can check our TensorRT calls against them.

The generated stubs (every release from 10.8 to 10.13) contain a few lines that are not valid
Python: parameters named ``in``, and parameters without a default after ones with a default.
This rewrites only those lines, in the copy under the venv's ``typings`` folder, until the file
parses; it changes no signature beyond renaming ``in`` and adding ``= ...`` defaults.

Usage: fix_tensorrt_stubs.py TYPINGS_DIR
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

_KEYWORD_PARAMETER = re.compile(r"\b(in|from|lambda)(\s*:)")


def _add_missing_defaults(line: str) -> str:
    """In a one-line ``def``, give every parameter after the first defaulted one a ``= ...``."""
    head, _, rest = line.partition("(")
    params, close, tail = rest.rpartition(")")
    parts, depth, current = [], 0, ""
    for char in params:
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    seen_default = False
    for index, part in enumerate(parts):
        if "=" in part:
            seen_default = True
        elif seen_default and part.strip() and not part.strip().startswith("*"):
            parts[index] = f"{part} = ..."
    return f"{head}({','.join(parts)}{close}{tail}"


def fix(path: Path) -> int:
    """Fix one stub file in place; return how many lines changed."""
    lines = path.read_text().splitlines(keepends=True)
    changed = 0
    for _ in range(500):
        try:
            ast.parse("".join(lines))
            return changed
        except SyntaxError as error:
            index = (error.lineno or 1) - 1
            line = lines[index]
            fixed = _KEYWORD_PARAMETER.sub(r"\1_\2", line)
            if fixed == line and line.lstrip().startswith("def "):
                fixed = _add_missing_defaults(line)
            if fixed == line:
                raise SystemExit(
                    f"fix_tensorrt_stubs: cannot repair {path}:{index + 1}: {error.msg}"
                ) from None
            lines[index] = fixed
            changed += 1
            path.write_text("".join(lines))
    raise SystemExit(f"fix_tensorrt_stubs: {path} still does not parse after 500 fixes")


def main(argv: list[str]) -> int:
    """Fix every .pyi under the given typings folder."""
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    total = sum(fix(path) for path in sorted(Path(argv[0]).glob("tensorrt*/**/*.pyi")))
    print(f"fix_tensorrt_stubs: repaired {total} line(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
