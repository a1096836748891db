"""
Behaviour models of the synthetic dyadic corpus: a speaker who talks and a listener who reacts.

Both produce per-frame facial attributes, 3DMM coefficients and head pose at spec.FPS. The
rules and their parameters are documented in docs/synthetic-corpus.md; this data is made up by
these rules, it is not human behaviour and no substitute for it.

Speech audio comes from a ``speak(text) -> float32 16 kHz audio`` callable, so this module needs
neither espeak-ng nor files (react_ros.data.synth supplies cached espeak-ng voices).
"""

from dataclasses import dataclass, replace
from typing import Callable, List, Sequence, Tuple

import numpy as np

from react_ros import spec

Speak = Callable[[str], np.ndarray]

FPS = spec.FPS
SAMPLES_PER_FRAME = spec.AUDIO_SAMPLE_RATE / FPS
AU = {name: index for index, name in enumerate(spec.AU_NAMES)}

# The AU -> 3DMM expression map is one fixed property of the synthetic world, the same in
# every corpus whatever its seed.
FACE_MAP_SEED = 2025
# (text, tone): tone +1 pleasant (smiles likely), 0 neutral, -1 unpleasant (frowns).
SENTENCES = (
    ('We finally went to the lake last weekend, and it was wonderful!', 1),
    ('My little nephew caught his very first fish.', 1),
    ('You should have seen his face, he was so proud.', 1),
    ('The train was delayed again this morning.', -1),
    ('I waited on the platform for almost an hour.', -1),
    ('Then it started raining, of course.', -1),
    ('I have been reading a book about the history of bread.', 0),
    ('Did you know people baked bread thousands of years ago?', 0),
    ('It is actually more interesting than it sounds.', 0),
    ('My sister is getting married in June!', 1),
    ('We are all flying out to Spain for the wedding.', 1),
    ('I still have not found anything to wear, honestly.', 0),
    ('Our old dog has been sick for a few weeks.', -1),
    ('The vet thinks he will recover, but we are worried.', -1),
    ('He still wags his tail every time I come home.', 1),
    ('At work we are moving to a new building.', 0),
    ('The new office has a rooftop garden, which is great.', 1),
    ('But my commute will be twice as long.', -1),
    ('I started learning the piano in January.', 0),
    ('My neighbours probably hate me by now!', 1),
    ('Last night I finally played a whole song without a mistake.', 1),
    ('Have you ever tried to learn an instrument?', 0),
    ('We cooked dinner for twelve people on Saturday.', 0),
    ('The oven broke halfway through the roast.', -1),
    ('So we ordered pizza, and everyone loved it anyway!', 1),
    ('I think the best plans are the ones that go wrong.', 1),
    ('My phone fell into the sea on holiday.', -1),
    ('I lost all the photos from the trip.', -1),
    ('What would you do if that happened to you?', 0),
    ('Anyway, it is good to talk to you again.', 1),
    ('The weather has been strange this year, hot one day and cold the next.', 0),
    ('I planted tomatoes on the balcony, and they are growing like crazy!', 1),
)

# Speaker pauses: a short one between sentences of a turn, a long one where the speaker pauses
# for the listener (a turn pause), and the silence before the first sentence.
SHORT_PAUSE_S = (0.3, 0.8)
TURN_PAUSE_S = (1.2, 2.2)
TURN_PAUSE_PROB = 0.35
LEAD_IN_S = (0.2, 0.8)

# Spoken listener backchannels.
BACKCHANNEL_WORDS = ('mm-hm', 'yeah', 'right', 'uh-huh', 'okay', 'I see')


@dataclass(frozen=True)
class Utterance:
    """One spoken sentence of the speaker, in clip time."""

    text: str
    tone: int
    start_s: float
    end_s: float

    @property
    def is_question(self) -> bool:
        """Return whether the sentence asks something."""
        return self.text.rstrip().endswith('?')


@dataclass(frozen=True)
class FaceEvent:
    """A smile or a frown: raised-cosine onset, hold and offset over duration_s."""

    kind: str  # 'smile' or 'frown'
    start_s: float
    duration_s: float
    amplitude: float


