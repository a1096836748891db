"""Dataset readers on small fixture trees in the REACT 2024 and REACT 2025 (MARS) layouts."""

import logging
import shutil

import numpy as np
import pytest
from react_ros import spec
from react_ros.data import layout
from react_ros.data.dataset import (DatasetFormatError, load_dataset, read_attribute_csv,
                                    resample_frames)
from react_ros.data.speaker import speaker_visual_dim
from react_ros.model.generator import ReactionGenerator
from react_ros.perception.audio_features import AUDIO_FEATURE_DIM, sequence_audio_features
from react_ros.train.predict import predict_split
from scipy.io import wavfile
import torch
from torch.utils.data import DataLoader


def write_attributes_csv(path, values, header=layout.REACT_ATTRIBUTE_COLUMNS):
    """Write (T, 25) attributes as a CSV whose columns are `header` (names in any order)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    order = [layout.REACT_ATTRIBUTE_COLUMNS.index(name) if name in layout.REACT_ATTRIBUTE_COLUMNS
             else spec.ATTRIBUTE_NAMES.index(name) for name in header]
    lines = [','.join(header)] + [','.join(f'{value:.6f}' for value in row[order])
                                  for row in values]
    path.write_text('\n'.join(lines) + '\n')


def write_npy(path, values):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, values)


def write_wav(path, audio, rate, channels=1):
    """
    Write int16 PCM; a stereo file has the audio on the left and silence on the right.

    Returns the mono audio the file holds (what a reader should compute features of).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = np.round(audio * 32767).astype(np.int16)
    stored = pcm.astype(np.float32) / 32768
    if channels == 2:
        pcm = np.stack([pcm, np.zeros_like(pcm)], axis=1)
        stored = stored / 2
    wavfile.write(path, rate, pcm)
    return stored


def random_attributes(rng, frames):
    values = rng.uniform(0, 1, (frames, spec.NUM_ATTRIBUTES)).astype(np.float32)
    values[:, spec.AU_SLICE] = np.round(values[:, spec.AU_SLICE])
    values[:, spec.AFFECT_SLICE] = values[:, spec.AFFECT_SLICE] * 2 - 1
    return np.round(values, 6)


