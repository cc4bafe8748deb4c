"""ROS 2 glue: everything that imports rclpy or ROS messages lives here."""
