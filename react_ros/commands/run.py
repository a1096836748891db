"""`react-ros run`: the launch file's nodes in one process, for machines without `ros2 launch`."""

import argparse

from react_ros.backends.selection import BACKENDS
from react_ros.resources import default_config_path

HELP = 'run the nodes in one process'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `react-ros run` options."""
    parser.add_argument('--params-file', default=str(default_config_path('react.yaml')),
                        help='parameter YAML for all nodes (default: config/react.yaml)')
    parser.add_argument('--no-microphone', action='store_true',
                        help='do not start audio_capture_node (e.g. when replaying a bag)')
    parser.add_argument('--backend', choices=BACKENDS, default=None,
                        help="reaction_node's inference backend (default: the YAML's)")


def run(args: argparse.Namespace) -> int:
    """Spin the nodes until Ctrl-C or shutdown; return the exit code."""
    from react_ros.nodes.run_all import run_nodes  # rclpy and the models load only here
    return run_nodes(args.params_file, microphone=not args.no_microphone, backend=args.backend,
                     ros_args=args.ros_args)
