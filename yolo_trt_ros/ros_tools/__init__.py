"""The ROS measurement and demo tools: bag replay, latency probe, image source, printer, demo.

They run next to the detector (``yolo_trt_ros.ros``, the product) and measure or feed it; the
tools that need no ROS live in ``yolo_trt_ros.tools``.
"""
