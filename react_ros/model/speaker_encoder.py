"""
Speaker encoder: a causal multi-modal transformer over audio and speaker-face features.

Each layer runs self-attention inside each modality, then cross-attention from each modality
to the other, then feed-forward networks; every attention is causal over the last
`context_frames` frames (ALiBi, see layers.py), so the streaming step (a ring of keys and
values) gives the full-sequence result for the same window at constant cost per frame.
"""

from react_ros.model.config import ReactionModelConfig
from react_ros.model.layers import (
    FeedForward, history_bias, ring_state_shape, RingCache, StackedAttention,
    StackedFeedForward, StackedLayerNorm, StepWeights, window_bias, WindowedAttention)
import torch
from torch import nn


class SpeakerEncoderLayer(nn.Module):
    """One layer: per-modality self-attention, cross-modal attention, per-modality FFN."""

    def __init__(self, config: ReactionModelConfig):
        super().__init__()
        d_model, heads, window = config.d_model, config.num_heads, config.context_frames
        self.audio_self_norm = nn.LayerNorm(d_model)
        self.visual_self_norm = nn.LayerNorm(d_model)
        self.audio_self = WindowedAttention(d_model, heads, window)
        self.visual_self = WindowedAttention(d_model, heads, window)
        self.audio_cross_norm = nn.LayerNorm(d_model)
        self.visual_cross_norm = nn.LayerNorm(d_model)
        self.audio_from_visual = WindowedAttention(d_model, heads, window)
        self.visual_from_audio = WindowedAttention(d_model, heads, window)
        self.audio_feed_forward = FeedForward(d_model, config.ff_mult)
        self.visual_feed_forward = FeedForward(d_model, config.ff_mult)

    def forward(self, audio: torch.Tensor, visual: torch.Tensor, bias: torch.Tensor) -> tuple:
        """Update the audio and visual streams, each (B, T, D), under attention bias (H, T, T)."""
        normed = self.audio_self_norm(audio)
        audio = audio + self.audio_self.full(normed, normed, bias)
        normed = self.visual_self_norm(visual)
        visual = visual + self.visual_self.full(normed, normed, bias)
        audio_normed = self.audio_cross_norm(audio)
        visual_normed = self.visual_cross_norm(visual)
        audio = audio + self.audio_from_visual.full(audio_normed, visual_normed, bias)
        visual = visual + self.visual_from_audio.full(visual_normed, audio_normed, bias)
        return audio + self.audio_feed_forward(audio), visual + self.visual_feed_forward(visual)

    def step(self, audio: torch.Tensor, visual: torch.Tensor, states: torch.Tensor,
             bias: torch.Tensor) -> tuple:
        """
        Update the newest frame of both streams, each (B, 1, D): forward, one frame.

        states (B, 4, 2, H, W, Dh): the rings of audio_self, visual_self, audio_from_visual,
        visual_from_audio; bias (H, 1, W) from history_bias. Returns (audio, visual, the
        newest frame's keys and values (B, 4, 2, H, Dh)).
        """
        normed = self.audio_self_norm(audio)
        update, audio_self = self.audio_self.step(normed, normed, states[:, 0], bias)
        audio = audio + update
        normed = self.visual_self_norm(visual)
        update, visual_self = self.visual_self.step(normed, normed, states[:, 1], bias)
        visual = visual + update
        audio_normed = self.audio_cross_norm(audio)
        visual_normed = self.visual_cross_norm(visual)
        update, audio_cross = self.audio_from_visual.step(audio_normed, visual_normed,
                                                          states[:, 2], bias)
        audio = audio + update
        update, visual_cross = self.visual_from_audio.step(visual_normed, audio_normed,
                                                           states[:, 3], bias)
        visual = visual + update
        new = torch.stack([audio_self, visual_self, audio_cross, visual_cross], dim=1)
        return (audio + self.audio_feed_forward(audio),
                visual + self.visual_feed_forward(visual), new)


class EncoderLayerStep:
    """
    SpeakerEncoderLayer.step in the stacked layout: both streams stacked (2, B, D).

    Both streams' attentions run as one: self-attention takes queries and keys from the same
    stream, cross-attention queries from one stream and keys from the other.
    """

    def __init__(self, layer: SpeakerEncoderLayer):
        self.self_norm = StackedLayerNorm([layer.audio_self_norm, layer.visual_self_norm])
        self.self_attention = StackedAttention([layer.audio_self, layer.visual_self],
                                               queries=[0, 1], sources=[0, 1])
        self.cross_norm = StackedLayerNorm([layer.audio_cross_norm, layer.visual_cross_norm])
        self.cross_attention = StackedAttention(
            [layer.audio_from_visual, layer.visual_from_audio], queries=[0, 1], sources=[1, 0])
        self.feed_forward = StackedFeedForward(
            [layer.audio_feed_forward, layer.visual_feed_forward])

    def __call__(self, x: torch.Tensor, cache: RingCache, layer: int) -> torch.Tensor:
        """Update x (2, B, D); uses cache layers `layer` and `layer + 1`."""
        x = x + self.self_attention.step(self.self_norm(x), cache, layer)
        x = x + self.cross_attention.step(self.cross_norm(x), cache, layer + 1)
        return x + self.feed_forward(x)


