#!/usr/bin/env bash
# Run the whole test suite in the environment scripts/setup.sh built: ruff, mypy, then pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -k wire -x).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ ! -f "$repo/install/setup.bash" ]; then
  echo "test: $repo/install/setup.bash is missing: run scripts/setup.sh first." >&2
  exit 1
fi
set +u  # ROS setup files read unset variables
# shellcheck source=/dev/null
source "$repo/install/setup.bash"
set -u
cd "$repo"

echo "==> ruff"
ruff check .
ruff format --check .

echo "==> mypy"
# TensorRT's type stubs live outside sys.path (scripts/setup.sh puts them there)
MYPYPATH="${YOLO_TRT_ROS_VENV:-$repo/.venv}/typings" mypy

echo "==> pytest"
status=0
# `pytest`, not `python -m pytest`: the latter would put the source tree first on sys.path and
# shadow the installed package, whose msg/ and action/ modules only exist in install/.
pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "test: pytest collected no tests: the suite is missing or the selection matched nothing." >&2
  exit 1
fi
if [ "$#" -eq 0 ]; then  # the whole suite: also under Python 3.10 (Humble, JetPack 6)
  echo "==> Python 3.10"
  bash "$repo/scripts/test_py310.sh" || status=$?
fi
exit "$status"
