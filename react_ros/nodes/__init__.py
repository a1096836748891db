"""ROS 2 nodes of react_ros: thin rclpy layers over the ROS-free core."""
