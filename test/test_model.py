"""Tests of the reaction model: streaming, causality, determinism, ranges, checkpoints."""

import os

import numpy as np
import pytest
from react_ros import spec
from react_ros.model.config import ReactionModelConfig
from react_ros.model.diffusion import ddim_coefficients, make_scheduler
from react_ros.model.generator import ReactionGenerator
from react_ros.model.layers import history_bias, write_ring_slot
from react_ros.model.token_predictor import sample_tokens
import torch

AUDIO_DIM = ReactionModelConfig().audio_dim
VISUAL_DIM = ReactionModelConfig().visual_dim
# Small windows so the tests cross the point where caches start dropping frames.
SMALL = ReactionModelConfig(context_frames=6, window=4)


@pytest.fixture(autouse=True)
def one_thread():
    """
    Run each test on one intra-op thread.

    These tensors are tiny; on the 2-core project machine, with its other core busy, the
    tokenizer test took 172 s on two threads and 1.3 s on one.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def generator():
    return ReactionGenerator.untrained(SMALL, seed=3)


def speaker_inputs(frames, seed=0):
    rng = np.random.default_rng(seed)
    audio = rng.normal(size=(frames, AUDIO_DIM)).astype(np.float32)
    visual = rng.normal(size=(frames, VISUAL_DIM)).astype(np.float32)
    mask = rng.random(frames) > 0.3
    return audio, visual, mask


def smooth_frames(batch, frames, seed=0):
    """Return random but smooth listener frames (B, T, 83) inside the channel ranges."""
    rng = np.random.default_rng(seed)
    time = np.arange(frames)[None, :, None] / spec.FPS
    frequency = rng.uniform(0.3, 1.5, size=(batch, 1, spec.NUM_CHANNELS))
    phase = rng.uniform(0, 2 * np.pi, size=(batch, 1, spec.NUM_CHANNELS))
    wave = np.sin(2 * np.pi * frequency * time + phase)  # (B, T, 83) in [-1, 1]
    low, high = spec.CHANNEL_RANGES[:, 0], spec.CHANNEL_RANGES[:, 1]
    frame = (low + high) / 2 + 0.4 * (high - low) * wave
    expressions = np.exp(2 * wave[..., spec.EXPRESSION_SLICE])
    frame[..., spec.EXPRESSION_SLICE] = expressions / expressions.sum(-1, keepdims=True)
    return torch.tensor(frame, dtype=torch.float32)


def test_fsq_code_round_trip(generator):
    tokenizer = generator.network.tokenizer
    tokens = torch.arange(SMALL.codebook_size)
    codes = tokenizer.tokens_to_codes(tokens)
    assert codes.shape == (SMALL.codebook_size, len(SMALL.fsq_levels))
    assert torch.equal(tokenizer.codes_to_tokens(codes), tokens)
    assert torch.unique(codes, dim=0).shape[0] == SMALL.codebook_size
    codes, tokens = tokenizer.encode(smooth_frames(2, 20))
    assert tokens.shape == (2, 20)
    assert torch.equal(tokenizer.tokens_to_codes(tokens), codes)
    assert torch.equal(tokenizer.codes_to_tokens(codes), tokens)


def full_paths_and_inputs(network, frames=15, k=3):
    """Return random whole-sequence inputs of every network and their full-path outputs."""
    audio, visual, mask = (torch.from_numpy(x)[None] for x in speaker_inputs(frames))
    torch.manual_seed(0)
    tokens = torch.randint(0, SMALL.codebook_size, (k, frames))
    previous = torch.cat([torch.full((k, 1), network.predictor.start_token), tokens[:, :-1]], 1)
    clean = torch.randn(k, frames, SMALL.latent_dim)
    noisy = torch.randn(k, frames, SMALL.latent_dim)
    timesteps = torch.randint(0, SMALL.train_timesteps, (k, frames))
    speaker = network.encoder.full(audio, visual, mask)  # (1, T, D)
    speakers = speaker.expand(k, -1, -1)
    logits = network.predictor.full(previous, speakers)
    codes = network.tokenizer.tokens_to_codes(tokens)
    latent = network.tokenizer.decode_latent(codes)
    condition = network.denoiser.condition(latent, speakers)
    predicted = network.denoiser.full(clean, noisy, timesteps, condition)
    inputs = {'audio': audio, 'visual': visual, 'mask': mask, 'previous': previous,
              'speaker': speakers, 'codes': codes, 'clean': clean, 'noisy': noisy,
              'timesteps': timesteps, 'condition': condition}
    return inputs, {'speaker': speaker, 'logits': logits, 'latent': latent,
                    'predicted': predicted}


def assert_close_to_full(got, expected):
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_step_definitions_equal_full_paths(generator):
    """Each network's explicit-state step (what the graphs export) equals its full path."""
    network, denoiser = generator.network, generator.network.denoiser
    with torch.inference_mode():
        x, full = full_paths_and_inputs(network)
        k, frames = x['previous'].shape
        encoder_state = torch.zeros(network.encoder.state_shape(1))
        predictor_state = torch.zeros(network.predictor.state_shape(k))
        decoder_state = torch.zeros(network.tokenizer.decoder.state_shape(k))
        denoiser_state = torch.zeros(denoiser.state_shape(k))
        speakers, logits, latents, predictions = [], [], [], []
        for t in range(frames):
            frame = torch.tensor([t])
            speaker, new = network.encoder.step(x['audio'][:, t], x['visual'][:, t],
                                                x['mask'][:, t], frame, encoder_state)
            write_ring_slot(encoder_state, new, t)
            speakers.append(speaker)
            logit, new = network.predictor.step(x['previous'][:, t], x['speaker'][:, t],
                                                frame, predictor_state)
            write_ring_slot(predictor_state, new, t)
            logits.append(logit)
            latent, decoder_state = network.tokenizer.decoder.step(x['codes'][:, t],
                                                                   decoder_state)
            latents.append(latent)
            bias = history_bias(denoiser.blocks[0].self_attention.slopes, frame, SMALL.window)
            condition = x['condition'][:, t:t + 1]
            time_embedding = denoiser.time_embedding(x['timesteps'][:, t])[:, None]
            predictions.append(denoiser.denoise_step(x['noisy'][:, t:t + 1], condition,
                                                     time_embedding, denoiser_state, bias))
            new = denoiser.commit_step(x['clean'][:, t:t + 1], condition, denoiser_state, bias)
            write_ring_slot(denoiser_state, new, t)
    assert_close_to_full(torch.stack(speakers, dim=1), full['speaker'])
    assert_close_to_full(torch.stack(logits, dim=1), full['logits'])
    assert_close_to_full(torch.stack(latents, dim=1), full['latent'])
    assert_close_to_full(torch.cat(predictions, dim=1), full['predicted'])


