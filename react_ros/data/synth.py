"""
Write a synthetic dyadic corpus in the REACT 2025 (MARS) layout.

    react-ros synth --out DIR --sessions N --seed S

Every session is one speaker performance (espeak-ng speech and a face driven by it) and
listeners_per_clip listener reactions to it (react_ros.data.synth_behaviour). Because the
appropriate reactions to a speaker clip are all listener clips of its session, a session holds
clips clip00, clip01, ...: listener clip k is reaction k, speaker clip k is the one speaker
performance (hard links to the same bytes where the file system allows, else copies). The rules
are in docs/synthetic-corpus.md. Not human data, and no substitute for it.

With oracle K > 0, every test speaker clip also gets K fresh listener draws from the same rules
(a style drawn at random, jittered, new noise): what a perfect generative model of the
listener given this speaker would sample, the ceiling `react-ros eval` scores against. They
live outside the layout the readers walk, in ORACLE_DIR/test/<speaker clip id>.npy as float32
(K, T, 25) attributes, and do not change a byte of the corpus itself.
"""

from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import shutil
import time
from typing import Dict, List, Sequence, Tuple
import wave

import numpy as np
from react_ros import spec
from react_ros.data import layout
from react_ros.data.synth_behaviour import (
    listener_reaction, LISTENER_STYLES, speaker_performance, SpeakerTraits)
from react_ros.speech import synthesize, to_s16le, Voice
from tqdm import tqdm

# Attributes in the first format the MARS reader accepts (upstream ships .npy).
ATTRIBUTE_SUFFIX = layout.MARS_ATTRIBUTE_SUFFIXES[0]
# Clip lengths are whole multiples of 3 frames: 3 frames at 30 fps = 1600 samples at 16 kHz,
# so every clip's audio has exactly T / 30 s of samples.
FRAME_GRANULE = 3
MIN_CLIP_SECONDS = 3.0
# Oracle draws: their own seed streams, so asking for them changes nothing else.
ORACLE_SEED_SALT = 0x0AC1E
ORACLE_SPLITS = ('test',)

# A few fixed voices, so utterances repeat across sessions and the speech cache pays off.
SPEAKER_VOICES = (
    Voice('en-us', pitch=45, speed=160),
    Voice('en-us+f3', pitch=60, speed=170),
    Voice('en-gb', pitch=40, speed=150),
    Voice('en-gb-x-rp+f2', pitch=65, speed=165),
    Voice('en-gb-scotland', pitch=50, speed=155),
    Voice('en-029+f4', pitch=55, speed=160),
    Voice('en-us+m3', pitch=35, speed=175),
    Voice('en-gb+f5', pitch=58, speed=150),
)
# Listeners speak backchannels quietly.
LISTENER_VOICES = tuple(Voice(name, pitch=pitch, speed=150, amplitude=60) for name, pitch in (
    ('en-us+f1', 55), ('en-gb+m7', 40), ('en-us+m2', 45), ('en-gb-scotland+f3', 60),
    ('en-029', 50), ('en-gb-x-rp+f4', 62)))


class SpeechCache:
    """espeak-ng speech memoised by (text, voice) for one run; counts the time spent in it."""

    def __init__(self):
        self._audio: Dict[Tuple[str, Voice], np.ndarray] = {}
        self.synthesis_s = 0.0
        self.requests = 0

    def speak(self, text: str, voice: Voice) -> np.ndarray:
        """Return float32 16 kHz speech of text in voice."""
        self.requests += 1
        key = (text, voice)
        if key not in self._audio:
            start = time.perf_counter()
            self._audio[key] = synthesize(text, voice, spec.AUDIO_SAMPLE_RATE)
            self.synthesis_s += time.perf_counter() - start
        return self._audio[key]

    def voice(self, voice: Voice):
        """Return a speak(text) callable for one voice."""
        return lambda text: self.speak(text, voice)

    @property
    def syntheses(self) -> int:
        """Return how many distinct utterances espeak-ng spoke."""
        return len(self._audio)


