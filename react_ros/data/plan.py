"""
What a dataset reader finds before anything is loaded: clips, pairs, skipped files.

A reader (react_ros.data.mars, react_ros.data.react2024) turns its folder layout into a
`DatasetPlan`: which files make which clip, which clips pair up as speaker and listener, which
listener clips are appropriate reactions. `react_ros.data.readers.plan_dataset` picks the
reader; `react_ros.data.dataset.build_dataset` loads a plan. These types import nothing heavy,
so the command line can name their choices without loading torch.
"""

from dataclasses import dataclass, field
from pathlib import Path

# Where a dataset's speaker inputs come from (react_ros.data.dataset explains each).
SPEAKER_FEATURES = ('annotations', 'extracted', 'auto')


class DatasetFormatError(ValueError):
    """A dataset file that is missing or cannot be used; the message starts with its path."""

    def __init__(self, path, reason: str):
        super().__init__(f'{path}: {reason}')
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class SkippedFile:
    """A file left out of a loaded dataset, and why."""

    path: str
    reason: str


@dataclass
class ClipSource:
    """The files of one clip; coefficients None = the dataset has no 3DMM, audio None = unused."""

    clip_id: str
    attributes: Path
    coefficients: Path = None
    audio: Path = None


@dataclass
class PairSource:
    """A speaker clip, its listener clip and the other appropriate listener clips (by id)."""

    speaker: str
    listener: str
    mirrored: bool
    source_index: int
    appropriate: tuple = ()


@dataclass
class DatasetPlan:
    """What a reader found: clips, pairs, and the files it already had to skip."""

    layout: str
    split: str
    root: Path
    fps: float
    clips: list
    pairs: list
    skipped: list = field(default_factory=list)