def test_stacked_steps_equal_full_paths(generator):
    """The stream's stacked layout of the steps equals the full paths too."""
    network, denoiser = generator.network, generator.network.denoiser
    with torch.inference_mode():
        x, full = full_paths_and_inputs(network)
        k, frames = x['previous'].shape
        encoder_caches = network.encoder.empty_caches(1)
        predictor_caches = network.predictor.empty_caches(k)
        denoiser_caches = denoiser.empty_caches(k)
        speakers, logits, predictions = [], [], []
        for t in range(frames):
            now = slice(t, t + 1)
            speakers.append(network.encoder.step_stacked(
                x['audio'][:, now], x['visual'][:, now], x['mask'][:, now], encoder_caches))
            logits.append(network.predictor.step_stacked(x['previous'][:, t],
                                                         x['speaker'][:, now],
                                                         predictor_caches))
            time_embedding = denoiser.time_embedding(x['timesteps'][:, t])[:, None]
            predictions.append(denoiser.denoise_stacked(
                x['noisy'][:, now], x['condition'][:, now], time_embedding, denoiser_caches))
            denoiser.commit_stacked(x['clean'][:, now], x['condition'][:, now],
                                    denoiser_caches)
    assert_close_to_full(torch.cat(speakers, dim=1), full['speaker'])
    assert_close_to_full(torch.stack(logits, dim=1), full['logits'])
    assert_close_to_full(torch.cat(predictions, dim=1), full['predicted'])


