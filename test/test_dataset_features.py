"""
Training and evaluation read the speaker features `react-ros features` extracted.

A small synthetic corpus (MARS layout, espeak-ng speech, no videos) is extracted with the real
extractor, then loaded with speaker_features 'annotations', 'extracted' and 'auto'; missing,
stale and other-rate caches are refused with the command that fixes them, and a cache entry
with frames without a face reaches the training batches and a short training run.
"""

import argparse
import logging
import os
from pathlib import Path
import shutil

import numpy as np
import pytest
from react_ros import spec
from react_ros.commands import predict as predict_command, train as train_command
from react_ros.data import layout
from react_ros.data.clip_store import DiskArray
from react_ros.data.dataset import load_dataset, SpeakerFeaturesError
from react_ros.data.feature_cache import cache_path
from react_ros.data.feature_extraction import extract_split
from react_ros.data.synth import write_corpus
from react_ros.model.generator import ReactionGenerator
from react_ros.train.normalisation import compute_normalisation
from react_ros.train.predict import generate_reactions
from react_ros.train.trainer import (_batches, _prepare, load_training_data, Trainer,
                                     TrainOptions)
import torch

# One epoch of each stage; the diffusion stage scores one val input (generate_reactions).
OPTIONS = ['--epochs', '1', '--batch-size', '8', '--window', '32', '--warmup-steps', '1',
           '--val-inputs', '1', '--val-k', '2', '--val-frames', '60', '--threads', '1',
           '--quiet']


class Interrupted(Exception):
    """Stands in for a crash after the first checkpoint was written."""


@pytest.fixture(scope='module')
def corpus(tmp_path_factory) -> Path:
    """Three sessions of 3 s (train, val, test one each); train and val extracted."""
    root = tmp_path_factory.mktemp('corpus') / 'synth'
    write_corpus(root, sessions=3, seed=0, clip_seconds=(3.0,), listeners_per_clip=2,
                 progress=False)
    for split in ('train', 'val'):
        summary = extract_split(root, split, progress=False)
        assert summary.computed > 0 and not summary.skipped
    return root


@pytest.fixture
def corpus_copy(corpus, tmp_path) -> Path:
    """Return a copy of the corpus (cache included, still up to date) a test may change."""
    copy = tmp_path / 'synth'
    shutil.copytree(corpus, copy)  # copy2 keeps sizes and mtimes: the cache keys still match
    return copy


def test_extracted_and_annotations_give_the_same_synthetic_inputs(corpus, caplog):
    annotations = load_dataset(corpus, 'train', speaker_features='annotations')
    extracted = load_dataset(corpus, 'train', speaker_features='extracted')
    with caplog.at_level(logging.INFO, logger='react_ros.data.dataset'):
        auto = load_dataset(corpus, 'train', speaker_features='auto')
    assert 'speaker features: extracted' in caplog.text
    assert (annotations.speaker_features, extracted.speaker_features,
            auto.speaker_features) == ('annotations', 'extracted', 'extracted')
    assert 'speaker features from extracted' in extracted.summary()
    assert len(extracted.pairs) == len(annotations.pairs) == 4
    for clip_id, clip in extracted.clips.items():
        expected = annotations.clips[clip_id]
        assert (clip.extracted is None) == (expected.audio is None)
        if clip.extracted is not None:
            # The arrays are the cache's: nothing recomputed from the WAV.
            assert clip.audio is clip.extracted.audio
            np.testing.assert_array_equal(clip.audio, expected.audio)
    for index in range(len(annotations)):
        ours, theirs = extracted[index], annotations[index]
        assert ours.keys() == theirs.keys()
        for name in ours:
            torch.testing.assert_close(ours[name], theirs[name], rtol=0, atol=0)
        assert ours['speaker_present'].all()
        assert ours['speaker_visual'].shape[1] == spec.SPEAKER_VISUAL_DIM
    window = extracted.windows(32, 16)[1]
    torch.testing.assert_close(window, annotations.windows(32, 16)[1], rtol=0, atol=0)


def test_missing_cache_names_the_command(corpus, caplog):
    with pytest.raises(SpeakerFeaturesError) as error:
        load_dataset(corpus, 'test', speaker_features='extracted')
    message = str(error.value)
    assert f'react-ros features --data {corpus} --split test' in message
    assert 'not extracted' in message
    with caplog.at_level(logging.INFO, logger='react_ros.data.dataset'):
        auto = load_dataset(corpus, 'test', speaker_features='auto')
    assert auto.speaker_features == 'annotations'
    assert 'speaker features: annotations (none extracted' in caplog.text
    with pytest.raises(ValueError, match='unknown speaker_features'):
        load_dataset(corpus, 'test', speaker_features='video')


