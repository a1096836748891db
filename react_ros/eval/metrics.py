"""
The REACT challenge metrics over the 25 facial attributes, in two modes.

Inputs, for N inputs (speaker clips, or segments of them) of T_i frames each:
- predictions: N arrays (K, T_i, 25), K generated listener reactions per input (or one
  (N, K, T, 25) array when all inputs have T frames);
- appropriate: N arrays (M_i, T_i, 25), the real reactions judged appropriate for input i;
- speakers: N arrays (T_i, 25), the speaker attributes (for FRSyn).

`official=True` reproduces the challenge code (reactmultimodalchallenge/baseline_react2023
metric/*.py and baseline_react2024 regnn/metric/*.py) including its quirks; the default mode
fixes them. docs/metrics.md lists every difference. `Scores` computes the per-input terms once
and aggregates them over any subset of the inputs and per channel group.
"""

import numpy as np

from react_ros.eval.dtw import dtw_pairs
from react_ros.spec import AFFECT_SLICE, AU_SLICE, EXPRESSION_SLICE, NUM_ATTRIBUTES

# The attribute groups of FRDist, also those of the per-group breakdown.
CHANNEL_GROUPS = {'AUs': AU_SLICE, 'valence_arousal': AFFECT_SLICE,
                  'expressions': EXPRESSION_SLICE}
# FRDist: one DTW per group, weighted by 1 / channels of the group.
DTW_GROUP_WEIGHTS = {'AUs': 1.0 / 15.0, 'valence_arousal': 1.0, 'expressions': 1.0 / 8.0}
ALL_CHANNELS = slice(None)
# The challenge's CCC adds this to its denominator.
OFFICIAL_CCC_EPSILON = 1e-8
# TLCC lag window: 2 s. The challenge code computes it at 25 frames/s whatever the data rate,
# as range(-(2 * 25 - 1), 2 * 25): lags -49..49 frames.
TLCC_SECONDS = 2.0
OFFICIAL_TLCC_FPS = 25
# Realism proxy: windows of 10 frames (1/3 s at 30 frames/s), every 5 frames.
FRECHET_WINDOW = 10
FRECHET_STRIDE = 5

METRIC_NAMES = ('FRCorr', 'FRDist', 'FRDiv', 'FRVar', 'FRDvs', 'FRSyn', 'FRRea_proxy')
# What the per-group breakdown reports.
GROUP_METRICS = ('FRCorr', 'FRDist', 'FRDiv', 'FRVar')
# Summed over the K samples of an input: rows with different K compare per sample.
SUMMED_OVER_SAMPLES = ('FRCorr', 'FRDist')
# The columns format_table adds for a reference row (the Oracle): a share of its value.
RATIO_METRICS = ('FRCorr', 'FRDist')
RATIO_SUFFIX = '/O'
# Which way is better, for tables.
HIGHER_IS_BETTER = {'FRCorr': True, 'FRDist': False, 'FRDiv': True, 'FRVar': True,
                    'FRDvs': True, 'FRSyn': False, 'FRRea_proxy': False}
_TABLE_FORMATS = {'FRCorr': '.3f', 'FRDist': '.2f', 'FRDiv': '.4f', 'FRVar': '.4f',
                  'FRDvs': '.4f', 'FRSyn': '.2f', 'FRRea_proxy': '.3f'}
_RATIO_FORMAT = '.3f'


def evaluate(predictions, appropriate, speakers, official=False, fps=30.0, dtw_workers=None):
    """
    Return every REACT metric of predictions as a dict keyed by METRIC_NAMES.

    predictions: N arrays (K, T_i, 25) or one (N, K, T, 25); appropriate: N arrays
    (M_i, T_i, 25); speakers: N arrays (T_i, 25). official selects the challenge code's
    behaviour, quirks included; fps is the frame rate of the data (the corrected FRSyn's
    +/-2 s lag window; the official one ignores it).
    """
    return Scores(predictions, appropriate, speakers, official, fps, dtw_workers).metrics()