@dataclass
class CorpusSummary:
    """What write_corpus wrote."""

    path: Path
    seed: int
    splits: Dict[str, List[str]]
    listeners_per_clip: int
    frames: int
    write_s: float
    speech_s: float
    syntheses: int
    speech_requests: int
    session_s: List[float] = field(default_factory=list)

    def describe(self) -> str:
        """Return a short human-readable report."""
        sessions = sum(len(names) for names in self.splits.values())
        split_counts = ', '.join(f'{split} {len(names)}' for split, names in self.splits.items())
        return (f'{self.path}: {sessions} sessions ({split_counts}), seed {self.seed}, '
                f'{self.listeners_per_clip} listener clips each, '
                f'{self.frames / spec.FPS / 60:.1f} min of speaker behaviour; '
                f'{self.write_s:.1f} s ({self.write_s / max(sessions, 1):.2f} s/session, '
                f'{sessions / max(self.write_s, 1e-9):.1f} sessions/s), espeak-ng '
                f'{self.speech_s:.1f} s for {self.syntheses} utterances '
                f'({self.speech_requests} requests)')


def session_name(index: int) -> str:
    """Return the name of session index (unique across splits)."""
    return f'session{index:04d}'


def clip_name(index: int) -> str:
    """Return the name of clip index within a session."""
    return f'clip{index:02d}'


def clip_files(root: Path, split: str, role: str, session: str, clip: str) -> Dict[str, Path]:
    """Return the attribute, coefficient and audio paths of one clip (layout.py's 2025 layout)."""
    def path(kind: str, suffix: str) -> Path:
        return root / split / kind / role / session / f'{clip}{suffix}'
    return {'attributes': path(layout.MARS_ATTRIBUTES, ATTRIBUTE_SUFFIX),
            'coefficients': path(layout.MARS_COEFFICIENTS, layout.COEFFICIENT_SUFFIX),
            'audio': path(layout.MARS_AUDIO, layout.AUDIO_SUFFIX)}


def oracle_path(root: Path, split: str, speaker_clip_id: str) -> Path:
    """Return where the oracle draws of one speaker clip live (layout.ORACLE_DIR)."""
    return Path(root) / layout.ORACLE_DIR / split / f'{speaker_clip_id}.npy'


def split_sizes(num_sessions: int, val_fraction: float, test_fraction: float) -> Dict[str, int]:
    """
    Return how many sessions go to each split.

    Fractions are rounded; with 3 or more sessions a split with a positive fraction gets at
    least one. Train keeps the rest and must keep at least one.
    """
    for name, fraction in (('val_fraction', val_fraction), ('test_fraction', test_fraction)):
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f'{name} must be in [0, 1), got {fraction}')

    def size(fraction: float) -> int:
        count = int(round(num_sessions * fraction))
        return max(count, 1) if fraction > 0 and num_sessions >= 3 else count
    sizes = {'val': size(val_fraction), 'test': size(test_fraction)}
    sizes['train'] = num_sessions - sizes['val'] - sizes['test']
    if sizes['train'] < 1:
        raise ValueError(f'val_fraction {val_fraction} + test_fraction {test_fraction} leave no '
                         f'training session out of {num_sessions}')
    return {split: sizes[split] for split in layout.SPLITS}


def _session_seeds(seed: int, index: int, listeners: int) -> List[np.random.SeedSequence]:
    # One stream per part, so a session's speaker does not depend on how many listeners follow,
    # and session i is the same whatever the number of sessions: [styles, speaker, listeners].
    return np.random.SeedSequence([seed, index]).spawn(2 + listeners)


def listener_style_names(seed: int, index: int, listeners: int) -> List[str]:
    """Return the listener style of each clip of a session: distinct while styles last."""
    rng = np.random.default_rng(_session_seeds(seed, index, listeners)[0])
    names = []
    while len(names) < listeners:
        names += [LISTENER_STYLES[i].name for i in rng.permutation(len(LISTENER_STYLES))]
    return names[:listeners]


