"""
Prediction files for `react-ros eval`: a checkpoint's reactions to every input of a split.

    python -m react_ros.train.predict --ckpt CKPT --data DIR [--split test] --out PRED.npy
                                      [-k 10] [--seed 0] [--online]

Writes a float32 .npy (N, K, T, 25): for each input of the split, in the order of
react_ros.eval.cli.evaluation_inputs (and `react-ros eval --list`), K reactions of the T frames
all inputs are cut to, as the 25 REACT attributes. Then
`react-ros eval --data DIR --pred PRED.npy --baselines` scores them. The model runs at
spec.FPS; a dataset at another rate (REACT 2024: 25 fps) gets its reactions resampled to it.
"""

import argparse
from pathlib import Path
import sys
import time

import numpy as np
from react_ros import spec
from tqdm import tqdm


def split_length(dataset) -> int:
    """Return the frames every input of a split is cut to for evaluation (the shortest pair)."""
    return min(pair.length for pair in dataset.pairs)


def generate_reactions(generator, dataset, indices, frames: int, k: int, seed: int,
                       online: bool, progress: bool = False) -> np.ndarray:
    """
    Return reactions (len(indices), k, frames, 83) of the generator to dataset pairs.

    The speaker inputs of each pair are its first `frames` frames; the speaker's face counts
    as present on every frame (datasets mark no missing faces). Input i uses seed + i.
    """
    reactions = []
    for position, index in enumerate(tqdm(indices, desc='reactions', disable=not progress,
                                          unit='input')):
        pair = dataset.pairs[index]
        if pair.length < frames:
            raise ValueError(f'pair {index} ({pair.speaker_id}) has {pair.length} frames, '
                             f'{frames} are needed')
        visual, _ = pair.speaker_visual()
        reactions.append(generator.generate(pair.speaker_audio[:frames], visual[:frames],
                                            k=k, seed=seed + position, online=online))
    return np.stack(reactions)


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
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
    parser.add_argument('--mirror', choices=('auto', 'yes', 'no'), default='auto',
                        help='as for react-ros eval (auto: no for a synthetic corpus)')
    parser.add_argument('--layout', default='auto', help='dataset layout (default: auto)')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')


def run_predict(args: argparse.Namespace) -> int:
    """Write the prediction file; return the exit code."""
    from react_ros.data.dataset import load_dataset, resample_frames
    from react_ros.eval import cli as eval_cli
    from react_ros.model.generator import ReactionGenerator

    if args.k < 1:
        print(f'predict: -k must be >= 1, got {args.k}', file=sys.stderr)
        return 2
    generator = ReactionGenerator.from_checkpoint(args.ckpt)
    mirror = eval_cli._mirror(args)
    # What react-ros eval scores: the split at its own frame rate.
    dataset = load_dataset(args.data, args.split, args.layout, mirror=mirror)
    if not dataset.pairs:
        print(f'predict: no complete inputs in {args.data} split {args.split}',
              file=sys.stderr)
        return 2
    frames = split_length(dataset)
    model_data = dataset
    model_frames = frames
    if dataset.fps != spec.FPS:
        model_data = load_dataset(args.data, args.split, args.layout, mirror=mirror,
                                  fps=spec.FPS)
        model_frames = int(np.ceil((frames - 1) * spec.FPS / dataset.fps)) + 1
    start = time.perf_counter()
    reactions = generate_reactions(generator, model_data, range(len(model_data.pairs)),
                                   model_frames, args.k, args.seed, args.online,
                                   progress=not args.quiet)
    seconds = time.perf_counter() - start
    attributes = reactions[..., :spec.NUM_ATTRIBUTES]
    if dataset.fps != spec.FPS:
        attributes = np.stack([
            [resample_frames(sample, spec.FPS, dataset.fps)[:frames] for sample in samples]
            for samples in attributes])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out, attributes.astype(np.float32))
    mode = 'online' if args.online else 'offline'
    print(f'{args.out}: {reactions.shape[0]} inputs x {args.k} reactions x {frames} frames '
          f'({mode}) in {seconds:.1f} s')
    return 0


def main(argv=None) -> int:
    """Run the prediction command."""
    parser = argparse.ArgumentParser(prog='python -m react_ros.train.predict',
                                     description=__doc__.split('\n\n')[1])
    add_predict_arguments(parser)
    return run_predict(parser.parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