class Scores:
    """
    The per-input terms of every metric, computed once: the DTWs are the slow part.

    metrics() aggregates them as evaluate() does, over all inputs or a subset of them;
    channel_groups() scores each group of CHANNEL_GROUPS on its own.
    """

    def __init__(self, predictions, appropriate, speakers, official=False, fps=30.0,
                 dtw_workers=None):
        self.predictions = check_predictions(predictions)
        self.appropriate = check_appropriate(appropriate, self.predictions)
        self.speakers = check_speakers(speakers, self.predictions)
        self.official = official
        self.cccs = _cccs(self.predictions, self.appropriate, official)  # (K, M_i, 25) each
        # (groups, K, M_i) each
        self.distances = _group_distances(self.predictions, self.appropriate, dtw_workers)
        self.offsets = _sync_offsets(self.predictions, self.speakers, official, fps)

    def metrics(self, inputs=None) -> dict:
        """Return every metric over the inputs listed (default: all), keyed by METRIC_NAMES."""
        inputs = self._inputs(inputs)
        predictions = [self.predictions[index] for index in inputs]
        reactions = [reaction for index in inputs for reaction in self.appropriate[index]]
        return {
            'FRCorr': _mean_best_ccc([self.cccs[index] for index in inputs]),
            'FRDist': _mean_nearest([self.distances[index].sum(axis=0) for index in inputs]),
            'FRDiv': _frdiv(predictions, self.official),
            'FRVar': _frvar(predictions),
            'FRDvs': frdvs(predictions),
            'FRSyn': _mean_offset([self.offsets[index] for index in inputs]),
            'FRRea_proxy': frechet_window_distance(
                [sample for samples in predictions for sample in samples], reactions),
        }

    def channel_groups(self, inputs=None) -> dict:
        """
        Return GROUP_METRICS of each channel group, as if the metrics had those channels only.

        FRCorr takes the best reaction by the group's CCC, FRDist the nearest by the group's
        weighted DTW term, so the groups' FRDist need not add up to the FRDist of all.
        """
        inputs = self._inputs(inputs)
        predictions = [self.predictions[index] for index in inputs]
        groups = {}
        for position, (name, channels) in enumerate(CHANNEL_GROUPS.items()):
            groups[name] = {
                'FRCorr': _mean_best_ccc([self.cccs[index] for index in inputs], channels),
                'FRDist': _mean_nearest([self.distances[index][position] for index in inputs]),
                'FRDiv': _frdiv(predictions, self.official, channels),
                'FRVar': _frvar(predictions, channels),
            }
        return groups

    def _inputs(self, inputs):
        inputs = range(len(self.predictions)) if inputs is None else list(inputs)
        if not inputs:
            raise ValueError('no input to score')
        return inputs


def share_of(metrics, samples, reference, reference_samples):
    """
    Return each metric of a row as a share of a reference row's (None where undefined).

    samples and reference_samples are the rows' K: FRCorr and FRDist sum over the samples of
    an input, so they compare per sample.
    """
    shares = {}
    for name in METRIC_NAMES:
        value, base = metrics[name], reference[name]
        if name in SUMMED_OVER_SAMPLES:
            value, base = value / samples, base / reference_samples
        defined = np.isfinite(value) and np.isfinite(base) and base != 0
        shares[name] = float(value / base) if defined else None
    return shares


def format_table(rows, ratios=None):
    """
    Return a text table of metric rows: one line per name, one column per metric.

    rows maps a row name (a method or baseline) to a metrics dict such as evaluate() returns;
    metrics a row lacks print as '-'. ratios, if given, maps row names to share_of() dicts:
    their RATIO_METRICS are added as columns such as 'FRCorr/O'.
    """
    if ratios:
        rows = {name: {**metrics, **{metric + RATIO_SUFFIX: ratios.get(name, {}).get(metric)
                                     for metric in RATIO_METRICS}}
                for name, metrics in rows.items()}
    names = [str(name) for name in rows]
    name_width = max([len('method')] + [len(name) for name in names])
    known = METRIC_NAMES + tuple(metric + RATIO_SUFFIX for metric in RATIO_METRICS)
    columns = [column for column in known if any(column in metrics for metrics in rows.values())]
    cells = [[_format_value(metrics.get(column), _TABLE_FORMATS.get(column, _RATIO_FORMAT))
              for column in columns] for metrics in rows.values()]
    widths = [max([len(column)] + [len(row[index]) for row in cells])
              for index, column in enumerate(columns)]
    lines = ['  '.join(['method'.ljust(name_width)]
                       + [column.rjust(width) for column, width in zip(columns, widths)])]
    lines.append('-' * len(lines[0]))
    for name, row in zip(names, cells):
        lines.append('  '.join([name.ljust(name_width)]
                               + [cell.rjust(width) for cell, width in zip(row, widths)]))
    better = [f'{column} '
              f'{"higher" if HIGHER_IS_BETTER[column.removesuffix(RATIO_SUFFIX)] else "lower"}'
              for column in columns]
    lines.append('better: ' + ', '.join(better))
    return '\n'.join(lines)


