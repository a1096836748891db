"""
A generator's reactions to every input of a split: what `react-ros predict` writes for eval.

`predict_split` returns (N, K, T, 25): for each input of the split, in the order of
react_ros.eval.split.evaluation_inputs (and `react-ros eval --list`), K reactions of the T
frames all inputs are cut to, as the 25 REACT attributes. Then
`react-ros eval --data DIR --pred PRED.npy --baselines` scores them. The model runs at
spec.FPS; a dataset at another rate (REACT 2024: 25 fps) gets its reactions resampled to it.
The speaker inputs are those of react_ros.data.dataset's speaker_features at spec.FPS (features
extracted with `react-ros features --fps 30` for a dataset at another rate).
"""

from dataclasses import dataclass
import time

import numpy as np
from react_ros import spec
from react_ros.data.dataset import build_dataset, resample_frames
from react_ros.data.readers import mirror_pairs, plan_dataset
from react_ros.eval.split import split_length
from tqdm import tqdm


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


@dataclass
class SplitPrediction:
    """What predict_split generated, and from which inputs."""

    attributes: np.ndarray  # (N, K, T, 25) float32 at the split's frame rate
    speaker_features: str  # the source of the speaker inputs ('annotations' or 'extracted')
    seconds: float  # generation time


def predict_split(generator, root, split: str, k: int, seed: int = 0, online: bool = False,
                  layout: str = 'auto', mirror: str = 'auto',
                  speaker_features: str = 'auto', progress: bool = False) -> SplitPrediction:
    """
    Return the generator's k reactions to every input of a split (see the module docstring).

    The model runs on speaker inputs at spec.FPS; mirror is 'auto', 'yes' or 'no'
    (react_ros.data.readers.mirror_pairs). Raises ValueError or FileNotFoundError for a
    dataset that cannot be read, or one without complete inputs.
    """
    plan = plan_dataset(root, split, layout, mirror=mirror_pairs(root, mirror))
    # The model's speaker inputs, at its frame rate.
    model_data = build_dataset(plan, fps=spec.FPS, speaker_features=speaker_features,
                               features_root=root)
    # What react-ros eval scores: the split at its own frame rate (its speaker inputs unused
    # when that rate is another).
    dataset = model_data if plan.fps == spec.FPS else build_dataset(plan)
    if not dataset.pairs:
        raise ValueError(f'no complete inputs in {root} split {split}')
    frames = split_length(dataset)
    model_frames = frames
    if dataset.fps != spec.FPS:
        model_frames = int(np.ceil((frames - 1) * spec.FPS / dataset.fps)) + 1
    start = time.perf_counter()
    reactions = generate_reactions(generator, model_data, range(len(model_data.pairs)),
                                   model_frames, k, seed, online, progress=progress)
    seconds = time.perf_counter() - start
    attributes = reactions[..., :spec.NUM_ATTRIBUTES]
    if dataset.fps != spec.FPS:
        attributes = np.stack([
            [resample_frames(sample, spec.FPS, dataset.fps)[:frames] for sample in samples]
            for samples in attributes])
    return SplitPrediction(attributes.astype(np.float32), model_data.speaker_features, seconds)
