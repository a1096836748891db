"""`react-ros play`: replay a rosbag2 into DDS with its original timing (restamped live)."""

import argparse
from pathlib import Path
import sys

HELP = 'replay a rosbag2 with its timing, restamped to the live clock'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `react-ros play` options."""
    parser.add_argument('bag', type=Path, help='rosbag2 folder to replay')
    parser.add_argument('--rate', type=float, default=1.0, help='speed factor (default 1)')
    parser.add_argument('--loops', type=int, default=1, help='times to play (default 1)')
    parser.add_argument('--no-restamp', action='store_true',
                        help='publish the recorded header stamps unchanged')
    parser.add_argument('--repeat-stamps', action='store_true',
                        help="republish the first loop's stamps on every loop (they jump back; "
                             'the default shifts each loop by the bag length)')
    parser.add_argument('--topics', nargs='+', help='only these topics')
    parser.add_argument('--remap-prefix', default='', help='publish TOPIC as PREFIX/TOPIC '
                        '(bag topics are absolute: `--ros-args -r __ns:=` does not move them; '
                        '`--ros-args -r /image:=/r1/image` remaps one)')
    parser.add_argument('--clock', action='store_true',
                        help='publish /clock with the playback time, for nodes on use_sim_time')
    parser.add_argument('--wait-subscribers', type=float, default=0.0, metavar='S',
                        help='wait up to S seconds for every topic to have a subscriber')


def run(args: argparse.Namespace) -> int:
    """Replay the bag; return the exit code."""
    from react_ros.bag.player import play_in_own_context  # rclpy loads only for this command
    try:
        stats = play_in_own_context(
            args.bag, rate=args.rate, restamp=not args.no_restamp, loops=args.loops,
            repeat_stamps=args.repeat_stamps, topics=args.topics, remap_prefix=args.remap_prefix,
            wait_for_subscribers_s=args.wait_subscribers, clock=args.clock,
            ros_args=args.ros_args)
    except (FileNotFoundError, RuntimeError, ValueError) as error:
        print(f'play: error: {error}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print(stats.describe(), flush=True)
    return 0
