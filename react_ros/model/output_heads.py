"""
Output heads: a listener latent to the 83 channels of react_ros.spec, always in range.

Sigmoid for AU occurrences, tanh for valence/arousal, softmax for the 8 expression
probabilities, and a tanh scaled to spec.CHANNEL_RANGES for the 3DMM coefficients.
"""

import numpy as np
from react_ros import spec
import torch
from torch import nn


def float32_channel_bounds() -> tuple:
    """
    Return (low, high), each (83,) float32, inside spec.CHANNEL_RANGES.

    Rounding to float32 can step outside the float64 range (pi / 2 rounds up), so such
    bounds move one float32 step inward.
    """
    low64, high64 = spec.CHANNEL_RANGES[:, 0], spec.CHANNEL_RANGES[:, 1]
    low, high = low64.astype(np.float32), high64.astype(np.float32)
    low = np.where(low < low64, np.nextafter(low, np.float32(np.inf)), low)
    high = np.where(high > high64, np.nextafter(high, np.float32(-np.inf)), high)
    return low, high


class OutputHeads(nn.Module):
    """Map latents (..., latent_dim) to listener frames (..., 83) inside the channel ranges."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.linear = nn.Linear(latent_dim, spec.NUM_CHANNELS)
        low, high = (torch.from_numpy(bound) for bound in float32_channel_bounds())
        self.register_buffer('low', low, persistent=False)
        self.register_buffer('high', high, persistent=False)
        mm = slice(spec.MM_EXPRESSION_SLICE.start, spec.TRANSLATION_SLICE.stop)
        if (spec.AU_SLICE.stop, spec.AFFECT_SLICE.stop, spec.EXPRESSION_SLICE.stop,
                mm.stop) != (spec.AFFECT_SLICE.start, spec.EXPRESSION_SLICE.start, mm.start,
                             spec.NUM_CHANNELS):
            raise RuntimeError('output heads assume the spec order AU, affect, expression, 3DMM')
        self.register_buffer('mm_mid', (low[mm] + high[mm]) / 2, persistent=False)
        self.register_buffer('mm_half', (high[mm] - low[mm]) / 2, persistent=False)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """Return (..., 83) frames in spec.CHANNEL_NAMES order."""
        raw = self.linear(latent)  # (..., 83)
        frame = torch.cat([
            torch.sigmoid(raw[..., spec.AU_SLICE]),
            torch.tanh(raw[..., spec.AFFECT_SLICE]),
            torch.softmax(raw[..., spec.EXPRESSION_SLICE], dim=-1),
            self.mm_mid + self.mm_half * torch.tanh(raw[..., spec.MM_EXPRESSION_SLICE.start:]),
        ], dim=-1)
        # Guards the float32 rounding of the scaled tanh at its extremes.
        return torch.maximum(torch.minimum(frame, self.high), self.low)
