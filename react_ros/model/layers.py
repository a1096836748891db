"""
Attention building blocks shared by the speaker encoder, token predictor and denoiser.

Every attention here is causal over a bounded window of frames and positions keys by ALiBi
(a per-head linear penalty on the frame distance). ALiBi depends only on distances, so a
rolling key/value cache of the last window - 1 frames gives exactly the attention of the
full-sequence path at any stream length, and positions never grow without bound.
"""

import torch
from torch import nn


def alibi_slopes(num_heads: int) -> torch.Tensor:
    """Return the ALiBi slopes (num_heads,): head h penalises distance by 2^(-8 (h + 1) / H)."""
    return torch.tensor([2.0 ** (-8.0 * (head + 1) / num_heads) for head in range(num_heads)])


def window_bias(slopes: torch.Tensor, query_positions: torch.Tensor,
                key_positions: torch.Tensor, window: int) -> torch.Tensor:
    """
    Return the additive attention bias (H, Tq, Tk) of a causal window.

    A query at frame t may see keys at frames t - window + 1 .. t, penalised by
    slope * distance; every other key gets -inf.
    """
    distance = (query_positions[:, None] - key_positions[None, :]).to(slopes.dtype)  # (Tq, Tk)
    allowed = (distance >= 0) & (distance < window)
    bias = -slopes[:, None, None] * distance  # (H, Tq, Tk)
    return bias.masked_fill(~allowed, float('-inf'))


