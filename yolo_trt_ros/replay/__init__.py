"""Rosbag replay for latency testing, without ROS: bags, frame bookkeeping, reports and plots.

The ROS side (the player and the latency probe) lives in ``yolo_trt_ros.ros_tools.bag_replay`` and
``yolo_trt_ros.ros_tools.latency_probe``; everything here can be used and tested without rclpy.
"""
