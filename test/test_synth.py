"""
The synthetic dyadic corpus: layout, determinism, value ranges and the listener model.

Corpora are written with real espeak-ng speech into temporary directories.
"""

import itertools
import json
from pathlib import Path
import wave

import numpy as np
import pytest
from react_ros import spec
from react_ros.commands import main
from react_ros.data import layout, mars, synth
from react_ros.data.dataset import build_dataset, read_attributes
from react_ros.data.synth import split_sizes, write_corpus

SESSIONS = 2
LISTENERS = 4
CLIP_SECONDS = (8.0, 12.0)
SEED = 3


def _write(directory: Path, seed: int) -> Path:
    write_corpus(directory, SESSIONS, seed, clip_seconds=CLIP_SECONDS,
                 listeners_per_clip=LISTENERS, progress=False)
    return directory


@pytest.fixture(scope='module')
def corpus(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp('synth') / 'corpus', SEED)


def _files(root: Path) -> dict:
    return {path.relative_to(root): path.read_bytes()
            for path in sorted(root.rglob('*')) if path.is_file()}


def _sessions(root: Path):
    """Yield (split, session) of every session the manifest lists."""
    manifest = json.loads((root / layout.SYNTH_MANIFEST).read_text())
    for split, sessions in manifest['splits'].items():
        for session in sessions:
            yield split, session


def _attributes(root: Path, split: str, role: str, session: str, clip: str) -> np.ndarray:
    return np.load(root / split / layout.MARS_ATTRIBUTES / role / session
                   / f'{clip}{synth.ATTRIBUTE_SUFFIX}')


def _clips():
    return [f'clip{index:02d}' for index in range(LISTENERS)]


def test_same_seed_same_bytes_other_seed_differs(corpus, tmp_path):
    again = _files(_write(tmp_path / 'again', SEED))
    first = _files(corpus)
    assert list(again) == list(first)
    assert all(again[name] == first[name] for name in first)
    other = _files(_write(tmp_path / 'other', SEED + 1))
    assert list(other) == list(first)  # same names, different behaviour and speech
    for suffix in ('.npy', '.wav'):
        named = [name for name in first if name.suffix == suffix]
        assert named and all(other[name] != first[name] for name in named), suffix


def test_files_land_where_layout_says(corpus):
    expected = {Path(layout.SYNTH_MANIFEST)}
    everything = itertools.product(_sessions(corpus), layout.ROLES, _clips())
    for (split, session), role, clip in everything:
        for kind, suffix in ((layout.MARS_ATTRIBUTES, synth.ATTRIBUTE_SUFFIX),
                             (layout.MARS_COEFFICIENTS, layout.COEFFICIENT_SUFFIX),
                             (layout.MARS_AUDIO, layout.AUDIO_SUFFIX)):
            expected.add(Path(split, kind, role, session, clip + suffix))
    assert set(_files(corpus)) == expected
    assert {split for split, _ in _sessions(corpus)} <= set(layout.SPLITS)


def test_values_in_range_and_lengths_consistent(corpus):
    samples_per_frame = spec.AUDIO_SAMPLE_RATE / layout.MARS_FPS
    for (split, session), role in itertools.product(_sessions(corpus), layout.ROLES):
        lengths = set()
        for clip in _clips():
            attributes = _attributes(corpus, split, role, session, clip)
            coefficients = np.load(corpus / split / layout.MARS_COEFFICIENTS / role / session
                                   / f'{clip}{layout.COEFFICIENT_SUFFIX}')
            with wave.open(str(corpus / split / layout.MARS_AUDIO / role / session
                               / f'{clip}{layout.AUDIO_SUFFIX}')) as audio:
                assert (audio.getnchannels(), audio.getframerate()) == (1, spec.AUDIO_SAMPLE_RATE)
                num_samples = audio.getnframes()
            num_frames = attributes.shape[0]
            assert attributes.shape == (num_frames, spec.NUM_ATTRIBUTES)
            assert coefficients.shape == (num_frames, spec.NUM_MM)
            assert num_samples == num_frames * samples_per_frame
            assert CLIP_SECONDS[0] - 0.1 <= num_frames / layout.MARS_FPS <= CLIP_SECONDS[1] + 0.1
            frames = np.concatenate([attributes, coefficients], axis=1)
            assert spec.within_range(frames).all(), f'{role} {session} {clip} out of range'
            np.testing.assert_allclose(frames[:, spec.EXPRESSION_SLICE].sum(axis=1), 1.0,
                                       atol=1e-3)
            lengths.add(num_frames)
        assert len(lengths) == 1, f'{session}: clips of different lengths {lengths}'


