"""Settings and the launch logic stay below ROS: importing them loads no ROS client or messages."""

from __future__ import annotations

import subprocess
import sys

import pytest

_CHECK = """
import sys
import {module}
loaded = sorted(
    name for name in sys.modules
    if name.split(".")[0] in ("rclpy", "rcl_interfaces", "rosidl_runtime_py", "launch", "launch_ros")
    or name.split(".")[0].endswith("_msgs")
)
print(",".join(loaded))
"""


@pytest.mark.parametrize(
    "module", ["yolo_trt_ros.settings", "yolo_trt_ros.launch_support", "yolo_trt_ros.runtime_plan"]
)
def test_module_imports_nothing_of_ros(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _CHECK.format(module=module)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "", f"{module} loads {result.stdout.strip()}"