def _format_value(value, spec):
    if value is None:
        return '-'
    return format(float(value), spec)


# ---- input checks ----

def check_predictions(predictions):
    """Return predictions as a list of float64 (K, T_i, 25), or raise ValueError naming why."""
    checked = check_sequences(predictions, 'predictions', ('samples', 'frames'))
    counts = sorted({len(samples) for samples in checked})
    if len(counts) > 1:
        raise ValueError(f'every input needs the same number of samples; predictions hold '
                         f'{", ".join(map(str, counts))}')
    return checked


def check_appropriate(appropriate, predictions):
    """Return the appropriate reactions as a list of float64 (M_i, T_i, 25), checked."""
    if len(appropriate) != len(predictions):
        raise ValueError(f'appropriate holds {len(appropriate)} sets but there are '
                         f'{len(predictions)} inputs')
    checked = check_sequences(appropriate, 'appropriate', ('reactions', 'frames'))
    _check_frames(checked, 'appropriate', predictions)
    return checked


def check_speakers(speakers, predictions):
    """Return speakers as a list of float64 (T_i, 25) matching the predictions, checked."""
    if len(speakers) != len(predictions):
        raise ValueError(f'speakers must be one per input: {len(speakers)} for '
                         f'{len(predictions)} inputs')
    checked = check_sequences(speakers, 'speakers', ('frames',))
    _check_frames(checked, 'speakers', predictions)
    return checked


def check_sequences(sequences, name, axes):
    """
    Return sequences as a list of float64 arrays (*axes, 25), one per input, checked.

    sequences is a list (inputs may differ in length) or one array (inputs, *axes, 25); axes
    names the leading axes for messages, the last of them frames.
    """
    shape = ', '.join(axes + (str(NUM_ATTRIBUTES),))
    expected = f'{name} must be a list of ({shape}) per input or one (inputs, {shape}) array'
    if isinstance(sequences, np.ndarray) and sequences.ndim != len(axes) + 2:
        raise ValueError(f'{expected}, got shape {sequences.shape}')
    if len(sequences) == 0:
        raise ValueError(f'{name} hold no input')
    checked = []
    for index, sequence in enumerate(sequences):
        sequence = np.asarray(sequence, dtype=np.float64)
        if sequence.ndim != len(axes) + 1 or sequence.shape[-1] != NUM_ATTRIBUTES:
            raise ValueError(f'{expected}; {name}[{index}] has shape {sequence.shape}')
        if 0 in sequence.shape:
            raise ValueError(f'{name}[{index}] is empty: shape {sequence.shape}')
        if not np.all(np.isfinite(sequence)):
            raise ValueError(f'{name}[{index}] holds NaN or infinite values')
        checked.append(sequence)
    return checked


def _check_frames(sequences, name, predictions):
    for index, (sequence, samples) in enumerate(zip(sequences, predictions)):
        if sequence.shape[-2] != samples.shape[1]:
            raise ValueError(f'{name} must match the predictions frame for frame: '
                             f'{name}[{index}] has {sequence.shape[-2]} frames, '
                             f'predictions[{index}] {samples.shape[1]}')


# ---- FRCorr ----

def ccc(reference, prediction, official=False):
    """
    Return the concordance correlation coefficient per channel, over time.

    reference and prediction are (..., T, C) and broadcast against each other; the result is
    (..., C). Corrected: Lin's 2 cov / (var_r + var_p + (mean_r - mean_p)^2), population
    moments, and NaN (undefined) where the reference channel is constant: matching a channel
    the reference never moves says nothing about the reaction, and crediting it let the
    speaker's or the training mean's own constants score. Official: the challenge's
    2 r sd_r sd_p / (... + 1e-8) with r set to 0 for a constant channel, so a constant
    channel scores 0.
    """
    reference = np.asarray(reference, dtype=np.float64)
    prediction = np.asarray(prediction, dtype=np.float64)
    mean_r, mean_p = reference.mean(axis=-2), prediction.mean(axis=-2)
    var_r, var_p = _variance_or_zero(reference), _variance_or_zero(prediction)
    centred_r = reference - mean_r[..., None, :]
    centred_p = prediction - mean_p[..., None, :]
    cov = (centred_r * centred_p).mean(axis=-2)
    constant = (var_r == 0) | (var_p == 0)
    cov = np.where(constant, 0.0, cov)
    denominator = var_r + var_p + (mean_r - mean_p) ** 2
    if official:
        # r * sd_r * sd_p is the population covariance; r is 0 for a constant channel
        # (np.nan_to_num in their corrcoef), which zeroes the covariance all the same.
        return 2.0 * cov / (denominator + OFFICIAL_CCC_EPSILON)
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(var_r == 0.0, np.nan, 2.0 * cov / denominator)


