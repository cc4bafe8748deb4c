"""The ``rosbags`` library is optional: bag reading and writing check for it when they start.

rosdistro has no rosdep key for rosbags (only ``python3-rosbags-pip``, which releases refuse), so
package.xml cannot depend on it. Everything that reads or writes bags calls ``require_rosbags``
first, so a missing library is one ``BagError`` line naming ``pip install rosbags``, and importing
the replay modules never needs it (the detector node never imports them at all).
"""

from __future__ import annotations

import importlib

from yolo_trt_ros.errors import BagError

__all__ = ["ROSBAGS_INSTALL_HINT", "require_rosbags"]

ROSBAGS_INSTALL_HINT = "pip install rosbags"

# rosbags itself, and apsw, through which it reads sqlite3 storage (a dependency of rosbags)
_MODULES = ("rosbags.highlevel", "rosbags.rosbag1", "rosbags.rosbag2", "rosbags.typesys", "apsw")


def require_rosbags(purpose: str) -> None:
    """Raise BagError naming what to install unless the rosbags library can be imported.

    ``purpose`` completes "<purpose> needs the rosbags library", e.g. "reading bags".
    """
    for name in _MODULES:
        try:
            importlib.import_module(name)
        except ImportError as error:
            raise BagError(
                f"{purpose} needs the rosbags library, which is not installed here ({error}): "
                f"{ROSBAGS_INSTALL_HINT} (it has no rosdep key, so rosdep does not install it)"
            ) from None
