"""
What decides the result of a training run, stored in its checkpoint (react_ros.train.trainer).

Light on purpose (no torch): the command line builds its defaults and help from it.
"""

from dataclasses import asdict, dataclass, field, fields

from react_ros.model.config import ReactionModelConfig

STAGES = ('tokenizer', 'predictor', 'diffusion')
# What runs recorded before a data key existed used.
OLD_DATA_DEFAULTS = {'speaker_features': 'annotations'}
# What runs recorded before an option existed used.
OLD_OPTION_DEFAULTS = {'token_noise': 0.0, 'precision': 'fp32'}
PRECISIONS = ('fp32', 'bf16')


@dataclass
class TrainOptions:
    """Everything that decides the result of a run (stored in the checkpoint for --resume)."""

    stages: tuple = STAGES
    # One per stage: the recipe measured in docs/training.md (the predictor overfits later
    # than without dropout and history noise; the diffusion stage converges early).
    epochs: tuple = (20, 16, 6)
    batch_size: int = 32
    window: int = 64  # frames per training window
    learning_rate: float = 3e-3
    weight_decay: float = 0.01
    warmup_steps: int = 50
    grad_clip: float = 1.0
    face_dropout: float = 0.2  # fraction of windows with a span of frames without a face
    # Share of the predictor's input (history) tokens replaced by random ones while training,
    # so it leans less on its own past. Off by default: on the synthetic corpus 0.1 moved the
    # reactions along the same FRDist/diversity front as a lower temperature (docs/training.md).
    token_noise: float = 0.0
    seed: int = 0
    val_inputs: int = 4  # val inputs generated for the metrics (diffusion stage)
    val_k: int = 2
    val_frames: int = 300
    val_windows: int = 256  # val windows for the validation loss, at most
    threads: int = 0  # torch CPU threads (0: torch's default); results depend on it slightly
    # 'bf16': the losses run under torch.autocast in bfloat16 (weights and optimizer stay
    # float32); meant for GPUs with bf16 units, slower than fp32 on most CPUs.
    precision: str = 'fp32'
    model: dict = field(default_factory=dict)  # ReactionModelConfig fields to change

    def __post_init__(self):
        """Check the options; raise ValueError naming the bad one."""
        self.stages = tuple(self.stages)
        self.epochs = tuple(int(value) for value in self.epochs)
        unknown = [stage for stage in self.stages if stage not in STAGES]
        if unknown or not self.stages:
            raise ValueError(f'stages must be some of {", ".join(STAGES)}, got {self.stages}')
        if list(self.stages) != sorted(self.stages, key=STAGES.index):
            raise ValueError(f'stages must be in the order {", ".join(STAGES)}')
        if len(self.epochs) != len(self.stages) or min(self.epochs) < 1:
            raise ValueError(f'epochs must be one positive count per stage {self.stages}, '
                             f'got {self.epochs}')
        for name in ('batch_size', 'val_frames', 'val_windows'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
        if self.val_k < 2:  # FRDiv compares the reactions to one input with each other
            raise ValueError(f'val_k must be >= 2 (validation FRDiv needs two reactions per '
                             f'input), got {self.val_k}')
        if self.window < 2:
            raise ValueError(f'window must be >= 2 frames, got {self.window}')
        if self.val_inputs < 0 or self.warmup_steps < 0 or self.threads < 0:
            raise ValueError('val_inputs, warmup_steps and threads must be >= 0')
        for name in ('face_dropout', 'token_noise'):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f'{name} must be in [0, 1], got {getattr(self, name)}')
        if self.learning_rate <= 0 or self.weight_decay < 0 or self.grad_clip <= 0:
            raise ValueError('learning_rate and grad_clip must be > 0, weight_decay >= 0')
        if self.precision not in PRECISIONS:
            raise ValueError(f'precision must be one of {PRECISIONS}, got {self.precision!r}')
        known = {item.name for item in fields(ReactionModelConfig)}
        if set(self.model) - known:
            raise ValueError(f'unknown model config fields {sorted(set(self.model) - known)}; '
                             f'fields are {sorted(known)}')

    def to_dict(self) -> dict:
        """Return the options as JSON-compatible values."""
        values = asdict(self)
        values['stages'], values['epochs'] = list(self.stages), list(self.epochs)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> 'TrainOptions':
        """Build options from `to_dict` output."""
        return cls(**{**OLD_OPTION_DEFAULTS, **values})

    def epochs_of(self, stage: str) -> int:
        """Return the number of epochs of a stage."""
        return self.epochs[self.stages.index(stage)]
