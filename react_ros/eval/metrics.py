"""
The REACT challenge metrics over the 25 facial attributes, in two modes.

Inputs, for N speaker clips (inputs) of T frames:
- predictions: (N, K, T, 25), K generated listener reactions per input;
- appropriate: N arrays (M_i, T, 25), the real reactions judged appropriate for input i;
- speakers: (N, T, 25), the speaker attributes (for FRSyn).

`official=True` reproduces the challenge code (reactmultimodalchallenge/baseline_react2023
metric/*.py and baseline_react2024 regnn/metric/*.py) including its quirks; the default mode
fixes them. docs/metrics.md lists every difference.
"""

import numpy as np

from react_ros.eval.dtw import dtw_pairs
from react_ros.spec import AFFECT_SLICE, AU_SLICE, EXPRESSION_SLICE, NUM_ATTRIBUTES

# FRDist: one DTW per attribute group, weighted by 1 / channels of the group.
DTW_GROUP_WEIGHTS = ((AU_SLICE, 1.0 / 15.0), (AFFECT_SLICE, 1.0), (EXPRESSION_SLICE, 1.0 / 8.0))
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
# Which way is better, for tables.
HIGHER_IS_BETTER = {'FRCorr': True, 'FRDist': False, 'FRDiv': True, 'FRVar': True,
                    'FRDvs': True, 'FRSyn': False, 'FRRea_proxy': False}
_TABLE_FORMATS = {'FRCorr': '.3f', 'FRDist': '.2f', 'FRDiv': '.4f', 'FRVar': '.4f',
                  'FRDvs': '.4f', 'FRSyn': '.2f', 'FRRea_proxy': '.3f'}


def evaluate(predictions, appropriate, speakers, official=False, fps=30.0, dtw_workers=None):
    """
    Return every REACT metric of predictions as a dict keyed by METRIC_NAMES.

    predictions (N, K, T, 25); appropriate: N arrays (M_i, T, 25); speakers (N, T, 25).
    official selects the challenge code's behaviour, quirks included; fps is the frame rate
    of the data (the corrected FRSyn's +/-2 s lag window; the official one ignores it).
    """
    predictions = check_predictions(predictions)
    appropriate = check_appropriate(appropriate, predictions)
    speakers = check_speakers(speakers, predictions)
    return {
        'FRCorr': frcorr(predictions, appropriate, official=official),
        'FRDist': frdist(predictions, appropriate, workers=dtw_workers),
        'FRDiv': frdiv(predictions, official=official),
        'FRVar': frvar(predictions),
        'FRDvs': frdvs(predictions),
        'FRSyn': frsyn(predictions, speakers, official=official, fps=fps),
        'FRRea_proxy': frechet_window_distance(predictions.reshape(-1, *predictions.shape[2:]),
                                               np.concatenate(appropriate)),
    }


def format_table(rows):
    """
    Return a text table of metric rows: one line per name, one column per metric.

    rows maps a row name (a method or baseline) to a metrics dict such as evaluate() returns;
    metrics a row lacks print as '-'.
    """
    names = [str(name) for name in rows]
    name_width = max([len('method')] + [len(name) for name in names])
    columns = [metric for metric in METRIC_NAMES
               if any(metric in metrics for metrics in rows.values())]
    cells = [[_format_value(metrics.get(metric), _TABLE_FORMATS[metric]) for metric in columns]
             for metrics in rows.values()]
    widths = [max([len(metric)] + [len(row[col]) for row in cells])
              for col, metric in enumerate(columns)]
    lines = ['  '.join(['method'.ljust(name_width)]
                       + [metric.rjust(width) for metric, width in zip(columns, widths)])]
    lines.append('-' * len(lines[0]))
    for name, row in zip(names, cells):
        lines.append('  '.join([name.ljust(name_width)]
                               + [cell.rjust(width) for cell, width in zip(row, widths)]))
    better = [f'{metric} {"higher" if HIGHER_IS_BETTER[metric] else "lower"}'
              for metric in columns]
    lines.append('better: ' + ', '.join(better))
    return '\n'.join(lines)


def _format_value(value, spec):
    if value is None:
        return '-'
    return format(float(value), spec)


# ---- input checks ----

def check_predictions(predictions):
    """Return predictions as float64 (N, K, T, 25), or raise ValueError naming the problem."""
    predictions = np.asarray(predictions, dtype=np.float64)
    if predictions.ndim != 4 or predictions.shape[3] != NUM_ATTRIBUTES:
        raise ValueError('predictions must be (inputs, samples, frames, '
                         f'{NUM_ATTRIBUTES}), got shape {predictions.shape}')
    if min(predictions.shape[:3]) == 0:
        raise ValueError(f'predictions are empty: shape {predictions.shape}')
    if not np.all(np.isfinite(predictions)):
        raise ValueError('predictions hold NaN or infinite values')
    return predictions


