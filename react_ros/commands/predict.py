"""
`react-ros predict`: a checkpoint's reactions to every input of a split, for `react-ros eval`.

    react-ros predict --ckpt CKPT --data DIR [--split test] --out PRED.npy
                      [-k 10] [--seed 0] [--online]
                      [--speaker-features auto|annotations|extracted]
                      [--backend torch|onnxruntime|tensorrt|auto]

Writes a float32 .npy (N, K, T_max, 25), every input generated over its whole length
(react_ros.train.predict says which inputs, in which order, and how shorter ones are padded);
`react-ros eval --data DIR --pred PRED.npy --baselines` scores it.
"""

import argparse
from pathlib import Path
import sys

from react_ros.backends.selection import BACKENDS
from react_ros.data.plan import SPEAKER_FEATURES
from react_ros.data.readers import MIRROR_CHOICES

HELP = "write a checkpoint's reactions to a split, for react-ros eval"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of the prediction command."""
    parser.add_argument('--ckpt', type=Path, required=True, help='model checkpoint')
    parser.add_argument('--data', type=Path, required=True, help='dataset root')
    parser.add_argument('--split', default='test', help='split (default: test)')
    parser.add_argument('--out', type=Path, required=True, help='predictions .npy to write')
    parser.add_argument('-k', type=int, default=10, help='reactions per input (default: 10)')
    parser.add_argument('--seed', type=int, default=0, help='sampling seed (default: 0)')
    parser.add_argument('--online', action='store_true',
                        help='generate frame by frame as streaming does (default: offline '
                             'speaker encoding)')
    parser.add_argument('--mirror', choices=MIRROR_CHOICES, default='auto',
                        help='as for react-ros eval (auto: no for a synthetic corpus)')
    parser.add_argument('--layout', default='auto', help='dataset layout (default: auto)')
    parser.add_argument('--speaker-features', choices=SPEAKER_FEATURES, default='auto',
                        help='speaker inputs: from the dataset annotations, or as `react-ros '
                             'features` extracted them (auto: extracted when every speaker '
                             'clip has them; default: auto)')
    parser.add_argument('--backend', choices=BACKENDS, default='torch',
                        help='inference backend (default torch; the others run the exported '
                        'streaming graphs, so offline equals --online there)')
    parser.add_argument('--engines', type=Path, default=None,
                        help="the checkpoint's ONNX export for onnxruntime/tensorrt (default: "
                        'a per-checkpoint cache folder, exported on first use)')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')


def run(args: argparse.Namespace) -> int:
    """Write the prediction file; return the exit code."""
    # torch, the backends and the datasets load only for this command.
    from react_ros.backends.loader import load_generator
    from react_ros.backends.selection import BackendUnavailable
    import numpy as np
    from react_ros.train.predict import predict_split

    if args.k < 1:
        print(f'predict: -k must be >= 1, got {args.k}', file=sys.stderr)
        return 2
    try:
        generator, _ = load_generator(args.ckpt, args.backend, args.engines,
                                      log=lambda text: print(f'predict: {text}',
                                                             file=sys.stderr))
    except (BackendUnavailable, ValueError, FileNotFoundError) as error:
        print(f'predict: {error}', file=sys.stderr)
        return 2
    try:
        prediction = predict_split(generator, args.data, args.split, args.k, args.seed,
                                   args.online, args.layout, args.mirror,
                                   args.speaker_features, progress=not args.quiet)
    except (ValueError, FileNotFoundError) as error:
        print(f'predict: {error}', file=sys.stderr)
        return 2
    trained_with = generator.provenance.get('data', {}).get('speaker_features')
    if trained_with not in (None, prediction.speaker_features):
        print(f'predict: warning: {args.ckpt} was trained on speaker features from '
              f'{trained_with}, these are from {prediction.speaker_features}', file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out, prediction.attributes)
    inputs, k, frames, _ = prediction.attributes.shape
    mode = 'online' if args.online else 'offline'
    print(f'{args.out}: {inputs} inputs x {k} reactions x {frames} frames ({mode}, speaker '
          f'features from {prediction.speaker_features}) in {prediction.seconds:.1f} s')
    return 0
