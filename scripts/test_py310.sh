#!/usr/bin/env bash
# Run the ROS-free tests under Python 3.10, the interpreter of ROS 2 Humble and JetPack 6: the core,
# backends, engine, GPU (skipped without a GPU) and every module's import. scripts/test.sh calls it.
#
#   PYTHON310=<interpreter>   the Python 3.10 to use (default: ~/.pyenv/versions/3.10.13/bin/python)
#
# Without a Python 3.10 it fails under CI=true (a missing interpreter must never pass silently) and
# only warns elsewhere.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON310:-$HOME/.pyenv/versions/3.10.13/bin/python}
venv=$repo/.venv-py310

if [ ! -x "$python" ] || [ "$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "3.10" ]; then
  message="test_py310: no Python 3.10 at $python: set PYTHON310 to one (e.g. pyenv install 3.10.13)"
  if [ "${CI:-}" = "true" ]; then
    echo "$message; CI requires it." >&2
    exit 1
  fi
  echo "$message; the Python 3.10 tests did NOT run." >&2
  exit 0
fi

requirements=$repo/requirements/py310.txt
stamp=$venv/.requirements.sha256
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "==> Python 3.10: installing requirements/py310.txt into $venv"
  "$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$requirements" 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
  echo "$wanted" > "$stamp"
fi

# Tests that need no ROS 2: they import nothing of rclpy, the message packages or conftest.py
# (paths under test/, which mirrors the package's folders).
ros_free=(
  core/test_annotate core/test_decode core/test_letterbox core/test_nms
  backends/test_backends backends/test_onnx_static
  engine/test_build_process engine/test_engine_cache engine/test_engine_manager engine/test_precision
  gpu/test_gpu_kernels gpu/test_gpu_pipeline gpu/test_gpu_tensorrt gpu/test_resize_taps
  stream/test_mailbox stream/test_rate_cap stream/test_stats
  test_dds test_detector test_gpu_jpeg_decode test_heap test_model_variants test_module_imports
  test_pytest_compat test_runtime_plan test_ultralytics_agreement
)
for name in "${ros_free[@]}"; do files+=("test/$name.py"); done

echo "==> pytest under $("$venv/bin/python" --version) (ROS-free tests, source tree)"
cd "$repo"
status=0
# No ROS environment: the source tree and test/ only, as on a machine without ROS.
env -u PYTHONPATH -u AMENT_PREFIX_PATH -u CMAKE_PREFIX_PATH -u LD_LIBRARY_PATH \
  PYTHONPATH="$repo:$repo/test" \
  "$venv/bin/python" -m pytest --noconftest -p no:cacheprovider -q "${files[@]}" || status=$?
if [ "$status" -eq 5 ]; then
  echo "test_py310: pytest collected no tests." >&2
  exit 1
fi
exit "$status"
