"""Plain pip install of the Python package (`pip install .`); metadata lives in setup.cfg.

`colcon build` does not use this file: package.xml declares build_type ament_cmake, because the
package's messages need rosidl (CMakeLists.txt). A pip install gives the ROS-free core and the
console scripts; the ROS nodes also need the interfaces that only colcon generates.
"""

from setuptools import setup

setup()
