"""`react-ros make-bag`: a demo rosbag2 (MCAP) of speaker video and real speech."""

import argparse
from pathlib import Path
import sys

from react_ros.spec import FPS

HELP = 'write a demo rosbag2: speaker video and real speech'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `react-ros make-bag` options."""
    parser.add_argument('out', type=Path, help='rosbag2 folder to create (must not exist)')
    parser.add_argument('--duration', type=float, default=20.0, help='seconds (default 20)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    parser.add_argument('--fps', type=float, default=FPS, help=f'image rate (default {FPS:g})')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing rosbag2 folder at OUT')
    parser.add_argument('--robot-turn', type=float, nargs=2, metavar=('START', 'DURATION'),
                        help='the robot speaks from START s for DURATION s: /robot_speaking '
                             'true, the person silent, its TTS in the microphone audio')
    parser.add_argument('--no-compress', action='store_true',
                        help='store MCAP chunks uncompressed (faster, larger)')


def run(args: argparse.Namespace) -> int:
    """Write the bag; return the exit code."""
    from react_ros.bag.make_bag import make_demo_bag  # speech synthesis and rosbags
    try:
        summary = make_demo_bag(args.out, duration_s=args.duration, seed=args.seed,
                                fps=args.fps, overwrite=args.overwrite,
                                compress=not args.no_compress, robot_turn=args.robot_turn)
    except (FileExistsError, ValueError) as error:
        print(f'make-bag: error: {error}', file=sys.stderr)
        return 2
    print(summary.describe())
    return 0
