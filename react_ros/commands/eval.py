"""`react-ros eval`: the REACT metric table for a prediction file and/or the papers' baselines."""

import argparse
import json
from pathlib import Path
import sys

from react_ros.data.readers import MIRROR_CHOICES
from react_ros.eval.baselines import BASELINE_NAMES

HELP = 'score predictions (and baselines) with the REACT metrics'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `react-ros eval` options."""
    parser.add_argument('--data', type=Path, required=True, help='dataset root')
    parser.add_argument('--split', default='test', help='split to evaluate (default: test)')
    parser.add_argument('--pred', type=Path, help='predictions .npy (N, K, T, 25)')
    parser.add_argument('--baselines', action='store_true',
                        help=f'also score the baselines: {", ".join(BASELINE_NAMES)}')
    parser.add_argument('--official', action='store_true',
                        help="reproduce the challenge code's quirks (docs/metrics.md)")
    parser.add_argument('--json', action='store_true', help='print JSON instead of a table')
    parser.add_argument('--list', action='store_true',
                        help='print the inputs in prediction-file order and exit')
    parser.add_argument('--mirror', choices=MIRROR_CHOICES, default='auto',
                        help='also use listeners as speakers, as upstream loaders do '
                             '(auto: yes, except for a synthetic corpus)')
    parser.add_argument('-k', type=int, default=10, help='samples per input for baselines')
    parser.add_argument('--seed', type=int, default=0, help='seed of the Random/GT baselines')


def run(args: argparse.Namespace) -> int:
    """Print the metric table; return the exit code."""
    # The datasets (torch) and the metrics load only for this command.
    from react_ros.data.dataset import load_dataset
    from react_ros.data.readers import mirror_pairs
    from react_ros.eval.baselines import baseline_predictions
    from react_ros.eval.metrics import evaluate, format_table
    from react_ros.eval.split import evaluation_inputs, load_predictions
    import numpy as np

    if not (args.pred or args.baselines or args.list):
        print('react-ros eval: give --pred, --baselines or --list', file=sys.stderr)
        return 2
    mirror = mirror_pairs(args.data, args.mirror)
    dataset = load_dataset(args.data, args.split, mirror=mirror)
    if not dataset.pairs:
        print(f'react-ros eval: no complete inputs in {args.data} split {args.split}',
              file=sys.stderr)
        return 2
    speakers, appropriate = evaluation_inputs(dataset)
    if args.list:
        for index, pair in enumerate(dataset.pairs):
            print(f'{index}\t{pair.speaker_id}\t{pair.length} frames')
        print(f'(all inputs are cut to {speakers.shape[1]} frames)')
        return 0
    fps = dataset.fps
    rows = {}
    if args.baselines:
        train = load_dataset(args.data, 'train', mirror=mirror)
        # MeanSeq averages whole sequences: train listeners at least as long, cut to length.
        length = speakers.shape[1]
        train_listeners = np.stack([pair.listener_attributes[:length] for pair in train.pairs
                                    if pair.length >= length])
        for name in BASELINE_NAMES:
            predictions = baseline_predictions(name, speakers, appropriate, train_listeners,
                                               k=args.k, seed=args.seed,
                                               official=args.official)
            rows[name] = evaluate(predictions, appropriate, speakers, official=args.official,
                                  fps=fps)
    if args.pred:
        try:
            predictions = load_predictions(args.pred, len(speakers), speakers.shape[1])
        except ValueError as error:
            print(f'react-ros eval: {error}', file=sys.stderr)
            return 2
        rows[args.pred.name] = evaluate(predictions, appropriate, speakers,
                                        official=args.official, fps=fps)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        mode = 'official (challenge quirks)' if args.official else 'corrected'
        print(f'{args.data} split {args.split}: {len(speakers)} inputs x '
              f'{speakers.shape[1]} frames at {fps:g} fps; {mode} metrics')
        print(format_table(rows))
    return 0