def run_stream(stream, audio, visual, mask):
    return np.stack([stream.step(a, v, m) for a, v, m in zip(audio, visual, mask)], axis=1)


def test_stream_equals_online_generate_and_is_deterministic(generator):
    audio, visual, mask = speaker_inputs(20)
    online = generator.generate(audio, visual, mask, k=4, seed=7, online=True)
    assert online.shape == (4, 20, spec.NUM_CHANNELS) and online.dtype == np.float32
    stream = generator.stream(k=4, seed=7)
    assert stream.k == 4
    np.testing.assert_array_equal(run_stream(stream, audio, visual, mask), online)
    stream.reset()
    np.testing.assert_array_equal(run_stream(stream, audio, visual, mask), online)
    again = generator.generate(torch.from_numpy(audio), torch.from_numpy(visual),
                               torch.from_numpy(mask), k=4, seed=7, online=True)
    np.testing.assert_array_equal(again, online)
    other_seed = generator.generate(audio, visual, mask, k=4, seed=8, online=True)
    assert not np.allclose(other_seed, online)
    offline = generator.generate(audio, visual, mask, k=4, seed=7, online=False)
    np.testing.assert_allclose(offline, online, atol=1e-4)
    np.testing.assert_array_equal(
        generator.generate(audio, visual, mask, k=4, seed=7, online=False), offline)


@pytest.mark.parametrize('online', [True, False])
def test_future_inputs_do_not_change_past_outputs(generator, online):
    audio, visual, mask = speaker_inputs(16)
    changed_audio, changed_visual, changed_mask = speaker_inputs(16, seed=1)
    split = 9
    audio2 = np.concatenate([audio[:split], 50 * changed_audio[split:]])
    visual2 = np.concatenate([visual[:split], changed_visual[split:]])
    mask2 = np.concatenate([mask[:split], changed_mask[split:]])
    first = generator.generate(audio, visual, mask, k=3, seed=2, online=online)
    second = generator.generate(audio2, visual2, mask2, k=3, seed=2, online=online)
    np.testing.assert_array_equal(second[:, :split], first[:, :split])
    assert not np.allclose(second[:, split:], first[:, split:])


def test_stream_outputs_do_not_depend_on_later_steps(generator):
    audio, visual, mask = speaker_inputs(12)
    stream = generator.stream(k=2, seed=5)
    head = run_stream(stream, audio[:6], visual[:6], mask[:6])
    stream.reset()
    full = run_stream(stream, audio, visual, mask)
    np.testing.assert_array_equal(full[:, :6], head)


def test_samples_differ_and_stay_in_range():
    generator = ReactionGenerator.untrained(seed=0)
    audio, visual, mask = speaker_inputs(24)
    for scale in (1.0, 1e4):
        outputs = generator.generate(scale * audio, scale * visual, mask, k=10, seed=0)
        assert spec.within_range(outputs).all()
        flat = outputs.reshape(10, -1)
        distances = np.abs(flat[:, None] - flat[None]).max(-1)  # (10, 10)
        assert (distances + np.eye(10) > 1e-3).all(), 'some samples are identical'


def test_fifty_step_sampling(generator):
    audio, visual, mask = speaker_inputs(5)
    outputs = generator.generate(audio, visual, mask, k=2, seed=0, sampling_steps=50)
    assert outputs.shape == (2, 5, spec.NUM_CHANNELS)
    assert spec.within_range(outputs).all()
    four_step = generator.generate(audio, visual, mask, k=2, seed=0)
    assert not np.allclose(outputs, four_step)
    scheduler = make_scheduler(SMALL)
    scheduler.set_timesteps(50)
    assert len(scheduler.timesteps) == 50


