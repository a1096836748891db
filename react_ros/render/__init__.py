"""
Drawing for react_ros: the cartoon listener face and demo video helpers.

Everything here needs only numpy and OpenCV, never ROS.
"""
