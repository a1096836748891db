"""
Prediction files for `react-ros eval`: a checkpoint's reactions to every input of a split.

    react-ros predict --ckpt CKPT --data DIR [--split test] --out PRED.npy
                      [-k 10] [--seed 0] [--online]
                      [--speaker-features auto|annotations|extracted]
                      [--backend torch|onnxruntime|tensorrt|auto]

(also `python -m react_ros.train.predict`, same options)

Writes a float32 .npy (N, K, T, 25): for each input of the split, in the order of
react_ros.eval.cli.evaluation_inputs (and `react-ros eval --list`), K reactions of the T frames
all inputs are cut to, as the 25 REACT attributes. Then
`react-ros eval --data DIR --pred PRED.npy --baselines` scores them. The model runs at
spec.FPS; a dataset at another rate (REACT 2024: 25 fps) gets its reactions resampled to it.
The speaker inputs are those of react_ros.data.dataset's speaker_features at spec.FPS (features
extracted with `react-ros features --fps 30` for a dataset at another rate).
"""

import argparse
from pathlib import Path
import sys
import time

import numpy as np
from react_ros import spec
from react_ros.backends import BACKENDS
from react_ros.data.dataset import SPEAKER_FEATURES
from tqdm import tqdm


def split_length(dataset) -> int:
    """Return the frames every input of a split is cut to for evaluation (the shortest pair)."""
    return min(pair.length for pair in dataset.pairs)


def generate_reactions(generator, dataset, indices, frames: int, k: int, seed: int,
                       online: bool, progress: bool = False) -> np.ndarray:
    """
    Return reactions (len(indices), k, frames, 83) of the generator to dataset pairs.

    The speaker inputs of each pair are its first `frames` frames, with the face present where
    the dataset says so (every frame for annotations, where perception found one for features
    extracted from video). Input i uses seed + i.
    """
    reactions = []
    for position, index in enumerate(tqdm(indices, desc='reactions', disable=not progress,
                                          unit='input')):
        pair = dataset.pairs[index]
        if pair.length < frames:
            raise ValueError(f'pair {index} ({pair.speaker_id}) has {pair.length} frames, '
                             f'{frames} are needed')
        visual, _ = pair.speaker_visual(stop=frames)
        reactions.append(generator.generate(pair.speaker_audio[:frames], visual,
                                            pair.speaker_present[:frames], k=k,
                                            seed=seed + position, online=online))
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


def run_predict(args: argparse.Namespace) -> int:
    """Write the prediction file; return the exit code."""
    from react_ros.data.dataset import build_dataset, plan_dataset, resample_frames
    from react_ros.eval import cli as eval_cli
    from react_ros.backends import BackendUnavailable, load_generator

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
        plan = plan_dataset(args.data, args.split, args.layout, mirror=eval_cli.mirror_pairs(args))
        # The model's speaker inputs, at its frame rate.
        model_data = build_dataset(plan, fps=spec.FPS, speaker_features=args.speaker_features,
                                   features_root=args.data)
        # What react-ros eval scores: the split at its own frame rate (its speaker inputs
        # unused when that rate is another).
        dataset = model_data if plan.fps == spec.FPS else build_dataset(plan)
    except (ValueError, FileNotFoundError) as error:
        print(f'predict: {error}', file=sys.stderr)
        return 2
    if not dataset.pairs:
        print(f'predict: no complete inputs in {args.data} split {args.split}',
              file=sys.stderr)
        return 2
    trained_with = generator.provenance.get('data', {}).get('speaker_features')
    if trained_with not in (None, model_data.speaker_features):
        print(f'predict: warning: {args.ckpt} was trained on speaker features from '
              f'{trained_with}, these are from {model_data.speaker_features}', file=sys.stderr)
    frames = split_length(dataset)
    model_frames = frames
    if dataset.fps != spec.FPS:
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
          f'({mode}, speaker features from {model_data.speaker_features}) in {seconds:.1f} s')
    return 0


def main(argv=None) -> int:
    """Run the prediction command."""
    parser = argparse.ArgumentParser(prog='python -m react_ros.train.predict',
                                     description=__doc__.split('\n\n')[1])
    add_predict_arguments(parser)
    return run_predict(parser.parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
