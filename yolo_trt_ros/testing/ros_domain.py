"""A private DDS domain on localhost for a test run or a soak, set before anything starts ROS."""

from __future__ import annotations

import os
import random


def isolate_ros_domain() -> None:
    """Give this process (and its children) its own DDS domain on localhost, unless one is set.

    Parallel runs and other ROS 2 processes on the machine then never cross-talk with it. Call it
    before the first rclpy.init: the variables are read there, and child processes inherit them.
    """
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 200)))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    if os.environ.get("ROS_DISTRO") == "humble":  # Humble's name for it (deprecated from Jazzy on)
        os.environ.setdefault("ROS_LOCALHOST_ONLY", "1")