def test_other_frame_rate_is_refused_not_resampled(corpus):
    with pytest.raises(SpeakerFeaturesError) as error:
        load_dataset(corpus, 'train', fps=25.0, speaker_features='extracted')
    message = str(error.value)
    assert 'extracted at 30 fps, the dataset is loaded at 25 fps' in message
    assert f'react-ros features --data {corpus} --split train --fps 25' in message


def test_stale_cache_is_refused_until_extracted_again(corpus_copy, caplog):
    dataset = load_dataset(corpus_copy, 'train', speaker_features='extracted')
    wav = next((corpus_copy / 'train').rglob('*.wav'))
    stat = wav.stat()
    os.utime(wav, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.raises(SpeakerFeaturesError) as error:
        load_dataset(corpus_copy, 'train', speaker_features='extracted')
    assert 'out of date' in str(error.value)
    assert f'react-ros features --data {corpus_copy} --split train' in str(error.value)
    with caplog.at_level(logging.WARNING, logger='react_ros.data.dataset'):
        auto = load_dataset(corpus_copy, 'train', speaker_features='auto')
    assert auto.speaker_features == 'annotations' and 'out of date' in caplog.text

    again = extract_split(corpus_copy, 'train', progress=False)
    assert again.computed >= 1 and again.cached >= 1
    fresh = load_dataset(corpus_copy, 'train', speaker_features='extracted')
    for clip_id, clip in fresh.clips.items():
        np.testing.assert_array_equal(clip.audio, dataset.clips[clip_id].audio)


def test_clip_never_extracted_is_refused_unless_unusable(corpus_copy):
    speaker = 'speaker/session0000/clip00'
    cache_path(corpus_copy, 'train', speaker).unlink()
    with pytest.raises(SpeakerFeaturesError, match=f'{speaker}: not extracted'):
        load_dataset(corpus_copy, 'train', speaker_features='extracted')
    # The extractor skips a clip with an unreadable WAV, and so does the loader.
    wav = corpus_copy / 'train' / layout.MARS_AUDIO / f'{speaker}{layout.AUDIO_SUFFIX}'
    wav.write_bytes(b'not a wav')
    dataset = load_dataset(corpus_copy, 'train', speaker_features='extracted')
    assert speaker not in dataset.clips and dataset.pairs
    assert any('cannot read as WAV' in item.reason for item in dataset.skipped)


def _hide_face(root: Path, split: str, clip_id: str, frames: slice) -> None:
    """Rewrite a cache entry, key kept, as if perception found no face on frames."""
    path = cache_path(root, split, clip_id)
    with np.load(path) as stored:
        arrays = dict(stored)
    arrays['visual_present'][frames] = False
    arrays['visual'][frames] = 0.0
    arrays['visual_source'] = np.str_('video')
    np.savez(path, **arrays)


def test_frames_without_a_face_reach_training(corpus_copy, tmp_path, capsys):
    speaker = 'speaker/session0000/clip00'
    _hide_face(corpus_copy, 'train', speaker, slice(10, 40))
    data = load_training_data(corpus_copy, speaker_features='extracted')
    assert data.describe()['speaker_features'] == 'extracted'
    pair = next(pair for pair in data.train.pairs if pair.speaker_id == speaker)
    assert pair.speaker.extracted.visual_source == 'video'
    assert pair.speaker_present.tolist() == [True] * 10 + [False] * 30 + [True] * (
        pair.length - 40)
    item = data.train[pair.index]
    assert not item['speaker_present'][10:40].any() and item['speaker_present'][40:].all()
    assert not item['speaker_visual'][10:40].any()
    # The window starting at frame 0 in a batch: the face is absent where the cache says.
    windows = data.train.windows(32, 16)
    index = windows.index.index((pair.index, 0))
    batch = _prepare(next(_batches(torch.utils.data.Subset(windows, [index]), 1)),
                     torch.Generator().manual_seed(0), 0.0, 'cpu')
    assert not batch['speaker_present'][0, 10:32].any() and batch['speaker_present'][0, :10].all()
    # Normalisation statistics count faces only: the zeros of faceless frames are left out.
    faces = np.concatenate([data.train[index]['speaker_visual'].numpy()[
        data.train[index]['speaker_present'].numpy()] for index in range(len(data.train))])
    stats = compute_normalisation(data.train)
    np.testing.assert_allclose(stats['visual_mean'].numpy(), faces.mean(axis=0), atol=1e-5)

    out = tmp_path / 'model.pt'
    parser = _parser(train_command.add_arguments)
    assert train_command.run(parser.parse_args(OPTIONS + [
        '--data', str(corpus_copy), '--out', str(out), '--speaker-features', 'extracted']),
        command='test') == 0
    assert 'on speaker features from extracted' in capsys.readouterr().out
    # Generation (validation metrics, predictions) passes the cached face mask on.
    generator = ReactionGenerator.from_checkpoint(out)
    reactions = generate_reactions(generator, data.train, [pair.index], 60, 1, 0, False)
    visual, _ = pair.speaker_visual()
    audio = pair.speaker_audio[:60]
    masked = generator.generate(audio, visual[:60], pair.speaker_present[:60], k=1, seed=0)
    np.testing.assert_array_equal(reactions[0], masked)
    assert not np.allclose(masked, generator.generate(audio, visual[:60], k=1, seed=0))

    prediction = tmp_path / 'pred.npy'
    predict = _parser(predict_command.add_arguments)
    assert predict_command.run(predict.parse_args([
        '--ckpt', str(out), '--data', str(corpus_copy), '--split', 'test', '--out',
        str(prediction), '-k', '1', '--speaker-features', 'extracted', '--quiet'])) == 2
    assert '--split test' in capsys.readouterr().err
    assert predict_command.run(predict.parse_args([
        '--ckpt', str(out), '--data', str(corpus_copy), '--split', 'val', '--out',
        str(prediction), '-k', '1', '--quiet'])) == 0
    assert 'speaker features from extracted' in capsys.readouterr().out
    assert np.load(prediction).shape[:2] == (2, 1)  # the two val pairs, one reaction each


def test_resume_keeps_the_speaker_features_of_the_run(corpus, tmp_path, capsys):
    out = tmp_path / 'model.pt'
    options = TrainOptions(stages=('tokenizer',), epochs=(2,), batch_size=8, window=32,
                           warmup_steps=1, threads=1)
    annotations = load_training_data(corpus, speaker_features='annotations')

    def interrupt(stage, epoch):
        raise Interrupted

    with pytest.raises(Interrupted):
        Trainer.fresh(out, annotations, options, 'test', progress=False).run(interrupt)
    with pytest.raises(ValueError, match='speaker_features annotations then, extracted now'):
        Trainer.resume(out, load_training_data(corpus, speaker_features='extracted'), 'test')
    # Without --speaker-features, --resume takes the run's own (auto would pick extracted).
    args = _parser(train_command.add_arguments).parse_args([
        '--data', str(corpus), '--out', str(out), '--resume', '--quiet'])
    assert train_command.run(args, command='test') == 0
    assert 'on speaker features from annotations' in capsys.readouterr().out


def _parser(add_arguments) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser


@pytest.mark.parametrize('features', ['annotations', 'extracted'])
def test_a_stored_dataset_gives_the_in_memory_tensors(corpus, tmp_path, features):
    """Clips (and extracted features) kept on disk and read per window: the same tensors."""
    memory = load_dataset(corpus, 'train', speaker_features=features)
    stored = load_dataset(corpus, 'train', speaker_features=features, store=tmp_path, workers=2)
    assert all(isinstance(clip.attributes, DiskArray) for clip in stored.clips.values())
    if features == 'extracted':
        assert all(isinstance(clip.extracted.visual_present, DiskArray)
                   for clip in stored.clips.values() if clip.extracted is not None)
    ours, theirs = stored.windows(32, 16, pad_short=True), memory.windows(32, 16, pad_short=True)
    assert len(ours) == len(theirs) > 4
    for index in range(len(ours)):
        torch.testing.assert_close(ours[index], theirs[index], rtol=0, atol=0)
    for index in range(len(memory)):
        torch.testing.assert_close(stored[index], memory[index], rtol=0, atol=0)
        np.testing.assert_array_equal(stored.appropriate(index).frames,
                                      memory.appropriate(index).frames)
    ours, theirs = compute_normalisation(stored), compute_normalisation(memory)
    for name in theirs:
        torch.testing.assert_close(ours[name], theirs[name], rtol=0, atol=0)
