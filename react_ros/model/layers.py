"""
Attention building blocks shared by the speaker encoder, token predictor and denoiser.

Every attention here is causal over a bounded window of frames and positions keys by ALiBi
(a per-head linear penalty on the frame distance). ALiBi depends only on distances, so the
keys and values of the last `window` frames, kept in a ring (frame n in slot n % window),
give exactly the attention of the full-sequence path at any stream length, and positions
never grow without bound.

Each network has two definitions of its maths: `full` over whole sequences, and `step`, one
frame with its state as explicit tensors (a ring state in, the newest frame's keys and values
out), which react_ros.backends.graphs exports as is. The eager PyTorch stream runs a third
arrangement of the same step, the stacked layout at the end of this file, because it is
two to four times faster per frame on a CPU (benchmarks/bench_model.py); the tests check it
against both definitions.
"""

import torch
from torch import nn
import torch.nn.functional as F


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


def history_bias(slopes: torch.Tensor, frames: torch.Tensor, window: int) -> torch.Tensor:
    """
    Return the ALiBi bias (H, F, window) of the queries of frames (F,) over a ring's history.

    Slot s holds frame - d, d = (frame - s) mod window. The slot the newest frame will take
    (d = 0) still holds a frame that has left the window, and slots not written yet hold
    nothing: both get -inf. The newest frame itself (distance 0, bias 0) is attended
    separately, from its own keys.
    """
    slots = torch.arange(window, device=frames.device)
    distance = (frames[:, None] - slots) % window  # (F, W)
    bias = -slopes[:, None, None] * distance.to(slopes.dtype)  # (H, F, W)
    stale = (distance == 0) | (frames[:, None] - distance < 0)
    return bias.masked_fill(stale, float('-inf'))


def write_ring_slot(state: torch.Tensor, new_keys_values: torch.Tensor, frame: int) -> None:
    """Store a step's new_keys_values (B, A, 2, H, Dh) in its ring state, in place."""
    state[:, :, :, :, frame % state.shape[4]] = new_keys_values


def ring_state_shape(batch: int, attentions: int, attention: 'WindowedAttention') -> tuple:
    """Return the shape (B, attentions, 2, H, window, Dh) of a step's ring state."""
    return (batch, attentions, 2, attention.num_heads, attention.window, attention.head_dim)


