"""
`react-ros run`: the launch file's nodes in one process, for machines without `ros2 launch`.

Reads the same parameter YAML (through rclpy's own --params-file handling), starts the same
nodes, and drives reaction_node through configure and activate as the launch file does.
"""

import argparse

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter

from react_ros.backends import BACKENDS
from react_ros.nodes.common import default_config_path


def add_arguments(parser: argparse.ArgumentParser):
    """Add `react-ros run` options."""
    parser.add_argument('--params-file', default=str(default_config_path('react.yaml')),
                        help='parameter YAML for all nodes (default: config/react.yaml)')
    parser.add_argument('--no-microphone', action='store_true',
                        help='do not start audio_capture_node (e.g. when replaying a bag)')
    parser.add_argument('--backend', choices=BACKENDS, default=None,
                        help="reaction_node's inference backend (default: the YAML's)")


def run(args: argparse.Namespace) -> int:
    """Spin the nodes until Ctrl-C or shutdown; returns an exit code."""
    # Imported here so `react-ros --help` and the ROS-free commands start fast.
    from react_ros.nodes.face_display_node import FaceDisplayNode
    from react_ros.nodes.reaction_node import ReactionNode

    rclpy.init(args=['--ros-args', '--params-file', args.params_file])
    overrides = [] if args.backend is None else [
        Parameter('backend', Parameter.Type.STRING, args.backend)]
    nodes = [ReactionNode(parameter_overrides=overrides), FaceDisplayNode()]
    if not args.no_microphone:
        from react_ros.nodes.audio_capture_node import AudioCaptureNode
        nodes.append(AudioCaptureNode())
    # One callback thread: reaction_node computes in a worker thread of its own, and rclpy's
    # MultiThreadedExecutor costs more in GIL contention than it gains (measured: 16 of 68
    # frames processed with it, see docs).
    executor = SingleThreadedExecutor()
    for node in nodes:
        executor.add_node(node)
    reaction = nodes[0]
    for transition in (reaction.trigger_configure, reaction.trigger_activate):
        if transition() != TransitionCallbackReturn.SUCCESS:
            reaction.get_logger().error(f'{transition.__name__} failed; stopping')
            for node in nodes:
                node.destroy_node()
            rclpy.try_shutdown()
            return 1
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        # Ctrl-C shuts the context down, which already takes reaction_node through shutdown.
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