@dataclass
class SpeakerPerformance:
    """A speaker clip: frames, audio, and the cues a listener reacts to."""

    frames: np.ndarray  # (T, 83)
    audio: np.ndarray  # (T * SAMPLES_PER_FRAME,) float32
    utterances: List[Utterance]
    pauses: List[Tuple[float, float]]  # (start_s, end_s) silences between utterances
    emphases: List[Tuple[float, float]]  # (time_s, strength in [0, 1]) loud syllables
    events: List[FaceEvent]


@dataclass(frozen=True)
class SpeakerTraits:
    """Per-session speaker parameters (drawn by SpeakerTraits.sample)."""

    expressiveness: float  # scales brow and smile amplitudes
    smile_prob: Tuple[float, float, float]  # chance of a smile in a (-1, 0, +1) tone sentence
    duchenne: float  # AU6 / AU12 in a smile
    emphasis_prob: float  # chance a loud syllable gets a brow flash and beat nod
    base_valence: float
    base_arousal: float
    blink_rate_hz: float

    @classmethod
    def sample(cls, rng: np.random.Generator) -> 'SpeakerTraits':
        """Draw one speaker."""
        return cls(expressiveness=float(rng.uniform(0.6, 1.0)),
                   smile_prob=(0.0, float(rng.uniform(0.15, 0.35)),
                               float(rng.uniform(0.6, 0.9))),
                   duchenne=float(rng.uniform(0.3, 0.9)),
                   emphasis_prob=float(rng.uniform(0.5, 0.9)),
                   base_valence=float(rng.uniform(-0.1, 0.35)),
                   base_arousal=float(rng.uniform(-0.1, 0.3)),
                   blink_rate_hz=float(rng.uniform(0.2, 0.4)))


@dataclass(frozen=True)
class ListenerStyle:
    """How a listener reacts; probabilities are per speaker cue (smile, pause, emphasis)."""

    name: str
    mirror_prob: float  # mirror a speaker smile or frown
    mirror_gain: Tuple[float, float]  # listener / speaker amplitude
    mirror_delay_s: Tuple[float, float]  # onset after the speaker's onset
    nod_prob: float  # backchannel nod at a speaker pause
    nod_count: Tuple[int, int]  # nods in a backchannel (inclusive)
    nod_amplitude_rad: Tuple[float, float]  # head pitch of a nod
    emphasis_nod_prob: float  # small nod at a speaker emphasis
    brief_smile_prob: float  # brief smile at a speaker pause
    brow_prob: float  # brow raise at a speaker emphasis
    brow_gain: float
    verbal_prob: float  # spoken backchannel at a speaker pause
    head_tilt_rad: float  # attentive sideways tilt (roll)
    base_valence: float
    contagion: float  # share of the speaker's valence/arousal changes taken up, 1 s later
    blink_rate_hz: float
    baseline_noise: float  # slow AU wander

    def jittered(self, rng: np.random.Generator) -> 'ListenerStyle':
        """Return this style with its probabilities scaled by 0.8-1.2 for one listener."""
        def scale(prob: float) -> float:
            return float(np.clip(prob * rng.uniform(0.8, 1.2), 0.0, 1.0))
        return replace(self, mirror_prob=scale(self.mirror_prob), nod_prob=scale(self.nod_prob),
                       emphasis_nod_prob=scale(self.emphasis_nod_prob),
                       brief_smile_prob=scale(self.brief_smile_prob),
                       brow_prob=scale(self.brow_prob), verbal_prob=scale(self.verbal_prob),
                       head_tilt_rad=self.head_tilt_rad * float(rng.choice([-1.0, 1.0])))


