"""
The reaction model's streaming step as four pure functions: the graphs that get exported.

The PyTorch stream (react_ros.model.generator.ReactionStream) keeps its key/value caches in
ring buffers that its modules write in place, which suits eager PyTorch but no graph
compiler. Here every piece of state is an explicit graph input, and what a step adds to it an
explicit output, so ONNX Runtime and TensorRT run the same step; the caller keeps the state.

Four graphs, one per network the runtime calls, in the order a frame runs them:

    encoder_step     audio (1, A), visual (1, V), face_present (1,), frame (1,), state
                     -> speaker (1, D), new_keys_values
    predictor_step   previous_token (k,), speaker (1, D), frame (1,), state
                     -> logits (k, C), new_keys_values
    decoder_step     token (k,), state -> token_latent (k, L), state_out
    denoiser_sample  noise (k, L), token_latent (k, L), speaker (1, D), frame (1,), state
                     -> listener (k, 83), new_keys_values

Token sampling (Gumbel-max over top-k) and the noise draw stay with the caller, on the same
torch.Generator as the PyTorch stream, so all backends draw identical random numbers.

Attention states are rings (as react_ros.model.layers.RingCache): frame n's keys and values
belong in slot n % window. A graph reads the ring but does not rewrite it: it returns only
the newest frame's keys and values (new_keys_values), which the caller stores in that slot in
place (write_ring_slot). Returning a whole updated ring would copy it every step, which cost
more than the attention itself. A ring state is (B, attentions, 2, H, window, Dh), batch first
so one dynamic dimension covers the k samples; new_keys_values is (B, attentions, 2, H, Dh).
"""

from react_ros.model.diffusion import FrameSampler
from react_ros.model.layers import CausalBlock, WindowedAttention
import torch
from torch import nn

GRAPH_NAMES = ('encoder_step', 'predictor_step', 'decoder_step', 'denoiser_sample')


RING_GRAPHS = ('encoder_step', 'predictor_step', 'denoiser_sample')  # the rest: state_out


def write_ring_slot(state: torch.Tensor, new_keys_values: torch.Tensor, frame: int) -> None:
    """Store a graph's new_keys_values (B, A, 2, H, Dh) in its ring state, in place."""
    state[:, :, :, :, frame % state.shape[4]] = new_keys_values


def history_bias(slopes: torch.Tensor, frame: torch.Tensor, window: int) -> torch.Tensor:
    """
    Return the ALiBi bias (H, 1, window) of the newest frame's query over the ring's history.

    Slot s holds frame - d, d = (frame - s) mod window. The slot the newest frame will take
    (d = 0) still holds a frame that has left the window, and slots not written yet hold
    nothing: both get -inf. The newest frame itself (distance 0, bias 0) is attended
    separately, from its own keys.
    """
    slots = torch.arange(window, device=frame.device)
    distance = (frame - slots) % window  # (W,)
    bias = -slopes[:, None] * distance.to(slopes.dtype)  # (H, W)
    stale = (distance == 0) | (frame - distance < 0)
    return bias.masked_fill(stale[None, :], float('-inf'))[:, None, :]


def attend_step(attention: WindowedAttention, query_input: torch.Tensor,
                source: torch.Tensor, state: torch.Tensor, bias: torch.Tensor) -> tuple:
    """
    Attend the newest frame to its window; return (output (B, 1, D), its keys and values).

    query_input, source (B, 1, D); state (B, 2, H, W, Dh) keys and values of the history;
    bias (H, 1, W) from history_bias. The newest frame's keys and values (B, 2, H, Dh) are
    scored apart from the history, so the ring is only read.
    """
    batch = query_input.shape[0]
    heads, head_dim = attention.num_heads, query_input.shape[-1] // attention.num_heads

    def split(x):  # (B, 1, D) -> (B, H, 1, Dh)
        return x.reshape(batch, 1, heads, head_dim).transpose(1, 2)

    keys, values = (split(part) for part in attention.key_value(source).chunk(2, dim=-1))
    query = split(attention.query(query_input)) * attention.scale
    history_scores = torch.matmul(query, state[:, 0].transpose(-1, -2)) + bias  # (B, H, 1, W)
    own_score = (query * keys).sum(dim=-1, keepdim=True)  # (B, H, 1, 1): distance 0
    weights = torch.cat([history_scores, own_score], dim=-1).softmax(dim=-1)
    mixed = torch.matmul(weights[..., :-1], state[:, 1]) + weights[..., -1:] * values
    output = attention.out(mixed.transpose(1, 2).reshape(batch, 1, -1))  # (B, 1, D)
    return output, torch.stack([keys[:, :, 0], values[:, :, 0]], dim=1)


