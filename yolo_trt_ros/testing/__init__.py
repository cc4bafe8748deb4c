"""Inputs shared by the tests (test/) and the benchmarks (scripts/): importable, never via sys.path.

- ``sample_images``: the sample photos and the frames derived from them, built deterministically.
- ``hostile_frames``: malformed camera messages written by hand (needs the ROS message types).
- ``ultralytics_torch``: the Ultralytics reference model built from an ONNX file (needs torch).
- ``node_harness``: the detector executable in its own process, driven over DDS (needs rclpy).
- ``ros_domain``: a private DDS domain on localhost for a run (set before ROS starts).
"""