def test_missing_face_ignores_visual_values(generator):
    audio, visual, _ = speaker_inputs(10)
    absent = np.zeros(10, dtype=bool)
    absent[2:] = True  # face on frames 2.., none on frames 0 and 1
    garbage = visual.copy()
    garbage[:2] = 1e6 * np.random.default_rng(9).normal(size=(2, VISUAL_DIM))
    garbage[1, 3] = np.nan
    zeros = visual.copy()
    zeros[:2] = 0.0
    expected = generator.generate(audio, zeros, absent, k=3, seed=1, online=True)
    np.testing.assert_array_equal(
        generator.generate(audio, garbage, absent, k=3, seed=1, online=True), expected)
    np.testing.assert_array_equal(
        generator.generate(audio, garbage, absent, k=3, seed=1, online=False),
        generator.generate(audio, zeros, absent, k=3, seed=1, online=False))
    with_face = generator.generate(audio, visual, np.ones(10, bool), k=3, seed=1)
    assert not np.allclose(with_face[:, :2], expected[:, :2])


def test_checkpoint_round_trip(generator, tmp_path):
    path = tmp_path / 'model.pt'
    generator.save_checkpoint(path, provenance={'note': 'test', 'steps': 0})
    assert os.path.getsize(path) < 5e6
    loaded = ReactionGenerator.from_checkpoint(path)
    assert loaded.config == SMALL
    assert loaded.provenance == {'note': 'test', 'steps': 0}
    audio, visual, mask = speaker_inputs(12)
    np.testing.assert_array_equal(
        loaded.generate(audio, visual, mask, k=3, seed=4, online=True),
        generator.generate(audio, visual, mask, k=3, seed=4, online=True))
    payload = torch.load(path, weights_only=True)
    assert payload['feature_spec']['channel_names'] == list(spec.CHANNEL_NAMES)
    assert torch.equal(payload['normalisation']['audio_std'], torch.ones(AUDIO_DIM))
    with pytest.raises(ValueError, match='JSON'):
        generator.save_checkpoint(tmp_path / 'bad.pt', provenance={'when': object()})
    torch.save({'something': 1}, tmp_path / 'other.pt')
    with pytest.raises(ValueError, match='not a react_ros.reaction_model checkpoint'):
        ReactionGenerator.from_checkpoint(tmp_path / 'other.pt')


def test_personas_are_drawn_once_per_stream_and_old_configs_have_none(generator):
    stream = generator.stream(k=3, seed=2)
    personas = stream.personas
    assert personas.shape == (3, SMALL.persona_dim)
    assert len(np.unique(personas[:, 0])) == 3  # one per sample
    audio, visual, mask = speaker_inputs(5)
    run_stream(stream, audio, visual, mask)
    np.testing.assert_array_equal(stream.personas, personas)  # held while it streams
    stream.reset()
    np.testing.assert_array_equal(stream.personas, personas)  # the seed's, again
    assert not np.allclose(generator.stream(k=3, seed=3).personas, personas)
    # Checkpoints written before personas existed rebuild without them.
    old = {key: value for key, value in SMALL.to_dict().items() if key != 'persona_dim'}
    config = ReactionModelConfig.from_dict(old)
    assert config.persona_dim == 0
    assert ReactionGenerator.untrained(config).stream(k=2).personas is None


def test_untrained_init_is_deterministic():
    first = ReactionGenerator.untrained(SMALL, seed=0).network.state_dict()
    second = ReactionGenerator.untrained(SMALL, seed=0).network.state_dict()
    third = ReactionGenerator.untrained(SMALL, seed=1).network.state_dict()
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert not all(torch.equal(first[name], third[name]) for name in first)


def test_default_size_is_small():
    generator = ReactionGenerator.untrained()
    assert 2e5 < generator.num_parameters() < 1e6