def _variance_or_zero(sequences):
    """Return the population variance over time, exactly 0 for a constant channel."""
    variance = sequences.var(axis=-2)
    constant = sequences.max(axis=-2) == sequences.min(axis=-2)
    return np.where(constant, 0.0, variance)


def frcorr(predictions, appropriate, official=False):
    """
    Return FRCorr: mean over inputs of the sum over samples of the best CCC.

    For each sample, the CCC (averaged over the channels; corrected: over the channels where
    it is defined, 0 if none is) against each appropriate real reaction of its input; the best
    one counts. Higher is better, at most K.
    """
    predictions = check_predictions(predictions)
    appropriate = check_appropriate(appropriate, predictions)
    return _mean_best_ccc(_cccs(predictions, appropriate, official))


def _cccs(predictions, appropriate, official):
    """Return per input the CCC of every sample against every reaction: (K, M_i, 25)."""
    return [ccc(reactions[None], samples[:, None], official=official)
            for samples, reactions in zip(predictions, appropriate)]


def _mean_best_ccc(cccs, channels=ALL_CHANNELS):
    """Return FRCorr from per-input CCCs (K, M_i, 25) over the channels given."""
    per_input = []
    for scores in cccs:
        scores = scores[..., channels]
        defined = ~np.isnan(scores)
        count = defined.sum(axis=-1)
        # channel mean (K, M), undefined channels left out -> best reaction -> sum over samples
        means = np.where(defined, scores, 0.0).sum(axis=-1) / np.maximum(count, 1)
        per_input.append(means.max(axis=1).sum())
    return float(np.mean(per_input))


# ---- FRDist ----

def frdist(predictions, appropriate, workers=None, dtype=np.float32):
    """
    Return FRDist: mean over inputs of the sum over samples of the smallest weighted DTW.

    The distance between a sample and a reaction is sum_g w_g DTW(sample[:, g], reaction[:, g])
    over CHANNEL_GROUPS with DTW_GROUP_WEIGHTS (AUs 1/15, valence-arousal 1, expressions 1/8),
    each DTW tslearn's (sqrt of the summed squared frame distances on the best path). The
    smallest distance over the input's appropriate reactions counts. Lower is better. Both
    modes agree: the challenge code has no quirk here beyond casting to float32.
    """
    predictions = check_predictions(predictions)
    appropriate = check_appropriate(appropriate, predictions)
    distances = _group_distances(predictions, appropriate, workers, dtype)
    return _mean_nearest([terms.sum(axis=0) for terms in distances])


def _group_distances(predictions, appropriate, workers=None, dtype=np.float32):
    """Return per input the weighted DTW of each group, sample and reaction: (G, K, M_i)."""
    by_length = {}
    for index, samples in enumerate(predictions):
        by_length.setdefault(samples.shape[1], []).append(index)
    distances = [None] * len(predictions)
    # dtw_pairs takes pools of one length: one call per length, all pairs of its inputs.
    for indices in by_length.values():
        samples = len(predictions[indices[0]])
        counts = [len(appropriate[index]) for index in indices]
        firsts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        # One pair per (input, sample, reaction), input-major.
        sample_index = np.concatenate([
            np.repeat(np.arange(n * samples, (n + 1) * samples), count)
            for n, count in enumerate(counts)])
        reaction_index = np.concatenate([
            np.tile(np.arange(first, first + count), samples)
            for first, count in zip(firsts, counts)])
        flat_predictions = np.concatenate([predictions[index] for index in indices])
        reactions = np.concatenate([appropriate[index] for index in indices])
        terms = np.stack([
            DTW_GROUP_WEIGHTS[name] * dtw_pairs(
                flat_predictions[..., channels], reactions[..., channels], sample_index,
                reaction_index, dtype=dtype, workers=workers)
            for name, channels in CHANNEL_GROUPS.items()])  # (G, pairs)
        start = 0
        for index, count in zip(indices, counts):
            distances[index] = terms[:, start:start + samples * count].reshape(-1, samples,
                                                                               count)
            start += samples * count
    return distances


