"""
FSQ tokenizer of listener facial frames: one token per frame.

A causal temporal convolution encoder maps 83-channel frames to len(levels) scalars, finite
scalar quantisation (levels 8, 5, 5, 5 = 1000 codes) turns them into a token, and a causal
convolution decoder maps codes to the continuous listener latent; output heads map the latent
to in-range frames. The latent is the space where the diffusion model works.

FSQ is vector-quantize-pytorch's: checked to export with torch.onnx.export(dynamo=True,
opset_version=18), onnxruntime matching PyTorch exactly on codes and indices.
"""

from react_ros import spec
from react_ros.model.config import ReactionModelConfig
from react_ros.model.output_heads import OutputHeads
import torch
from torch import nn
import torch.nn.functional as F
from vector_quantize_pytorch import FSQ

# Tolerance of FSQ's bound (vector_quantize_pytorch's default), see continuous_codes.
FSQ_BOUND_EPS = 1e-3


class CausalConvStack(nn.Module):
    """
    Linear in, residual causal temporal convolutions, linear out: (B, T, C_in) -> (B, T, C_out).

    Frame t sees frames t - (kernel - 1) * layers .. t. The streaming state of each
    convolution is its last kernel - 1 inputs, so `step` equals `full`.
    """

    def __init__(self, in_dim: int, width: int, out_dim: int, layers: int, kernel: int):
        super().__init__()
        self.kernel = kernel
        self.input = nn.Linear(in_dim, width)
        self.convs = nn.ModuleList(nn.Conv1d(width, width, kernel) for _ in range(layers))
        self.output = nn.Linear(width, out_dim)

    def full(self, x: torch.Tensor) -> torch.Tensor:
        """Run over whole sequences, zero history before frame 0."""
        x = self.input(x).transpose(1, 2)  # (B, W, T)
        for conv in self.convs:
            x = x + F.gelu(conv(F.pad(x, (self.kernel - 1, 0))))
        return self.output(x.transpose(1, 2))  # (B, T, C_out)

    def state_shape(self, batch: int) -> tuple:
        """Return the shape of step's state: the last kernel - 1 inputs of each convolution."""
        return (batch, len(self.convs), self.input.out_features, self.kernel - 1)

    def step(self, x: torch.Tensor, state: torch.Tensor) -> tuple:
        """
        Run one frame x (B, C_in); return (y (B, C_out), the new state).

        state (B, layers, W, kernel - 1): zeros at frame 0, as the full path's padding.
        """
        x = self.input(x)  # (B, W)
        new_state = []
        for index, conv in enumerate(self.convs):
            window = torch.cat([state[:, index], x[:, :, None]], dim=2)  # (B, W, kernel)
            new_state.append(window[:, :, 1:])
            # The convolution at one output frame as a matrix product: much cheaper per call.
            x = x + F.gelu(F.linear(window.flatten(1), conv.weight.flatten(1), conv.bias))
        return self.output(x), torch.stack(new_state, dim=1)


class FSQTokenizer(nn.Module):
    """Listener frames (B, T, 83) <-> FSQ tokens (B, T), through a continuous latent."""

    def __init__(self, config: ReactionModelConfig):
        super().__init__()
        code_dim = len(config.fsq_levels)
        self.register_buffer('frame_mean', torch.zeros(spec.NUM_CHANNELS), persistent=False)
        self.register_buffer('frame_std', torch.ones(spec.NUM_CHANNELS), persistent=False)
        self.encoder = CausalConvStack(spec.NUM_CHANNELS, config.d_model, code_dim,
                                       config.tokenizer_layers, config.tokenizer_kernel)
        # dim == number of levels: no projections inside FSQ, codes are the quantised scalars.
        self.fsq = FSQ(levels=list(config.fsq_levels))
        self.register_buffer('levels', torch.tensor(config.fsq_levels), persistent=False)
        self.decoder = CausalConvStack(code_dim, config.d_model, config.latent_dim,
                                       config.tokenizer_layers, config.tokenizer_kernel)
        self.heads = OutputHeads(config.latent_dim)
        half_range = (spec.CHANNEL_RANGES[:, 1] - spec.CHANNEL_RANGES[:, 0]) / 2
        self.register_buffer('half_range', torch.tensor(half_range, dtype=torch.float32),
                             persistent=False)

    def encode(self, frames: torch.Tensor) -> tuple:
        """Return the codes (B, T, len(levels)) in [-1, 1] and tokens (B, T) of frames."""
        codes, tokens = self.fsq(self.encoder.full((frames - self.frame_mean) / self.frame_std))
        return codes, tokens.long()

    def codes_to_tokens(self, codes: torch.Tensor) -> torch.Tensor:
        """Map codes (..., len(levels)) to tokens (...)."""
        return self.fsq.codes_to_indices(codes).long()

    def tokens_to_codes(self, tokens: torch.Tensor) -> torch.Tensor:
        """Map tokens (...) to codes (..., len(levels))."""
        return self.fsq.implicit_codebook[tokens]

    def code_half_widths(self) -> torch.Tensor:
        """Return levels // 2 (len(levels),): code dimension i takes values n / half_width."""
        return self.levels // 2

    def continuous_codes(self, latent: torch.Tensor) -> torch.Tensor:
        """
        Return FSQ's bounded codes (..., len(levels)) of encoder outputs before rounding.

        The bound of vector_quantize_pytorch's FSQ (FSQ.bound) without its rounding:
        rounding these to multiples of 1 / code_half_widths() gives FSQ's codes exactly
        (the tests check it). Computed from config.fsq_levels, so it is ours to rely on.
        """
        levels = self.levels.to(latent.dtype)
        half_levels = (levels - 1) * (1 + FSQ_BOUND_EPS) / 2
        offset = torch.where(self.levels % 2 == 0, 0.5, 0.0).to(latent.dtype)
        shift = torch.atanh(offset / half_levels)
        return (torch.tanh(latent + shift) * half_levels - offset) / self.code_half_widths()

    def decode_latent(self, codes: torch.Tensor) -> torch.Tensor:
        """Map codes (B, T, len(levels)) to listener latents (B, T, latent_dim)."""
        return self.decoder.full(codes)

    def reconstruction_loss(self, frames: torch.Tensor) -> torch.Tensor:
        """Mean squared reconstruction error of frames (B, T, 83), each channel by its range."""
        codes, _ = self.encode(frames)
        reconstruction = self.heads(self.decode_latent(codes))
        return (((reconstruction - frames) / self.half_range) ** 2).mean()
