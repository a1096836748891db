"""
Sizes and sampling settings of the reaction model.

The config travels inside every checkpoint as a plain dict, so a checkpoint rebuilds exactly
the networks that wrote it.
"""

from dataclasses import asdict, dataclass, fields
import math

from react_ros import spec

# What checkpoints written before a field existed were trained with.
OLD_CONFIG_DEFAULTS = {'predictor_dropout': 0.0, 'persona_dim': 0, 'denoiser_persona': False}


@dataclass(frozen=True)
class ReactionModelConfig:
    """
    All sizes of the speaker encoder, token predictor, FSQ tokenizer and latent denoiser.

    Frame counts are at spec.FPS. `context_frames` bounds what the encoder and the predictor
    attend to (so a streaming step costs the same at frame 10 and at frame 10 million);
    `window` is the span of listener latents the denoiser sees (the newest frame plus
    window - 1 already emitted ones).
    """

    audio_dim: int = 41
    visual_dim: int = spec.SPEAKER_VISUAL_DIM
    d_model: int = 64
    num_heads: int = 4
    ff_mult: int = 2
    encoder_layers: int = 2
    predictor_layers: int = 2
    denoiser_layers: int = 2
    tokenizer_layers: int = 2
    tokenizer_kernel: int = 3
    fsq_levels: tuple = (8, 5, 5, 5)
    latent_dim: int = 32
    context_frames: int = 64
    window: int = 8
    # DDIM steps per frame. 2 scored as 4 did (3 seeds: FRDist/O 1.056 against 1.067, FRDiv/O
    # 0.846 both) in 3 denoiser passes a frame instead of 5 (docs/training.md).
    sampling_steps: int = 2
    train_timesteps: int = 1000
    # Above 1: at 1.0 the sampled token sequences were timid (FRVar 0.72x, FRDvs 0.68x the
    # synthetic ceiling's). With the persona, 1.15 trades a little FRCorr for FRDist (3 seeds:
    # FRDist/O 1.037, FRCorr/O 0.877, FRDiv/O 0.840 against 1.2's 1.053, 0.904, 0.841;
    # docs/training.md).
    temperature: float = 1.15
    top_k: int = 100
    # Residual dropout in the token predictor's blocks while training (the predictor overfits
    # the training speakers within a few epochs without it); the step paths never drop.
    predictor_dropout: float = 0.1
    # Dimensions of the listener persona latent drawn once per reaction (react_ros.model.persona);
    # 0: none.
    persona_dim: int = 4
    # The denoiser also sees the persona (through the predictor's projection of it): the
    # tokens alone leave a listener's valence and arousal level to an 8-frame window, where it
    # drifts to the mean. Only with persona_dim > 0.
    denoiser_persona: bool = True

    def __post_init__(self):
        """Reject sizes the networks cannot be built with."""
        object.__setattr__(self, 'fsq_levels', tuple(int(level) for level in self.fsq_levels))
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name == 'fsq_levels':
                if not value or min(value) < 3:
                    raise ValueError(f'fsq_levels must be levels >= 3, got {value}')
            elif field.name == 'predictor_dropout':
                if not 0.0 <= value < 1.0:
                    raise ValueError(f'predictor_dropout must be in [0, 1), got {value}')
            elif field.name == 'denoiser_persona':
                object.__setattr__(self, field.name, bool(value))
            elif field.name in ('top_k', 'persona_dim'):
                if value < 0:
                    raise ValueError(f'{field.name} must be >= 0 (0 = none), got {value}')
            elif not value > 0:
                raise ValueError(f'{field.name} must be positive, got {value}')
        if self.d_model % self.num_heads:
            raise ValueError(
                f'd_model ({self.d_model}) must be divisible by num_heads ({self.num_heads})')
        if self.sampling_steps > self.train_timesteps:
            raise ValueError(
                f'sampling_steps ({self.sampling_steps}) must be <= train_timesteps '
                f'({self.train_timesteps})')

    @property
    def denoiser_sees_persona(self) -> bool:
        """Return whether the denoiser's speaker input carries the persona's offset too."""
        return bool(self.persona_dim) and self.denoiser_persona

    @property
    def codebook_size(self) -> int:
        """Return the number of FSQ codes (tokens): the product of the levels."""
        return math.prod(self.fsq_levels)

    def to_dict(self) -> dict:
        """Return the config as plain Python values (what a checkpoint stores)."""
        values = asdict(self)
        values['fsq_levels'] = list(self.fsq_levels)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> 'ReactionModelConfig':
        """Build a config from `to_dict` output; unknown keys are an error."""
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f'unknown model config keys {unknown}; known keys are {sorted(known)}')
        return cls(**{**OLD_CONFIG_DEFAULTS, **values})