def check_appropriate(appropriate, predictions):
    """Return the appropriate reactions as a list of float64 (M_i, T, 25), checked."""
    if len(appropriate) != len(predictions):
        raise ValueError(f'appropriate holds {len(appropriate)} sets but there are '
                         f'{len(predictions)} inputs')
    frames = predictions.shape[2]
    checked = []
    for index, reactions in enumerate(appropriate):
        reactions = np.asarray(reactions, dtype=np.float64)
        if reactions.ndim != 3 or reactions.shape[1:] != (frames, NUM_ATTRIBUTES):
            raise ValueError(f'appropriate[{index}] must be (reactions, {frames}, '
                             f'{NUM_ATTRIBUTES}) like the predictions, got {reactions.shape}')
        if len(reactions) == 0:
            raise ValueError(f'appropriate[{index}] holds no reaction')
        if not np.all(np.isfinite(reactions)):
            raise ValueError(f'appropriate[{index}] holds NaN or infinite values')
        checked.append(reactions)
    return checked


def check_speakers(speakers, predictions):
    """Return speakers as float64 (N, T, 25) matching the predictions, checked."""
    speakers = np.asarray(speakers, dtype=np.float64)
    expected = (predictions.shape[0], predictions.shape[2], NUM_ATTRIBUTES)
    if speakers.shape != expected:
        raise ValueError(f'speakers must be {expected} (inputs, frames, attributes) to match '
                         f'the predictions, got {speakers.shape}')
    if not np.all(np.isfinite(speakers)):
        raise ValueError('speakers hold NaN or infinite values')
    return speakers


# ---- FRCorr ----

