"""`react-ros features`: extract and cache the per-frame speaker features of a dataset."""

import argparse
from pathlib import Path
import sys

from react_ros.data.layout import SPLITS
from react_ros.data.plan import DatasetFormatError
from react_ros.data.readers import available_splits, LAYOUTS

HELP = 'extract and cache per-frame speaker features of a dataset'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `react-ros features` options."""
    parser.add_argument('--data', type=Path, required=True,
                        help='dataset root (REACT 2024 or REACT 2025 / MARS layout)')
    parser.add_argument('--split', nargs='+', choices=SPLITS, default=None,
                        help='splits to extract (default: every split the dataset has)')
    parser.add_argument('--layout', choices=('auto',) + LAYOUTS, default='auto',
                        help='dataset layout (default: auto)')
    parser.add_argument('--fps', type=float, default=None,
                        help="frame rate of the features (default: the dataset's own)")
    parser.add_argument('--force', action='store_true',
                        help='recompute every clip, ignoring the cache')
    parser.add_argument('--workers', type=int, default=0,
                        help='processes extracting clips in parallel (default: 0, this one)')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')


def run(args: argparse.Namespace) -> int:
    """Extract every asked split; return the exit code."""
    # The perception models and the datasets (torch) load only for this command.
    from react_ros.data.feature_extraction import extract_split

    if not args.data.is_dir():
        print(f'features: error: {args.data} is not a directory', file=sys.stderr)
        return 2
    if args.fps is not None and args.fps <= 0:
        print(f'features: error: --fps must be positive, got {args.fps}', file=sys.stderr)
        return 2
    splits = args.split or available_splits(args.data)
    if not splits:
        print(f'features: error: {args.data} holds no split of a REACT 2024 or REACT 2025 '
              f'(MARS) dataset', file=sys.stderr)
        return 2
    for split in splits:
        try:
            summary = extract_split(args.data, split, args.layout, args.fps, args.force,
                                    progress=not args.quiet, workers=args.workers)
        except (FileNotFoundError, DatasetFormatError, ValueError) as error:
            print(f'features: error: {error}', file=sys.stderr)
            return 2
        print(summary.describe())
    return 0