class WindowedAttention(nn.Module):
    """Multi-head attention over a causal window of frames."""

    def __init__(self, d_model: int, num_heads: int, window: int):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.window = window
        self.scale = self.head_dim ** -0.5
        self.query = nn.Linear(d_model, d_model)
        self.key_value = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.register_buffer('slopes', alibi_slopes(num_heads), persistent=False)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, frames, _ = x.shape
        # (B, T, D) -> (B, H, T, D / H)
        return x.view(batch, frames, self.num_heads, self.head_dim).transpose(1, 2)

    def full(self, x: torch.Tensor, source: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """Attend queries x (B, Tq, D) to source frames (B, Tk, D) under bias (H, Tq, Tk)."""
        keys, values = self.key_value(source).chunk(2, dim=-1)
        query = self._split_heads(self.query(x))  # (B, H, Tq, Dh)
        # Written out rather than F.scaled_dot_product_attention: with a float mask on CPU
        # that takes the generic math path, about twice as slow.
        scores = torch.matmul(query, self._split_heads(keys).transpose(-1, -2))
        scores = scores.mul_(self.scale).add_(bias)
        mixed = torch.matmul(scores.softmax(dim=-1), self._split_heads(values))  # (B, H, Tq, Dh)
        batch, _, frames, _ = mixed.shape
        return self.out(mixed.transpose(1, 2).reshape(batch, frames, -1))  # (B, Tq, D)

    def step(self, x: torch.Tensor, source: torch.Tensor, history: torch.Tensor,
             bias: torch.Tensor) -> tuple:
        """
        Attend the newest frame to its window; return (output (B, 1, D), its keys and values).

        x, source (B, 1, D); history (B, 2, H, W, Dh) the ring of earlier keys and values;
        bias (H, 1, W) from history_bias. The newest frame's keys and values (B, 2, H, Dh)
        are scored apart from the history, so the ring is only read.
        """
        keys, values = (self._split_heads(part)  # (B, H, 1, Dh)
                        for part in self.key_value(source).chunk(2, dim=-1))
        query = self._split_heads(self.query(x)) * self.scale  # (B, H, 1, Dh)
        history_scores = torch.matmul(query, history[:, 0].transpose(-1, -2)) + bias  # (.., W)
        own_score = (query * keys).sum(dim=-1, keepdim=True)  # (B, H, 1, 1): distance 0
        weights = torch.cat([history_scores, own_score], dim=-1).softmax(dim=-1)
        mixed = torch.matmul(weights[..., :-1], history[:, 1]) + weights[..., -1:] * values
        output = self.out(mixed.transpose(1, 2).reshape(x.shape[0], 1, -1))  # (B, 1, D)
        return output, torch.stack([keys[:, :, 0], values[:, :, 0]], dim=1)


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


class CausalBlock(nn.Module):
    """Pre-norm transformer block: windowed self-attention, optional cross-attention, FFN."""

    def __init__(self, d_model: int, num_heads: int, ff_mult: int, window: int,
                 cross_attention: bool, dropout: float = 0.0):
        super().__init__()
        # Residual dropout of whole-sequence training; `step` (inference only) never drops.
        self.dropout = nn.Dropout(dropout)
        self.self_norm = nn.LayerNorm(d_model)
        self.self_attention = WindowedAttention(d_model, num_heads, window)
        self.cross_norm = nn.LayerNorm(d_model) if cross_attention else None
        self.cross_attention = (
            WindowedAttention(d_model, num_heads, window) if cross_attention else None)
        self.feed_forward = FeedForward(d_model, ff_mult)

    def forward(self, x: torch.Tensor, source: torch.Tensor, context,
                bias: torch.Tensor) -> torch.Tensor:
        """
        Update x (B, Tq, D) over whole sequences.

        Self-attention keys come from `source` (B, Tk, D) (x itself, or x plus other frames
        it may see) under `bias` (H, Tq, Tk), cross-attention keys from `context` (B, Tq, D),
        already normalised by its producer, under the causal part of the same bias.
        """
        # LayerNorm is per frame, so normalising source equals normalising x where they overlap.
        normed = self.self_norm(x)
        normed_source = normed if source is x else self.self_norm(source)
        x = x + self.dropout(self.self_attention.full(normed, normed_source, bias))
        if self.cross_attention is not None:
            x = x + self.dropout(self.cross_attention.full(self.cross_norm(x), context, bias))
        return x + self.dropout(self.feed_forward(x))

    def step(self, x: torch.Tensor, states: list, bias: torch.Tensor,
             context: torch.Tensor = None) -> tuple:
        """
        Update the newest frame x (B, 1, D); return (x, [new keys and values per attention]).

        states: one ring (B, 2, H, W, Dh) per attention of the block (self, then cross);
        cross-attention keys come from context (B, 1, D); bias (H, 1, W) from history_bias.
        """
        normed = self.self_norm(x)
        update, self_new = self.self_attention.step(normed, normed, states[0], bias)
        x = x + update
        new = [self_new]
        if self.cross_attention is not None:
            update, cross_new = self.cross_attention.step(self.cross_norm(x), context,
                                                          states[1], bias)
            x = x + update
            new.append(cross_new)
        return x + self.feed_forward(x), new


# The stacked layout: the eager PyTorch stream's arrangement of the `step` definitions. A step
# runs on tensors of one to a few frames, where the cost of launching each operation
# dominates, so it runs as few operations as possible: the projections of several attentions
# (queries, keys and values; the audio and the visual stream) as one batched matrix product
# on stacked weights, keys and values in a ring written in place, the newest frame's among
# them. Inputs of a step are laid out (G, B, D): G stacked groups (streams).

def ring_biases(slopes: torch.Tensor, window: int) -> torch.Tensor:
    """
    Return the history_bias rows (2 window, H, 1, window) of a ring the newest frame is in.

    Row n (n < window) is the bias of frame n's query while the ring fills, row window + s
    that of any later frame written to slot s; the newest frame's own slot (distance 0)
    gets bias 0 instead of -inf, since the RingCache writes it before attending.
    """
    frames = torch.arange(2 * window, device=slopes.device)
    bias = history_bias(slopes, frames, window)  # (H, 2W, W)
    bias[:, frames, frames % window] = 0.0
    return bias.transpose(0, 1)[:, :, None].contiguous()


class RingCache:
    """
    Keys and values of several attention layers over the last `window` frames, in a ring.

    Frame n's keys and values go to slot n % window, overwriting frame n - window, which has
    just left the window, so nothing is ever concatenated or shifted; each slot's ALiBi bias
    follows from its distance to the newest frame, and softmax does not care about the
    order of keys. All layers share the batch, the window and the frame clock.
    """

    def __init__(self, layers: int, rows: int, num_heads: int, head_dim: int, window: int,
                 slopes: torch.Tensor):
        self.window = window
        self.frame = 0
        self._kv = slopes.new_zeros(layers, 2, rows * num_heads, window, head_dim)
        self._keys_t = [layer[0].transpose(1, 2) for layer in self._kv]  # (N, Dh, W)
        self._values = [layer[1] for layer in self._kv]  # (N, W, Dh)
        self._slots = [self._kv[:, :, :, slot] for slot in range(window)]  # (layers, 2, N, Dh)
        # (2W, N, 1, W) for queries ordered (row, head), as the stacked projections lay out.
        self._biases = ring_biases(slopes, window).repeat(1, rows, 1, 1)
        self._select()

    def _select(self) -> None:
        slot = self.frame % self.window
        self._slot = self._slots[slot]
        self._bias = self._biases[self.frame if self.frame < self.window else self.window + slot]

    def write(self, layer: int, keys_values: torch.Tensor) -> None:
        """Store the newest frame's keys and values (2, N, Dh) of a layer."""
        self._slot[layer].copy_(keys_values)

    def attend(self, layer: int, query: torch.Tensor, scale: float) -> torch.Tensor:
        """Attend the newest frame's queries (N, 1, Dh) to a layer's window -> (N, 1, Dh)."""
        scores = torch.baddbmm(self._bias, query, self._keys_t[layer], alpha=scale)
        return torch.bmm(scores.softmax(dim=-1), self._values[layer])

    def advance(self) -> None:
        """Move the clock to the next frame (the newest frame's slot becomes history)."""
        self.frame += 1
        self._select()


def _frozen(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.detach().clone()


class StackedLayerNorm:
    """LayerNorms of G groups applied to (G, B, D) in one or two operations."""

    def __init__(self, norms: list):
        self.shape = norms[0].normalized_shape
        self.eps = norms[0].eps
        # One group: the plain LayerNorm; several: normalise all, then scale and shift.
        self.weight = torch.stack([norm.weight for norm in norms])[:, None].detach()
        self.bias = torch.stack([norm.bias for norm in norms])[:, None].detach()
        if len(norms) == 1:
            self.weight, self.bias = self.weight.view(-1), self.bias.view(-1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise x (G, B, D)."""
        if self.weight.dim() == 1:
            return F.layer_norm(x, self.shape, self.weight, self.bias, self.eps)
        return torch.addcmul(self.bias, F.layer_norm(x, self.shape, eps=self.eps), self.weight)


def _stacked_linear(linears: list) -> tuple:
    """Return weights (G, in, out) and biases (G, 1, out) of linears for torch.baddbmm."""
    weight = torch.stack([linear.weight.t() for linear in linears])
    bias = torch.stack([linear.bias for linear in linears])[:, None]
    return weight.detach().contiguous(), _frozen(bias)


class StackedAttention:
    """
    G WindowedAttentions stepped together: inputs (P, B, D) -> outputs (G, B, D).

    Attention g takes its queries from input group queries[g] and its keys and values from
    input group sources[g]; queries, keys and values of all G come out of one batched
    product laid out (3, G, B, D), which splits into heads without a copy.
    """

    def __init__(self, attentions: list, queries: list, sources: list):
        d_model = attentions[0].query.in_features
        self.head_dim = attentions[0].head_dim
        self.scale = attentions[0].scale
        self.index = torch.tensor(queries + sources + sources, device=attentions[0].slopes.device)
        parts = [(a.query.weight, a.query.bias) for a in attentions]
        for half in (slice(0, d_model), slice(d_model, 2 * d_model)):  # keys, then values
            parts += [(a.key_value.weight[half], a.key_value.bias[half]) for a in attentions]
        self.weight = torch.stack([weight.t() for weight, _ in parts]).detach().contiguous()
        self.bias = _frozen(torch.stack([bias for _, bias in parts])[:, None])  # (3G, 1, D)
        self.out_weight, self.out_bias = _stacked_linear([a.out for a in attentions])
        self.groups = len(attentions)
        # The key and value part, for a frame whose output is not needed.
        self.kv_index, self.kv_weight, self.kv_bias = (
            self.index[self.groups:], self.weight[self.groups:], self.bias[self.groups:])
        # A self-attention reads one input group only: expanding it (a view) is a few
        # microseconds cheaper than index_select, several times a frame.
        self.one_input = len(set(queries + sources)) == 1

    def _select(self, inputs: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Return the input groups (len(index), B, D) that index names."""
        if self.one_input:
            return inputs.expand(len(index), -1, -1)
        return inputs.index_select(0, index)

    def step(self, inputs: torch.Tensor, cache: RingCache, layer: int) -> torch.Tensor:
        """Write the newest frame to the cache and attend to its window: (G, B, D)."""
        projected = torch.baddbmm(self.bias, self._select(inputs, self.index), self.weight)
        heads = projected.view(3, -1, self.head_dim)  # (3, G B H, Dh)
        cache.write(layer, heads[1:])
        mixed = cache.attend(layer, heads[0, :, None], self.scale)  # (G B H, 1, Dh)
        return torch.baddbmm(self.out_bias, mixed.view(self.groups, inputs.shape[1], -1),
                             self.out_weight)

    def write(self, inputs: torch.Tensor, cache: RingCache, layer: int) -> None:
        """Only write the newest frame's keys and values (no query: its output is unused)."""
        projected = torch.baddbmm(self.kv_bias, self._select(inputs, self.kv_index),
                                  self.kv_weight)
        cache.write(layer, projected.view(2, -1, self.head_dim))


class StackedFeedForward:
    """FeedForwards of G groups applied to (G, B, D) together."""

    def __init__(self, feed_forwards: list):
        self.norm = StackedLayerNorm([ff.net[0] for ff in feed_forwards])
        self.hidden_weight, self.hidden_bias = _stacked_linear([ff.net[1] for ff in feed_forwards])
        self.out_weight, self.out_bias = _stacked_linear([ff.net[3] for ff in feed_forwards])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Map (G, B, D) to (G, B, D)."""
        hidden = torch.baddbmm(self.hidden_bias, self.norm(x), self.hidden_weight)
        return torch.baddbmm(self.out_bias, F.gelu(hidden), self.out_weight)


class BlockStep:
    """CausalBlock.step in the stacked layout, on x (1, B, D); one or two RingCache layers."""

    def __init__(self, block: CausalBlock):
        self.self_norm = StackedLayerNorm([block.self_norm])
        self.self_attention = StackedAttention([block.self_attention], [0], [0])
        self.cross_norm = self.cross_attention = None
        if block.cross_attention is not None:
            self.cross_norm = StackedLayerNorm([block.cross_norm])
            self.cross_attention = StackedAttention([block.cross_attention], [0], [1])
        self.feed_forward = StackedFeedForward([block.feed_forward])

    def __call__(self, x: torch.Tensor, cache: RingCache, layer: int,
                 context: torch.Tensor = None) -> torch.Tensor:
        """Update x (1, B, D); cross-attention keys come from context (1, B, D)."""
        x = x + self.self_attention.step(self.self_norm(x), cache, layer)
        if self.cross_attention is not None:
            inputs = torch.cat([self.cross_norm(x), context])  # (2, B, D)
            x = x + self.cross_attention.step(inputs, cache, layer + 1)
        return x + self.feed_forward(x)

    def write_keys_values(self, x: torch.Tensor, cache: RingCache, layer: int) -> None:
        """Store the self-attention keys and values of x (1, B, D) only."""
        self.self_attention.write(self.self_norm(x), cache, layer)


class StepWeights:
    """
    A module's weights laid out for its streaming path, rebuilt whenever they change.

    The layout copies the parameters (stacked, transposed). `refresh` (every stream start
    or reset) rebuilds it from the module's current parameters; between refreshes it is
    rebuilt when a parameter changes in place through an operation that moves its version
    counter (optimiser steps, load_state_dict; not torch's fused optimisers, which is why
    streams refresh).
    """

    def __init__(self):
        self._parameters = []
        self._versions = None
        self._layout = None

    def get(self, module: nn.Module, build, refresh: bool = False):
        """Return build(module), computed again when refreshing or a parameter changed."""
        if refresh or self._layout is None:
            self._parameters, self._layout = list(module.parameters()), None
        versions = [parameter._version for parameter in self._parameters]
        if self._layout is None or versions != self._versions:
            with torch.no_grad():
                self._layout = build(module)
            self._versions = versions
        return self._layout
