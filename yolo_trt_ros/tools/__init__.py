"""Command-line tools shipped with the package (installed as `ros2 run yolo_trt_ros <tool>`)."""