def block_step(block: CausalBlock, x: torch.Tensor, states: list, bias: torch.Tensor,
               context: torch.Tensor = None) -> tuple:
    """
    Run a CausalBlock on the newest frame x (B, 1, D); return (x, new keys and values).

    states: one (B, 2, H, W, Dh) per attention of the block (self, then cross);
    cross-attention keys come from context (B, 1, D).
    """
    normed = block.self_norm(x)
    update, self_new = attend_step(block.self_attention, normed, normed, states[0], bias)
    x = x + update
    new = [self_new]
    if block.cross_attention is not None:
        update, cross_new = attend_step(block.cross_attention, block.cross_norm(x), context,
                                        states[1], bias)
        x = x + update
        new.append(cross_new)
    return x + block.feed_forward(x), new


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
        """(1, A), (1, V), (1,) bool, (1,) int64, state -> speaker (1, D), new keys/values."""
        encoder = self.encoder
        bias = history_bias(encoder.layers[0].audio_self.slopes, frame, encoder.context_frames)
        audio, visual = encoder._embed(audio[:, None], visual[:, None], face_present[:, None])
        new = []
        for index, layer in enumerate(encoder.layers):
            states = state[:, 4 * index:4 * index + 4]
            normed_audio = layer.audio_self_norm(audio)
            update, audio_state = attend_step(layer.audio_self, normed_audio, normed_audio,
                                              states[:, 0], bias)
            audio = audio + update
            normed_visual = layer.visual_self_norm(visual)
            update, visual_state = attend_step(layer.visual_self, normed_visual, normed_visual,
                                               states[:, 1], bias)
            visual = visual + update
            audio_normed, visual_normed = layer.audio_cross_norm(audio), layer.visual_cross_norm(
                visual)
            update, audio_cross = attend_step(layer.audio_from_visual, audio_normed,
                                              visual_normed, states[:, 2], bias)
            audio = audio + update
            update, visual_cross = attend_step(layer.visual_from_audio, visual_normed,
                                               audio_normed, states[:, 3], bias)
            visual = visual + update
            audio = audio + layer.audio_feed_forward(audio)
            visual = visual + layer.visual_feed_forward(visual)
            new += [audio_state, visual_state, audio_cross, visual_cross]
        speaker = encoder.out(torch.cat([audio, visual], dim=-1))  # (1, 1, D)
        return speaker[:, 0], torch.stack(new, dim=1)


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
        """(k,) int64, (1, D), (1,) int64, state -> logits (k, codebook_size), new keys/values."""
        predictor = self.predictor
        bias = history_bias(predictor.blocks[0].self_attention.slopes, frame,
                            predictor.context_frames)
        x = predictor.token_embedding(previous_token)[:, None]  # (k, 1, D)
        context = speaker[:, None].expand(x.shape[0], 1, -1)  # (k, 1, D)
        new = []
        for index, block in enumerate(predictor.blocks):
            x, keys_values = block_step(
                block, x, [state[:, 2 * index], state[:, 2 * index + 1]], bias, context)
            new += keys_values
        return predictor.head(x[:, 0]), torch.stack(new, dim=1)


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
        sampler = FrameSampler(network.denoiser, config, sampling_steps)  # the PyTorch one
        self.coefficients = sampler.coefficients
        with torch.no_grad():
            time = self.denoiser.time_embedding(sampler.scheduler.timesteps)  # (S, D)
        self.register_buffer('time_embeddings', time, persistent=False)

    def state_shape(self, batch: int) -> tuple:
        """Return the state's shape: one self-attention per block over the window."""
        attention = self.denoiser.blocks[0].self_attention
        width = self.denoiser.clean_embedding.shape[0]
        return (batch, len(self.denoiser.blocks), 2, attention.num_heads, self.denoiser.window,
                width // attention.num_heads)

    def _run_blocks(self, x, state, bias) -> tuple:
        new = []
        for index, block in enumerate(self.denoiser.blocks):
            x, keys_values = block_step(block, x, [state[:, index]], bias)
            new += keys_values
        return x, torch.stack(new, dim=1)

    def forward(self, noise, token_latent, speaker, frame, state):
        """(k, L), (k, L), (1, D), (1,) int64, state -> listener (k, 83), new keys/values."""
        denoiser = self.denoiser
        bias = history_bias(denoiser.blocks[0].self_attention.slopes, frame, denoiser.window)
        condition = denoiser.condition(
            token_latent[:, None], speaker[:, None].expand(noise.shape[0], 1, -1))  # (k, 1, D)
        latent = noise[:, None]  # (k, 1, L)
        for time, (x0_weight, sample_weight) in zip(self.time_embeddings, self.coefficients):
            x, _ = self._run_blocks(denoiser.latent_in(latent) + condition + time, state, bias)
            latent = x0_weight * denoiser.out(x) + sample_weight * latent
        # Commit: the clean latent's keys and values join the past.
        clean = denoiser.latent_in(latent) + condition + denoiser.clean_embedding
        _, new_keys_values = self._run_blocks(clean, state, bias)
        return self.heads(latent[:, 0]), new_keys_values


def build_graphs(network: nn.Module, config, sampling_steps: int) -> dict:
    """Return the four step modules by graph name, in eval mode."""
    return {
        'encoder_step': EncoderStep(network).eval(),
        'predictor_step': PredictorStep(network).eval(),
        'decoder_step': DecoderStep(network).eval(),
        'denoiser_sample': DenoiserSample(network, config, sampling_steps).eval(),
    }