LISTENER_STYLES = (
    ListenerStyle('expressive', mirror_prob=0.95, mirror_gain=(0.8, 1.1),
                  mirror_delay_s=(0.2, 0.5), nod_prob=0.6, nod_count=(1, 2),
                  nod_amplitude_rad=(0.08, 0.12), emphasis_nod_prob=0.2,
                  brief_smile_prob=0.5, brow_prob=0.6, brow_gain=0.8, verbal_prob=0.3,
                  head_tilt_rad=0.06, base_valence=0.2, contagion=0.5, blink_rate_hz=0.3,
                  baseline_noise=0.04),
    ListenerStyle('reserved', mirror_prob=0.6, mirror_gain=(0.35, 0.5),
                  mirror_delay_s=(0.4, 0.8), nod_prob=0.3, nod_count=(1, 1),
                  nod_amplitude_rad=(0.03, 0.05), emphasis_nod_prob=0.05,
                  brief_smile_prob=0.1, brow_prob=0.15, brow_gain=0.4, verbal_prob=0.05,
                  head_tilt_rad=0.02, base_valence=0.0, contagion=0.15, blink_rate_hz=0.25,
                  baseline_noise=0.02),
    ListenerStyle('nodder', mirror_prob=0.7, mirror_gain=(0.5, 0.7),
                  mirror_delay_s=(0.3, 0.7), nod_prob=0.9, nod_count=(2, 3),
                  nod_amplitude_rad=(0.08, 0.15), emphasis_nod_prob=0.5,
                  brief_smile_prob=0.2, brow_prob=0.3, brow_gain=0.5, verbal_prob=0.2,
                  head_tilt_rad=0.03, base_valence=0.1, contagion=0.3, blink_rate_hz=0.3,
                  baseline_noise=0.03),
    ListenerStyle('warm', mirror_prob=1.0, mirror_gain=(0.9, 1.2),
                  mirror_delay_s=(0.2, 0.6), nod_prob=0.4, nod_count=(1, 2),
                  nod_amplitude_rad=(0.05, 0.09), emphasis_nod_prob=0.15,
                  brief_smile_prob=0.7, brow_prob=0.3, brow_gain=0.5, verbal_prob=0.25,
                  head_tilt_rad=0.05, base_valence=0.35, contagion=0.4, blink_rate_hz=0.3,
                  baseline_noise=0.03),
    ListenerStyle('attentive', mirror_prob=0.5, mirror_gain=(0.3, 0.5),
                  mirror_delay_s=(0.3, 0.8), nod_prob=0.4, nod_count=(1, 1),
                  nod_amplitude_rad=(0.04, 0.07), emphasis_nod_prob=0.1,
                  brief_smile_prob=0.15, brow_prob=0.35, brow_gain=0.5, verbal_prob=0.1,
                  head_tilt_rad=0.08, base_valence=0.05, contagion=0.2, blink_rate_hz=0.2,
                  baseline_noise=0.015),
)


# ----------------------------------------------------------------------------- signals

def _frame_times(num_frames: int) -> np.ndarray:
    return np.arange(num_frames) / FPS


