"""
Real synthetic speech with espeak-ng, as 16 kHz mono float32 audio.

espeak-ng always renders at 22050 Hz, so its WAV output is resampled with sox. Both are
external programs (Debian packages ``espeak-ng`` and ``sox``); a clear error names the one
that is missing. Output is deterministic for the same text and voice settings.
"""

from dataclasses import dataclass
import shutil
import subprocess
from typing import List, Sequence, Tuple

import numpy as np

from react_ros.spec import AUDIO_SAMPLE_RATE

# Samples quieter than this (full scale 1.0) count as silence when trimming an utterance.
SILENCE_THRESHOLD = 1e-3


@dataclass(frozen=True)
class Voice:
    """
    How espeak-ng speaks an utterance.

    name is an espeak-ng voice (``espeak-ng --voices``), pitch is 0-99 (default 50),
    speed is in words per minute (default 175), amplitude is 0-200 (default 100).
    """

    name: str = 'en-us'
    pitch: int = 50
    speed: int = 165
    amplitude: int = 100


def _require_program(program: str, package: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise RuntimeError(
            f'{program} is not installed (needed to synthesise speech); '
            f'install the Debian package {package!r}, e.g. apt-get install {package}')
    return path


def synthesize(text: str, voice: Voice = Voice(),
               sample_rate: int = AUDIO_SAMPLE_RATE, trim: bool = True) -> np.ndarray:
    """
    Speak text with espeak-ng and return mono float32 audio in [-1, 1].

    The audio is resampled to sample_rate with sox. With trim, the leading and trailing
    silence espeak-ng adds is cut, so the result starts and ends with speech.
    """
    if not text.strip():
        raise ValueError('cannot synthesise empty text')
    if not 0 <= voice.pitch <= 99:
        raise ValueError(f'espeak-ng pitch must be in 0..99, got {voice.pitch}')
    if not 80 <= voice.speed <= 450:
        raise ValueError(f'espeak-ng speed must be in 80..450 words per minute, got {voice.speed}')
    if not 0 <= voice.amplitude <= 200:
        raise ValueError(f'espeak-ng amplitude must be in 0..200, got {voice.amplitude}')
    espeak = _require_program('espeak-ng', 'espeak-ng')
    sox = _require_program('sox', 'sox')
    speak = subprocess.run(
        [espeak, '--stdout', '-v', voice.name, '-p', str(voice.pitch), '-s', str(voice.speed),
         '-a', str(voice.amplitude), '-z', text],
        capture_output=True, check=False)
    if speak.returncode != 0 or not speak.stdout:
        raise RuntimeError(f'espeak-ng failed for voice {voice.name!r}: '
                           f'{speak.stderr.decode(errors="replace").strip()}')
    # -D: no dither, so the float output is deterministic.
    resample = subprocess.run(
        [sox, '-D', '-t', 'wav', '-', '-t', 'raw', '-e', 'floating-point', '-b', '32',
         '-c', '1', '-r', str(sample_rate), '-'],
        input=speak.stdout, capture_output=True, check=False)
    if resample.returncode != 0:
        raise RuntimeError(f'sox failed to resample espeak-ng output: '
                           f'{resample.stderr.decode(errors="replace").strip()}')
    audio = np.frombuffer(resample.stdout, dtype='<f4').astype(np.float32)
    if trim:
        audio = trim_silence(audio)
    return audio


def trim_silence(audio: np.ndarray, threshold: float = SILENCE_THRESHOLD) -> np.ndarray:
    """Cut leading and trailing samples whose magnitude is below threshold."""
    loud = np.flatnonzero(np.abs(audio) >= threshold)
    if loud.size == 0:
        return audio[:0]
    return audio[loud[0]:loud[-1] + 1]


def silence(duration_s: float, sample_rate: int = AUDIO_SAMPLE_RATE) -> np.ndarray:
    """Return duration_s seconds of float32 zeros."""
    if duration_s < 0:
        raise ValueError(f'silence duration must be >= 0, got {duration_s}')
    return np.zeros(int(round(duration_s * sample_rate)), dtype=np.float32)


def speak_with_pauses(
        utterances: Sequence[Tuple[str, Voice]], pauses_s: Sequence[float],
        sample_rate: int = AUDIO_SAMPLE_RATE) -> Tuple[np.ndarray, List[Tuple[int, int]]]:
    """
    Join utterances with silent pauses into one track.

    pauses_s has one entry per utterance: the silence placed BEFORE it (use 0 for none).
    Returns the float32 track and the (start, end) sample range of every utterance.
    """
    if len(pauses_s) != len(utterances):
        raise ValueError(f'need one pause per utterance: {len(utterances)} utterances, '
                         f'{len(pauses_s)} pauses')
    pieces = []
    speech_ranges = []
    position = 0
    for (text, voice), pause_s in zip(utterances, pauses_s):
        gap = silence(pause_s, sample_rate)
        speech = synthesize(text, voice, sample_rate)
        position += gap.size
        speech_ranges.append((position, position + speech.size))
        position += speech.size
        pieces += [gap, speech]
    track = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    return track, speech_ranges


def to_s16le(audio: np.ndarray) -> bytes:
    """Convert float audio in [-1, 1] to little-endian signed 16-bit PCM bytes."""
    clipped = np.clip(audio, -1.0, 1.0)
    return np.round(clipped * 32767.0).astype('<i2').tobytes()
