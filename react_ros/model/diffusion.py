"""
Latent diffusion over a short causal window of listener latents.

The denoiser sees `window` frames: the newest one, noisy, and the window - 1 frames already
emitted, clean and fixed. Every frame's input carries its condition (the latent the tokenizer
decoder makes of the predicted token, plus the speaker encoding). Online, the clean frames'
keys and values sit in ring caches, so each denoising step runs one frame through the
network and nothing ever looks ahead; the DDIM update runs as two precomputed scalar
multiply-adds per step (checked against DDIMScheduler.step in the tests).

Training (react_ros.train.losses.DiffusionLoss): the clean track holds the target latents (the
tokenizer decoder's latent of the listener's unrounded FSQ codes), the noisy track the same
latents noised at a random timestep per frame (as DDIMScheduler.add_noise), the condition the
decoder's latent of the rounded codes; `LatentDenoiser.full` predicts the clean latent of
every noisy frame at once ('sample' prediction), loss the MSE against the target.
"""

import math

from diffusers import DDIMScheduler
from react_ros.model.config import ReactionModelConfig
from react_ros.model.layers import (
    BlockStep, CausalBlock, history_bias, ring_state_shape, RingCache, StepWeights, window_bias)
import torch
from torch import nn
import torch.nn.functional as F


def make_scheduler(config: ReactionModelConfig) -> DDIMScheduler:
    """
    Return the DDIM scheduler of the model.

    'trailing' spacing starts few-step sampling at the last training timestep (pure noise)
    and 'sample' prediction keeps few-step sampling well conditioned.
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
        self._step_weights = StepWeights()

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
            clean_x, noisy_x = (block(clean_x, clean_x, None, clean_bias),
                                block(noisy_x, torch.cat([clean_x, noisy_x], dim=1), None,
                                      noisy_bias))
        return self.out(noisy_x)

    def state_shape(self, batch: int) -> tuple:
        """Return the shape of the step state: one self-attention ring per block."""
        return ring_state_shape(batch, len(self.blocks), self.blocks[0].self_attention)

    def _blocks_step(self, x: torch.Tensor, state: torch.Tensor, bias: torch.Tensor) -> tuple:
        new = []
        for index, block in enumerate(self.blocks):
            x, keys_values = block.step(x, [state[:, index]], bias)
            new += keys_values
        return x, torch.stack(new, dim=1)  # (B, 1, D), (B, blocks, 2, H, Dh)

    def denoise_step(self, noisy: torch.Tensor, condition: torch.Tensor,
                     time_embedding: torch.Tensor, state: torch.Tensor,
                     bias: torch.Tensor) -> torch.Tensor:
        """
        Predict the clean newest latent (B, 1, L) from noisy (B, 1, L): full, one frame.

        condition (B, 1, D), time_embedding (D,) or (B, 1, D); state (B, blocks, 2, H, window,
        Dh) the clean past, only read; bias (H, 1, window) from history_bias.
        """
        x, _ = self._blocks_step(self.latent_in(noisy) + condition + time_embedding, state, bias)
        return self.out(x)

    def commit_step(self, latent: torch.Tensor, condition: torch.Tensor, state: torch.Tensor,
                    bias: torch.Tensor) -> torch.Tensor:
        """Return the keys and values (B, blocks, 2, H, Dh) that latent (B, 1, L) adds to state."""
        clean = self.latent_in(latent) + condition + self.clean_embedding  # (B, 1, D)
        return self._blocks_step(clean, state, bias)[1]

    def step_weights(self, refresh: bool = False) -> 'DenoiserStep':
        """Return the stacked layout of the weights (current with the parameters)."""
        return self._step_weights.get(self, DenoiserStep, refresh)

    def empty_caches(self, batch: int) -> RingCache:
        """Return the stacked layout's state of a new sequence (and pick up replaced weights)."""
        self.step_weights(refresh=True)
        attention = self.blocks[0].self_attention
        return RingCache(len(self.blocks), batch, attention.num_heads, attention.head_dim,
                         self.window, attention.slopes)

    def predict_stacked(self, weights: 'DenoiserStep', noisy: torch.Tensor,
                        offset: torch.Tensor, caches: RingCache) -> torch.Tensor:
        """
        Run denoise_step in the stacked layout: the clean newest latent (B, 1, L) from noisy.

        offset (B, D) is what the input projection adds to the noisy latent: its bias, the
        condition and the time embedding.
        """
        batch, _, latent_dim = noisy.shape
        x = torch.addmm(offset, noisy.view(batch, latent_dim), weights.latent_in)[None]
        for layer, block in enumerate(weights.blocks):
            x = block(x, caches, layer)  # (1, B, D)
        # self.out's maths without nn.Sequential's call (10 us, several times a frame).
        norm, linear = self.out
        x = F.layer_norm(x.view(batch, 1, -1), norm.normalized_shape, norm.weight, norm.bias,
                         norm.eps)
        return F.linear(x, linear.weight, linear.bias)

    def denoise_stacked(self, noisy: torch.Tensor, condition: torch.Tensor,
                        time_embedding: torch.Tensor, caches: RingCache) -> torch.Tensor:
        """Run denoise_step in the stacked layout on (B, 1, L), (B, 1, D); caches unchanged."""
        offset = condition + time_embedding + self.latent_in.bias  # (B, 1, D)
        return self.predict_stacked(self.step_weights(), noisy,
                                    offset.view(noisy.shape[0], -1), caches)

    def commit_stacked(self, latent: torch.Tensor, condition: torch.Tensor,
                       caches: RingCache) -> None:
        """Run commit_step in the stacked layout: the final latent (B, 1, L) joins the caches."""
        weights = self.step_weights()
        batch, _, latent_dim = latent.shape
        offset = condition.view(batch, -1) + weights.clean_offset  # (B, D)
        x = torch.addmm(offset, latent.view(batch, latent_dim), weights.latent_in)[None]
        *blocks, last = weights.blocks
        for layer, block in enumerate(blocks):
            x = block(x, caches, layer)  # (1, B, D)
        # The last block's output of a clean frame is never used: only its keys and values.
        last.write_keys_values(x, caches, len(blocks))
        caches.advance()


