"""
The reaction model's streaming step as four pure functions: the graphs that get exported.

The PyTorch stream (react_ros.model.generator.ReactionStream) keeps its key/value caches in
ring buffers written in place, which suits eager PyTorch but no graph compiler. Here every
piece of state is an explicit input with an updated copy as output, so ONNX Runtime and
TensorRT run the same step: the caller feeds each step the state the previous step returned.

Four graphs, one per network the runtime calls, in the order a frame runs them:

    encoder_step     audio (1, A), visual (1, V), face_present (1,), frame (1,), state
                     -> speaker (1, D), state
    predictor_step   previous_token (k,), speaker (1, D), frame (1,), state -> logits (k, C), state
    decoder_step     token (k,), state -> token_latent (k, L), state
    denoiser_sample  noise (k, L), token_latent (k, L), speaker (1, D), frame (1,), state
                     -> listener (k, 83), state

Token sampling (Gumbel-max over top-k) and the noise draw stay with the caller, on the same
torch.Generator as the PyTorch stream, so all backends draw identical random numbers.

Ring layout (as in react_ros.model.layers.RingCache): frame n's keys and values go to slot
n % window; a slot's ALiBi bias follows from its distance to the newest frame. A state is
(B, attentions, 2, H, window, Dh): batch first, so one dynamic dimension covers the k samples.
"""

from react_ros.model.diffusion import ddim_coefficients, FrameSampler, make_scheduler
from react_ros.model.layers import CausalBlock, WindowedAttention
import torch
from torch import nn

GRAPH_NAMES = ('encoder_step', 'predictor_step', 'decoder_step', 'denoiser_sample')


def ring_slot_mask(frame: torch.Tensor, window: int) -> torch.Tensor:
    """Return (window, 1) bool: True at the slot frame (1,) int64 writes to."""
    slots = torch.arange(window, device=frame.device)
    return (slots == frame % window)[:, None]


def ring_bias(slopes: torch.Tensor, frame: torch.Tensor, window: int) -> torch.Tensor:
    """
    Return the ALiBi bias (H, 1, window) of the newest frame's query over the ring.

    Slot s holds frame - ((frame - s) mod window); slots not written yet (that frame < 0)
    get -inf.
    """
    slots = torch.arange(window, device=frame.device)
    distance = (frame - slots) % window  # (W,)
    bias = -slopes[:, None] * distance.to(slopes.dtype)  # (H, W)
    bias = bias.masked_fill((frame - distance < 0)[None, :], float('-inf'))
    return bias[:, None, :]


def attend_step(attention: WindowedAttention, query_input: torch.Tensor,
                source: torch.Tensor, state: torch.Tensor, slot: torch.Tensor,
                bias: torch.Tensor) -> tuple:
    """
    Attend the newest frame to its window; return (output (B, 1, D), updated state).

    query_input, source (B, 1, D); state (B, 2, H, W, Dh) keys and values of the window;
    slot (W, 1) where the newest frame's keys and values go; bias (H, 1, W).
    """
    batch = query_input.shape[0]
    heads, head_dim = attention.num_heads, query_input.shape[-1] // attention.num_heads

    def split(x):  # (B, 1, D) -> (B, H, 1, Dh)
        return x.reshape(batch, 1, heads, head_dim).transpose(1, 2)

    keys, values = attention.key_value(source).chunk(2, dim=-1)
    keys = torch.where(slot, split(keys), state[:, 0])  # (B, H, W, Dh)
    values = torch.where(slot, split(values), state[:, 1])
    scores = torch.matmul(split(attention.query(query_input)), keys.transpose(-1, -2))
    scores = scores * attention.scale + bias  # (B, H, 1, W)
    mixed = torch.matmul(scores.softmax(dim=-1), values)  # (B, H, 1, Dh)
    output = attention.out(mixed.transpose(1, 2).reshape(batch, 1, -1))
    return output, torch.stack([keys, values], dim=1)