class SpeakerEncoder(nn.Module):
    """
    Map per-frame audio (B, T, A), visual (B, T, V) and face mask (B, T) to (B, T, D).

    Frames without a face use a learned "no face" embedding instead of their visual features,
    so whatever the visual vector holds on those frames cannot reach the output.
    Input normalisation statistics are buffers (identity until a trained model sets them).
    """

    def __init__(self, config: ReactionModelConfig):
        super().__init__()
        d_model = config.d_model
        self.context_frames = config.context_frames
        self.register_buffer('audio_mean', torch.zeros(config.audio_dim), persistent=False)
        self.register_buffer('audio_std', torch.ones(config.audio_dim), persistent=False)
        self.register_buffer('visual_mean', torch.zeros(config.visual_dim), persistent=False)
        self.register_buffer('visual_std', torch.ones(config.visual_dim), persistent=False)
        self.audio_in = nn.Linear(config.audio_dim, d_model)
        self.visual_in = nn.Linear(config.visual_dim, d_model)
        self.no_face = nn.Parameter(0.02 * torch.randn(d_model))
        self.layers = nn.ModuleList(
            SpeakerEncoderLayer(config) for _ in range(config.encoder_layers))
        self.out = nn.Sequential(nn.Linear(2 * d_model, d_model), nn.LayerNorm(d_model))
        self._step_weights = StepWeights()

    def embed(self, audio: torch.Tensor, visual: torch.Tensor,
              visual_mask: torch.Tensor) -> tuple:
        """Normalise and project (B, T, A), (B, T, V), (B, T) bool to two (B, T, D) streams."""
        present = visual_mask[..., None]  # (B, T, 1)
        # Zero absent frames first so garbage (even non-finite) never enters an operation.
        visual = (visual.masked_fill(~present, 0.0) - self.visual_mean) / self.visual_std
        visual = torch.where(present, self.visual_in(visual), self.no_face)  # (B, T, D)
        audio = self.audio_in((audio - self.audio_mean) / self.audio_std)  # (B, T, D)
        return audio, visual

    def full(self, audio: torch.Tensor, visual: torch.Tensor,
             visual_mask: torch.Tensor) -> torch.Tensor:
        """Encode whole sequences: (B, T, A), (B, T, V), (B, T) bool -> (B, T, D)."""
        positions = torch.arange(audio.shape[1], device=audio.device)
        bias = window_bias(self.layers[0].audio_self.slopes, positions, positions,
                           self.context_frames)
        audio, visual = self.embed(audio, visual, visual_mask)
        for layer in self.layers:
            audio, visual = layer(audio, visual, bias)
        return self.out(torch.cat([audio, visual], dim=-1))  # (B, T, D)

    def state_shape(self, batch: int) -> tuple:
        """Return the shape of step's state: 4 attention rings per layer."""
        return ring_state_shape(batch, 4 * len(self.layers), self.layers[0].audio_self)

    def step(self, audio: torch.Tensor, visual: torch.Tensor, visual_mask: torch.Tensor,
             frame: torch.Tensor, state: torch.Tensor) -> tuple:
        """
        Encode frame `frame` (1,) int64: (B, A), (B, V), (B,) bool -> (B, D), new keys/values.

        state (B, 4 layers, 2, H, context_frames, Dh) holds the earlier frames' keys and
        values (write_ring_slot stores the returned (B, 4 layers, 2, H, Dh) in it).
        """
        bias = history_bias(self.layers[0].audio_self.slopes, frame, self.context_frames)
        audio, visual = self.embed(audio[:, None], visual[:, None], visual_mask[:, None])
        new = []
        for index, layer in enumerate(self.layers):
            audio, visual, keys_values = layer.step(audio, visual,
                                                    state[:, 4 * index:4 * index + 4], bias)
            new.append(keys_values)
        speaker = self.out(torch.cat([audio, visual], dim=-1))  # (B, 1, D)
        return speaker[:, 0], torch.cat(new, dim=1)

    def _stack_layers(self) -> list:
        return [EncoderLayerStep(layer) for layer in self.layers]

    def empty_caches(self, batch: int) -> RingCache:
        """Return step_stacked's state of a new sequence (and pick up replaced weights)."""
        self._step_weights.get(self, SpeakerEncoder._stack_layers, refresh=True)
        attention = self.layers[0].audio_self
        return RingCache(2 * len(self.layers), 2 * batch, attention.num_heads,
                         attention.head_dim, self.context_frames, attention.slopes)

    def step_stacked(self, audio: torch.Tensor, visual: torch.Tensor,
                     visual_mask: torch.Tensor, caches: RingCache) -> torch.Tensor:
        """Run step in the stacked layout: (B, 1, A), (B, 1, V), (B, 1) -> (B, 1, D)."""
        layers = self._step_weights.get(self, SpeakerEncoder._stack_layers)
        audio, visual = self.embed(audio, visual, visual_mask)
        x = torch.cat([audio, visual], dim=1).transpose(0, 1)  # (2, B, D)
        for index, layer in enumerate(layers):
            x = layer(x, caches, 2 * index)
        caches.advance()
        return self.out(x.transpose(0, 1).reshape(x.shape[1], 1, -1))  # (B, 1, D)