def _mean_nearest(distances):
    """Return FRDist from per-input distances (K, M_i): nearest reaction, sum over samples."""
    return float(np.mean([block.min(axis=1).sum() for block in distances]))


# ---- diversity and variance ----

def frdiv(predictions, official=False):
    """
    Return FRDiv (S-MSE): the mean squared difference between two samples of one input.

    Averaged over ordered pairs of distinct samples, frames and channels for each input, then
    over inputs; equal to twice the mean unbiased variance across samples. Higher is more
    diverse. With one sample per input it is undefined: NaN, or 0 in official mode (the
    challenge returns 0).
    """
    return _frdiv(check_predictions(predictions), official)


def _frdiv(predictions, official, channels=ALL_CHANNELS):
    if len(predictions[0]) < 2:
        return 0.0 if official else float('nan')
    # Variance is shift-invariant; measured from the first sample, identical samples give 0
    # exactly rather than rounding noise.
    return float(np.mean([
        2.0 * (samples - samples[:1])[..., channels].var(axis=0, ddof=1).mean()
        for samples in predictions]))


def frdvs(predictions):
    """
    Return FRDvs: the mean squared difference between the same sample index of two inputs.

    Each pair of distinct inputs is compared over their common prefix (the shorter one's
    frames): the mean over sample indices, those frames and channels of the squared
    difference; then the mean over pairs. With equal lengths, twice the mean unbiased
    variance across inputs. NaN with a single input (the challenge's 0/0).
    """
    predictions = check_predictions(predictions)
    if len(predictions) < 2:
        return float('nan')
    # Longest first: each input's common prefix with every earlier one is its own length,
    # so running sums over the earlier inputs give all its pairs at once.
    ordered = sorted(predictions, key=lambda samples: -samples.shape[1])
    # Differences are shift-invariant; measured from the longest input, identical inputs
    # give 0 exactly, as in frdiv.
    reference = ordered[0]
    total = np.zeros_like(reference)  # (K, T_max, 25): sum of the earlier deviations
    total_squares = np.zeros_like(reference)
    pair_means = 0.0
    for count, samples in enumerate(ordered):
        frames = samples.shape[1]
        deviation = samples - reference[:, :frames]
        # sum over earlier inputs j of (x - x_j)^2 = n x^2 - 2 x sum x_j + sum x_j^2
        squares = (count * deviation ** 2 - 2.0 * deviation * total[:, :frames]
                   + total_squares[:, :frames])
        pair_means += squares.mean()
        total[:, :frames] += deviation
        total_squares[:, :frames] += deviation ** 2
    pairs = len(ordered) * (len(ordered) - 1) / 2
    return float(max(pair_means, 0.0) / pairs)


def frvar(predictions):
    """Return FRVar: the unbiased variance over time, averaged per input, then over inputs."""
    return _frvar(check_predictions(predictions))


def _frvar(predictions, channels=ALL_CHANNELS):
    if min(samples.shape[1] for samples in predictions) < 2:
        return float('nan')
    return float(np.mean([samples[..., channels].var(axis=1, ddof=1).mean()
                          for samples in predictions]))


# ---- FRSyn ----

def frsyn(predictions, speakers, official=False, fps=30.0):
    """
    Return FRSyn: the mean |lag| in frames at which a sample best correlates with its speaker.

    For each lag within +/-2 s, the Pearson correlation of every channel between the shifted
    sample and the speaker (time-lagged cross-correlation), averaged over channels; the lag
    of the highest average counts. Lower is better.

    Corrected: every sample, lags -round(2 fps)..round(2 fps), channels with no defined
    correlation at a lag (constant over the overlap) left out of that lag's average, lags with
    none left out, and a sample with no defined lag left out of the mean (NaN if none is left).
    Official: the first sample of each input only, lags -49..49 at any fps, and a constant
    channel at any lag makes that lag's average NaN, which argmax takes as the best: the first
    such lag wins.
    """
    predictions = check_predictions(predictions)
    speakers = check_speakers(speakers, predictions)
    return _mean_offset(_sync_offsets(predictions, speakers, official, fps))


