"""
Training: each stage learns, resuming gives the uninterrupted result, checkpoints load.

All on a tiny synthetic corpus (3 sessions of 4 s: one each for train, val and test).
"""

import argparse
import shutil

import cv2
import numpy as np
import pytest
from react_ros import spec
from react_ros.commands import eval as eval_command, predict as predict_command
from react_ros.commands import train as train_command
from react_ros.data.dataset import load_dataset
from react_ros.data.synth import write_corpus
from react_ros.model import persona
from react_ros.model.config import ReactionModelConfig
from react_ros.model.generator import ReactionGenerator
from react_ros.train import checkpoint, losses, plot
from react_ros.train.normalisation import compute_normalisation, is_identity
from react_ros.train.trainer import load_training_data, Trainer, TrainOptions
import torch
from torch.utils.data import default_collate

OPTIONS = {'epochs': (3, 3, 3), 'batch_size': 8, 'window': 32, 'warmup_steps': 2,
           'val_inputs': 1, 'val_k': 2, 'val_frames': 60, 'seed': 3,
           'threads': 1}  # one thread: robust on a machine whose cores are busy
COMMAND = 'react-ros train --data CORPUS --out OUT (test)'


class Interrupted(Exception):
    """Stands in for a crash or Ctrl-C after a checkpoint was written."""


@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp('corpus')
    write_corpus(root, sessions=3, seed=0, clip_seconds=(4.0,), progress=False)
    return root


@pytest.fixture(scope='module')
def data(corpus):
    return load_training_data(corpus)


@pytest.fixture(scope='module')
def trained(tmp_path_factory, data):
    """One uninterrupted run of all three stages; returns its checkpoint path."""
    out = tmp_path_factory.mktemp('run') / 'model.pt'
    Trainer.fresh(out, data, TrainOptions(**OPTIONS), COMMAND, progress=False).run()
    return out


def _weights(path):
    return ReactionGenerator.from_checkpoint(path).network.state_dict()


def test_every_stage_decreases_its_loss(trained):
    history = checkpoint.read_training_state(trained)['history']
    for stage in ('tokenizer', 'predictor', 'diffusion'):
        records = history[stage]
        assert len(records) == 3
        assert records[-1]['train_loss'] < records[0]['train_loss'], stage
        assert np.isfinite(records[-1]['val_loss']), stage  # (one train session: it overfits)
    metrics = history['diffusion'][-1]['metrics']
    assert set(metrics) == {'FRCorr', 'FRDist', 'FRDiv'}
    assert all(np.isfinite(value) for value in metrics.values())


def test_resume_gives_the_uninterrupted_result(tmp_path, corpus, data, trained):
    out = tmp_path / 'model.pt'
    stops = [('predictor', 0), ('diffusion', 1)]

    def interrupt(stage, epoch):
        if stops and (stage, epoch) == stops[0]:
            stops.pop(0)
            raise Interrupted

    trainer = Trainer.fresh(out, data, TrainOptions(**OPTIONS), COMMAND, progress=False)
    with pytest.raises(Interrupted):
        trainer.run(interrupt)
    state = checkpoint.read_training_state(out)
    assert (state['stage_index'], state['epoch']) == (1, 1)
    assert state['optimizer'] is not None
    with pytest.raises(ValueError, match='other data'):
        Trainer.resume(out, load_training_data(corpus, mirror=True), 'resume (test)')
    for _ in range(2):  # stops in the diffusion stage once more, then completes
        try:
            Trainer.resume(out, data, 'resume (test)', progress=False).run(interrupt)
        except Interrupted:
            assert checkpoint.read_training_state(out)['stage_index'] == 2
    assert not stops
    resumed, uninterrupted = _weights(out), _weights(trained)
    assert resumed.keys() == uninterrupted.keys()
    for name, value in uninterrupted.items():
        assert torch.equal(resumed[name], value), name
    history = checkpoint.read_training_state(out)['history']
    reference = checkpoint.read_training_state(trained)['history']
    assert [r['train_loss'] for r in history['diffusion']] == [
        r['train_loss'] for r in reference['diffusion']]
    assert ReactionGenerator.from_checkpoint(out).provenance['resumed_with'] == [
        'resume (test)'] * 2


