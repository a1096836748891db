"""
`react-ros eval`: the REACT metric table for a prediction file and/or the papers' baselines.

Every input is scored over its whole length (long ones as segments, react_ros.eval.split).
When the split has Oracle draws (`react-ros synth --oracle K`) for every input, an Oracle row
is scored too, and every row's FRCorr and FRDist are also shown as a share of the Oracle's.
"""

import argparse
from functools import partial
import json
from pathlib import Path
import sys

from react_ros.data.readers import MIRROR_CHOICES
from react_ros.eval.baselines import BASELINE_NAMES
from react_ros.eval.split import DEFAULT_SEGMENT_FRAMES

HELP = 'score predictions (and baselines) with the REACT metrics'
ORACLE_ROW = 'Oracle'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `react-ros eval` options."""
    parser.add_argument('--data', type=Path, required=True, help='dataset root')
    parser.add_argument('--split', default='test', help='split to evaluate (default: test)')
    parser.add_argument('--pred', type=Path,
                        help='predictions .npy (N, K, T, 25), T at least the longest input')
    parser.add_argument('--baselines', action='store_true',
                        help=f'also score the baselines: {", ".join(BASELINE_NAMES)}')
    parser.add_argument('--official', action='store_true',
                        help="reproduce the challenge code's quirks (docs/metrics.md)")
    parser.add_argument('--json', action='store_true',
                        help='print JSON instead of a table, with per-row breakdowns by '
                             'direction and channel group and shares of the Oracle row')
    parser.add_argument('--list', action='store_true',
                        help='print the inputs in prediction-file order and exit')
    parser.add_argument('--mirror', choices=MIRROR_CHOICES, default='auto',
                        help='also use listeners as speakers, as upstream loaders do '
                             '(auto: yes, except for a synthetic corpus)')
    parser.add_argument('--segment-frames', type=int, default=DEFAULT_SEGMENT_FRAMES,
                        help='score longer inputs as near-equal segments of at most this '
                             f'many frames (default: {DEFAULT_SEGMENT_FRAMES})')
    parser.add_argument('-k', type=int, default=10, help='samples per input for baselines')
    parser.add_argument('--seed', type=int, default=0, help='seed of the Random/GT baselines')


def run(args: argparse.Namespace) -> int:
    """Print the metric table; return the exit code."""
    # The datasets (torch) and the metrics load only for this command.
    from react_ros.data.dataset import load_dataset
    from react_ros.data.readers import mirror_pairs
    from react_ros.data.synth import oracle_path
    from react_ros.eval.baselines import baseline_predictions
    from react_ros.eval.metrics import format_table, share_of
    from react_ros.eval.split import evaluation_inputs, load_oracle, load_predictions

    if not (args.pred or args.baselines or args.list):
        print('react-ros eval: give --pred, --baselines or --list', file=sys.stderr)
        return 2
    if args.segment_frames < 1:
        print(f'react-ros eval: --segment-frames must be >= 1, got {args.segment_frames}',
              file=sys.stderr)
        return 2
    mirror = mirror_pairs(args.data, args.mirror)
    dataset = load_dataset(args.data, args.split, mirror=mirror)
    if not dataset.pairs:
        print(f'react-ros eval: no complete inputs in {args.data} split {args.split}',
              file=sys.stderr)
        return 2
    inputs = evaluation_inputs(dataset, args.segment_frames)
    if args.list:
        for index, pair in enumerate(dataset.pairs):
            direction = '\tmirrored' if pair.mirrored else ''
            print(f'{index}\t{pair.speaker_id}\t{pair.length} frames{direction}')
        print(f'(each input is scored whole: predictions need T >= {max(inputs.lengths)} '
              'frames, the longest input)')
        return 0
    predictions = {}  # row name -> per-input predictions (K, L_i, 25)
    try:
        oracle = load_oracle(inputs, partial(oracle_path, args.data, args.split))
        if oracle is not None:
            predictions[ORACLE_ROW] = oracle
        if args.baselines:
            train = load_dataset(args.data, 'train', mirror=mirror)
            train_listeners = [pair.listener_attributes for pair in train.pairs]
            for name in BASELINE_NAMES:
                predictions[name] = baseline_predictions(
                    name, inputs.speakers, inputs.appropriate, train_listeners, k=args.k,
                    seed=args.seed, official=args.official)
        if args.pred:
            predictions[args.pred.name] = load_predictions(args.pred, inputs.lengths)
    except (ValueError, FileNotFoundError) as error:
        print(f'react-ros eval: {error}', file=sys.stderr)
        return 2
    fps = dataset.fps
    scores = {name: inputs.score(rows, official=args.official, fps=fps)
              for name, rows in predictions.items()}
    metrics = {name: score.metrics() for name, score in scores.items()}
    samples = {name: len(rows[0]) for name, rows in predictions.items()}
    ratios = None
    if ORACLE_ROW in metrics:
        ratios = {name: share_of(metrics[name], samples[name], metrics[ORACLE_ROW],
                                 samples[ORACLE_ROW]) for name in metrics}
    if args.json:
        directions = inputs.directions()
        report = {}
        for name, score in scores.items():
            row = dict(metrics[name], samples=samples[name],
                       channel_groups=score.channel_groups())
            if directions:
                row['directions'] = {direction: score.metrics(units)
                                     for direction, units in directions.items()}
            if ratios:
                row['vs_oracle'] = ratios[name]
            report[name] = row
        print(json.dumps(report, indent=2))
        return 0
    print(_header(args, inputs, fps))
    print(format_table(metrics, ratios))
    if ratios:
        print(f'FRCorr/O, FRDist/O: per sample, as a share of the {ORACLE_ROW} row '
              f"({samples[ORACLE_ROW]} fresh draws of the corpus's listener rules per input)")
    return 0


def _header(args: argparse.Namespace, inputs, fps: float) -> str:
    """Return the lines above the table: the split, its mirroring and how inputs are cut."""
    lengths = inputs.lengths
    mode = 'official (challenge quirks)' if args.official else 'corrected'
    long = sum(length > inputs.segment_frames for length in lengths)
    if long:
        cut = (f'{long} input(s) over {inputs.segment_frames} frames scored as near-equal '
               f'segments of at most {inputs.segment_frames} ({len(inputs.segments)} scored '
               'sequences in all)')
    else:
        cut = f'none over the {inputs.segment_frames}-frame segment length'
    return (f'{args.data} split {args.split}: {len(inputs)} inputs ({sum(inputs.mirrored)} '
            f'mirrored), {min(lengths)}-{max(lengths)} frames at {fps:g} fps; {mode} metrics\n'
            f'each input scored over its whole length; {cut}')