def _sync_offsets(predictions, speakers, official, fps):
    """Return per input the |lag| of each scored sample, NaN where none is defined."""
    if official:
        predictions = [samples[:1] for samples in predictions]
        reach = int(TLCC_SECONDS * OFFICIAL_TLCC_FPS - 1)
    else:
        if not fps > 0:
            raise ValueError(f'fps must be positive, got {fps}')
        reach = int(round(TLCC_SECONDS * fps))
    lags = np.arange(-reach, reach + 1)
    offsets = []
    for samples, speaker in zip(predictions, speakers):
        correlations = lagged_correlations(samples, speaker, lags)  # (K, lags, 25)
        if official:
            scores = correlations.mean(axis=-1)  # NaN if any channel is NaN
            best = np.where(np.isnan(scores).any(axis=1), np.isnan(scores).argmax(axis=1),
                            np.nan_to_num(scores).argmax(axis=1))
            offsets.append(np.abs(lags[best]).astype(np.float64))
            continue
        defined = ~np.isnan(correlations)
        count = defined.sum(axis=-1)
        with np.errstate(invalid='ignore'):
            scores = np.where(count > 0, np.nansum(correlations, axis=-1) / count, -np.inf)
        best = scores.argmax(axis=1)
        any_defined = count.any(axis=1)
        offsets.append(np.where(any_defined, np.abs(lags[best]), np.nan))
    return offsets


def _mean_offset(offsets):
    """Return FRSyn from per-input offsets: the mean over all scored samples."""
    offsets = np.concatenate(offsets)
    if np.isnan(offsets).all():
        return float('nan')
    return float(np.nanmean(offsets))


def lagged_correlations(samples, speaker, lags):
    """
    Return the Pearson correlation of each channel between shifted samples and the speaker.

    samples (K, T, C), speaker (T, C), lags (L,) -> (K, L, C). At lag l > 0 the sample's
    frames l.. face the speaker's frames ..T-l, at l < 0 the sample's first T+l frames face
    the speaker's last ones (the challenge's shift()). NaN where either side of the overlap is
    constant or the overlap is shorter than 2 frames.
    """
    samples = np.asarray(samples, dtype=np.float64)
    speaker = np.asarray(speaker, dtype=np.float64)
    frames = samples.shape[1]
    lags = np.asarray(lags, dtype=np.intp)
    # Pearson is shift-invariant: centring first keeps the sums of squares well conditioned.
    x = samples - samples.mean(axis=1, keepdims=True)  # (K, T, C)
    y = speaker - speaker.mean(axis=0)  # (T, C)
    length = frames - np.abs(lags)  # (L,)
    x_start = np.clip(lags, 0, frames)
    y_start = np.clip(-lags, 0, frames)
    sum_x, sum_xx = _window_sums(x, x_start, length)  # (K, L, C)
    sum_y, sum_yy = _window_sums(y[None], y_start, length)  # (1, L, C)
    sum_xy = _lagged_products(x, y, lags)  # (K, L, C)
    n = np.maximum(length, 1)[None, :, None].astype(np.float64)
    cov = sum_xy - sum_x * sum_y / n
    var_x = sum_xx - sum_x ** 2 / n
    var_y = sum_yy - sum_y ** 2 / n
    undefined = (_window_constant(samples, x_start, length)
                 | _window_constant(speaker[None], y_start, length)
                 | (length < 2)[None, :, None])
    with np.errstate(invalid='ignore', divide='ignore'):
        correlation = np.clip(cov / np.sqrt(var_x * var_y), -1.0, 1.0)
    return np.where(undefined, np.nan, correlation)


def _window_sums(series, starts, lengths):
    """Return sums of values and squares over series[:, s:s+n] for each (s, n): (B, L, C)."""
    zero = np.zeros((series.shape[0], 1, series.shape[2]))
    total = np.concatenate([zero, np.cumsum(series, axis=1)], axis=1)
    squares = np.concatenate([zero, np.cumsum(series ** 2, axis=1)], axis=1)
    stops = starts + np.maximum(lengths, 0)
    return total[:, stops] - total[:, starts], squares[:, stops] - squares[:, starts]


