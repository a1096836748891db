"""
Which reader a dataset folder needs, and its plan: the one entry point to the layouts.

`plan_dataset(root, split, layout)` finds the REACT 2024 or REACT 2025 (MARS) reader for a
folder (layout 'auto') and returns its DatasetPlan; `mirror_pairs` decides whether listeners
also play speakers. Loading the plan is react_ros.data.dataset's job.
"""

from pathlib import Path

from react_ros.data import layout as paths
from react_ros.data import mars, react2024
from react_ros.data.plan import DatasetPlan

READERS = {'react2024': react2024, 'mars': mars}
LAYOUTS = tuple(READERS)
VIDEO_DIRS = {'react2024': paths.REACT2024_VIDEO, 'mars': paths.MARS_VIDEO}
MIRROR_CHOICES = ('auto', 'yes', 'no')


def detect_layout(root, split: str, layout: str = 'auto') -> str:
    """Return the layout holding this split under root; raise FileNotFoundError if none does."""
    if layout != 'auto':
        if layout not in READERS:
            raise ValueError(f'unknown layout {layout!r}; layouts are auto, {", ".join(LAYOUTS)}')
        return layout
    for name, reader in READERS.items():
        if reader.looks_like(root, split):
            return name
    raise FileNotFoundError(
        f'{root}: no {split!r} split of a REACT 2024 ({paths.REACT2024_DATA}/{split}/'
        f'{paths.REACT2024_EMOTION}) or REACT 2025 ({split}/{paths.MARS_ATTRIBUTES}) dataset')


def available_splits(root) -> list:
    """Return the splits some reader finds under root, in paths.SPLITS order."""
    return [split for split in paths.SPLITS
            if any(reader.looks_like(root, split) for reader in READERS.values())]


def plan_dataset(root, split: str, layout: str = 'auto', mirror: bool = True) -> DatasetPlan:
    """
    Return the DatasetPlan of one split, loading nothing.

    layout: 'react2024', 'mars' (REACT 2025) or 'auto' (from the folders under root).
    mirror: also pair each recording's listener as speaker with its speaker as listener (as the
    upstream loaders do; pairs are ordered forward first, then mirrored).
    """
    if split not in paths.SPLITS:
        raise ValueError(f'unknown split {split!r}; splits are {", ".join(paths.SPLITS)}')
    root = Path(root)
    return READERS[detect_layout(root, split, layout)].plan(root, split, mirror=mirror)


def mirror_pairs(root, choice: str = 'auto') -> bool:
    """Return whether to add mirrored pairs: choice 'yes'/'no', or 'auto' = unless synthetic."""
    if choice not in MIRROR_CHOICES:
        raise ValueError(f'mirror must be one of {", ".join(MIRROR_CHOICES)}, got {choice!r}')
    if choice != 'auto':
        return choice == 'yes'
    # The synthetic corpus's listener clips are reactions, not speaker behaviour to react to.
    return not (Path(root) / paths.SYNTH_MANIFEST).is_file()


def clip_video(plan: DatasetPlan, clip_id: str) -> Path:
    """Return where the plan's dataset keeps the video of a clip (it may not exist)."""
    return plan.root / plan.split / VIDEO_DIRS[plan.layout] / f'{clip_id}{paths.VIDEO_SUFFIX}'
