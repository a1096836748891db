"""Listener facial reactions for social robots, as ROS 2 nodes around a neural pipeline."""