def _prepare_output(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise FileExistsError(f'{out} exists and is not a directory')
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f'{out} is not empty; choose an empty or new directory or '
                                  'pass --overwrite to replace a synthetic corpus there')
        if not (out / layout.SYNTH_MANIFEST).is_file():
            raise FileExistsError(f'{out} is not empty and holds no {layout.SYNTH_MANIFEST}, so '
                                  'it is not a synthetic corpus; refusing to delete it')
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def _write_wav(path: Path, audio: np.ndarray) -> None:
    with wave.open(str(path), 'wb') as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(spec.AUDIO_SAMPLE_RATE)
        wav.writeframes(to_s16le(audio))


def _write_clip(files: Dict[str, Path], frames: np.ndarray, audio: np.ndarray) -> None:
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    attributes = frames[:, :spec.NUM_ATTRIBUTES].astype(np.float32)
    if files['attributes'].suffix == layout.CSV_SUFFIX:
        np.savetxt(files['attributes'], attributes, fmt='%.5f', delimiter=',',
                   header=','.join(spec.ATTRIBUTE_NAMES), comments='')
    else:
        np.save(files['attributes'], attributes)
    np.save(files['coefficients'], frames[:, spec.NUM_ATTRIBUTES:].astype(np.float32))
    _write_wav(files['audio'], audio)


def _link_clip(source: Dict[str, Path], target: Dict[str, Path]) -> None:
    for kind, path in target.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source[kind], path)
        except OSError:  # no hard links on this file system
            shutil.copyfile(source[kind], path)


def _write_oracle(out: Path, split: str, session: str, speaker, draws: int, clips: int,
                  seeds: np.random.SeedSequence, cache: SpeechCache) -> None:
    # Every clip of a session shares the speaker performance; each still gets its own draws.
    clip_seeds = seeds.spawn(clips)
    for clip in range(clips):
        reactions = []
        for draw_seed in clip_seeds[clip].spawn(draws):
            rng = np.random.default_rng(draw_seed)
            style = LISTENER_STYLES[int(rng.integers(len(LISTENER_STYLES)))].jittered(rng)
            voice = LISTENER_VOICES[int(rng.integers(len(LISTENER_VOICES)))]
            frames, _ = listener_reaction(speaker, style, rng, cache.voice(voice))
            reactions.append(frames[:, :spec.NUM_ATTRIBUTES])
        path = oracle_path(out, split, f'speaker/{session}/{clip_name(clip)}')
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, np.stack(reactions).astype(np.float32))


def _check_clip_seconds(clip_seconds: Sequence[float]) -> Tuple[float, float]:
    values = tuple(float(value) for value in clip_seconds)
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or not MIN_CLIP_SECONDS <= values[0] <= values[1]:
        raise ValueError(f'clip_seconds must be one length or a (min, max) range with '
                         f'{MIN_CLIP_SECONDS:g} <= min <= max, got {clip_seconds}')
    return values