def _lagged_products(x, y, lags):
    """Return sum_t x[k, t + l, c] y[t, c] over the overlap, for each lag: (K, L, C)."""
    frames = x.shape[1]
    size = 1 << int(np.ceil(np.log2(2 * frames)))  # zero padding: no circular wrap
    spectrum = np.fft.rfft(x, size, axis=1) * np.conj(np.fft.rfft(y, size, axis=0))[None]
    circular = np.fft.irfft(spectrum, size, axis=1)  # [k, l mod size, c]
    products = circular[:, np.mod(lags, size)]
    return np.where((np.abs(lags) < frames)[None, :, None], products, 0.0)


def _window_constant(series, starts, lengths):
    """Return whether series[:, s:s+n] is constant for each window, exactly: (B, L, C)."""
    frames = series.shape[1]
    # Windows are prefixes or suffixes of the series: compare with the length of the run of
    # equal values at each end.
    lead = _run_length(series)
    trail = _run_length(series[:, ::-1])
    prefix = (starts == 0)[None, :, None] & (lengths[None, :, None] <= lead[:, None, :])
    suffix = ((starts + lengths == frames)[None, :, None]
              & (lengths[None, :, None] <= trail[:, None, :]))
    return prefix | suffix


def _run_length(series):
    """Return how many leading frames equal the first one, per sequence and channel: (B, C)."""
    equal = series == series[:, :1]
    return np.cumprod(equal, axis=1).sum(axis=1)


# ---- realism proxy ----

def frechet_window_distance(generated, real, window=FRECHET_WINDOW, stride=FRECHET_STRIDE):
    """
    Return the Frechet distance between short windows of generated and real sequences.

    generated and real are sequences (T_i, C) of any lengths (a list, or an (A, T, C) array):
    every window of `window` frames, taken every `stride` frames and flattened, is one sample,
    pooled over the sequences (one shorter than the window gives none); each set is summarised
    by the mean and covariance of its samples, and the distance is |mu_g - mu_r|^2 + tr(S_g +
    S_r - 2 (S_g S_r)^(1/2)), as FID does with image features. 0 for identical sets. A proxy
    for FRRea (FID of rendered frames), which needs a renderer and an ImageNet network.
    """
    mean_g, cov_g = _window_moments(generated, 'generated', window, stride)
    mean_r, cov_r = _window_moments(real, 'real', window, stride)
    if mean_g.shape != mean_r.shape:
        raise ValueError(f'generated frames have {len(mean_g) // window} channels, '
                         f'real ones {len(mean_r) // window}')
    root_g = _psd_sqrt(cov_g)
    cross = np.linalg.eigvalsh(root_g @ cov_r @ root_g)
    trace_root = np.sqrt(np.clip(cross, 0.0, None)).sum()
    distance = (np.sum((mean_g - mean_r) ** 2) + np.trace(cov_g) + np.trace(cov_r)
                - 2.0 * trace_root)
    return float(max(distance, 0.0))


def _window_moments(sequences, name, window, stride):
    """Return the mean and covariance of the flattened windows of all sequences."""
    if window < 1 or stride < 1:
        raise ValueError(f'window and stride must be at least 1, got {window} and {stride}')
    # Sums over windows, one sequence at a time: long clips never hold all windows at once.
    count, total, products, channels = 0, 0.0, 0.0, None
    for index, sequence in enumerate(sequences):
        sequence = np.asarray(sequence, dtype=np.float64)
        if sequence.ndim != 2 or (channels is not None and sequence.shape[1] != channels):
            raise ValueError(f'{name} must be sequences (frames, channels) with one number '
                             f'of channels; {name}[{index}] has shape {sequence.shape}')
        if not np.all(np.isfinite(sequence)):
            raise ValueError(f'{name}[{index}] holds NaN or infinite values')
        channels = sequence.shape[1]
        if len(sequence) < window:
            continue
        view = np.lib.stride_tricks.sliding_window_view(sequence, window, axis=0)[::stride]
        samples = view.transpose(0, 2, 1).reshape(len(view), -1)  # (windows, window * C)
        count += len(samples)
        total = total + samples.sum(axis=0)
        products = products + samples.T @ samples
    if count < 2:
        raise ValueError(f'{name} yields {count} window(s) of {window} frames; a covariance '
                         f'needs 2')
    mean = total / count
    return mean, (products - count * np.outer(mean, mean)) / (count - 1)


def _psd_sqrt(matrix):
    """Return the symmetric square root of a positive semi-definite matrix."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
