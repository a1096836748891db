"""`react-ros demo`: the demo bag through the nodes over DDS, into out/demo.mp4."""

import argparse
from pathlib import Path

HELP = 'replay the demo bag through the nodes and write out/demo.mp4'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `react-ros demo` options."""
    parser.add_argument('--out-dir', type=Path, default=Path('out'),
                        help='where the bag, the logs and demo.mp4 go (default: out/)')
    parser.add_argument('--bag', type=Path, default=None,
                        help='bag to replay (default: OUT_DIR/demo_bag, built if missing)')
    parser.add_argument('--duration', type=float, default=20.0,
                        help='length of a newly built demo bag in seconds')
    parser.add_argument('--params-file', default=None,
                        help='parameter YAML for the nodes (default: config/react.yaml)')
    parser.add_argument('--domain-id', type=int, default=None,
                        help='ROS domain for this run (default: a random one in 1..100)')


def run(args: argparse.Namespace) -> int:
    """Run the whole demo; return the exit code."""
    from react_ros.support.demo import run_demo  # rclpy, rosbags, the renderer
    return run_demo(args.out_dir, args.bag, args.duration, args.params_file, args.domain_id)
