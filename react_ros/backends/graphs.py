"""
The reaction model's streaming step as four pure functions: the graphs that get exported.

Each network defines its step with explicit state beside its full-sequence path (`step` in
react_ros.model: state tensors in, the newest frame's keys and values or the new state out);
the modules here only assemble those steps into the four graphs, so ONNX Runtime and
TensorRT run the same step as PyTorch; the caller keeps the state.

Four graphs, one per network the runtime calls, in the order a frame runs them:

    encoder_step     audio (1, A), visual (1, V), face_present (1,), frame (1,), state
                     -> speaker (1, D), new_keys_values
    predictor_step   previous_token (k,), speaker (1, D)[, persona (k, Z)], frame (1,), state
                     -> logits (k, C), new_keys_values   (persona: models with persona_dim > 0)
    decoder_step     token (k,), state -> token_latent (k, L), state_out
    denoiser_sample  noise (k, L), token_latent (k, L), speaker (1, D)[, persona (k, Z)],
                     frame (1,), state -> listener (k, 83), new_keys_values
                     (persona: models whose config.denoiser_sees_persona)

Token sampling (Gumbel-max over top-k) and the noise draws (the personas once per stream, then
per frame) stay with the caller, on the same torch.Generator as the PyTorch stream, so all
backends draw identical random numbers.

Attention states are rings: frame n's keys and values belong in slot n % window. A graph
reads the ring but does not rewrite it: it returns only the newest frame's keys and values
(new_keys_values), which the caller stores in that slot in place
(react_ros.model.layers.write_ring_slot). Returning a whole updated ring would copy it every
step, which cost more than the attention itself. A ring state is (B, attentions, 2, H,
window, Dh), batch first so one dynamic dimension covers the k samples; new_keys_values is
(B, attentions, 2, H, Dh).
"""

from react_ros.model.diffusion import FrameSampler
import torch
from torch import nn

GRAPH_NAMES = ('encoder_step', 'predictor_step', 'decoder_step', 'denoiser_sample')


RING_GRAPHS = ('encoder_step', 'predictor_step', 'denoiser_sample')  # the rest: state_out


class EncoderStep(nn.Module):
    """The speaker encoder's streaming step (batch 1: the speaker is shared by all samples)."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.encoder = network.encoder

    def state_shape(self, batch: int = 1) -> tuple:
        """Return the state's shape: 4 attentions per layer (self and cross, per modality)."""
        return self.encoder.state_shape(batch)

    def forward(self, audio, visual, face_present, frame, state):
        """(1, A), (1, V), (1,) bool, (1,) int64, state -> speaker (1, D), new keys/values."""
        return self.encoder.step(audio, visual, face_present, frame, state)


class PredictorStep(nn.Module):
    """The token predictor's streaming step for k samples."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.predictor = network.predictor

    def state_shape(self, batch: int) -> tuple:
        """Return the state's shape: self- and cross-attention per block."""
        return self.predictor.state_shape(batch)

    def forward(self, previous_token, speaker, frame, state):
        """(k,) int64, (1, D), (1,) int64, state -> logits (k, codebook_size), new keys/values."""
        speaker = speaker.expand(previous_token.shape[0], -1)  # (k, D)
        return self.predictor.step(previous_token, speaker, frame, state)


class PersonaPredictorStep(PredictorStep):
    """The token predictor's streaming step for k samples, each with its persona (k, Z)."""

    def forward(self, previous_token, speaker, persona, frame, state):
        """(k,) int64, (1, D), (k, Z), (1,) int64, state -> logits (k, C), new keys/values."""
        speaker = speaker.expand(previous_token.shape[0], -1)[:, None]  # (k, 1, D)
        context = self.predictor.condition(speaker, persona)[:, 0]  # (k, D)
        return self.predictor.step(previous_token, context, frame, state)


class DecoderStep(nn.Module):
    """The tokenizer decoder's streaming step: tokens to listener latents."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.tokenizer = network.tokenizer

    def state_shape(self, batch: int) -> tuple:
        """Return the state's shape: the last kernel - 1 inputs of each convolution."""
        return self.tokenizer.decoder.state_shape(batch)

    def forward(self, token, state):
        """(k,) int64, state (k, layers, width, kernel - 1) -> token_latent (k, L), state."""
        return self.tokenizer.decoder.step(self.tokenizer.tokens_to_codes(token), state)


class DenoiserSample(nn.Module):
    """
    DDIM sampling of the newest latent frame, its commit to the past, and the output heads.

    The number of DDIM steps is fixed when the graph is built (the loop is unrolled).
    """

    def __init__(self, network: nn.Module, config, sampling_steps: int):
        super().__init__()
        self.denoiser = network.denoiser
        self.heads = network.tokenizer.heads
        self.sampling_steps = sampling_steps
        self.sampler = FrameSampler(network.denoiser, config, sampling_steps)  # the PyTorch one
        with torch.no_grad():
            time = self.sampler.time_embeddings()  # (S, D)
        self.register_buffer('time_embeddings', time, persistent=False)

    def state_shape(self, batch: int) -> tuple:
        """Return the state's shape: one self-attention per block over the window."""
        return self.denoiser.state_shape(batch)

    def forward(self, noise, token_latent, speaker, frame, state):
        """(k, L), (k, L), (1, D), (1,) int64, state -> listener (k, 83), new keys/values."""
        return self.sample(noise, token_latent, speaker[:, None].expand(noise.shape[0], 1, -1),
                           frame, state)

    def sample(self, noise, token_latent, speaker, frame, state):
        """Run forward on the speaker input (k, 1, D) the denoiser's condition takes."""
        condition = self.denoiser.condition(token_latent[:, None], speaker)  # (k, 1, D)
        latent, new_keys_values = self.sampler.step(noise, condition, frame, state,
                                                    self.time_embeddings)
        return self.heads(latent), new_keys_values


class PersonaDenoiserSample(DenoiserSample):
    """DenoiserSample whose speaker input carries each sample's persona (k, Z), as predicted."""

    def __init__(self, network: nn.Module, config, sampling_steps: int):
        super().__init__(network, config, sampling_steps)
        self.predictor = network.predictor  # its condition adds the persona's projection

    def forward(self, noise, token_latent, speaker, persona, frame, state):
        """(k, L), (k, L), (1, D), (k, Z), (1,) int64, state -> listener (k, 83), keys/values."""
        speaker = speaker.expand(noise.shape[0], -1)[:, None]  # (k, 1, D)
        return self.sample(noise, token_latent, self.predictor.condition(speaker, persona),
                           frame, state)


def build_graphs(network: nn.Module, config, sampling_steps: int) -> dict:
    """Return the four step modules by graph name, in eval mode."""
    return {
        'encoder_step': EncoderStep(network).eval(),
        'predictor_step': (PersonaPredictorStep if config.persona_dim
                           else PredictorStep)(network).eval(),
        'decoder_step': DecoderStep(network).eval(),
        'denoiser_sample': (PersonaDenoiserSample if config.denoiser_sees_persona
                            else DenoiserSample)(network, config, sampling_steps).eval(),
    }