def speech_like(rng, seconds, rate):
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t) * (np.sin(2 * np.pi * 2 * t) > 0)
    return (tone + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


REACT2024_FRAMES = 40
NOXI_EXPERT = 'NoXI/001_2016-03-17_Paris/Expert_video/1'
NOXI_NOVICE = 'NoXI/001_2016-03-17_Paris/Novice_video/1'
RECOLA_A = 'RECOLA/group-1/P25/1'
RECOLA_B = 'RECOLA/group-1/P26/1'


@pytest.fixture
def react2024_root(tmp_path):
    """Two recorded pairs (NoXI with 44.1 kHz stereo audio, RECOLA with P1/P2 Emotion folders)."""
    rng = np.random.default_rng(0)
    data = tmp_path / 'data'
    split = data / 'val'
    truth = {}
    for clip in (NOXI_EXPERT, NOXI_NOVICE, RECOLA_A, RECOLA_B):
        attributes = random_attributes(rng, REACT2024_FRAMES)
        mm = rng.normal(0, 0.3, (REACT2024_FRAMES, 1, spec.NUM_MM)).astype(np.float32)
        audio = write_wav(split / 'Audio_files' / f'{clip}.wav',
                          speech_like(rng, REACT2024_FRAMES / layout.REACT2024_FPS, 44100),
                          44100, channels=2 if clip.startswith('NoXI') else 1)
        truth[clip] = (attributes, mm[:, 0], audio)
        emotion_clip = clip.replace('P25', 'P1').replace('P26', 'P2')
        header = layout.REACT_ATTRIBUTE_COLUMNS
        if clip == NOXI_NOVICE:  # columns by name in another order, with spec names
            header = tuple(reversed(spec.ATTRIBUTE_NAMES))
        write_attributes_csv(split / 'Emotion' / f'{emotion_clip}.csv', attributes, header)
        write_npy(split / '3D_FV_files' / f'{clip}.npy', mm)
    (data / 'val.csv').write_text(f',speaker_path,listener_path\n0,{NOXI_EXPERT},{NOXI_NOVICE}\n'
                                  f'1,{RECOLA_A},{RECOLA_B}\n')
    # Samples: 0 Expert->Novice, 1 P25->P26, 2 Novice->Expert, 3 P26->P25.
    neighbours = np.eye(4)
    neighbours[0, 3] = 1  # P26 resembles the Expert: P25's reaction also suits the Expert
    np.save(data / 'neighbour_emotion_val.npy', neighbours)
    return tmp_path, truth


def test_react2024_pairs_values_and_audio(react2024_root):
    root, truth = react2024_root
    dataset = load_dataset(root, 'val')
    assert (dataset.layout, dataset.fps, dataset.skipped) == ('react2024', 25.0, [])
    assert [(pair.speaker_id, pair.listener_id, pair.mirrored) for pair in dataset.pairs] == [
        (NOXI_EXPERT, NOXI_NOVICE, False), (RECOLA_A, RECOLA_B, False),
        (NOXI_NOVICE, NOXI_EXPERT, True), (RECOLA_B, RECOLA_A, True)]
    pair = dataset.pairs[2]
    novice, expert = truth[NOXI_NOVICE], truth[NOXI_EXPERT]
    np.testing.assert_allclose(pair.speaker_attributes, novice[0], atol=1e-6)
    np.testing.assert_allclose(pair.speaker_rotation, novice[1][:, 52:55])
    np.testing.assert_allclose(pair.speaker_mm, novice[1])
    np.testing.assert_allclose(pair.listener_frame,
                               np.concatenate([expert[0], expert[1]], axis=1), atol=1e-6)
    assert pair.listener_mask.all()
    # Stereo 44.1 kHz: the features are those of the channel mean, resampled to 16 kHz.
    expected = sequence_audio_features(novice[2], np.arange(REACT2024_FRAMES) / 25.0, 44100)
    assert pair.speaker_audio.shape == (REACT2024_FRAMES, AUDIO_FEATURE_DIM)
    np.testing.assert_allclose(pair.speaker_audio, expected, atol=1e-5)
    mono = dataset.pairs[1]
    np.testing.assert_allclose(mono.speaker_audio, sequence_audio_features(
        truth[RECOLA_A][2], np.arange(REACT2024_FRAMES) / 25.0, 44100), atol=1e-5)


def test_react2024_appropriate_reactions_follow_the_neighbour_matrix(react2024_root):
    root, truth = react2024_root
    dataset = load_dataset(root, 'val', layout='react2024')
    reactions = dataset.appropriate(0)
    assert reactions.clip_ids == (NOXI_NOVICE, RECOLA_A)
    assert reactions.frames.shape == (2, REACT2024_FRAMES, spec.NUM_CHANNELS)
    np.testing.assert_allclose(reactions.attributes[1], truth[RECOLA_A][0], atol=1e-6)
    assert reactions.valid.all()
    assert dataset.appropriate(1).clip_ids == (RECOLA_B,)
    unmirrored = load_dataset(root, 'val', mirror=False)
    assert len(unmirrored.pairs) == 2
    assert unmirrored.appropriate(0).clip_ids == (NOXI_NOVICE, RECOLA_A)


def test_react2024_neighbour_matrix_of_the_wrong_size_is_named(react2024_root):
    root, _ = react2024_root
    np.save(root / 'data' / 'neighbour_emotion_val.npy', np.eye(3))
    with pytest.raises(DatasetFormatError, match=r'neighbour_emotion_val\.npy: shape \(3, 3\)'):
        load_dataset(root, 'val')


def test_partial_dataset_loads_the_rest_and_names_what_it_skipped(react2024_root, caplog):
    root, _ = react2024_root
    split = root / 'data' / 'val'
    missing = split / '3D_FV_files' / f'{NOXI_NOVICE}.npy'
    missing.unlink()
    corrupt = split / 'Emotion' / 'RECOLA/group-1/P1/1.csv'
    lines = corrupt.read_text().splitlines()
    lines[5] = 'oops' + lines[5][4:]
    corrupt.write_text('\n'.join(lines))
    with caplog.at_level(logging.WARNING):
        dataset = load_dataset(root, 'val')
    assert dataset.pairs == []  # each pair lost one clip
    skipped = {item.path: item.reason for item in dataset.skipped}
    assert skipped[str(missing)] == 'missing file'
    assert 'line 6' in skipped[str(corrupt)] and "'AU1'" in skipped[str(corrupt)]
    assert str(missing) in caplog.text and str(corrupt) in caplog.text
    # A third, complete pair still loads.
    rng = np.random.default_rng(1)
    extra = 'NoXI/002_2016-03-17_Paris/Expert_video/1', 'NoXI/002_2016-03-17_Paris/Novice_video/1'
    for clip in extra:
        write_attributes_csv(split / 'Emotion' / f'{clip}.csv', random_attributes(rng, 30))
        write_npy(split / '3D_FV_files' / f'{clip}.npy', np.zeros((30, spec.NUM_MM)))
        write_wav(split / 'Audio_files' / f'{clip}.wav', speech_like(rng, 1.2, 16000), 16000)
    with open(root / 'data' / 'val.csv', 'a') as stream:
        stream.write(f'2,{extra[0]},{extra[1]}\n')
    np.save(root / 'data' / 'neighbour_emotion_val.npy', np.eye(6))
    dataset = load_dataset(root, 'val')
    assert [pair.speaker_id for pair in dataset.pairs] == list(extra)
    assert len(dataset.skipped) == 2
    with pytest.raises(DatasetFormatError, match='missing file'):
        load_dataset(root, 'val', strict=True)


def test_bad_csv_header_names_the_file_and_the_column(tmp_path):
    path = tmp_path / 'clip.csv'
    header = ('AU3',) + layout.REACT_ATTRIBUTE_COLUMNS[1:]
    path.write_text(','.join(header) + '\n' + ','.join(['0'] * 25) + '\n')
    with pytest.raises(DatasetFormatError, match=r"clip\.csv: unknown column 'AU3'"):
        read_attribute_csv(path)
    path.write_text(','.join(layout.REACT_ATTRIBUTE_COLUMNS[:-1]) + '\n' + ','.join(['0'] * 24))
    with pytest.raises(DatasetFormatError, match=r'clip\.csv: missing column\(s\) Contempt'):
        read_attribute_csv(path)


def test_bad_header_in_a_dataset_is_skipped_or_raised_when_strict(react2024_root):
    root, _ = react2024_root
    bad = root / 'data' / 'val' / 'Emotion' / f'{NOXI_EXPERT}.csv'
    bad.write_text(bad.read_text().replace('valence', 'valance', 1))
    dataset = load_dataset(root, 'val')
    assert [pair.speaker_id for pair in dataset.pairs] == [RECOLA_A, RECOLA_B]
    assert dataset.skipped[0].path == str(bad) and "'valance'" in dataset.skipped[0].reason
    with pytest.raises(DatasetFormatError, match="unknown column 'valance'"):
        load_dataset(root, 'val', strict=True)


MARS_LENGTHS = {('session0', 'cam-a'): 50, ('session0', 'cam-b'): 44, ('session2', 'cam-c'): 12}


@pytest.fixture
def mars_root(tmp_path):
    """Two sessions, variable lengths, .npy and .csv attributes, 16 kHz and 44.1 kHz audio."""
    rng = np.random.default_rng(2)
    split = tmp_path / 'train'
    truth = {}
    for (session, name), frames in MARS_LENGTHS.items():
        for role in layout.ROLES:
            attributes = random_attributes(rng, frames)
            mm = rng.normal(0, 0.3, (frames, spec.NUM_MM)).astype(np.float32)
            rate = 44100 if name == 'cam-b' else 16000
            clip = f'{role}/{session}/{name}'
            audio = write_wav(split / layout.MARS_AUDIO / f'{clip}.wav',
                              speech_like(rng, frames / layout.MARS_FPS, rate), rate)
            truth[clip] = (attributes, mm, audio, rate)
            if name == 'cam-c':
                write_attributes_csv(split / layout.MARS_ATTRIBUTES / f'{clip}.csv', attributes)
            else:
                write_npy(split / layout.MARS_ATTRIBUTES / f'{clip}.npy', attributes)
            write_npy(split / layout.MARS_COEFFICIENTS / f'{clip}.npy', mm)
    return tmp_path, truth


def test_mars_pairs_sessions_and_appropriate_reactions(mars_root):
    root, truth = mars_root
    dataset = load_dataset(root, 'train')
    assert (dataset.layout, dataset.fps, dataset.skipped) == ('mars', 30.0, [])
    assert [pair.speaker_id for pair in dataset.pairs] == [
        'speaker/session0/cam-a', 'speaker/session0/cam-b', 'speaker/session2/cam-c',
        'listener/session0/cam-a', 'listener/session0/cam-b', 'listener/session2/cam-c']
    pair = dataset.pairs[1]
    attributes, mm, audio, rate = truth['speaker/session0/cam-b']
    assert pair.length == 44
    np.testing.assert_allclose(pair.speaker_attributes, attributes)
    np.testing.assert_allclose(pair.speaker_audio, sequence_audio_features(
        audio, np.arange(44) / 30.0, rate), atol=1e-5)
    np.testing.assert_allclose(dataset.pairs[2].listener_attributes,
                               truth['listener/session2/cam-c'][0], atol=1e-6)
    reactions = dataset.appropriate(0)  # speaker cam-a: both listener clips of session0
    assert reactions.clip_ids == ('listener/session0/cam-a', 'listener/session0/cam-b')
    assert reactions.frames.shape == (2, 50, spec.NUM_CHANNELS)
    assert reactions.valid[0].all() and reactions.valid[1].sum() == 44
    np.testing.assert_allclose(reactions.frames[1, :44, 25:], truth['listener/session0/cam-b'][1])
    assert not reactions.frames[1, 44:].any()
    assert dataset.appropriate(3).clip_ids == ('speaker/session0/cam-a',
                                               'speaker/session0/cam-b')
    in_workers = load_dataset(root, 'train', workers=2)
    for loaded, pair in zip(in_workers.pairs, dataset.pairs):
        assert loaded.speaker_id == pair.speaker_id
        np.testing.assert_array_equal(loaded.speaker_audio, pair.speaker_audio)
        np.testing.assert_array_equal(loaded.listener_frame, pair.listener_frame)


def test_mars_unpaired_clip_and_missing_audio_are_skipped(mars_root):
    root, _ = mars_root
    split = root / 'train'
    orphan = split / layout.MARS_ATTRIBUTES / 'listener/session2/cam-c.csv'
    orphan.rename(orphan.with_name('cam-d.csv'))
    audio = split / layout.MARS_AUDIO / 'listener/session0/cam-a.wav'
    audio.unlink()
    dataset = load_dataset(root, 'train')
    reasons = {item.path: item.reason for item in dataset.skipped}
    assert 'no listener clip' in reasons[str(split / layout.MARS_ATTRIBUTES /
                                             'speaker/session2/cam-c.csv')]
    assert reasons[str(audio)] == 'missing file'
    # The listener cam-a clip cannot be a speaker but its reaction is still appropriate.
    assert [pair.speaker_id for pair in dataset.pairs] == [
        'speaker/session0/cam-b', 'listener/session0/cam-b']
    assert dataset.appropriate(0).clip_ids == ('listener/session0/cam-b',)


def test_windows_count_and_content(mars_root):
    root, _ = mars_root
    dataset = load_dataset(root, 'train', mirror=False)
    windows = dataset.windows(16, stride=8)
    # Pairs of 50, 44 and 12 frames: 5 + 4 + 0 windows.
    assert len(windows) == 9
    item = windows[7]  # second pair, third window: start 16
    pair = dataset.pairs[1]
    assert (int(item['pair_index']), int(item['start'])) == (1, 16)
    assert item['speaker_visual'].shape == (16, spec.SPEAKER_VISUAL_DIM)
    np.testing.assert_allclose(item['speaker_visual'][:, :25], pair.speaker_attributes[16:32])
    np.testing.assert_allclose(item['speaker_visual'][:, 25:], pair.speaker_rotation[16:32])
    np.testing.assert_allclose(item['speaker_audio'], pair.speaker_audio[16:32])
    np.testing.assert_allclose(item['listener'], pair.listener_frame[16:32])
    assert item['valid'].all() and item['listener_mask'].all()
    # The persona posterior's input: the listener's mean over the whole pair, in every window.
    np.testing.assert_allclose(item['listener_clip_mean'], pair.listener_frame.mean(axis=0),
                               rtol=1e-6)
    np.testing.assert_array_equal(windows[5]['listener_clip_mean'], item['listener_clip_mean'])
    assert not np.allclose(windows[0]['listener_clip_mean'], item['listener_clip_mean'])
    batch = next(iter(DataLoader(windows, batch_size=4)))
    assert batch['listener'].shape == (4, 16, spec.NUM_CHANNELS)
    assert batch['speaker_audio'].dtype == torch.float32
    padded = dataset.windows(16, stride=8, pad_short=True, include_mm=True)
    assert len(padded) == 10
    short = padded[9]
    assert short['speaker_visual'].shape == (16, speaker_visual_dim(True))
    assert short['valid'].sum() == 12 and not short['listener'][12:].any()
    whole = dataset[0]
    assert whole['listener'].shape == (50, spec.NUM_CHANNELS) and whole['valid'].all()
    with pytest.raises(ValueError, match='stride'):
        dataset.windows(16, stride=0)


def test_missing_3dmm_is_zeros_with_a_mask(mars_root):
    root, truth = mars_root
    shutil.rmtree(root / 'train' / layout.MARS_COEFFICIENTS)
    dataset = load_dataset(root, 'train', mirror=False)
    item = dataset[0]
    assert dataset.pairs[0].listener_mm is None
    assert item['listener_mask'].sum() == spec.NUM_ATTRIBUTES
    assert item['speaker_visual_mask'].tolist() == [True] * 25 + [False] * 3
    assert not item['listener'][:, 25:].any() and not item['speaker_visual'][:, 25:].any()


def test_resampling_25_fps_data_to_30_fps(react2024_root):
    root, truth = react2024_root
    dataset = load_dataset(root, 'val', fps=spec.FPS)
    pair = dataset.pairs[0]
    frames = (REACT2024_FRAMES - 1) * 30 // 25 + 1
    assert (dataset.fps, pair.length) == (30.0, frames)
    times = np.arange(frames) / 30.0
    source_times = np.arange(REACT2024_FRAMES) / 25.0
    attributes, mm, audio = truth[NOXI_EXPERT]
    np.testing.assert_allclose(pair.speaker_attributes[:, 15],
                               np.interp(times, source_times, attributes[:, 15]), atol=1e-5)
    assert set(np.unique(pair.speaker_attributes[:, spec.AU_SLICE])) <= {0.0, 1.0}
    np.testing.assert_allclose(pair.speaker_rotation[:, 1],
                               np.interp(times, source_times, mm[:, 53]), atol=1e-5)
    np.testing.assert_allclose(pair.speaker_audio,
                               sequence_audio_features(audio, times, 44100), atol=1e-5)


def test_predictions_for_25_fps_data_cover_every_frame(react2024_root):
    # The model runs at 30 fps: 40 frames at 25 fps are 47 at 30, which resample back to 39;
    # predict repeats the last frame rather than refusing the clip.
    root, _ = react2024_root
    prediction = predict_split(ReactionGenerator.untrained(seed=0), root, 'val', k=1,
                               speaker_features='annotations')
    attributes = prediction.attributes
    assert attributes.shape == (4, 1, REACT2024_FRAMES, spec.NUM_ATTRIBUTES)
    np.testing.assert_array_equal(attributes[:, :, -1], attributes[:, :, -2])


def test_resample_frames_keeps_au_occurrences_binary():
    frames = np.zeros((5, 2), np.float32)
    frames[2:] = 1.0
    resampled = resample_frames(frames, 25.0, 50.0, nearest=slice(0, 1))
    assert len(resampled) == 9
    assert set(resampled[:, 0]) == {0.0, 1.0}
    np.testing.assert_allclose(resampled[3, 1], 0.5)


def test_bad_coefficient_shape_and_unknown_root_are_named(tmp_path, mars_root):
    root, _ = mars_root
    bad = root / 'train' / layout.MARS_COEFFICIENTS / 'speaker/session0/cam-a.npy'
    np.save(bad, np.zeros((50, 57)))
    with pytest.raises(DatasetFormatError, match=r'cam-a\.npy: expected \(frames, 58\)'):
        load_dataset(root, 'train', strict=True)
    with pytest.raises(FileNotFoundError, match='no .val. split'):
        load_dataset(tmp_path / 'nowhere', 'val')
    with pytest.raises(ValueError, match='unknown layout'):
        load_dataset(root, 'train', layout='react2023')
