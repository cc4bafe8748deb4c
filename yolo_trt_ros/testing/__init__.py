"""Inputs shared by the tests (test/) and the benchmarks (scripts/): importable, never via sys.path.

- ``sample_images``: the sample photos and the frames derived from them, built deterministically.
- ``hostile_frames``: malformed camera messages written by hand (needs the ROS message types).
- ``ultralytics_torch``: the Ultralytics reference model built from an ONNX file (needs torch).
"""