def _smoothstep(x: np.ndarray) -> np.ndarray:
    """Rise along a raised cosine from 0 (x <= 0) to 1 (x >= 1)."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0.0, 1.0))


def pulse(num_frames: int, start_s: float, attack_s: float, hold_s: float,
          release_s: float) -> np.ndarray:
    """Return a (T,) 0-1 raised-cosine pulse: rise over attack_s, hold, fall over release_s."""
    t = _frame_times(num_frames) - start_s
    rise = _smoothstep(t / attack_s)
    fall = 1.0 - _smoothstep((t - attack_s - hold_s) / release_s)
    return rise * fall


def event_shape(num_frames: int, event: FaceEvent) -> np.ndarray:
    """Return the (T,) amplitude course of a smile or frown."""
    attack = min(0.35, event.duration_s / 3)
    release = min(0.5, event.duration_s / 3)
    hold = event.duration_s - attack - release
    return event.amplitude * pulse(num_frames, event.start_s, attack, hold, release)


def nods(num_frames: int, start_s: float, count: int, amplitude_rad: float,
         period_s: float = 0.45) -> np.ndarray:
    """Return the (T,) head pitch of count down-up nods; positive pitch is face down."""
    phase = (_frame_times(num_frames) - start_s) / period_s
    inside = (phase >= 0) & (phase < count)
    return np.where(inside, amplitude_rad * 0.5 * (1 - np.cos(2 * np.pi * phase)), 0.0)


def slow_noise(rng: np.random.Generator, num_frames: int, sigma: float,
               smooth_s: float) -> np.ndarray:
    """Return (T,) Gaussian noise of std sigma, smoothed over about smooth_s."""
    width = max(1, int(round(smooth_s * FPS)))
    window = np.hanning(width + 2)[1:-1]
    white = rng.standard_normal(num_frames + width - 1)
    return sigma * np.convolve(white, window / np.sqrt(np.sum(window ** 2)), mode='valid')


def blinks(rng: np.random.Generator, num_frames: int, rate_hz: float,
           extra_s: Sequence[float] = ()) -> np.ndarray:
    """Return (T,) eyelid closure in [0, 1]: random blinks at rate_hz plus blinks at extra_s."""
    duration_s = num_frames / FPS
    times = list(extra_s)
    position = float(rng.exponential(1.0 / rate_hz))
    while position < duration_s:
        times.append(position)
        position += 0.6 + float(rng.exponential(1.0 / rate_hz))  # no blink within 0.6 s
    closure = np.zeros(num_frames)
    for time_s in times:
        closure = np.maximum(closure, pulse(num_frames, time_s, 0.06, 0.03, 0.1))
    return closure


def delayed(values: np.ndarray, delay_s: float) -> np.ndarray:
    """Return values shifted later by delay_s, holding the first value at the start."""
    shift = int(round(delay_s * FPS))
    if shift <= 0:
        return values.copy()
    shift = min(shift, len(values))
    return np.concatenate([np.repeat(values[:1], shift, axis=0), values[:len(values) - shift]])


def loudness_envelope(audio: np.ndarray, num_frames: int) -> np.ndarray:
    """
    Return the (T,) per-frame loudness of audio in [0, 1].

    Frame RMS, smoothed over 3 frames, divided by the 95th percentile of the voiced frames
    (so a voice's loud syllables reach about 1 whatever its volume), clipped to 1.
    """
    edges = np.round(np.arange(num_frames) * SAMPLES_PER_FRAME).astype(int)
    energy = np.add.reduceat(np.square(audio.astype(np.float64)), edges)
    counts = np.diff(np.append(edges, audio.size))
    rms = np.sqrt(energy / np.maximum(counts, 1))
    rms = np.convolve(rms, np.ones(3) / 3, mode='same')
    voiced = rms[rms > 1e-3]
    if voiced.size == 0:
        return np.zeros(num_frames)
    return np.clip(rms / np.percentile(voiced, 95), 0.0, 1.0)


def place_audio(track: np.ndarray, audio: np.ndarray, start_s: float) -> Tuple[float, float]:
    """Add audio into track from start_s (cut at its end); return the (start_s, end_s) used."""
    start = int(round(start_s * spec.AUDIO_SAMPLE_RATE))
    end = min(track.size, start + audio.size)
    if end > start:
        track[start:end] += audio[:end - start]
    rate = spec.AUDIO_SAMPLE_RATE
    return start / rate, max(start, end) / rate


# ------------------------------------------------------------------------- face layout

def _face_map() -> Tuple[np.ndarray, np.ndarray]:
    """Return the fixed (52, 15) AU -> expression map and the (52,) eyelid (blink) direction."""
    rng = np.random.default_rng(FACE_MAP_SEED)
    num_expression = len(spec.MM_EXPRESSION_NAMES)
    au_map = np.zeros((num_expression, len(spec.AU_NAMES)))
    for column in range(len(spec.AU_NAMES)):
        rows = rng.choice(num_expression, size=4, replace=False)
        au_map[rows, column] = rng.choice([-1.0, 1.0], size=4) * rng.uniform(0.3, 0.8, size=4)
    blink_direction = np.zeros(num_expression)
    blink_direction[rng.choice(num_expression, size=2, replace=False)] = rng.uniform(0.8, 1.2, 2)
    return au_map, blink_direction


AU_TO_EXPRESSION, BLINK_DIRECTION = _face_map()

# Expression logits: {expression: ({feature: weight}, bias)}, features = AUs, valence, arousal.
EXPRESSION_RULES = {
    'neutral': ({}, 1.2),
    'happy': ({'AU12': 3.0, 'AU6': 1.5, 'valence': 1.5}, -0.5),
    'sad': ({'AU15': 3.0, 'AU1': 1.0, 'AU4': 0.8, 'valence': -1.5}, -0.8),
    'surprise': ({'AU1': 1.5, 'AU2': 1.5, 'AU26': 1.0, 'arousal': 0.8}, -1.5),
    'fear': ({'AU1': 1.0, 'AU4': 1.2, 'AU25': 0.8, 'valence': -0.5, 'arousal': 0.5}, -2.0),
    'disgust': ({'AU9': 2.5, 'AU10': 1.0, 'AU17': 0.5, 'valence': -0.8}, -2.0),
    'anger': ({'AU4': 2.0, 'AU7': 1.0, 'AU23': 1.0, 'AU24': 0.8, 'valence': -0.8}, -2.0),
    'contempt': ({'AU14': 2.0, 'valence': -0.3}, -2.0),
}


def _expression_matrix() -> Tuple[np.ndarray, np.ndarray]:
    features = spec.AU_NAMES + spec.AFFECT_NAMES
    weights = np.zeros((len(spec.EXPRESSION_NAMES), len(features)))
    bias = np.zeros(len(spec.EXPRESSION_NAMES))
    for row, name in enumerate(spec.EXPRESSION_NAMES):
        rule, bias[row] = EXPRESSION_RULES[name]
        for feature, weight in rule.items():
            weights[row, features.index(feature)] = weight
    return weights, bias


EXPRESSION_WEIGHTS, EXPRESSION_BIAS = _expression_matrix()


class Face:
    """Per-frame face of one person, built up cue by cue, then composed into 83 channels."""

    def __init__(self, num_frames: int, rng: np.random.Generator, baseline_noise: float):
        self.num_frames = num_frames
        # AUs wander slowly around a small resting level.
        self.aus = np.stack([0.05 + slow_noise(rng, num_frames, baseline_noise, 1.5)
                             for _ in spec.AU_NAMES], axis=1)  # (T, 15)
        self.valence = np.zeros(num_frames)
        self.arousal = np.zeros(num_frames)
        self.rotation = np.zeros((num_frames, 3))  # (T, 3) pitch, yaw, roll
        self.blink = np.zeros(num_frames)
        self.resting_expression = rng.normal(0.0, 0.05, len(spec.MM_EXPRESSION_NAMES))
        self._rng = rng

    def add(self, au_name: str, values: np.ndarray) -> None:
        """Add a (T,) contribution to one AU."""
        self.aus[:, AU[au_name]] += values

    def frames(self) -> np.ndarray:
        """Return (T, 83) frames in spec order, every channel inside spec.CHANNEL_RANGES."""
        aus = np.clip(self.aus, 0.0, 1.0)
        affect = np.clip(np.stack([self.valence, self.arousal], axis=1), -1.0, 1.0)  # (T, 2)
        logits = np.concatenate([aus, affect], axis=1) @ EXPRESSION_WEIGHTS.T + EXPRESSION_BIAS
        logits -= logits.max(axis=1, keepdims=True)
        expressions = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)  # (T, 8)
        mm_expression = (aus @ AU_TO_EXPRESSION.T + self.blink[:, None] * BLINK_DIRECTION
                         + self.resting_expression)  # (T, 52)
        pitch, yaw = self.rotation[:, 0], self.rotation[:, 1]
        rng, num_frames = self._rng, self.num_frames
        # The head centre moves a little with turns and nods, plus a slow sway.
        translation = np.stack([0.04 * np.sin(yaw) + slow_noise(rng, num_frames, 0.005, 2.0),
                                -0.03 * np.sin(pitch) + slow_noise(rng, num_frames, 0.004, 2.0),
                                slow_noise(rng, num_frames, 0.01, 3.0)], axis=1)  # (T, 3)
        frames = np.concatenate([aus, affect, expressions, mm_expression, self.rotation,
                                 translation], axis=1)
        return np.clip(frames, spec.CHANNEL_RANGES[:, 0], spec.CHANNEL_RANGES[:, 1])


# ---------------------------------------------------------------------------- speaker

def plan_speech(num_frames: int, rng: np.random.Generator, speak: Speak
                ) -> Tuple[np.ndarray, List[Utterance], List[Tuple[float, float]]]:
    """
    Fill num_frames of audio with sentences separated by short and turn pauses.

    Returns the float32 track (cut at the clip end, mid-sentence if need be), the utterances
    and the pauses between them.
    """
    track = np.zeros(int(round(num_frames * SAMPLES_PER_FRAME)), dtype=np.float32)
    duration_s = num_frames / FPS
    order = rng.permutation(len(SENTENCES))
    utterances, pauses = [], []
    position = float(rng.uniform(*LEAD_IN_S))
    while position < duration_s:
        text, tone = SENTENCES[order[len(utterances) % len(order)]]
        start_s, end_s = place_audio(track, speak(text), position)
        utterances.append(Utterance(text, tone, start_s, end_s))
        turn = rng.random() < TURN_PAUSE_PROB
        pause_s = float(rng.uniform(*(TURN_PAUSE_S if turn else SHORT_PAUSE_S)))
        if end_s + pause_s < duration_s:
            pauses.append((end_s, end_s + pause_s))
        position = end_s + pause_s
    return track, utterances, pauses


def find_emphases(loudness: np.ndarray, utterances: Sequence[Utterance],
                  rng: np.random.Generator, keep_prob: float) -> List[Tuple[float, float]]:
    """
    Pick loud syllables: local loudness peaks above the utterance's 80th percentile.

    Peaks at least 0.5 s apart, loudest first; each kept with keep_prob. Returns
    (time_s, strength) with strength the peak loudness.
    """
    smooth = np.convolve(loudness, np.ones(5) / 5, mode='same')
    emphases = []
    for utterance in utterances:
        first = int(utterance.start_s * FPS)
        last = min(int(utterance.end_s * FPS), smooth.size - 1)
        if last - first < 3:
            continue
        segment = smooth[first:last + 1]
        threshold = np.percentile(segment, 80)
        peaks = [i for i in range(1, segment.size - 1)
                 if segment[i] >= segment[i - 1] and segment[i] > segment[i + 1]
                 and segment[i] > threshold]
        chosen = []
        for peak in sorted(peaks, key=lambda i: -segment[i]):
            if all(abs(peak - other) >= 0.5 * FPS for other in chosen):
                chosen.append(peak)
        for peak in sorted(chosen):
            if rng.random() < keep_prob:
                emphases.append(((first + peak) / FPS, float(segment[peak])))
    return emphases


def plan_face_events(utterances: Sequence[Utterance], traits: SpeakerTraits,
                     rng: np.random.Generator) -> List[FaceEvent]:
    """Smiles in pleasant and neutral sentences, frowns in unpleasant ones; at least one smile."""
    events = []
    for utterance in utterances:
        length = utterance.end_s - utterance.start_s
        if utterance.tone < 0 and rng.random() < 0.6:
            onset_s = utterance.start_s + float(rng.uniform(0, 0.5)) * length
            events.append(FaceEvent('frown', onset_s, float(rng.uniform(1.0, 2.0)),
                                    float(rng.uniform(0.3, 0.6)) * traits.expressiveness))
        if rng.random() < traits.smile_prob[utterance.tone + 1]:
            events.append(_smile(utterance, traits, rng))
    if not any(event.kind == 'smile' for event in events):
        events.append(_smile(utterances[int(rng.integers(len(utterances)))], traits, rng))
    return events


def _smile(utterance: Utterance, traits: SpeakerTraits, rng: np.random.Generator) -> FaceEvent:
    # Smiles start in the second half of a sentence and often outlast it.
    length = utterance.end_s - utterance.start_s
    return FaceEvent('smile', utterance.start_s + float(rng.uniform(0.3, 0.9)) * length,
                     float(rng.uniform(0.8, 2.5)),
                     float(rng.uniform(0.5, 1.0)) * traits.expressiveness)


def speaker_performance(num_frames: int, traits: SpeakerTraits, rng: np.random.Generator,
                        speak: Speak) -> SpeakerPerformance:
    """Speak for num_frames and derive the speaker's face and head from the speech."""
    audio, utterances, pauses = plan_speech(num_frames, rng, speak)
    loudness = loudness_envelope(audio, num_frames)
    emphases = find_emphases(loudness, utterances, rng, traits.emphasis_prob)
    events = plan_face_events(utterances, traits, rng)
    face = Face(num_frames, rng, baseline_noise=0.03)

    # Talking mouth follows the loudness envelope.
    face.add('AU25', 0.85 * loudness ** 0.6)
    face.add('AU26', 0.7 * loudness)
    face.add('AU10', 0.25 * loudness)

    smile = np.zeros(num_frames)
    frown = np.zeros(num_frames)
    for event in events:
        target = smile if event.kind == 'smile' else frown
        np.maximum(target, event_shape(num_frames, event), out=target)
    face.add('AU12', smile)
    face.add('AU6', traits.duchenne * smile)
    face.add('AU7', 0.3 * smile + 0.3 * frown)
    face.add('AU4', 0.8 * frown)
    face.add('AU15', 0.9 * frown)

    brows = np.zeros(num_frames)
    beat = np.zeros(num_frames)
    for time_s, strength in emphases:
        amplitude = traits.expressiveness * strength * float(rng.uniform(0.5, 0.9))
        np.maximum(brows, amplitude * pulse(num_frames, time_s - 0.1, 0.1, 0.15, 0.3), out=brows)
        beat += nods(num_frames, time_s - 0.05, 1, 0.04 * strength, period_s=0.35)
    for utterance in utterances:
        if utterance.is_question:  # questions end with raised brows held into the pause
            np.maximum(brows, 0.5 * traits.expressiveness * pulse(
                num_frames, utterance.end_s - 0.6, 0.2, 0.6, 0.4), out=brows)
    face.add('AU1', brows)
    face.add('AU2', 0.8 * brows)

    pause_starts = []
    for start_s, end_s in pauses:
        pause_starts.append(start_s)
        face.add('AU24', float(rng.uniform(0.2, 0.4)) * pulse(num_frames, start_s, 0.15, 0.2,
                                                              0.3))
        if end_s - start_s >= TURN_PAUSE_S[0] and rng.random() < 0.3:  # thinking frown
            face.add('AU4', float(rng.uniform(0.3, 0.5)) * pulse(num_frames, end_s - 0.7, 0.2,
                                                                 0.3, 0.2))
    face.blink = blinks(rng, num_frames, traits.blink_rate_hz, extra_s=pause_starts)

    speaking = np.convolve(loudness, np.ones(30) / 30, mode='same')  # about 1 s activity
    face.valence = traits.base_valence + 0.55 * smile - 0.5 * frown + slow_noise(
        rng, num_frames, 0.05, 2.0)
    face.arousal = (traits.base_arousal + 0.35 * speaking + 0.25 * brows + 0.1 * smile
                    + slow_noise(rng, num_frames, 0.05, 2.0))
    # Head: slow drift, turns while talking, beat nods on loud syllables.
    face.rotation[:, 0] = slow_noise(rng, num_frames, 0.04, 2.5) + beat
    face.rotation[:, 1] = (slow_noise(rng, num_frames, 0.08, 3.0)
                           + speaking * slow_noise(rng, num_frames, 0.06, 1.0))
    face.rotation[:, 2] = slow_noise(rng, num_frames, 0.03, 3.0)
    return SpeakerPerformance(face.frames(), audio, utterances, pauses, emphases, events)


# --------------------------------------------------------------------------- listener

def listener_reaction(speaker: SpeakerPerformance, style: ListenerStyle,
                      rng: np.random.Generator, speak: Speak) -> Tuple[np.ndarray, np.ndarray]:
    """
    React to a speaker clip in a style; return (T, 83) frames and the listener's audio.

    The audio is silence except spoken backchannels (speak(word)) at some speaker pauses.
    """
    num_frames = speaker.frames.shape[0]
    face = Face(num_frames, rng, style.baseline_noise)
    smile = np.zeros(num_frames)
    frown = np.zeros(num_frames)
    for event in speaker.events:  # mirroring, late and scaled
        if rng.random() >= style.mirror_prob:
            continue
        mirrored = FaceEvent(event.kind, event.start_s + float(rng.uniform(*style.mirror_delay_s)),
                             event.duration_s * float(rng.uniform(0.7, 1.2)),
                             min(1.0, event.amplitude * float(rng.uniform(*style.mirror_gain))))
        target = smile if event.kind == 'smile' else frown
        # Listeners mirror a frown as concern, more faintly than a smile.
        scale = 1.0 if event.kind == 'smile' else 0.7
        np.maximum(target, scale * event_shape(num_frames, mirrored), out=target)

    pitch = np.zeros(num_frames)
    audio = np.zeros_like(speaker.audio)
    nod_starts = []
    for start_s, _ in speaker.pauses:  # backchannels
        if rng.random() < style.nod_prob:
            nod_start = start_s + float(rng.uniform(0.1, 0.4))
            nod_starts.append(nod_start)
            pitch += nods(num_frames, nod_start, int(rng.integers(style.nod_count[0],
                                                                  style.nod_count[1] + 1)),
                          float(rng.uniform(*style.nod_amplitude_rad)))
        if rng.random() < style.brief_smile_prob:
            brief = FaceEvent('smile', start_s + float(rng.uniform(0.0, 0.3)),
                              float(rng.uniform(0.5, 0.9)), float(rng.uniform(0.25, 0.5)))
            np.maximum(smile, event_shape(num_frames, brief), out=smile)
        if rng.random() < style.verbal_prob:
            word = BACKCHANNEL_WORDS[int(rng.integers(len(BACKCHANNEL_WORDS)))]
            place_audio(audio, speak(word), start_s + float(rng.uniform(0.15, 0.35)))

    brows = np.zeros(num_frames)
    for time_s, strength in speaker.emphases:
        if rng.random() < style.brow_prob:
            amplitude = style.brow_gain * strength * float(rng.uniform(0.6, 1.0))
            onset = time_s + float(rng.uniform(0.15, 0.45))
            np.maximum(brows, amplitude * pulse(num_frames, onset, 0.15, 0.2, 0.35), out=brows)
        if rng.random() < style.emphasis_nod_prob:
            pitch += nods(num_frames, time_s + float(rng.uniform(0.1, 0.3)), 1,
                          0.5 * float(rng.uniform(*style.nod_amplitude_rad)))

    loudness = loudness_envelope(audio, num_frames)
    face.add('AU25', 0.8 * loudness ** 0.6 + 0.15 * smile)
    face.add('AU26', 0.4 * loudness)
    face.add('AU10', 0.15 * loudness + 0.05 * smile)
    face.add('AU12', smile)
    face.add('AU6', float(rng.uniform(0.4, 0.8)) * smile)
    face.add('AU7', 0.25 * smile)
    face.add('AU1', brows + 0.5 * frown)
    face.add('AU2', 0.8 * brows)
    face.add('AU4', 0.6 * frown)
    face.blink = blinks(rng, num_frames, style.blink_rate_hz, extra_s=nod_starts)

    speaker_affect = speaker.frames[:, spec.AFFECT_SLICE]
    contagion = style.contagion * delayed(speaker_affect - speaker_affect.mean(axis=0), 1.0)
    face.valence = (style.base_valence + 0.6 * smile - 0.4 * frown + contagion[:, 0]
                    + slow_noise(rng, num_frames, 0.04, 2.0))
    face.arousal = (float(rng.uniform(-0.1, 0.1)) + 0.3 * smile + 0.3 * brows
                    + contagion[:, 1] + slow_noise(rng, num_frames, 0.04, 2.0))
    # Head: faces the speaker with an attentive tilt; nods are pitch, small drift otherwise.
    face.rotation[:, 0] = pitch + slow_noise(rng, num_frames, 0.02, 3.0)
    face.rotation[:, 1] = float(rng.uniform(-0.08, 0.08)) + slow_noise(rng, num_frames, 0.03, 3.0)
    face.rotation[:, 2] = style.head_tilt_rad + slow_noise(rng, num_frames, 0.02, 3.0)
    return face.frames(), audio
