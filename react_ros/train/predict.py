"""
A generator's reactions to every input of a split: what `react-ros predict` writes for eval.

`predict_split` returns (N, K, T, 25): for each input of the split, in the order of
react_ros.eval.split.evaluation_inputs (and `react-ros eval --list`), K reactions generated
over the input's whole length, as the 25 REACT attributes; T is the longest input, and a
shorter input's reactions are padded to it by repeating their last frame (eval ignores those
frames). Then `react-ros eval --data DIR --pred PRED.npy --baselines` scores them. The model
runs at spec.FPS; a dataset at another rate (REACT 2024: 25 fps) gets its reactions resampled
to it. The speaker inputs are those of react_ros.data.dataset's speaker_features at spec.FPS
(features extracted with `react-ros features --fps 30` for a dataset at another rate).
"""

from dataclasses import dataclass
import time

import numpy as np
from react_ros import spec
from react_ros.data.dataset import build_dataset, resample_frames
from react_ros.data.readers import mirror_pairs, plan_dataset
from tqdm import tqdm


def generate_reactions(generator, dataset, indices, frames: int, k: int, seed: int,
                       online: bool, progress: bool = False) -> list:
    """
    Return the reactions (k, T, 83) of the generator to each of the dataset pairs listed.

    The speaker inputs of each pair are its first `frames` frames (None: all of them), with
    the face present where the dataset says so (every frame for annotations, where perception
    found one for features extracted from video). Input i uses seed + i.
    """
    reactions = []
    for position, index in enumerate(tqdm(indices, desc='reactions', disable=not progress,
                                          unit='input')):
        pair = dataset.pairs[index]
        if frames is not None and pair.length < frames:
            raise ValueError(f'pair {index} ({pair.speaker_id}) has {pair.length} frames, '
                             f'{frames} are needed')
        stop = pair.length if frames is None else frames
        visual, _ = pair.speaker_visual(stop=stop)
        reactions.append(generator.generate(pair.speaker_audio[:stop], visual,
                                            pair.speaker_present[:stop], k=k,
                                            seed=seed + position, online=online))
    return reactions


@dataclass
class SplitPrediction:
    """What predict_split generated, and from which inputs."""

    attributes: np.ndarray  # (N, K, T_max, 25) float32 at the split's frame rate
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
    start = time.perf_counter()
    reactions = generate_reactions(generator, model_data, range(len(model_data.pairs)), None,
                                   k, seed, online, progress=progress)
    seconds = time.perf_counter() - start
    lengths = [pair.length for pair in dataset.pairs]
    attributes = []
    for samples, length in zip(reactions, lengths):
        samples = samples[..., :spec.NUM_ATTRIBUTES]
        if dataset.fps != spec.FPS:
            samples = np.stack([resample_frames(sample, spec.FPS, dataset.fps)
                                for sample in samples])
        # Edge padding to the longest input; it also fills the frame or so that resampling
        # can leave short at the end of a clip.
        samples = samples[:, :length]
        attributes.append(np.pad(samples, [(0, 0), (0, max(lengths) - samples.shape[1]),
                                           (0, 0)], mode='edge'))
    return SplitPrediction(np.stack(attributes).astype(np.float32), model_data.speaker_features,
                           seconds)
