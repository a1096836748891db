"""
Shared fixtures: one DDS domain per test session, kept on loopback, and a spinning test node.

The environment is set before rclpy is imported anywhere, so this process and every node
process the tests start use the same isolated domain.
"""

import os
import threading

import pytest

from react_ros.bag import dds_environment

# `make test` exports a per-run domain; a bare `pytest` picks one from the PID.
DOMAIN_ID = int(os.environ.get('ROS_DOMAIN_ID') or 1 + os.getpid() % 100)
os.environ.update(dds_environment(DOMAIN_ID))


@pytest.fixture(scope='session')
def ros_env():
    """Return the environment for node subprocesses: same domain, loopback discovery."""
    return dict(os.environ)


@pytest.fixture(scope='session')
def ros_node():
    """Yield a node spinning in a background thread, for topics and services."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    rclpy.init()
    node = rclpy.create_node('react_ros_test')
    # rclpy's MultiThreadedExecutor starved the publishing test thread of the GIL (60 frames
    # took 10 s instead of 2); callbacks here are tiny, one thread serves them all.
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    yield node
    executor.shutdown()
    node.destroy_node()
    rclpy.try_shutdown()