def block_step(block: CausalBlock, x: torch.Tensor, states: list, slot: torch.Tensor,
               bias: torch.Tensor, context: torch.Tensor = None) -> tuple:
    """
    Run a CausalBlock on the newest frame x (B, 1, D); return (x, updated states).

    states: one (B, 2, H, W, Dh) per attention of the block (self, then cross);
    cross-attention keys come from context (B, 1, D).
    """
    normed = block.self_norm(x)
    update, self_state = attend_step(block.self_attention, normed, normed, states[0], slot,
                                     bias)
    x = x + update
    updated = [self_state]
    if block.cross_attention is not None:
        update, cross_state = attend_step(block.cross_attention, block.cross_norm(x), context,
                                          states[1], slot, bias)
        x = x + update
        updated.append(cross_state)
    return x + block.feed_forward(x), updated


class EncoderStep(nn.Module):
    """The speaker encoder's streaming step (batch 1: the speaker is shared by all samples)."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.encoder = network.encoder

    def state_shape(self, batch: int = 1) -> tuple:
        """Return the state's shape: 4 attentions per layer (self and cross, per modality)."""
        attention = self.encoder.layers[0].audio_self
        width = self.encoder.no_face.shape[0]
        return (batch, 4 * len(self.encoder.layers), 2, attention.num_heads,
                self.encoder.context_frames, width // attention.num_heads)

    def forward(self, audio, visual, face_present, frame, state):
        """(1, A), (1, V), (1,) bool, (1,) int64, state -> speaker (1, D), state."""
        encoder = self.encoder
        window = encoder.context_frames
        slot = ring_slot_mask(frame, window)
        bias = ring_bias(encoder.layers[0].audio_self.slopes, frame, window)
        audio, visual = encoder._embed(audio[:, None], visual[:, None], face_present[:, None])
        updated = []
        for index, layer in enumerate(encoder.layers):
            states = state[:, 4 * index:4 * index + 4]
            normed_audio = layer.audio_self_norm(audio)
            update, audio_state = attend_step(layer.audio_self, normed_audio, normed_audio,
                                              states[:, 0], slot, bias)
            audio = audio + update
            normed_visual = layer.visual_self_norm(visual)
            update, visual_state = attend_step(layer.visual_self, normed_visual, normed_visual,
                                               states[:, 1], slot, bias)
            visual = visual + update
            audio_normed, visual_normed = layer.audio_cross_norm(audio), layer.visual_cross_norm(
                visual)
            update, audio_cross = attend_step(layer.audio_from_visual, audio_normed,
                                              visual_normed, states[:, 2], slot, bias)
            audio = audio + update
            update, visual_cross = attend_step(layer.visual_from_audio, visual_normed,
                                               audio_normed, states[:, 3], slot, bias)
            visual = visual + update
            audio = audio + layer.audio_feed_forward(audio)
            visual = visual + layer.visual_feed_forward(visual)
            updated += [audio_state, visual_state, audio_cross, visual_cross]
        speaker = encoder.out(torch.cat([audio, visual], dim=-1))  # (1, 1, D)
        return speaker[:, 0], torch.stack(updated, dim=1)


class PredictorStep(nn.Module):
    """The token predictor's streaming step for k samples."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.predictor = network.predictor

    def state_shape(self, batch: int) -> tuple:
        """Return the state's shape: self- and cross-attention per block."""
        attention = self.predictor.blocks[0].self_attention
        width = self.predictor.token_embedding.embedding_dim
        return (batch, 2 * len(self.predictor.blocks), 2, attention.num_heads,
                self.predictor.context_frames, width // attention.num_heads)

    def forward(self, previous_token, speaker, frame, state):
        """(k,) int64, (1, D), (1,) int64, state -> logits (k, codebook_size), state."""
        predictor = self.predictor
        window = predictor.context_frames
        slot = ring_slot_mask(frame, window)
        bias = ring_bias(predictor.blocks[0].self_attention.slopes, frame, window)
        x = predictor.token_embedding(previous_token)[:, None]  # (k, 1, D)
        context = speaker[:, None].expand(x.shape[0], 1, -1)  # (k, 1, D)
        updated = []
        for index, block in enumerate(predictor.blocks):
            x, states = block_step(block, x, [state[:, 2 * index], state[:, 2 * index + 1]],
                                   slot, bias, context)
            updated += states
        return predictor.head(x[:, 0]), torch.stack(updated, dim=1)


class DecoderStep(nn.Module):
    """The tokenizer decoder's streaming step: tokens to listener latents."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.tokenizer = network.tokenizer

    def state_shape(self, batch: int) -> tuple:
        """Return the state's shape: the last kernel - 1 inputs of each convolution."""
        decoder = self.tokenizer.decoder
        return (batch, len(decoder.convs), decoder.input.out_features, decoder.kernel - 1)

    def forward(self, token, state):
        """(k,) int64, state (k, layers, width, kernel - 1) -> token_latent (k, L), state."""
        decoder = self.tokenizer.decoder
        x = decoder.input(self.tokenizer.tokens_to_codes(token))  # (k, W)
        updated = []
        for index, conv in enumerate(decoder.convs):
            window = torch.cat([state[:, index], x[:, :, None]], dim=2)  # (k, W, kernel)
            updated.append(window[:, :, 1:])
            x = x + nn.functional.gelu(
                nn.functional.linear(window.flatten(1), conv.weight.flatten(1), conv.bias))
        return decoder.output(x), torch.stack(updated, dim=1)


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
        FrameSampler(network.denoiser, config, sampling_steps)  # validates the step count
        scheduler = make_scheduler(config)
        scheduler.set_timesteps(sampling_steps)
        self.coefficients = ddim_coefficients(scheduler)
        with torch.no_grad():
            time = self.denoiser.time_embedding(scheduler.timesteps)  # (S, D)
        self.register_buffer('time_embeddings', time, persistent=False)

    def state_shape(self, batch: int) -> tuple:
        """Return the state's shape: one self-attention per block over the window."""
        attention = self.denoiser.blocks[0].self_attention
        width = self.denoiser.clean_embedding.shape[0]
        return (batch, len(self.denoiser.blocks), 2, attention.num_heads, self.denoiser.window,
                width // attention.num_heads)

    def _run_blocks(self, x, state, slot, bias) -> tuple:
        updated = []
        for index, block in enumerate(self.denoiser.blocks):
            x, states = block_step(block, x, [state[:, index]], slot, bias)
            updated += states
        return x, torch.stack(updated, dim=1)

    def forward(self, noise, token_latent, speaker, frame, state):
        """(k, L), (k, L), (1, D), (1,) int64, state -> listener frames (k, 83), state."""
        denoiser = self.denoiser
        slot = ring_slot_mask(frame, denoiser.window)
        bias = ring_bias(denoiser.blocks[0].self_attention.slopes, frame, denoiser.window)
        condition = denoiser.condition(
            token_latent[:, None], speaker[:, None].expand(noise.shape[0], 1, -1))  # (k, 1, D)
        latent = noise[:, None]  # (k, 1, L)
        for time, (x0_weight, sample_weight) in zip(self.time_embeddings, self.coefficients):
            x, _ = self._run_blocks(denoiser.latent_in(latent) + condition + time, state, slot,
                                    bias)
            latent = x0_weight * denoiser.out(x) + sample_weight * latent
        # Commit: the clean latent's keys and values join the past.
        clean = denoiser.latent_in(latent) + condition + denoiser.clean_embedding
        _, state = self._run_blocks(clean, state, slot, bias)
        return self.heads(latent[:, 0]), state


def build_graphs(network: nn.Module, config, sampling_steps: int) -> dict:
    """Return the four step modules by graph name, in eval mode."""
    return {
        'encoder_step': EncoderStep(network).eval(),
        'predictor_step': PredictorStep(network).eval(),
        'decoder_step': DecoderStep(network).eval(),
        'denoiser_sample': DenoiserSample(network, config, sampling_steps).eval(),
    }
