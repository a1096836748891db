"""
Autoregressive listener-token predictor.

A causal transformer over the listener's past FSQ tokens that cross-attends to the speaker
encoding; frame t's logits come from the tokens before t and the speaker up to and including
frame t. Both attentions are bounded to `context_frames` (ALiBi + rolling caches), so a
streaming step costs one token whatever the stream length. With `persona_dim` > 0 the speaker
encoding it attends to carries the sample's persona (react_ros.model.persona): `condition`
adds its projection.
"""

from react_ros.model.config import ReactionModelConfig
from react_ros.model.layers import (
    BlockStep, CausalBlock, history_bias, ring_state_shape, RingCache, StepWeights, window_bias)
from react_ros.model.persona import PersonaPosterior
import torch
from torch import nn
import torch.nn.functional as F


class TokenPredictor(nn.Module):
    """Predict next-token logits (codebook_size) from past tokens and the speaker encoding."""

    def __init__(self, config: ReactionModelConfig):
        super().__init__()
        self.context_frames = config.context_frames
        self.codebook_size = config.codebook_size
        # One extra embedding row: the start token, "no listener frame yet".
        self.token_embedding = nn.Embedding(config.codebook_size + 1, config.d_model)
        self.blocks = nn.ModuleList(
            CausalBlock(config.d_model, config.num_heads, config.ff_mult,
                        config.context_frames, cross_attention=True,
                        dropout=config.predictor_dropout)
            for _ in range(config.predictor_layers))
        self.head = nn.Sequential(nn.LayerNorm(config.d_model),
                                  nn.Linear(config.d_model, config.codebook_size))
        self.persona_dim = config.persona_dim
        if config.persona_dim:
            self.persona_projection = nn.Linear(config.persona_dim, config.d_model)
            # Used by training only: the persona of a real listener clip.
            self.persona_posterior = PersonaPosterior(config.d_model, config.persona_dim)
        self._step_weights = StepWeights()

    def condition(self, speaker: torch.Tensor, persona: torch.Tensor | None) -> torch.Tensor:
        """Return what the predictor attends to: speaker (B, T, D) plus persona (B, Z)'s offset."""
        if persona is None:
            return speaker
        return speaker + self.persona_projection(persona.to(speaker.device))[:, None]

    @property
    def start_token(self) -> int:
        """Return the token fed before the first listener frame."""
        return self.codebook_size

    def full(self, previous_tokens: torch.Tensor, speaker: torch.Tensor) -> torch.Tensor:
        """
        Teacher-forced logits for whole sequences.

        previous_tokens (B, T) long holds the start token then tokens 0 .. T-2; speaker is
        (B, T, D). Returns (B, T, codebook_size): row t predicts token t.
        """
        positions = torch.arange(previous_tokens.shape[1], device=previous_tokens.device)
        bias = window_bias(self.blocks[0].self_attention.slopes, positions, positions,
                           self.context_frames)
        x = self.token_embedding(previous_tokens)  # (B, T, D)
        for block in self.blocks:
            x = block(x, x, speaker, bias)
        return self.head(x)  # (B, T, codebook_size)

    def state_shape(self, batch: int) -> tuple:
        """Return the shape of step's state: self- and cross-attention rings per block."""
        return ring_state_shape(batch, 2 * len(self.blocks), self.blocks[0].self_attention)

    def step(self, previous_token: torch.Tensor, speaker: torch.Tensor, frame: torch.Tensor,
             state: torch.Tensor) -> tuple:
        """
        Logits (B, codebook_size) of frame `frame` (1,) int64 and its keys and values.

        previous_token (B,) long, speaker (B, D); state (B, 2 blocks, 2, H, context_frames,
        Dh) holds the earlier frames' keys and values (write_ring_slot stores the returned
        (B, 2 blocks, 2, H, Dh) in it).
        """
        bias = history_bias(self.blocks[0].self_attention.slopes, frame, self.context_frames)
        x = self.token_embedding(previous_token)[:, None]  # (B, 1, D)
        context = speaker[:, None]  # (B, 1, D)
        new = []
        for index, block in enumerate(self.blocks):
            x, keys_values = block.step(x, state[:, 2 * index:2 * index + 2].unbind(1), bias,
                                        context)
            new += keys_values
        return self.head(x[:, 0]), torch.stack(new, dim=1)

    def _stack_blocks(self) -> list:
        return [BlockStep(block) for block in self.blocks]

    def empty_caches(self, batch: int) -> RingCache:
        """Return step_stacked's state of a new sequence (and pick up replaced weights)."""
        self._step_weights.get(self, TokenPredictor._stack_blocks, refresh=True)
        attention = self.blocks[0].self_attention
        return RingCache(2 * len(self.blocks), batch, attention.num_heads, attention.head_dim,
                         self.context_frames, attention.slopes)

    def step_stacked(self, previous_token: torch.Tensor, speaker: torch.Tensor,
                     caches: RingCache) -> torch.Tensor:
        """Run step in the stacked layout: previous token (B,), speaker (B, 1, D) -> (B, C)."""
        blocks = self._step_weights.get(self, TokenPredictor._stack_blocks)
        # The modules' maths without their calls (a few microseconds each, every frame).
        x = F.embedding(previous_token, self.token_embedding.weight)[None]  # (1, B, D)
        context = speaker.transpose(0, 1)  # (1, B, D)
        for index, block in enumerate(blocks):
            x = block(x, caches, 2 * index, context)
        caches.advance()
        norm, linear = self.head
        x = F.layer_norm(x[0], norm.normalized_shape, norm.weight, norm.bias, norm.eps)
        return F.linear(x, linear.weight, linear.bias)


def sample_tokens(logits: torch.Tensor, temperature: float, top_k: int,
                  generator: torch.Generator) -> torch.Tensor:
    """
    Draw one token per row of logits (B, V) with temperature and top-k (0 = all).

    Gumbel-max sampling (argmax of logits plus Gumbel noise) draws exactly from the softmax,
    at a fraction of torch.multinomial's cost over 1000 categories.
    """
    candidates = None
    if 0 < top_k < logits.shape[-1]:
        # Temperature keeps the order, so the top k of logits / temperature are these.
        logits, candidates = logits.topk(top_k, dim=-1)  # (B, K)
    if temperature != 1.0:
        logits = logits / temperature
    uniform = torch.rand(logits.shape, generator=generator, device=logits.device)
    # logits + Gumbel noise, -log(-log(u)), written in place as logits - log(-log(u)).
    choice = (logits - uniform.clamp_(min=1e-20).log_().neg_().log_()).argmax(dim=-1)  # (B,)
    return choice if candidates is None else candidates.gather(-1, choice[:, None])[:, 0]