class WindowedAttention(nn.Module):
    """
    Multi-head attention over a causal window of frames, with a full and a streaming path.

    A cache is a (keys, values) pair, each (B, H, L, head_dim) for the last L <= window - 1
    frames, oldest first.
    """

    def __init__(self, d_model: int, num_heads: int, window: int):
        super().__init__()
        self.num_heads = num_heads
        self.window = window
        self.scale = (d_model // num_heads) ** -0.5
        self.query = nn.Linear(d_model, d_model)
        self.key_value = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)
        slopes = alibi_slopes(num_heads)
        self.register_buffer('slopes', slopes, persistent=False)
        # Bias of keys at distances window - 1 .. 0 (oldest first); a step slices its tail.
        distances = torch.arange(window - 1, -1, -1, dtype=slopes.dtype)
        self.register_buffer('step_bias', -slopes[:, None, None] * distances, persistent=False)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, frames, width = x.shape
        # (B, T, D) -> (B, H, T, D / H)
        return x.view(batch, frames, self.num_heads, width // self.num_heads).transpose(1, 2)

    def _attend(self, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                bias: torch.Tensor) -> torch.Tensor:
        query = self._split_heads(self.query(x))  # (B, H, Tq, Dh)
        # Written out rather than F.scaled_dot_product_attention: with a float mask on CPU
        # that takes the generic math path, about twice as slow for one streaming query.
        scores = torch.matmul(query, keys.transpose(-1, -2)).mul_(self.scale).add_(bias)
        mixed = torch.matmul(scores.softmax(dim=-1), values)  # (B, H, Tq, Dh)
        batch, _, frames, _ = mixed.shape
        return self.out(mixed.transpose(1, 2).reshape(batch, frames, -1))  # (B, Tq, D)

    def keys_values(self, source: torch.Tensor) -> tuple:
        """Project source frames (B, T, D) to keys and values, each (B, H, T, Dh)."""
        keys, values = self.key_value(source).chunk(2, dim=-1)
        return self._split_heads(keys), self._split_heads(values)

    def full(self, x: torch.Tensor, source: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """Attend queries x (B, Tq, D) to source frames (B, Tk, D) under bias (H, Tq, Tk)."""
        keys, values = self.keys_values(source)
        return self._attend(x, keys, values, bias)

    def empty_cache(self, batch: int, like: torch.Tensor) -> tuple:
        """Return a cache holding no frames, with the dtype and device of `like`."""
        shape = (batch, self.num_heads, 0, self.query.out_features // self.num_heads)
        empty = like.new_zeros(shape)
        return empty, empty

    def step(self, x: torch.Tensor, source: torch.Tensor, cache: tuple) -> tuple:
        """
        Attend the newest frame x (B, 1, D) to the cached frames and to source (B, 1, D).

        Returns the output (B, 1, D) and the cache with the new frame appended and the
        frames older than the window dropped (the caller keeps it or not).
        """
        new_keys, new_values = self.keys_values(source)
        keys = torch.cat([cache[0], new_keys], dim=2)  # (B, H, L + 1, Dh)
        values = torch.cat([cache[1], new_values], dim=2)
        out = self._attend(x, keys, values, self.step_bias[..., -keys.shape[2]:])
        keep = max(0, keys.shape[2] - (self.window - 1))
        return out, (keys[:, :, keep:], values[:, :, keep:])


class FeedForward(nn.Module):
    """Pre-norm position-wise feed-forward network."""

    def __init__(self, d_model: int, ff_mult: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(d_model), nn.Linear(d_model, ff_mult * d_model), nn.GELU(),
            nn.Linear(ff_mult * d_model, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (..., D) to (..., D)."""
        return self.net(x)


class SequencePass:
    """Run attention layers over whole sequences with one shared bias."""

    def __init__(self, bias: torch.Tensor):
        self.bias = bias

    def __call__(self, attention: WindowedAttention, x: torch.Tensor,
                 source: torch.Tensor) -> torch.Tensor:
        """Attend x to source under the pass's bias."""
        return attention.full(x, source, self.bias)


class StepPass:
    """
    Run attention layers for one streaming frame, consuming one cache per attention call.

    With commit=False the caches are left untouched (a trial query, e.g. a denoising step
    of a frame that is not final yet).
    """

    def __init__(self, caches: list, commit: bool = True):
        self.caches = caches
        self.commit = commit
        self.index = 0

    def __call__(self, attention: WindowedAttention, x: torch.Tensor,
                 source: torch.Tensor) -> torch.Tensor:
        """Attend x to the next cache plus source, and advance."""
        out, cache = attention.step(x, source, self.caches[self.index])
        if self.commit:
            self.caches[self.index] = cache
        self.index += 1
        return out


class CausalBlock(nn.Module):
    """Pre-norm transformer block: windowed self-attention, optional cross-attention, FFN."""

    def __init__(self, d_model: int, num_heads: int, ff_mult: int, window: int,
                 cross_attention: bool):
        super().__init__()
        self.self_norm = nn.LayerNorm(d_model)
        self.self_attention = WindowedAttention(d_model, num_heads, window)
        self.cross_norm = nn.LayerNorm(d_model) if cross_attention else None
        self.cross_attention = (
            WindowedAttention(d_model, num_heads, window) if cross_attention else None)
        self.feed_forward = FeedForward(d_model, ff_mult)

    def attentions(self) -> list:
        """Return the attention layers in the order a pass consumes their caches."""
        return [self.self_attention] + ([self.cross_attention] if self.cross_attention else [])

    def forward(self, x: torch.Tensor, source: torch.Tensor, context, attend) -> torch.Tensor:
        """
        Update x (B, Tq, D).

        Self-attention keys come from `source` (B, Tk, D) (x itself, or x plus other frames
        it may see), cross-attention keys from `context` (B, Tk, D), already normalised by
        its producer; `attend` is a SequencePass or StepPass.
        """
        # LayerNorm is per frame, so normalising source equals normalising x where they overlap.
        normed = self.self_norm(x)
        normed_source = normed if source is x else self.self_norm(source)
        x = x + attend(self.self_attention, normed, normed_source)
        if self.cross_attention is not None:
            x = x + attend(self.cross_attention, self.cross_norm(x), context)
        return x + self.feed_forward(x)
