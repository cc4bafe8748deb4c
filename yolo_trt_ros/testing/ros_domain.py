"""A private DDS domain on localhost for a test run or a soak, set before anything starts ROS."""

from __future__ import annotations

import os
import random


def localhost_domain(lowest: int = 1, highest: int = 200) -> dict[str, str]:
    """Variables for a private DDS domain on localhost: a random domain id in [lowest, highest]."""
    variables = {
        "ROS_DOMAIN_ID": str(random.randint(lowest, highest)),
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
    }
    if os.environ.get("ROS_DISTRO") == "humble":  # Humble's name for it (deprecated from Jazzy on)
        variables["ROS_LOCALHOST_ONLY"] = "1"
    return variables


def isolate_ros_domain() -> None:
    """Give this process (and its children) its own DDS domain on localhost, unless one is set.

    Parallel runs and other ROS 2 processes on the machine then never cross-talk with it. Call it
    before the first rclpy.init: the variables are read there, and child processes inherit them.
    """
    for name, value in localhost_domain().items():
        os.environ.setdefault(name, value)
