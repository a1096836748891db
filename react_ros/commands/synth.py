"""`react-ros synth`: a synthetic dyadic corpus in the REACT 2025 (MARS) layout."""

import argparse
from pathlib import Path
import sys

HELP = 'write a synthetic dyadic corpus in the REACT 2025 (MARS) layout'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `react-ros synth` options."""
    parser.add_argument('--out', type=Path, required=True,
                        help='corpus directory to create (must be empty or new)')
    parser.add_argument('--sessions', type=int, default=20, help='sessions (default 20)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    parser.add_argument('--clip-seconds', type=float, nargs='+', default=[10.0, 20.0],
                        metavar='S', help='clip length, or MIN MAX range (default 10 20)')
    parser.add_argument('--listeners', type=int, default=4,
                        help='listener reactions per session (default 4)')
    parser.add_argument('--val-fraction', type=float, default=0.1,
                        help='share of sessions for val (default 0.1)')
    parser.add_argument('--test-fraction', type=float, default=0.1,
                        help='share of sessions for test (default 0.1)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace a synthetic corpus already at --out')
    parser.add_argument('--oracle', type=int, default=0, metavar='K',
                        help='also write K fresh listener draws per test speaker clip: the '
                             'ceiling `react-ros eval` scores against (default 0: none)')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')


def run(args: argparse.Namespace) -> int:
    """Write the corpus; return the exit code."""
    from react_ros.data.synth import write_corpus  # speech synthesis, behaviour models
    try:
        summary = write_corpus(args.out, args.sessions, args.seed, clip_seconds=args.clip_seconds,
                               listeners_per_clip=args.listeners,
                               val_fraction=args.val_fraction, test_fraction=args.test_fraction,
                               overwrite=args.overwrite, progress=not args.quiet,
                               oracle=args.oracle)
    except (FileExistsError, ValueError) as error:
        print(f'synth: error: {error}', file=sys.stderr)
        return 2
    print(summary.describe())
    return 0
