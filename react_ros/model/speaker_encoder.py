"""
Speaker encoder: a causal multi-modal transformer over audio and speaker-face features.

Each layer runs self-attention inside each modality, then cross-attention from each modality
to the other, then feed-forward networks; every attention is causal over the last
`context_frames` frames (ALiBi, see layers.py), so the streaming step (rolling caches) gives
the full-sequence result for the same window at constant cost per frame.
"""

from react_ros.model.config import ReactionModelConfig
from react_ros.model.layers import (
    FeedForward, SequencePass, StepPass, window_bias, WindowedAttention)
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

    def attentions(self) -> list:
        """Return the attention layers in the order a pass consumes their caches."""
        return [self.audio_self, self.visual_self, self.audio_from_visual,
                self.visual_from_audio]

    def forward(self, audio: torch.Tensor, visual: torch.Tensor, attend) -> tuple:
        """Update the audio and visual streams, each (B, T, D)."""
        normed = self.audio_self_norm(audio)
        audio = audio + attend(self.audio_self, normed, normed)
        normed = self.visual_self_norm(visual)
        visual = visual + attend(self.visual_self, normed, normed)
        audio_normed = self.audio_cross_norm(audio)
        visual_normed = self.visual_cross_norm(visual)
        audio = audio + attend(self.audio_from_visual, audio_normed, visual_normed)
        visual = visual + attend(self.visual_from_audio, visual_normed, audio_normed)
        return audio + self.audio_feed_forward(audio), visual + self.visual_feed_forward(visual)


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

    def _embed(self, audio: torch.Tensor, visual: torch.Tensor, visual_mask: torch.Tensor):
        present = visual_mask[..., None]  # (B, T, 1)
        # Zero absent frames first so garbage (even non-finite) never enters an operation.
        visual = (visual.masked_fill(~present, 0.0) - self.visual_mean) / self.visual_std
        visual = torch.where(present, self.visual_in(visual), self.no_face)  # (B, T, D)
        audio = self.audio_in((audio - self.audio_mean) / self.audio_std)  # (B, T, D)
        return audio, visual

    def _run(self, audio, visual, visual_mask, attend) -> torch.Tensor:
        audio, visual = self._embed(audio, visual, visual_mask)
        for layer in self.layers:
            audio, visual = layer(audio, visual, attend)
        return self.out(torch.cat([audio, visual], dim=-1))  # (B, T, D)

    def full(self, audio: torch.Tensor, visual: torch.Tensor,
             visual_mask: torch.Tensor) -> torch.Tensor:
        """Encode whole sequences: (B, T, A), (B, T, V), (B, T) bool -> (B, T, D)."""
        positions = torch.arange(audio.shape[1], device=audio.device)
        bias = window_bias(self.layers[0].audio_self.slopes, positions, positions,
                           self.context_frames)
        return self._run(audio, visual, visual_mask, SequencePass(bias))

    def empty_caches(self, batch: int) -> list:
        """Return the streaming state of a new sequence."""
        like = self.no_face
        return [attention.empty_cache(batch, like)
                for layer in self.layers for attention in layer.attentions()]

    def step(self, audio: torch.Tensor, visual: torch.Tensor, visual_mask: torch.Tensor,
             caches: list) -> torch.Tensor:
        """Encode one frame (B, 1, A), (B, 1, V), (B, 1) -> (B, 1, D), updating caches."""
        return self._run(audio, visual, visual_mask, StepPass(caches))