def test_bad_inputs_raise_value_errors(generator):
    stream = generator.stream(k=2)
    audio, visual, mask = speaker_inputs(6)
    with pytest.raises(ValueError, match=r'audio_features must be \(41,\), got \(40,\)'):
        stream.step(np.zeros(40), np.zeros(VISUAL_DIM), True)
    with pytest.raises(ValueError, match=r'visual_features must be \(28,\), got \(1, 28\)'):
        stream.step(np.zeros(AUDIO_DIM), np.zeros((1, VISUAL_DIM)), True)
    with pytest.raises(ValueError, match='audio_features contains NaN'):
        stream.step(np.full(AUDIO_DIM, np.nan), np.zeros(VISUAL_DIM), True)
    with pytest.raises(ValueError, match='visual_features contains NaN'):
        stream.step(np.zeros(AUDIO_DIM), np.full(VISUAL_DIM, np.inf), True)
    with pytest.raises(ValueError, match=r'audio_features must be \(T, 41\)'):
        generator.generate(audio[:, :40], visual, mask)
    with pytest.raises(ValueError, match=r'visual_features must be \(6, 28\), got \(5, 28\)'):
        generator.generate(audio, visual[:5], mask)
    with pytest.raises(ValueError, match=r'visual_mask must be \(6,\), got \(7,\)'):
        generator.generate(audio, visual, np.ones(7, bool))
    with pytest.raises(ValueError, match='visual_features'):
        bad = visual.copy()
        bad[np.argmax(mask), 0] = np.nan
        generator.generate(audio, bad, mask)
    with pytest.raises(ValueError, match='k must be >= 1'):
        generator.stream(k=0)
    with pytest.raises(ValueError, match='sampling_steps'):
        generator.stream(k=1, sampling_steps=5000)
    with pytest.raises(ValueError, match='d_model'):
        ReactionModelConfig(d_model=66, num_heads=4)


def test_tokenizer_overfits_a_small_batch():
    torch.manual_seed(0)
    tokenizer = ReactionGenerator.untrained(seed=0).network.tokenizer.train()
    frames = smooth_frames(4, 32)
    optimizer = torch.optim.Adam(tokenizer.parameters(), lr=3e-3)
    initial = tokenizer.reconstruction_loss(frames).item()
    for _ in range(300):
        optimizer.zero_grad()
        loss = tokenizer.reconstruction_loss(frames)
        loss.backward()
        optimizer.step()
    final = tokenizer.reconstruction_loss(frames).item()
    assert final < 0.03 * initial and final < 0.01, (initial, final)


@pytest.mark.parametrize('steps', [1, 3, 4, 50])
def test_precomputed_ddim_update_equals_scheduler_step(steps):
    scheduler = make_scheduler(SMALL)
    scheduler.set_timesteps(steps)
    generator = torch.Generator().manual_seed(steps)
    for timestep, (x0_weight, sample_weight) in zip(scheduler.timesteps,
                                                    ddim_coefficients(scheduler)):
        predicted = torch.randn(5, 1, SMALL.latent_dim, generator=generator)
        sample = 3 * torch.randn(5, 1, SMALL.latent_dim, generator=generator)
        expected = scheduler.step(predicted, timestep, sample, return_dict=False)[0]
        got = predicted.clone().mul_(x0_weight).add_(sample, alpha=sample_weight)
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)