class DenoiserStep:
    """The denoiser's weights in the stacked layout."""

    def __init__(self, denoiser: LatentDenoiser):
        self.latent_in = denoiser.latent_in.weight.detach().clone().t()  # (L, D)
        self.clean_offset = (denoiser.clean_embedding + denoiser.latent_in.bias).detach()
        self.blocks = [BlockStep(block) for block in denoiser.blocks]


def ddim_coefficients(scheduler: DDIMScheduler) -> list:
    """
    Return per timestep of the scheduler the weights (of x0, of x_t) of its DDIM update.

    DDIMScheduler.step (eta 0, 'sample' prediction, no clipping) maps the predicted clean
    sample x0 and the current sample x_t to sqrt(a') x0 + sqrt(1 - a') eps with
    eps = (x_t - sqrt(a) x0) / sqrt(1 - a): linear in both. a is alphas_cumprod at the
    timestep, a' at the previous one, which step() takes as timestep - train_timesteps //
    steps (final_alpha_cumprod below 0), whatever the spacing of the timesteps.
    """
    config = scheduler.config
    if config.prediction_type != 'sample' or config.clip_sample or config.thresholding:
        raise ValueError('the DDIM update is precomputed for sample prediction without '
                         'clipping or thresholding')
    alphas = scheduler.alphas_cumprod.double()
    stride = config.num_train_timesteps // scheduler.num_inference_steps
    coefficients = []
    for timestep in scheduler.timesteps.tolist():
        alpha = alphas[timestep]
        previous = timestep - stride
        alpha_previous = (alphas[previous] if previous >= 0
                          else scheduler.final_alpha_cumprod.double())
        sample_weight = ((1 - alpha_previous) / (1 - alpha)).sqrt()
        coefficients.append((float(alpha_previous.sqrt() - sample_weight * alpha.sqrt()),
                             float(sample_weight)))
    return coefficients


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
        self.coefficients = ddim_coefficients(self.scheduler)
        self._weights = None
        self._time_offsets = None

    def time_embeddings(self) -> torch.Tensor:
        """Return the time embeddings (steps, D) of the sampler's timesteps, in order."""
        timesteps = self.scheduler.timesteps.to(self.denoiser.clean_embedding.device)
        return self.denoiser.time_embedding(timesteps)

    def step(self, noise: torch.Tensor, condition: torch.Tensor, frame: torch.Tensor,
             state: torch.Tensor, time_embeddings: torch.Tensor) -> tuple:
        """
        Draw frame `frame` (1,) int64's latent from noise (B, L); return it and its keys/values.

        condition (B, 1, D); state (B, blocks, 2, H, window, Dh) the clean past, only read
        (write_ring_slot stores the returned (B, blocks, 2, H, Dh) in it); time_embeddings
        from time_embeddings().
        """
        denoiser = self.denoiser
        bias = history_bias(denoiser.blocks[0].self_attention.slopes, frame, denoiser.window)
        latent = noise[:, None]  # (B, 1, L)
        for time, (x0_weight, sample_weight) in zip(time_embeddings, self.coefficients):
            predicted = denoiser.denoise_step(latent, condition, time, state, bias)
            latent = x0_weight * predicted + sample_weight * latent
        return latent[:, 0], denoiser.commit_step(latent, condition, state, bias)

    def sample_stacked(self, condition: torch.Tensor, caches: RingCache,
                       noise: torch.Tensor) -> torch.Tensor:
        """Run step in the stacked layout: the newest latent (B, 1, L) from noise, committed."""
        denoiser = self.denoiser
        weights = denoiser.step_weights()
        if weights is not self._weights:  # the time embeddings follow the weights
            self._time_offsets = (self.time_embeddings() + denoiser.latent_in.bias)[:, None]
            self._weights = weights
        batch = condition.shape[0]
        offsets = condition.view(1, batch, -1) + self._time_offsets  # (S, B, D)
        latent = noise
        for offset, (x0_weight, sample_weight) in zip(offsets, self.coefficients):
            predicted = denoiser.predict_stacked(weights, latent, offset, caches)
            # The last update of trailing spacing is (1, 0): the prediction itself.
            latent = (predicted if (x0_weight, sample_weight) == (1.0, 0.0)
                      else predicted.mul_(x0_weight).add_(latent, alpha=sample_weight))
        denoiser.commit_stacked(latent, condition, caches)
        return latent
