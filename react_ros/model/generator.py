"""
The reaction model behind one stable interface: untrained or from a checkpoint, online or not.

Per frame: the speaker encoder turns audio + speaker-face features into an encoding; the token
predictor samples the listener's next FSQ token; the tokenizer decoder turns it into a coarse
latent; the latent denoiser (DDIM, few steps) draws the frame's latent given that and the
emitted past; output heads map it to the 83 channels of react_ros.spec. k samples run as a
batch; one torch.Generator per stream makes the draws reproducible.
"""

import contextlib
import json

import numpy as np
from react_ros import spec
from react_ros.model.config import ReactionModelConfig
from react_ros.model.diffusion import FrameSampler, LatentDenoiser
from react_ros.model.persona import draw_personas
from react_ros.model.speaker_encoder import SpeakerEncoder
from react_ros.model.token_predictor import sample_tokens, TokenPredictor
from react_ros.model.tokenizer import FSQTokenizer
import torch
from torch import nn

CHECKPOINT_FORMAT = 'react_ros.reaction_model'
CHECKPOINT_VERSION = 1

# Normalisation statistics: (checkpoint key, owning module attribute, buffer name).
NORMALISATION_BUFFERS = (
    ('audio_mean', 'encoder', 'audio_mean'), ('audio_std', 'encoder', 'audio_std'),
    ('visual_mean', 'encoder', 'visual_mean'), ('visual_std', 'encoder', 'visual_std'),
    ('listener_mean', 'tokenizer', 'frame_mean'), ('listener_std', 'tokenizer', 'frame_std'),
)


class ReactionNetwork(nn.Module):
    """All networks of the model; its state_dict is the checkpoint's weights."""

    def __init__(self, config: ReactionModelConfig):
        super().__init__()
        self.encoder = SpeakerEncoder(config)
        self.predictor = TokenPredictor(config)
        self.tokenizer = FSQTokenizer(config)
        self.denoiser = LatentDenoiser(config)