def write_corpus(out, sessions: int, seed: int, clip_seconds: Sequence[float] = (10.0, 20.0),
                 listeners_per_clip: int = 4, val_fraction: float = 0.1,
                 test_fraction: float = 0.1, overwrite: bool = False,
                 progress: bool = True, oracle: int = 0) -> CorpusSummary:
    """
    Write sessions synthetic sessions under out; the same seed gives the same bytes.

    clip_seconds is one length or a (min, max) range each session draws from. Sessions
    session0000... go to train, then val, then test (split_sizes). out must be empty or new;
    with overwrite, a previous synthetic corpus there (one with synth-corpus.json) is replaced.
    oracle > 0 also writes that many oracle draws per test speaker clip (oracle_path).
    """
    if sessions < 1:
        raise ValueError(f'sessions must be >= 1, got {sessions}')
    if listeners_per_clip < 1:
        raise ValueError(f'listeners_per_clip must be >= 1, got {listeners_per_clip}')
    if oracle < 0:
        raise ValueError(f'oracle (draws per test clip) must be >= 0, got {oracle}')
    low_s, high_s = _check_clip_seconds(clip_seconds)
    sizes = split_sizes(sessions, val_fraction, test_fraction)
    out = Path(out)
    _prepare_output(out, overwrite)

    splits, index = {}, 0
    for split in layout.SPLITS:
        splits[split] = [session_name(i) for i in range(index, index + sizes[split])]
        index += sizes[split]
    styles = {session_name(i): listener_style_names(seed, i, listeners_per_clip)
              for i in range(sessions)}
    manifest = {
        'generator': 'react_ros.data.synth', 'human_data': False,
        'note': 'synthetic behaviour from documented rules (docs/synthetic-corpus.md); '
                'not human data and not a substitute for it',
        'seed': seed, 'sessions': sessions, 'clip_seconds': [low_s, high_s],
        'listeners_per_clip': listeners_per_clip, 'fps': spec.FPS,
        'audio_sample_rate': spec.AUDIO_SAMPLE_RATE, 'splits': splits,
        'oracle_draws': oracle, 'oracle_splits': list(ORACLE_SPLITS) if oracle else [],
        'listener_styles': {name: dict(zip(map(clip_name, range(listeners_per_clip)), names))
                            for name, names in styles.items()},
    }
    manifest_text = json.dumps(manifest, indent=1, sort_keys=True) + '\n'
    (out / layout.SYNTH_MANIFEST).write_text(manifest_text)

    cache = SpeechCache()
    styles_by_name = {style.name: style for style in LISTENER_STYLES}
    split_of = {name: split for split, names in splits.items() for name in names}
    start = time.perf_counter()
    session_s, total_frames = [], 0
    for index in tqdm(range(sessions), desc='synth', unit='session', disable=not progress):
        session_start = time.perf_counter()
        name = session_name(index)
        seeds = _session_seeds(seed, index, listeners_per_clip)
        speaker_rng = np.random.default_rng(seeds[1])
        num_frames = FRAME_GRANULE * int(round(
            speaker_rng.uniform(low_s, high_s) * spec.FPS / FRAME_GRANULE))
        voice = SPEAKER_VOICES[int(speaker_rng.integers(len(SPEAKER_VOICES)))]
        speaker = speaker_performance(num_frames, SpeakerTraits.sample(speaker_rng), speaker_rng,
                                      cache.voice(voice))
        first = clip_files(out, split_of[name], 'speaker', name, clip_name(0))
        _write_clip(first, speaker.frames, speaker.audio)
        for clip in range(listeners_per_clip):
            if clip > 0:
                _link_clip(first, clip_files(out, split_of[name], 'speaker', name,
                                             clip_name(clip)))
            rng = np.random.default_rng(seeds[2 + clip])
            style = styles_by_name[styles[name][clip]].jittered(rng)
            listener_voice = LISTENER_VOICES[int(rng.integers(len(LISTENER_VOICES)))]
            frames, audio = listener_reaction(speaker, style, rng, cache.voice(listener_voice))
            _write_clip(clip_files(out, split_of[name], 'listener', name, clip_name(clip)),
                        frames, audio)
        if oracle and split_of[name] in ORACLE_SPLITS:
            _write_oracle(out, split_of[name], name, speaker, oracle, listeners_per_clip,
                          np.random.SeedSequence([seed, index, ORACLE_SEED_SALT]), cache)
        total_frames += num_frames
        session_s.append(time.perf_counter() - session_start)
    return CorpusSummary(out, seed, splits, listeners_per_clip, total_frames,
                         time.perf_counter() - start, cache.synthesis_s, cache.syntheses,
                         cache.requests, session_s)