def test_speaker_talks_and_listener_mostly_listens(corpus):
    """The speaker's mouth follows its speech; the speaker's clips are one performance."""
    split, session = next(_sessions(corpus))
    speaker_dir = corpus / split / layout.MARS_AUDIO / 'speaker' / session
    assert len({(speaker_dir / f'{clip}{layout.AUDIO_SUFFIX}').read_bytes()
                for clip in _clips()}) == 1
    with wave.open(str(speaker_dir / f'clip00{layout.AUDIO_SUFFIX}')) as audio:
        pcm = np.frombuffer(audio.readframes(audio.getnframes()), '<i2').astype(float)
    speaker = _attributes(corpus, split, 'speaker', session, 'clip00')
    frame_rms = np.sqrt(np.mean(pcm[:pcm.size // 1600 * 1600].reshape(-1, 1600) ** 2, axis=1))
    mouth = speaker[:, spec.AU_NAMES.index('AU25')][:frame_rms.size * 3].reshape(-1, 3).mean(1)
    assert np.corrcoef(frame_rms, mouth)[0, 1] > 0.7
    listener = _attributes(corpus, split, 'listener', session, 'clip00')
    au25 = spec.AU_NAMES.index('AU25')
    assert listener[:, au25].mean() < 0.5 * speaker[:, au25].mean()


def test_mars_reader_loads_pairs_and_appropriate_sets(corpus):
    """Every listener clip of a session is an appropriate reaction to the session's speaker."""
    for split, session in _sessions(corpus):
        dataset = build_dataset(mars.plan(corpus, split, mirror=False), strict=True)
        assert not dataset.skipped
        pairs = [pair for pair in dataset.pairs if f'/{session}/' in pair.speaker_id]
        assert len(pairs) == LISTENERS
        session_listeners = {f'listener/{session}/{clip}' for clip in _clips()}
        for pair in pairs:
            assert pair.listener_id == pair.speaker_id.replace('speaker', 'listener')
            assert set(pair.appropriate_ids) == session_listeners
            np.testing.assert_allclose(pair.listener_attributes, _attributes(
                corpus, split, 'listener', session, pair.listener_id.split('/')[-1]))


def test_attribute_csv_reads_like_npy(tmp_path, monkeypatch):
    """With CSV as the layout's attribute format the reader gets the same values."""
    npy = _write_corpus_of_one(tmp_path / 'npy')
    monkeypatch.setattr(synth, 'ATTRIBUTE_SUFFIX', layout.CSV_SUFFIX)
    csv = _write_corpus_of_one(tmp_path / 'csv')
    for path in npy.rglob(f'*{layout.COEFFICIENT_SUFFIX}'):
        if layout.MARS_ATTRIBUTES in path.parts:
            as_csv = csv / path.relative_to(npy).with_suffix(layout.CSV_SUFFIX)
            np.testing.assert_allclose(read_attributes(as_csv), read_attributes(path),
                                       atol=1e-5)


def _write_corpus_of_one(directory: Path) -> Path:
    write_corpus(directory, 1, SEED, clip_seconds=(4.0,), listeners_per_clip=2, progress=False)
    return directory


def _lagged_correlation(leader: np.ndarray, follower: np.ndarray, lag: int) -> float:
    """Return corr(leader[t], follower[t + lag])."""
    if lag >= 0:
        return np.corrcoef(leader[:leader.size - lag], follower[lag:])[0, 1]
    return np.corrcoef(leader[-lag:], follower[:lag])[0, 1]


def test_listeners_differ_and_mirror_smiles_late(corpus):
    au12 = spec.AU_NAMES.index('AU12')
    lags = np.arange(-30, 31)  # frames, +-1 s
    correlation = np.zeros(lags.size)
    count = 0
    for split, session in _sessions(corpus):
        speaker_smile = _attributes(corpus, split, 'speaker', session, 'clip00')[:, au12]
        reactions = [_attributes(corpus, split, 'listener', session, clip) for clip in _clips()]
        for first, second in itertools.combinations(reactions, 2):
            assert np.abs(first - second).mean() > 0.02
        for reaction in reactions:
            correlation += [_lagged_correlation(speaker_smile, reaction[:, au12], int(lag))
                            for lag in lags]
            count += 1
    correlation /= count
    best = int(lags[np.argmax(correlation)])
    at = dict(zip(lags.tolist(), correlation))
    # Mirrored smiles start 0.2-0.8 s after the speaker's: the listener follows, never leads.
    assert 6 <= best <= 24, f'best lag {best} frames'
    assert at[best] > 0.3
    assert at[best] > at[0] + 0.05
    assert at[best] > at[-best] + 0.15


def test_refuses_non_empty_directory(tmp_path, capsys):
    target = tmp_path / 'busy'
    target.mkdir()
    (target / 'keep.txt').write_text('not a corpus')
    with pytest.raises(FileExistsError, match='not empty'):
        write_corpus(target, 1, 0, progress=False)
    with pytest.raises(FileExistsError, match='refusing to delete'):
        write_corpus(target, 1, 0, overwrite=True, progress=False)
    assert (target / 'keep.txt').read_text() == 'not a corpus'
    assert main(['synth', '--out', str(target), '--sessions', '1', '--quiet']) == 2
    assert 'not empty' in capsys.readouterr().err

    corpus = tmp_path / 'corpus'
    assert main(['synth', '--out', str(corpus), '--sessions', '1', '--clip-seconds', '4',
                 '--listeners', '2', '--quiet']) == 0
    assert 'sessions/s' in capsys.readouterr().out
    assert main(['synth', '--out', str(corpus), '--sessions', '1', '--quiet']) == 2
    assert main(['synth', '--out', str(corpus), '--sessions', '1', '--clip-seconds', '4',
                 '--listeners', '3', '--overwrite', '--quiet']) == 0
    assert len(list((corpus / 'train' / layout.MARS_ATTRIBUTES).rglob('listener/*/*'))) == 3


def test_splits_and_bad_arguments(tmp_path):
    assert split_sizes(10, 0.1, 0.1) == {'train': 8, 'val': 1, 'test': 1}
    assert split_sizes(3, 0.1, 0.1) == {'train': 1, 'val': 1, 'test': 1}
    assert split_sizes(2, 0.1, 0.1) == {'train': 2, 'val': 0, 'test': 0}
    with pytest.raises(ValueError, match='no training session'):
        split_sizes(2, 0.5, 0.5)
    with pytest.raises(ValueError, match='sessions'):
        write_corpus(tmp_path / 'a', 0, 0, progress=False)
    with pytest.raises(ValueError, match='clip_seconds'):
        write_corpus(tmp_path / 'b', 1, 0, clip_seconds=(12.0, 8.0), progress=False)
    with pytest.raises(ValueError, match='listeners_per_clip'):
        write_corpus(tmp_path / 'c', 1, 0, listeners_per_clip=0, progress=False)


def test_oracle_draws_are_fresh_and_leave_the_corpus_alone(tmp_path):
    kwargs = {'clip_seconds': CLIP_SECONDS, 'listeners_per_clip': 2, 'progress': False}
    plain = write_corpus(tmp_path / 'plain', 3, SEED, **kwargs)
    with_oracle = write_corpus(tmp_path / 'oracle', 3, SEED, oracle=3, **kwargs)
    plain_files, oracle_files = _files(plain.path), _files(with_oracle.path)
    corpus_names = [name for name in oracle_files if name.parts[0] != layout.ORACLE_DIR]
    assert sorted(corpus_names) == sorted(plain_files)
    assert all(oracle_files[name] == plain_files[name] for name in corpus_names
               if name.name != layout.SYNTH_MANIFEST)
    [session] = with_oracle.splits['test']
    for clip in ('clip00', 'clip01'):
        draws = np.load(synth.oracle_path(with_oracle.path, 'test', f'speaker/{session}/{clip}'))
        listener = _attributes(with_oracle.path, 'test', 'listener', session, clip)
        assert draws.shape == (3, *listener.shape) and draws.dtype == np.float32
        ranges = spec.CHANNEL_RANGES[:spec.NUM_ATTRIBUTES]
        assert np.all(draws >= ranges[:, 0]) and np.all(draws <= ranges[:, 1])
        # Fresh draws: unlike each other and unlike every real reaction of the session.
        assert not np.allclose(draws[0], draws[1])
        assert not any(np.allclose(draw, listener) for draw in draws)
    # Only test clips get draws, and the readers do not see them.
    assert len(list((with_oracle.path / layout.ORACLE_DIR).rglob('*.npy'))) == 2
    assert mars.plan(with_oracle.path, 'test').pairs == mars.plan(plain.path, 'test').pairs