def _as_float_tensor(value, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        tensor = value.detach().to('cpu', torch.float32)
    else:
        try:
            tensor = torch.from_numpy(np.asarray(value, dtype=np.float32))
        except (TypeError, ValueError) as error:
            raise ValueError(f'{name} must be numeric: {error}') from error
    return tensor


def _check_shape(tensor: torch.Tensor, name: str, expected: tuple, shown: str) -> None:
    if tuple(tensor.shape) != expected:
        raise ValueError(f'{name} must be {shown}, got {tuple(tensor.shape)}')


def _check_finite(tensor: torch.Tensor, name: str) -> None:
    # numpy's check costs a fifth of torch's on the few values of one frame.
    if not np.isfinite(tensor.numpy()).all():
        raise ValueError(f'{name} contains NaN or inf')


def check_frame_inputs(config: ReactionModelConfig, audio_features, visual_features,
                       visual_present: bool) -> tuple:
    """
    Return one frame's inputs as (audio (A,), visual (V,) float32 tensors, present bool).

    Raises ValueError naming the problem; the visual vector of a frame without a face is not
    checked (it is never used).
    """
    audio = _as_float_tensor(audio_features, 'audio_features')
    visual = _as_float_tensor(visual_features, 'visual_features')
    _check_shape(audio, 'audio_features', (config.audio_dim,), f'({config.audio_dim},)')
    _check_shape(visual, 'visual_features', (config.visual_dim,), f'({config.visual_dim},)')
    _check_finite(audio, 'audio_features')
    present = bool(visual_present)
    if present:
        _check_finite(visual, 'visual_features')
    return audio, visual, present


def check_sequence_inputs(config: ReactionModelConfig, audio_features, visual_features,
                          visual_mask=None) -> tuple:
    """
    Return a whole sequence's inputs as (audio (T, A), visual (T, V), mask (T,) bool) tensors.

    visual_mask None means a face on every frame. Raises ValueError naming the problem.
    """
    audio = _as_float_tensor(audio_features, 'audio_features')
    visual = _as_float_tensor(visual_features, 'visual_features')
    frames = audio.shape[0] if audio.ndim == 2 and audio.shape[0] > 0 else 'T'
    _check_shape(audio, 'audio_features', (frames, config.audio_dim),
                 f'(T, {config.audio_dim}) with T >= 1')
    _check_shape(visual, 'visual_features', (frames, config.visual_dim),
                 f'({frames}, {config.visual_dim})')
    if visual_mask is None:
        mask = torch.ones(frames, dtype=torch.bool)
    else:
        mask = _as_float_tensor(visual_mask, 'visual_mask')
        _check_shape(mask, 'visual_mask', (frames,), f'({frames},)')
        _check_finite(mask, 'visual_mask')
        mask = mask != 0
    _check_finite(audio, 'audio_features')
    _check_finite(visual[mask], 'visual_features (frames with a face)')
    return audio, visual, mask


@contextlib.contextmanager
def _one_intra_op_thread():
    """
    Run generate on one intra-op thread, then restore the thread count.

    The per-frame operations (a few frames of width 64) are far too small to gain from
    threads, but some (layer_norm, batched products) still fork to every thread, and so
    does the full-sequence encoder, whose second thread saves at most 30 ms of 750 frames.
    When the other core is busy every fork waits for it: on the 2-core project machine a
    2-thread generate took 1.5 to 100 times as long as a 1-thread one (benchmarks/README.md).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class ReactionStream:
    """
    One online reaction: feed frames in order, get k listener frames per step.

    Each step sees only the frames fed so far; the same seed and inputs give the same outputs.
    """

    def __init__(self, generator: 'ReactionGenerator', k: int, seed: int,
                 sampling_steps: int):
        if k < 1:
            raise ValueError(f'k must be >= 1, got {k}')
        self.k = k
        self._generator = generator
        self._seed = seed
        network = generator.network
        with torch.inference_mode():
            self._sampler = FrameSampler(network.denoiser, generator.config, sampling_steps)
        self.reset()

    def reset(self) -> None:
        """Forget all frames: the next step is frame 0 again, with the seed's draws."""
        network = self._generator.network
        device = self._generator.device
        self._rng = torch.Generator(device=device).manual_seed(self._seed)
        # The first draws of the seed: one persona per sample, held for the whole stream.
        self._persona = draw_personas(self.k, self._generator.config.persona_dim, self._rng)
        with torch.inference_mode():
            self._encoder_caches = network.encoder.empty_caches(1)
            self._predictor_caches = network.predictor.empty_caches(self.k)
            self._decoder_state = torch.zeros(network.tokenizer.decoder.state_shape(self.k),
                                              device=device)
            self._denoiser_caches = network.denoiser.empty_caches(self.k)
        self._previous_token = torch.full((self.k,), network.predictor.start_token,
                                          dtype=torch.long, device=device)

    @property
    def personas(self) -> np.ndarray | None:
        """Return the samples' persona latents (k, persona_dim), or None for a model without."""
        return None if self._persona is None else self._persona.cpu().numpy()

    @property
    def last_tokens(self) -> np.ndarray:
        """Return the FSQ tokens (k,) sampled at the latest step (the start token before)."""
        return self._previous_token.cpu().numpy()

    def step(self, audio_features, visual_features, visual_present: bool) -> np.ndarray:
        """
        Return k listener frames (k, 83) float32 for one input frame.

        audio_features (A,), visual_features (V,); when visual_present is False the visual
        vector is ignored (not even checked for NaN).
        """
        audio, visual, present = check_frame_inputs(self._generator.config, audio_features,
                                                    visual_features, visual_present)
        device = self._generator.device
        with torch.inference_mode():
            speaker = self._generator.network.encoder.step_stacked(
                audio.to(device)[None, None], visual.to(device)[None, None],
                torch.tensor([[present]], device=device), self._encoder_caches)
            return self._react(speaker).cpu().numpy()

    def _react(self, speaker: torch.Tensor) -> torch.Tensor:
        """Return (k, 83) listener frames for one frame's speaker encoding (1, 1, D)."""
        network = self._generator.network
        speaker = speaker.expand(self.k, -1, -1)  # (k, 1, D)
        context = network.predictor.condition(speaker, self._persona)  # (k, 1, D)
        token, noise = self._draw_token(context)
        codes = network.tokenizer.tokens_to_codes(token)  # (k, len(levels))
        token_latent, self._decoder_state = network.tokenizer.decoder.step(
            codes, self._decoder_state)  # (k, L)
        condition = self._denoiser_condition(token_latent[:, None], speaker, context)
        latent = self._sampler.sample_stacked(condition, self._denoiser_caches, noise)
        return network.tokenizer.heads(latent[:, 0])

    def _denoiser_condition(self, token_latent: torch.Tensor, speaker: torch.Tensor,
                            context: torch.Tensor) -> torch.Tensor:
        """
        Return the denoiser's condition (k, T, D) of token latents (k, T, L).

        speaker (k, T, D) is the speaker encoding, context the predictor's input made of it
        (with the persona): the denoiser takes the one its config says.
        """
        network, config = self._generator.network, self._generator.config
        return network.denoiser.condition(
            token_latent, context if config.denoiser_sees_persona else speaker)

    def _draw_token(self, context: torch.Tensor) -> tuple:
        """
        Sample the frame's tokens (k,) for its predictor input (k, 1, D), then its noise.

        The noise (k, 1, L) is the frame's second draw, the start of its latent's DDIM
        sampling: each frame draws in this order, online or not.
        """
        config = self._generator.config
        logits = self._generator.network.predictor.step_stacked(
            self._previous_token, context, self._predictor_caches)
        self._previous_token = sample_tokens(logits, config.temperature, config.top_k,
                                             self._rng)
        noise = torch.randn(self.k, 1, config.latent_dim, generator=self._rng,
                            device=context.device)
        return self._previous_token, noise

    def _react_sequence(self, speaker: torch.Tensor) -> torch.Tensor:
        """
        Return (k, T, 83) listener frames for a whole sequence's speaker encoding (1, T, D).

        The same draws and functions as T calls of _react, arranged in two passes: first the
        tokens of every frame (the predictor never sees the latents), then the latents; what
        has no recurrence (the predictor's input, the tokenizer decoder, the denoiser's
        condition, the output heads) runs once over the sequence, which saves a third of
        the time per frame (benchmarks/bench_model.py).
        """
        network = self._generator.network
        speaker = speaker.expand(self.k, -1, -1)  # (k, T, D)
        context = network.predictor.condition(speaker, self._persona)  # (k, T, D)
        tokens, noises = zip(*(self._draw_token(context[:, t:t + 1])
                               for t in range(speaker.shape[1])))
        codes = network.tokenizer.tokens_to_codes(torch.stack(tokens, dim=1))  # (k, T, levels)
        token_latent = network.tokenizer.decode_latent(codes)  # (k, T, L)
        condition = self._denoiser_condition(token_latent, speaker, context)  # (k, T, D)
        latents = [self._sampler.sample_stacked(condition[:, t:t + 1], self._denoiser_caches,
                                                noise) for t, noise in enumerate(noises)]
        return network.tokenizer.heads(torch.cat(latents, dim=1))  # (k, T, 83)


class ReactionGenerator:
    """Listener reactions from speaker features: the model's public interface."""

    def __init__(self, network: ReactionNetwork, config: ReactionModelConfig,
                 provenance: dict | None = None, device: str = 'cpu'):
        self.config = config
        self.device = torch.device(device)
        self.network = network.to(self.device).eval()
        self.provenance = dict(provenance or {})

    @classmethod
    def untrained(cls, config: ReactionModelConfig = ReactionModelConfig(),
                  seed: int = 0) -> 'ReactionGenerator':
        """Build randomly initialised networks; the same seed gives the same weights."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            network = ReactionNetwork(config)
        return cls(network, config, provenance={'untrained': True, 'init_seed': seed})

    @classmethod
    def from_checkpoint(cls, path, device: str = 'cpu') -> 'ReactionGenerator':
        """Load a file written by save_checkpoint."""
        try:
            payload = torch.load(path, map_location='cpu', weights_only=True)
        except OSError:
            raise
        except Exception as error:  # pickle, zip and EOF errors of a damaged or foreign file
            raise ValueError(f'{path}: not a readable checkpoint '
                             f'({type(error).__name__}: {error})') from error
        if not isinstance(payload, dict) or payload.get('format') != CHECKPOINT_FORMAT:
            raise ValueError(f'{path} is not a {CHECKPOINT_FORMAT} checkpoint')
        if payload.get('format_version') != CHECKPOINT_VERSION:
            raise ValueError(f'{path} has checkpoint version {payload.get("format_version")}, '
                             f'this code reads version {CHECKPOINT_VERSION}')
        channel_names = tuple(payload['feature_spec']['channel_names'])
        if channel_names != spec.CHANNEL_NAMES:
            raise ValueError(f'{path} was written for another listener channel layout')
        config = ReactionModelConfig.from_dict(payload['config'])
        network = ReactionNetwork(config)
        network.load_state_dict(payload['state_dict'])
        for key, module, buffer in NORMALISATION_BUFFERS:
            getattr(getattr(network, module), buffer).copy_(payload['normalisation'][key])
        return cls(network, config, payload['provenance'], device)

    def save_checkpoint(self, path, provenance: dict | None = None) -> None:
        """
        Write one self-describing file: weights, config, normalisation, feature spec, provenance.

        provenance (JSON-compatible values) replaces the generator's when given.
        """
        provenance = self.provenance if provenance is None else provenance
        try:
            provenance = json.loads(json.dumps(provenance))
        except (TypeError, ValueError) as error:
            raise ValueError(f'provenance must hold JSON-compatible values: {error}') from error
        normalisation = {
            key: getattr(getattr(self.network, module), buffer).detach().cpu().clone()
            for key, module, buffer in NORMALISATION_BUFFERS}
        torch.save({
            'format': CHECKPOINT_FORMAT,
            'format_version': CHECKPOINT_VERSION,
            'config': self.config.to_dict(),
            'state_dict': {name: value.detach().cpu()
                           for name, value in self.network.state_dict().items()},
            'normalisation': normalisation,
            'feature_spec': {
                'audio_dim': self.config.audio_dim, 'visual_dim': self.config.visual_dim,
                'num_channels': spec.NUM_CHANNELS, 'channel_names': list(spec.CHANNEL_NAMES),
                'fps': spec.FPS},
            'provenance': provenance,
        }, path)

    def num_parameters(self) -> int:
        """Return the number of learned parameters."""
        return sum(parameter.numel() for parameter in self.network.parameters())

    def stream(self, k: int = 10, seed: int = 0,
               sampling_steps: int | None = None) -> ReactionStream:
        """Start an online reaction with k samples (default config.sampling_steps DDIM steps)."""
        return ReactionStream(self, k, seed, sampling_steps or self.config.sampling_steps)

    def generate(self, audio_features, visual_features, visual_mask=None, k: int = 10,
                 seed: int = 0, online: bool = False,
                 sampling_steps: int | None = None) -> np.ndarray:
        """
        Return k reactions (k, T, 83) float32 to a whole speaker sequence.

        audio_features (T, A), visual_features (T, V), visual_mask (T,) bool (None: face on
        every frame). online=True runs stream.step frame by frame (identical to streaming).
        online=False encodes the speaker over the whole sequence in one pass (the same
        causal windowed function, equal to streaming up to float rounding) and then draws
        the same tokens and latents as the stream, with what has no recurrence run once
        over the sequence (ReactionStream._react_sequence); an offline model with look-ahead
        can replace it later without changing this signature. Runs on one intra-op thread
        whatever torch.get_num_threads() says (see _one_intra_op_thread).
        """
        audio, visual, mask = check_sequence_inputs(self.config, audio_features,
                                                    visual_features, visual_mask)
        frames = audio.shape[0]
        stream = self.stream(k, seed, sampling_steps)
        with _one_intra_op_thread():
            if online:
                return np.stack([stream.step(audio[t], visual[t], bool(mask[t]))
                                 for t in range(frames)], axis=1)
            with torch.inference_mode():
                speaker = self.network.encoder.full(audio[None].to(self.device),
                                                    visual[None].to(self.device),
                                                    mask[None].to(self.device))  # (1, T, D)
                return stream._react_sequence(speaker).cpu().numpy()