def ccc(reference, prediction, official=False):
    """
    Return the concordance correlation coefficient per channel, over time.

    reference and prediction are (..., T, C) and broadcast against each other; the result is
    (..., C). Corrected: Lin's 2 cov / (var_r + var_p + (mean_r - mean_p)^2), population
    moments, and 1 where both channels are the same constant (perfect agreement; the formula
    is 0/0 there). Official: the challenge's 2 r sd_r sd_p / (... + 1e-8) with r set to 0
    for a constant channel, so two identical constant channels score 0.
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
        return np.where(denominator == 0.0, 1.0, 2.0 * cov / denominator)


def _variance_or_zero(sequences):
    """Return the population variance over time, exactly 0 for a constant channel."""
    variance = sequences.var(axis=-2)
    constant = sequences.max(axis=-2) == sequences.min(axis=-2)
    return np.where(constant, 0.0, variance)


def frcorr(predictions, appropriate, official=False):
    """
    Return FRCorr: mean over inputs of the sum over samples of the best CCC.

    For each sample, the CCC (averaged over the 25 channels) against each appropriate real
    reaction of its input; the best one counts. Higher is better, at most K.
    """
    predictions = check_predictions(predictions)
    appropriate = check_appropriate(appropriate, predictions)
    per_input = []
    for samples, reactions in zip(predictions, appropriate):
        # (K, M, 25) -> channel mean (K, M) -> best reaction (K,) -> sum over samples
        scores = ccc(reactions[None], samples[:, None], official=official).mean(axis=-1)
        per_input.append(scores.max(axis=1).sum())
    return float(np.mean(per_input))


# ---- FRDist ----

def frdist(predictions, appropriate, workers=None, dtype=np.float32):
    """
    Return FRDist: mean over inputs of the sum over samples of the smallest weighted DTW.

    The distance between a sample and a reaction is sum_g w_g DTW(sample[:, g], reaction[:, g])
    over the groups of DTW_GROUP_WEIGHTS (AUs 1/15, valence-arousal 1, expressions 1/8), each
    DTW tslearn's (sqrt of the summed squared frame distances on the best path). The smallest
    distance over the input's appropriate reactions counts. Lower is better. Both modes agree:
    the challenge code has no quirk here beyond casting to float32.
    """
    predictions = check_predictions(predictions)
    appropriate = check_appropriate(appropriate, predictions)
    inputs, samples = predictions.shape[:2]
    counts = np.array([len(reactions) for reactions in appropriate])
    firsts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    # One pair per (input, sample, reaction), input-major.
    sample_index = np.concatenate([
        np.repeat(np.arange(n * samples, (n + 1) * samples), count)
        for n, count in enumerate(counts)])
    reaction_index = np.concatenate([
        np.tile(np.arange(first, first + count), samples)
        for first, count in zip(firsts, counts)])
    flat_predictions = predictions.reshape(inputs * samples, *predictions.shape[2:])
    reactions = np.concatenate(appropriate)
    distances = np.zeros(len(sample_index))
    for group, weight in DTW_GROUP_WEIGHTS:
        distances += weight * dtw_pairs(flat_predictions[..., group], reactions[..., group],
                                        sample_index, reaction_index, dtype=dtype,
                                        workers=workers)
    per_input = []
    start = 0
    for count in counts:
        block = distances[start:start + samples * count].reshape(samples, count)
        per_input.append(block.min(axis=1).sum())
        start += samples * count
    return float(np.mean(per_input))


# ---- diversity and variance ----

def frdiv(predictions, official=False):
    """
    Return FRDiv (S-MSE): the mean squared difference between two samples of one input.

    Averaged over ordered pairs of distinct samples, frames and channels, then over inputs;
    equal to twice the mean unbiased variance across samples. Higher is more diverse. With
    one sample per input it is undefined: NaN, or 0 in official mode (the challenge returns 0).
    """
    predictions = check_predictions(predictions)
    if predictions.shape[1] < 2:
        return 0.0 if official else float('nan')
    # Variance is shift-invariant; measured from the first sample, identical samples give 0
    # exactly rather than rounding noise.
    deviations = predictions - predictions[:, :1]
    return float(2.0 * deviations.var(axis=1, ddof=1).mean())


def frdvs(predictions):
    """
    Return FRDvs: the mean squared difference between the same sample index of two inputs.

    Averaged over ordered pairs of distinct inputs, frames and channels, then over sample
    indices; twice the mean unbiased variance across inputs. NaN with a single input (the
    challenge's 0/0).
    """
    predictions = check_predictions(predictions)
    if predictions.shape[0] < 2:
        return float('nan')
    deviations = predictions - predictions[:1]  # exact 0 for identical inputs, as in frdiv
    return float(2.0 * deviations.var(axis=0, ddof=1).mean())


def frvar(predictions):
    """Return FRVar: the unbiased variance over time, averaged over inputs, samples, channels."""
    predictions = check_predictions(predictions)
    if predictions.shape[2] < 2:
        return float('nan')
    return float(predictions.var(axis=2, ddof=1).mean())


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
    if official:
        predictions = predictions[:, :1]
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
            offsets.extend(np.abs(lags[best]))
            continue
        defined = ~np.isnan(correlations)
        count = defined.sum(axis=-1)
        with np.errstate(invalid='ignore'):
            scores = np.where(count > 0, np.nansum(correlations, axis=-1) / count, -np.inf)
        best = scores.argmax(axis=1)
        any_defined = count.any(axis=1)
        offsets.extend(np.where(any_defined, np.abs(lags[best]), np.nan))
    offsets = np.asarray(offsets, dtype=np.float64)
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

    generated (A, T, C) and real (B, U, C): every window of `window` frames, taken every
    `stride` frames and flattened, is one sample; each set is summarised by the mean and
    covariance of its samples, and the distance is |mu_g - mu_r|^2 + tr(S_g + S_r
    - 2 (S_g S_r)^(1/2)), as FID does with image features. 0 for identical sets. A proxy for
    FRRea (FID of rendered frames), which needs a renderer and an ImageNet network.
    """
    generated = _windows(generated, 'generated', window, stride)
    real = _windows(real, 'real', window, stride)
    if generated.shape[1] != real.shape[1]:
        raise ValueError(f'generated frames have {generated.shape[1] // window} channels, '
                         f'real ones {real.shape[1] // window}')
    mean_g, cov_g = generated.mean(axis=0), np.cov(generated, rowvar=False)
    mean_r, cov_r = real.mean(axis=0), np.cov(real, rowvar=False)
    root_g = _psd_sqrt(cov_g)
    cross = np.linalg.eigvalsh(root_g @ cov_r @ root_g)
    trace_root = np.sqrt(np.clip(cross, 0.0, None)).sum()
    distance = (np.sum((mean_g - mean_r) ** 2) + np.trace(cov_g) + np.trace(cov_r)
                - 2.0 * trace_root)
    return float(max(distance, 0.0))


def _windows(sequences, name, window, stride):
    sequences = np.asarray(sequences, dtype=np.float64)
    if sequences.ndim != 3:
        raise ValueError(f'{name} must be (sequences, frames, channels), got {sequences.shape}')
    if window < 1 or stride < 1:
        raise ValueError(f'window and stride must be at least 1, got {window} and {stride}')
    if sequences.shape[1] < window:
        raise ValueError(f'{name} sequences have {sequences.shape[1]} frames, fewer than the '
                         f'{window}-frame window')
    if not np.all(np.isfinite(sequences)):
        raise ValueError(f'{name} holds NaN or infinite values')
    view = np.lib.stride_tricks.sliding_window_view(sequences, window, axis=1)
    view = view[:, ::stride]  # (S, windows, C, window)
    samples = view.transpose(0, 1, 3, 2).reshape(-1, window * sequences.shape[2])
    if len(samples) < 2:
        raise ValueError(f'{name} yields {len(samples)} window(s); a covariance needs 2')
    return samples


def _psd_sqrt(matrix):
    """Return the symmetric square root of a positive semi-definite matrix."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