def reference_reactions(generator, audio, visual, mask, k, seed, steps):
    """
    Sample like a stream, but every frame from the full (training) paths and diffusers' step.

    Frame t runs the encoder, predictor, tokenizer decoder and denoiser over frames 0 .. t
    and keeps their last frame: the same draws in the same order as the streaming path,
    with none of its caches, fused weights or precomputed DDIM update.
    """
    network, config = generator.network, generator.config
    rng = torch.Generator().manual_seed(seed)
    offset = 0.0  # the personas' offset to the predictor's speaker input (k, 1, D)
    if config.persona_dim:
        personas = torch.randn(k, config.persona_dim, generator=rng)  # the seed's first draws
        offset = network.predictor.persona_projection(personas)[:, None]
    scheduler = make_scheduler(config)
    scheduler.set_timesteps(steps)
    speaker = network.encoder.full(*(torch.from_numpy(x)[None] for x in (audio, visual, mask)))
    tokens = torch.full((k, 1), network.predictor.start_token)
    latents = torch.zeros(k, 0, config.latent_dim)
    frames = []
    for t in range(len(audio)):
        seen = speaker[:, :t + 1].expand(k, -1, -1)  # (k, t + 1, D)
        logits = network.predictor.full(tokens, seen + offset)[:, -1]
        tokens = torch.cat([tokens, sample_tokens(logits, config.temperature, config.top_k,
                                                  rng)[:, None]], dim=1)
        token_latent = network.tokenizer.decode_latent(
            network.tokenizer.tokens_to_codes(tokens[:, 1:]))
        condition = network.denoiser.condition(
            token_latent, seen + offset if config.denoiser_sees_persona else seen)
        latent = torch.randn(k, 1, config.latent_dim, generator=rng)
        zero = torch.zeros_like(latent)
        for timestep in scheduler.timesteps:
            predicted = network.denoiser.full(
                torch.cat([latents, zero], 1), torch.cat([latents, latent], 1),
                torch.full((k, t + 1), int(timestep)), condition)[:, -1:]
            latent = scheduler.step(predicted, timestep, latent, return_dict=False)[0]
        latents = torch.cat([latents, latent], dim=1)
        frames.append(network.tokenizer.heads(latent[:, 0]))
    return torch.stack(frames, dim=1).numpy()


@pytest.mark.parametrize('steps, persona_dim, denoiser_persona',
                         [(4, 4, True), (3, 4, True), (4, 4, False), (4, 0, True)])
def test_stream_equals_reference_sampler_on_full_paths(steps, persona_dim, denoiser_persona):
    generator = ReactionGenerator.untrained(
        ReactionModelConfig(context_frames=6, window=4, persona_dim=persona_dim,
                            denoiser_persona=denoiser_persona), seed=3)
    audio, visual, mask = speaker_inputs(11)  # beyond both windows (6 and 4 frames)
    with torch.inference_mode():
        expected = reference_reactions(generator, audio, visual, mask, 3, 6, steps)
    stream = generator.stream(k=3, seed=6, sampling_steps=steps)
    np.testing.assert_allclose(run_stream(stream, audio, visual, mask), expected, atol=1e-5)
    np.testing.assert_allclose(
        generator.generate(audio, visual, mask, k=3, seed=6, sampling_steps=steps), expected,
        atol=1e-5)


def test_streaming_follows_weights_changed_in_place():
    trained = ReactionGenerator.untrained(SMALL, seed=3)
    audio, visual, mask = speaker_inputs(8)
    stream = trained.stream(k=2, seed=1)
    before = run_stream(stream, audio, visual, mask)
    layout = trained.network.denoiser.step_weights()
    with torch.no_grad():  # what an optimiser step does
        for parameter in trained.network.parameters():
            parameter.mul_(1.1)
    assert trained.network.denoiser.step_weights() is not layout
    stream.reset()
    after = run_stream(stream, audio, visual, mask)
    assert not np.allclose(after, before)
    copy = ReactionGenerator.untrained(SMALL, seed=0)
    copy.network.load_state_dict(trained.network.state_dict())
    np.testing.assert_array_equal(run_stream(copy.stream(k=2, seed=1), audio, visual, mask),
                                  after)
    for parameter in trained.network.parameters():  # untracked, as fused optimisers do
        parameter.data.mul_(1.1)
    copy.network.load_state_dict(trained.network.state_dict())
    np.testing.assert_array_equal(run_stream(trained.stream(k=2, seed=1), audio, visual, mask),
                                  run_stream(copy.stream(k=2, seed=1), audio, visual, mask))
