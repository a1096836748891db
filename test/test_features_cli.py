"""
`react-ros features` over a small synthetic corpus: cache written, re-used, forced, invalidated.

The corpus is the real synthetic one (espeak-ng speech, MARS layout); one speaker clip also
gets a real .mp4 of the astronaut photograph so the video path runs.
"""

import os
from pathlib import Path
import shutil

import cv2
import numpy as np
import pytest
from react_ros.commands import main
from react_ros.data.dataset import load_dataset
from react_ros.data.feature_cache import cache_path, read_cache
from react_ros.data.feature_extraction import extract_split
from react_ros.data.synth import write_corpus
from react_ros.perception.visual import VisualPerception
from react_ros.spec import FPS, SPEAKER_VISUAL_DIM
from skimage.data import astronaut

VIDEO_CLIP = 'speaker/session0000/clip00'


@pytest.fixture(scope='module')
def corpus(tmp_path_factory) -> Path:
    """Three sessions of 3-4 s with two listeners each: train, val and test hold one each."""
    root = tmp_path_factory.mktemp('corpus') / 'synth'
    write_corpus(root, sessions=3, seed=0, clip_seconds=(3.0, 4.0), listeners_per_clip=2,
                 progress=False)
    return root


def cached_arrays(root: Path, split: str) -> dict:
    """Return {clip id: ClipFeatures} of every cached clip of a split."""
    base = root / '.react_ros_features' / split
    return {str(path.relative_to(base).with_suffix('')): read_cache(path)
            for path in sorted(base.rglob('*.npz'))}


def test_features_cache_is_written_then_reused(corpus, capsys):
    assert main(['features', '--data', str(corpus), '--quiet']) == 0
    out = capsys.readouterr().out
    assert out.count('mars ') == 3 and '0 from cache' in out
    dataset = load_dataset(corpus, 'train')
    first = cached_arrays(corpus, 'train')
    assert set(first) == set(dataset.clips)  # mirrored pairs: every clip plays the speaker
    for clip_id, features in first.items():
        clip = dataset.clips[clip_id]
        # The same audio features the dataset loader computes, at the same frames.
        np.testing.assert_array_equal(features.audio, clip.audio)
        np.testing.assert_allclose(features.frame_times, np.arange(clip.length) / FPS)
        assert features.visual_source == 'annotations' and features.visual_present.all()
        np.testing.assert_array_equal(features.visual[:, :25], clip.attributes)
        assert features.visual.shape == (clip.length, SPEAKER_VISUAL_DIM)
        assert features.voice_active.dtype == bool and features.voice_active.mean() < 1
        if clip_id.startswith('speaker/'):  # listener clips may hold no backchannel at all
            assert features.voice_active.mean() > 0.1
        assert (features.pitch_hz[~features.voice_active] == 0).all()
    speaker = first['speaker/session0000/clip00']
    assert 60 < np.median(speaker.pitch_hz[speaker.pitch_hz > 0]) < 400

    mtimes = {path: path.stat().st_mtime_ns for path in corpus.rglob('*.npz')}
    again = extract_split(corpus, 'train', progress=False)
    assert again.cached == len(first) and again.computed == again.shared == 0
    assert {path: path.stat().st_mtime_ns for path in corpus.rglob('*.npz')} == mtimes
    for clip_id, features in cached_arrays(corpus, 'train').items():
        np.testing.assert_array_equal(features.audio, first[clip_id].audio)
        np.testing.assert_array_equal(features.pitch_hz, first[clip_id].pitch_hz)

    forced = extract_split(corpus, 'train', force=True, progress=False)
    assert forced.cached == 0 and forced.computed + forced.shared == len(first)
    assert forced.shared >= 1  # the session's speaker clips are hard links: computed once
    for clip_id, features in cached_arrays(corpus, 'train').items():
        np.testing.assert_array_equal(features.audio, first[clip_id].audio)
    assert again.elapsed_s < forced.elapsed_s
    # Two worker processes: the same clips computed and shared, the same arrays.
    parallel = extract_split(corpus, 'train', force=True, progress=False, workers=2)
    assert (parallel.computed, parallel.shared, parallel.frames) == (
        forced.computed, forced.shared, forced.frames)
    for clip_id, features in cached_arrays(corpus, 'train').items():
        for name in ('audio', 'voice_active', 'pitch_hz', 'visual', 'visual_present'):
            np.testing.assert_array_equal(getattr(features, name), getattr(first[clip_id], name))


def test_changed_source_is_recomputed(corpus):
    extract_split(corpus, 'val', progress=False)
    wav = next((corpus / 'val' / 'audio' / 'listener').rglob('*.wav'))
    stat = wav.stat()
    os.utime(wav, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10 ** 9))
    summary = extract_split(corpus, 'val', progress=False)
    assert summary.computed == 1 and summary.skipped == []


def test_speaker_video_gives_visual_features(corpus):
    split = 'train'
    video = corpus / split / 'video-face-crop' / f'{VIDEO_CLIP}.mp4'
    video.parent.mkdir(parents=True)
    face = cv2.cvtColor(cv2.resize(astronaut(), (256, 256)), cv2.COLOR_RGB2BGR)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'mp4v'), FPS, (256, 256))
    assert writer.isOpened(), 'OpenCV cannot write mp4v here'
    for _ in range(45):  # 1.5 s: frames after the video ends have no visual features
        writer.write(face)
    writer.release()
    try:
        summary = extract_split(corpus, split, progress=False,
                                visual=VisualPerception(calibration_s=0.5))
        assert summary.visual_sources.get('video') == 1 and summary.computed == 1
        features = read_cache(cache_path(corpus, split, VIDEO_CLIP))
        assert features.visual_source == 'video'
        assert features.visual_present[:45].mean() > 0.9 and not features.visual_present[45:].any()
        assert np.abs(features.visual[:45]).sum() > 0 and not features.visual[45:].any()
    finally:
        shutil.rmtree(corpus / split / 'video-face-crop')


def test_bad_data_dir_is_named(tmp_path, capsys):
    assert main(['features', '--data', str(tmp_path / 'missing')]) == 2
    assert 'is not a directory' in capsys.readouterr().err
    assert main(['features', '--data', str(tmp_path)]) == 2
    assert 'no split' in capsys.readouterr().err
