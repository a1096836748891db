"""
Latent diffusion over a short causal window of listener latents.

The denoiser sees `window` frames: the newest one, noisy, and the window - 1 frames already
emitted, clean and fixed. Every frame's input carries its condition (the latent the tokenizer
decoder makes of the predicted token, plus the speaker encoding). Online, the clean frames'
keys and values sit in rolling caches, so each denoising step runs one frame through the
network and nothing ever looks ahead.

Training layout (for the training issue): the clean track holds the target latents (the
tokenizer decoder's latent of the ground truth), the noisy track the same latents noised at
random per-frame timesteps (scheduler.add_noise); `LatentDenoiser.full` predicts the clean
latent of every noisy frame at once ('sample' prediction), loss MSE against the target.
"""

import math

from diffusers import DDIMScheduler
from react_ros.model.config import ReactionModelConfig
from react_ros.model.layers import CausalBlock, SequencePass, StepPass, window_bias
import torch
from torch import nn


def make_scheduler(config: ReactionModelConfig) -> DDIMScheduler:
    """
    Return the DDIM scheduler of the model.

    'trailing' spacing starts few-step sampling at the last training timestep (pure noise)
    and 'sample' prediction keeps 4-step sampling well conditioned.
    """
    return DDIMScheduler(num_train_timesteps=config.train_timesteps,
                         beta_schedule='squaredcos_cap_v2', prediction_type='sample',
                         clip_sample=False, set_alpha_to_one=True, timestep_spacing='trailing')


def sinusoidal_embedding(timesteps: torch.Tensor, dim: int) -> torch.Tensor:
    """Embed timesteps (N,) as (N, dim) sines and cosines of geometric frequencies."""
    half = dim // 2
    frequencies = torch.exp(
        -math.log(10000.0) * torch.arange(half, device=timesteps.device) / half)
    angles = timesteps.float()[:, None] * frequencies  # (N, dim / 2)
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class LatentDenoiser(nn.Module):
    """Predict the clean newest latent from its noisy version, the clean past and conditions."""

    def __init__(self, config: ReactionModelConfig):
        super().__init__()
        d_model = config.d_model
        self.window = config.window
        self.latent_in = nn.Linear(config.latent_dim, d_model)
        self.condition_in = nn.Linear(config.latent_dim + d_model, d_model)
        self.time_features = 2 * (d_model // 2)
        self.time_mlp = nn.Sequential(nn.Linear(self.time_features, d_model), nn.SiLU(),
                                      nn.Linear(d_model, d_model))
        # Stands in for the timestep embedding on clean (already emitted) frames.
        self.clean_embedding = nn.Parameter(0.02 * torch.randn(d_model))
        self.blocks = nn.ModuleList(
            CausalBlock(d_model, config.num_heads, config.ff_mult, config.window,
                        cross_attention=False)
            for _ in range(config.denoiser_layers))
        self.out = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, config.latent_dim))

    def condition(self, token_latent: torch.Tensor, speaker: torch.Tensor) -> torch.Tensor:
        """Mix token latents (B, T, latent_dim) and speaker encodings (B, T, D) to (B, T, D)."""
        return self.condition_in(torch.cat([token_latent, speaker], dim=-1))

    def time_embedding(self, timesteps: torch.Tensor) -> torch.Tensor:
        """Embed diffusion timesteps (N,) as (N, D)."""
        return self.time_mlp(sinusoidal_embedding(timesteps, self.time_features))

    def full(self, clean: torch.Tensor, noisy: torch.Tensor, timesteps: torch.Tensor,
             condition: torch.Tensor) -> torch.Tensor:
        """
        Predict clean latents (B, T, L) for every noisy frame of a sequence in parallel.

        clean, noisy (B, T, L), timesteps (B, T), condition (B, T, D). Noisy frame t sees
        clean frames t - window + 1 .. t - 1 and itself: what the online sampler sees.
        """
        batch, frames, _ = clean.shape
        clean_x = self.latent_in(clean) + condition + self.clean_embedding
        time = self.time_embedding(timesteps.reshape(-1)).view(batch, frames, -1)
        noisy_x = self.latent_in(noisy) + condition + time
        slopes = self.blocks[0].self_attention.slopes
        positions = torch.arange(frames, device=clean.device)
        clean_bias = window_bias(slopes, positions, positions, self.window)  # (H, T, T)
        itself = torch.eye(frames, dtype=torch.bool, device=clean.device)
        noisy_bias = torch.cat([  # (H, T, 2T): strictly earlier clean frames, then itself
            clean_bias.masked_fill(itself, float('-inf')),
            torch.zeros_like(clean_bias).masked_fill(~itself, float('-inf'))], dim=-1)
        for block in self.blocks:
            clean_x, noisy_x = (
                block(clean_x, clean_x, None, SequencePass(clean_bias)),
                block(noisy_x, torch.cat([clean_x, noisy_x], dim=1), None,
                      SequencePass(noisy_bias)))
        return self.out(noisy_x)

    def empty_caches(self, batch: int) -> list:
        """Return the streaming state of a new sequence (no emitted frames)."""
        like = self.clean_embedding
        return [attention.empty_cache(batch, like)
                for block in self.blocks for attention in block.attentions()]

    def _run(self, x: torch.Tensor, attend: StepPass) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, x, None, attend)
        return x

    def denoise(self, noisy: torch.Tensor, condition: torch.Tensor,
                time_embedding: torch.Tensor, caches: list) -> torch.Tensor:
        """Predict the clean newest latent (B, 1, L) from noisy (B, 1, L); caches unchanged."""
        x = self.latent_in(noisy) + condition + time_embedding
        return self.out(self._run(x, StepPass(caches, commit=False)))

    def commit(self, latent: torch.Tensor, condition: torch.Tensor, caches: list) -> None:
        """Append the final latent (B, 1, L) of the newest frame to the clean past."""
        self._run(self.latent_in(latent) + condition + self.clean_embedding, StepPass(caches))


class FrameSampler:
    """DDIM sampling of the newest latent frame with the emitted past fixed."""

    def __init__(self, denoiser: LatentDenoiser, config: ReactionModelConfig, steps: int):
        if not 1 <= steps <= config.train_timesteps:
            raise ValueError(
                f'sampling_steps must be in 1..{config.train_timesteps}, got {steps}')
        self.denoiser = denoiser
        self.latent_dim = config.latent_dim
        self.scheduler = make_scheduler(config)
        self.scheduler.set_timesteps(steps)
        device = denoiser.clean_embedding.device
        self.time_embeddings = denoiser.time_embedding(self.scheduler.timesteps.to(device))

    def sample(self, condition: torch.Tensor, caches: list,
               generator: torch.Generator) -> torch.Tensor:
        """Draw the newest latent (B, 1, L) for condition (B, 1, D) and commit it."""
        latent = torch.randn(condition.shape[0], 1, self.latent_dim, generator=generator,
                             device=condition.device)
        for timestep, time_embedding in zip(self.scheduler.timesteps, self.time_embeddings):
            predicted = self.denoiser.denoise(latent, condition, time_embedding, caches)
            latent = self.scheduler.step(predicted, timestep, latent, return_dict=False)[0]
        self.denoiser.commit(latent, condition, caches)
        return latent
