"""
The listener's persona: a latent drawn once per reaction, held for the whole stream.

A listener keeps a resting level over a clip (how much they smile, their valence and arousal,
how they hold their head), and listeners differ in it. The token predictor alone samples
every reaction from the same starting point and lets the level wander; with a persona latent
z ~ N(0, I) drawn once per sample and added (projected) to the speaker encoding it attends to,
samples commit to different, persistent levels.

Training is a conditional VAE (Kingma and Welling 2014; Sohn et al. 2015): a posterior
q(z | clip summary) sees the mean of the listener's own normalised frames over the whole clip,
and its KL divergence to N(0, I) is added to the token cross-entropy, per window frame. The KL
of each dimension below FREE_BITS nats is not penalised ("free bits", Kingma et al. 2016,
Improved Variational Inference with Inverse Autoregressive Flow, section C.8): inside a
training window the predictor's own history tokens soon reveal the level, and without free
bits the KL term would teach it to leave z empty, which is what a sample needs at frame 0 and
to hold the level beyond the attention context.
"""

from react_ros import spec
import torch
from torch import nn

# Nats of KL per persona dimension (batch mean) that cost nothing. 1.5 (with the denoiser
# seeing the persona): FRDist/O 1.053 and level spread 0.078 against 1.0's 1.056 and 0.073,
# at the same diversity; 0.5 was worse (docs/training.md).
FREE_BITS = 1.5


class PersonaPosterior(nn.Module):
    """q(z | clip summary): the persona's mean and log-variance from a listener clip's summary."""

    def __init__(self, d_model: int, persona_dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(spec.NUM_CHANNELS, d_model), nn.GELU(),
                                 nn.Linear(d_model, 2 * persona_dim))

    def forward(self, summary: torch.Tensor) -> tuple:
        """Return (mean, log_var), each (B, Z), of summaries (B, 83) (normalised clip means)."""
        mean, log_var = self.net(summary).chunk(2, dim=-1)
        return mean, log_var.clamp(-10.0, 10.0)


def draw_personas(batch: int, persona_dim: int, generator: torch.Generator):
    """Return `batch` personas (batch, Z) from the prior N(0, I), or None for persona_dim 0."""
    if not persona_dim:
        return None
    return torch.randn((batch, persona_dim), generator=generator, device=generator.device)


def sample_posterior(mean: torch.Tensor, log_var: torch.Tensor,
                     noise: torch.Tensor) -> torch.Tensor:
    """Return z (B, Z) = mean + std * noise, noise (B, Z) standard normal (reparameterised)."""
    return mean + (0.5 * log_var).exp() * noise


def kl_to_prior(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """Return the KL divergence of N(mean, exp(log_var)) to N(0, I) per dimension (B, Z)."""
    return 0.5 * (mean ** 2 + log_var.exp() - 1.0 - log_var)


def free_bits_kl(kl: torch.Tensor) -> torch.Tensor:
    """Return the penalised KL of kl_to_prior (B, Z): per-dimension batch means floored, summed."""
    return kl.mean(dim=0).clamp(min=FREE_BITS).sum()