def test_checkpoint_loads_with_provenance_and_statistics(trained, corpus, data):
    generator = ReactionGenerator.from_checkpoint(trained)
    provenance = generator.provenance
    assert provenance['command'] == COMMAND
    assert provenance['seed'] == OPTIONS['seed']
    assert provenance['data']['root'] == str(corpus.resolve())
    assert provenance['data']['train_pairs'] == len(data.train.pairs)
    assert provenance['stages_trained'] == ['tokenizer', 'predictor', 'diffusion']
    assert provenance['complete'] and provenance['started'] and provenance['finished']
    assert provenance['training_seconds'] > 0
    # The statistics are the train split's, not the identity, and travel in the checkpoint.
    network = generator.network
    stats = compute_normalisation(data.train)
    assert not is_identity(stats)
    assert torch.allclose(network.encoder.audio_mean, stats['audio_mean'])
    assert torch.allclose(network.encoder.visual_std, stats['visual_std'])
    assert torch.allclose(network.tokenizer.frame_mean, stats['listener_mean'])
    pair = data.val.pairs[0]
    visual, _ = pair.speaker_visual()
    # Visual channels mean and std match numpy over the train pairs' speaker attributes.
    attributes = np.concatenate([p.speaker_attributes for p in data.train.pairs])
    assert np.allclose(stats['visual_mean'][:spec.NUM_ATTRIBUTES], attributes.mean(axis=0),
                       atol=1e-5)
    reactions = generator.generate(pair.speaker_audio[:30], visual[:30], k=2, online=True)
    assert reactions.shape == (2, 30, spec.NUM_CHANNELS)
    assert spec.within_range(reactions).all()
    # The finished file drops the optimizer state: a few MB, not three times that.
    assert checkpoint.read_training_state(trained)['optimizer'] is None
    assert (trained.parent / 'model_losses.png').is_file()
    image = cv2.imread(str(trained.parent / 'model_losses.png'))
    assert image is not None and image.std() > 10


def _train_args(*argv):
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_refuses_to_overwrite_another_run(tmp_path, corpus, trained, capsys):
    out = tmp_path / 'model.pt'
    shutil.copy(trained, out)
    before = out.read_bytes()
    quick = ('--stage', 'tokenizer', '--epochs', '1', '--window', '32', '--threads', '1',
             '--data', str(corpus), '--out', str(out), '--quiet')
    assert train_command.run(_train_args(*quick)) == 2
    assert '--overwrite' in capsys.readouterr().err
    assert out.read_bytes() == before
    # Not a checkpoint at all: refused too.
    other = tmp_path / 'notes.pt'
    other.write_text('my notes')
    assert train_command.run(_train_args(*quick[:-3], '--out', str(other))) == 2
    assert other.read_text() == 'my notes'
    # Resume with other options is refused; resuming a complete run does nothing.
    assert train_command.run(_train_args(*quick, '--resume')) == 2
    assert 'differ' in capsys.readouterr().err
    resume = _train_args('--data', str(corpus), '--out', str(out), '--resume')
    assert train_command.run(resume) == 0
    assert out.read_bytes() == before
    # --overwrite replaces it with a new run.
    assert train_command.run(_train_args(*quick, '--overwrite'), command='overwrite (test)') == 0
    state = checkpoint.read_training_state(out)
    assert state['run_id'] != checkpoint.read_training_state(trained)['run_id']
    assert ReactionGenerator.from_checkpoint(out).provenance['command'] == 'overwrite (test)'
    assert not [path for path in tmp_path.iterdir() if path.suffix == '.tmp']


def test_later_stages_need_earlier_ones(tmp_path, corpus, trained, capsys):
    args = _train_args('--stage', 'predictor', '--data', str(corpus), '--out',
                       str(tmp_path / 'p.pt'), '--quiet')
    assert train_command.run(args) == 2
    assert 'tokenizer' in capsys.readouterr().err
    assert not (tmp_path / 'p.pt').exists()


def test_continuous_codes_round_to_the_fsq_codes(trained):
    tokenizer = ReactionGenerator.from_checkpoint(trained).network.tokenizer
    latent = 3 * torch.randn(4, 50, len(tokenizer.levels), generator=torch.Generator()
                             .manual_seed(0))
    codes, _ = tokenizer.fsq(latent)
    continuous = tokenizer.continuous_codes(latent)
    half_width = tokenizer.code_half_widths()
    assert torch.equal(torch.round(continuous * half_width) / half_width, codes)
    assert not torch.equal(continuous, codes)


def test_token_noise_corrupts_the_history_share_it_is_given():
    tokens = torch.randint(0, 1000, (8, 500), generator=torch.Generator().manual_seed(0))
    generator = torch.Generator().manual_seed(1)
    assert torch.equal(losses.corrupt_tokens(tokens, 0.0, 1000, generator), tokens)
    noisy = losses.corrupt_tokens(tokens, 0.3, 1000, generator)
    assert noisy.shape == tokens.shape and 0 <= int(noisy.min()) and int(noisy.max()) < 1000
    assert 0.27 < float((noisy != tokens).float().mean()) < 0.33
    again = losses.corrupt_tokens(tokens, 0.3, 1000, torch.Generator().manual_seed(1))
    assert torch.equal(again, noisy)  # drawn from the generator given, nothing else


def test_predictor_dropout_acts_only_while_training(trained):
    generator = ReactionGenerator.from_checkpoint(trained)
    predictor = generator.network.predictor
    assert predictor.blocks[0].dropout.p == generator.config.predictor_dropout == 0.1
    previous = torch.randint(0, predictor.codebook_size, (2, 20),
                             generator=torch.Generator().manual_seed(0))
    context = torch.randn(2, 20, generator.config.d_model,
                          generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        predictor.train()
        dropped = [predictor.full(previous, context) for _ in range(2)]
        predictor.eval()
        kept = [predictor.full(previous, context) for _ in range(2)]
    assert not torch.equal(dropped[0], dropped[1])
    assert torch.equal(kept[0], kept[1])


def test_checkpoints_from_before_the_regularisers_keep_their_settings():
    from_old = ReactionModelConfig.from_dict(
        {key: value for key, value in ReactionModelConfig().to_dict().items()
         if key != 'predictor_dropout'})
    assert from_old.predictor_dropout == 0.0
    old_options = {key: value for key, value in TrainOptions().to_dict().items()
                   if key != 'token_noise'}
    assert TrainOptions.from_dict(old_options).token_noise == 0.0


def test_channels_and_frames_a_dataset_lacks_do_not_count(trained):
    network = ReactionGenerator.from_checkpoint(trained).network
    generator = torch.Generator().manual_seed(1)
    listener = torch.rand(2, 16, spec.NUM_CHANNELS, generator=generator)
    mask = torch.ones(2, spec.NUM_CHANNELS, dtype=torch.bool)
    mask[:, spec.NUM_ATTRIBUTES:] = False  # a dataset without 3DMM
    valid = torch.ones(2, 16, dtype=torch.bool)
    valid[:, 12:] = False  # padding past the end of a short clip
    batch = {'listener': listener, 'listener_mask': mask, 'valid': valid}

    def loss_with(change):
        changed = listener.clone()
        change(changed)
        with torch.no_grad():
            return losses.tokenizer_loss(network, dict(batch, listener=changed))

    reference = loss_with(lambda frames: None)
    assert loss_with(lambda frames: frames[..., spec.NUM_ATTRIBUTES:].add_(5.0)) == reference
    assert loss_with(lambda frames: frames[:, 12:].add_(5.0)) == reference
    assert loss_with(lambda frames: frames[:, :12, :spec.NUM_ATTRIBUTES].add_(0.5)) != reference


def test_free_bits_cost_nothing_below_the_floor():
    mean = torch.tensor([[0.1, 2.0], [-0.1, 2.0]], requires_grad=True)
    log_var = torch.zeros(2, 2, requires_grad=True)
    kl = persona.kl_to_prior(mean, log_var)  # dimension 0: 0.005 nats, dimension 1: 2 nats
    torch.testing.assert_close(kl[0], torch.tensor([0.005, 2.0]))
    penalty = persona.free_bits_kl(kl)
    torch.testing.assert_close(penalty, torch.tensor(persona.FREE_BITS + 2.0))
    penalty.backward()
    assert float(mean.grad[:, 0].abs().max()) == 0.0  # below the floor: no pull to the prior
    assert float(mean.grad[:, 1].abs().min()) > 0.0


def test_persona_posterior_reads_the_clip_mean_of_present_channels(trained, data):
    network = ReactionGenerator.from_checkpoint(trained).network
    history = checkpoint.read_training_state(trained)['history']['predictor']
    assert all(record['train_kl'] > 0 and np.isfinite(record['val_kl']) for record in history)
    batch = default_collate([data.train.windows(16)[index] for index in (0, 3)])
    batch['speaker_present'] = batch['valid'].clone()
    batch['persona_noise'] = torch.randn(2, network.predictor.persona_dim,
                                         generator=torch.Generator().manual_seed(0))
    batch['listener_mask'][:, spec.NUM_ATTRIBUTES:] = False  # as a dataset without 3DMM

    def terms(clip_mean):
        network.zero_grad()
        result = losses.predictor_loss(network, dict(batch, listener_clip_mean=clip_mean),
                                       torch.Generator().manual_seed(0))
        result['loss'].backward()
        return result

    reference = terms(batch['listener_clip_mean'])
    posterior = network.predictor.persona_posterior.net[0].weight.grad
    assert posterior is not None and float(posterior.abs().max()) > 0
    assert reference['kl'] > 0
    absent = batch['listener_clip_mean'].clone()
    absent[:, spec.NUM_ATTRIBUTES:] += 5.0
    assert terms(absent)['loss'] == reference['loss']
    present = batch['listener_clip_mean'].clone()
    present[:, spec.AFFECT_SLICE] += 0.5
    assert terms(present)['loss'] != reference['loss']


@pytest.mark.parametrize('denoiser_persona', [True, False])
def test_denoiser_sees_the_persona_drawn_from_the_posterior(trained, data, denoiser_persona):
    generator = ReactionGenerator.from_checkpoint(trained)
    config = ReactionModelConfig.from_dict(
        dict(generator.config.to_dict(), denoiser_persona=denoiser_persona))
    assert config.denoiser_sees_persona == denoiser_persona
    batch = default_collate([data.train.windows(16)[index] for index in (0, 3)])
    batch['speaker_present'] = batch['valid'].clone()
    batch['persona_noise'] = torch.zeros(2, config.persona_dim)  # z is the posterior mean
    loss = losses.DiffusionLoss(config)

    def loss_with(clip_mean):
        with torch.no_grad():
            return loss(generator.network, dict(batch, listener_clip_mean=clip_mean),
                        torch.Generator().manual_seed(0))

    changed = batch['listener_clip_mean'].clone()
    changed[:, spec.AFFECT_SLICE] += 0.5
    assert (loss_with(changed) != loss_with(batch['listener_clip_mean'])) == denoiser_persona


def test_predictions_file_scores_with_react_ros_eval(tmp_path, corpus, trained, capsys):
    parser = argparse.ArgumentParser()
    predict_command.add_arguments(parser)
    prediction = tmp_path / 'pred.npy'
    assert predict_command.run(parser.parse_args([
        '--ckpt', str(trained), '--data', str(corpus), '--out', str(prediction), '-k', '2',
        '--online', '--quiet'])) == 0
    values = np.load(prediction)
    test_split = load_dataset(corpus, 'test', mirror=False)
    assert values.shape == (len(test_split.pairs), 2, 120, spec.NUM_ATTRIBUTES)
    capsys.readouterr()
    parser = argparse.ArgumentParser()
    eval_command.add_arguments(parser)
    assert eval_command.run(parser.parse_args(['--data', str(corpus), '--pred',
                                               str(prediction), '--json'])) == 0
    assert 'FRCorr' in capsys.readouterr().out


def test_time_panels_draw_every_series(tmp_path):
    seconds = np.arange(300) / 30.0
    flat = [('flat', seconds, np.zeros(300), (0, 0, 0))]
    wave = [('wave', seconds, np.sin(seconds), (200, 90, 30), 1),
            (None, seconds, np.cos(seconds), (200, 90, 30), 1)]
    image = plot.draw_time_panels([('first', flat), ('second', wave)], width=600, height=200)
    assert image.shape == (400, 600, 3)
    blue = (image[..., 0] == 200) & (image[..., 1] == 90) & (image[..., 2] == 30)
    assert not blue[:200].any() and blue[200:].sum() > 100  # the lines land in their panel
    plot.write_time_panels(tmp_path / 'clip.png', [('first', flat)])
    assert cv2.imread(str(tmp_path / 'clip.png')).shape == (230, 1100, 3)


@pytest.mark.parametrize('options, problem', [({'val_k': 1}, 'val_k must be >= 2'),
                                              ({'batch_size': 0}, 'batch_size must be >= 1')])
def test_options_name_what_cannot_train(options, problem):
    with pytest.raises(ValueError, match=problem):
        TrainOptions(**options)
