"""
The REACT metrics and baselines on small cases whose values are worked out by hand.

Expected numbers come from the definitions (written out next to each case), never from the
code under test; docs/metrics.md describes the metrics and the official/corrected modes.
"""

import math

import numpy as np
import pytest

from react_ros.eval import (baseline_predictions, ccc, dtw_distances, evaluate, format_table,
                            frcorr, frdist, frdiv, frdvs, frechet_window_distance, frsyn, frvar,
                            METRIC_NAMES)
from react_ros.spec import AFFECT_SLICE, NUM_ATTRIBUTES


def _every_channel(values):
    """Return (T, 25) with the same 1-D values on every channel."""
    return np.tile(np.asarray(values, dtype=float)[:, None], (1, NUM_ATTRIBUTES))


def _naive_dtw(x, y):
    """Textbook O(T U) DTW with tslearn's definition: sqrt of the best summed squared cost."""
    acc = np.full((len(x) + 1, len(y) + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(len(x)):
        for j in range(len(y)):
            cost = float(np.sum((x[i] - y[j]) ** 2))
            acc[i + 1, j + 1] = cost + min(acc[i, j + 1], acc[i + 1, j], acc[i, j])
    return math.sqrt(acc[-1, -1])


def _smooth_noise(rng, frames, channels):
    """Return a smooth random signal (frames, channels): noise averaged over 5 frames."""
    noise = rng.standard_normal((frames + 4, channels))
    return np.stack([noise[t:t + 5].mean(axis=0) for t in range(frames)])


# ---- CCC and FRCorr ----

def test_ccc_hand_values():
    reference = np.array([[1.0], [2.0], [3.0], [4.0]])
    # means 2.5 and 3.5, variances 1.25, covariance 1.25: 2 * 1.25 / (1.25 + 1.25 + 1) = 5/7
    assert ccc(reference, reference + 1.0)[0] == pytest.approx(5.0 / 7.0)
    # reversed, same mean: covariance -1.25: -2.5 / 2.5 = -1
    assert ccc(reference, reference[::-1])[0] == pytest.approx(-1.0)
    assert ccc(reference, reference)[0] == pytest.approx(1.0)


def test_frcorr_takes_best_reaction_and_sums_samples():
    rising, falling = _every_channel([1, 2, 3, 4]), _every_channel([4, 3, 2, 1])
    appropriate = [np.stack([rising, falling])]
    # sample 0 = rising + 1: 5/7 against rising, -5/7 against falling -> 5/7
    # sample 1 = falling: 1 against falling -> 1; sum 12/7
    predictions = np.stack([rising + 1.0, falling])[None]
    assert frcorr(predictions, appropriate) == pytest.approx(12.0 / 7.0)
    assert frcorr(predictions, appropriate, official=True) == pytest.approx(12.0 / 7.0, abs=1e-7)


def test_constant_channel_ccc_official_zero_corrected_one():
    reaction = _every_channel([1, 2, 3, 4])
    reaction[:, 0] = 0.5  # an AU that never changes, in both the reaction and the sample
    predictions = reaction[None, None].copy()
    # corrected: 25 channels in perfect agreement; official: the constant one scores 0
    assert frcorr(predictions, [reaction[None]]) == pytest.approx(1.0)
    assert frcorr(predictions, [reaction[None]], official=True) == pytest.approx(24.0 / 25.0)
    # one side constant, the other not: 0 in both modes
    moving = _every_channel([1, 2, 3, 4])
    assert ccc(reaction, moving)[0] == 0.0
    assert ccc(reaction, moving, official=True)[0] == 0.0
    # two different constants: 2 * 0 / (0 + 0 + 0.25) = 0 in both modes
    assert ccc(np.full((4, 1), 0.5), np.zeros((4, 1)))[0] == 0.0


# ---- DTW and FRDist ----

def test_dtw_hand_value():
    # costs (x_i - y_j)^2 for x = 0,1,2 and y = 0,2: best path (0,0),(1,1),(2,1) = 0+1+0
    x = np.array([[[0.0], [1.0], [2.0]]])
    y = np.array([[[0.0], [2.0]]])
    assert dtw_distances(x, y)[0] == pytest.approx(1.0, abs=1e-6)
    assert dtw_distances(x, y, dtype=np.float64)[0] == 1.0


@pytest.mark.parametrize('dtype, tolerance', [(np.float64, 1e-10), (np.float32, 1e-5)])
def test_dtw_matches_naive_reference(dtype, tolerance):
    rng = np.random.default_rng(7)
    for frames_x, frames_y, channels in [(1, 1, 1), (1, 6, 2), (6, 1, 3), (9, 13, 3),
                                         (17, 8, 1), (25, 25, 15)]:
        x = rng.random((5, frames_x, channels))
        y = rng.random((5, frames_y, channels))
        expected = [_naive_dtw(a, b) for a, b in zip(x, y)]
        # batch_size 2: batches of several pairs and a last, smaller one
        got = dtw_distances(x, y, dtype=dtype, batch_size=2, workers=2)
        np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


def test_frdist_weights_groups_and_takes_nearest_reaction():
    sample = np.zeros((3, NUM_ATTRIBUTES))
    sample[:, 15] = [0, 1, 2]  # valence
    near = np.zeros((3, NUM_ATTRIBUTES))
    near[:, 0] = 1.0  # AU1 off by 1 everywhere: 3 diagonal cells of cost 1 -> sqrt(3)
    near[:, 15] = [0, 2, 2]  # valence: row 1 costs 1 wherever it aligns -> 1
    near[:, 17] = [0, 0, 2]  # neutral: the last cell costs 4 -> 2
    far = np.zeros((3, NUM_ATTRIBUTES))  # valence only: 0 + 1 + 4 at best -> sqrt(5)
    expected = math.sqrt(3) / 15 + 1.0 + 2.0 / 8
    appropriate = [np.stack([near, far])]
    assert frdist(sample[None, None], appropriate) == pytest.approx(expected, rel=1e-6)
    # two samples: the sum over samples (the second equals `far`: distance 0)
    two = np.stack([sample, far])[None]
    assert frdist(two, appropriate) == pytest.approx(expected, rel=1e-6)


# ---- FRDiv, FRDvs, FRVar ----

def test_frdiv_hand_values():
    ones = np.ones((4, NUM_ATTRIBUTES))
    # two samples 0 and 1: both ordered pairs differ by 1 everywhere -> 1
    assert frdiv(np.stack([0 * ones, ones])[None]) == pytest.approx(1.0)
    # samples 0, 0, 3: pair errors 0, 9, 9 -> (2 * 18) / 6 ordered pairs = 6
    assert frdiv(np.stack([0 * ones, 0 * ones, 3 * ones])[None]) == pytest.approx(6.0)
    # first input: samples 0, 1, 1: pair errors 1, 1, 0 -> 4 / 6; mean with the second's 6
    two_inputs = np.stack([np.stack([0 * ones, ones, ones]),
                           np.stack([0 * ones, 0 * ones, 3 * ones])])
    assert frdiv(two_inputs) == pytest.approx((4.0 / 6.0 + 6.0) / 2)


def test_identical_samples_have_no_diversity():
    rng = np.random.default_rng(1)
    sample = rng.random((30, NUM_ATTRIBUTES))
    predictions = np.broadcast_to(sample, (3, 5, 30, NUM_ATTRIBUTES))
    assert frdiv(predictions) == 0.0
    assert frdvs(predictions) == 0.0  # every input got the same samples too


def test_frdvs_and_frvar_hand_values():
    ones = np.ones((4, NUM_ATTRIBUTES))
    # inputs 0, 0, 3 with one sample each: same as the FRDiv case -> 6
    assert frdvs(np.stack([0 * ones, 0 * ones, 3 * ones])[:, None]) == pytest.approx(6.0)
    # frames 0, 0, 0, 4: mean 1, squared deviations 1+1+1+9 = 12, over T-1 = 3 -> 4
    assert frvar(_every_channel([0, 0, 0, 4])[None, None]) == pytest.approx(4.0)


def test_single_sample_diversity_is_undefined_or_official_zero():
    predictions = np.random.default_rng(0).random((2, 1, 5, NUM_ATTRIBUTES))
    assert math.isnan(frdiv(predictions))
    assert frdiv(predictions, official=True) == 0.0


# ---- FRSyn ----

def _delayed(speaker, delay, rng):
    """Return the speaker delayed by `delay` frames, random frames before it starts."""
    sample = rng.random(speaker.shape)
    sample[delay:] = speaker[:len(speaker) - delay]
    return sample


def test_frsyn_finds_the_delay():
    rng = np.random.default_rng(2)
    speaker = _smooth_noise(rng, 200, NUM_ATTRIBUTES)
    # at lag 7 the shifted sample equals the speaker: correlation exactly 1 on every channel
    predictions = _delayed(speaker, 7, rng)[None, None]
    assert frsyn(predictions, speaker[None]) == 7.0
    assert frsyn(predictions, speaker[None], official=True) == 7.0


def test_frsyn_official_scores_only_the_first_sample():
    rng = np.random.default_rng(3)
    speaker = _smooth_noise(rng, 200, NUM_ATTRIBUTES)
    predictions = np.stack([_delayed(speaker, 7, rng), _delayed(speaker, 20, rng)])[None]
    assert frsyn(predictions, speaker[None]) == 13.5  # (7 + 20) / 2
    assert frsyn(predictions, speaker[None], official=True) == 7.0


def test_frsyn_constant_channel_official_takes_first_lag():
    rng = np.random.default_rng(4)
    speaker = _smooth_noise(rng, 200, NUM_ATTRIBUTES)
    speaker[:, 3] = 0.0  # an AU the speaker never shows
    predictions = _delayed(speaker, 7, rng)[None, None]
    # corrected: the constant channel has no correlation and is left out
    assert frsyn(predictions, speaker[None]) == 7.0
    # official: NaN at every lag, argmax of NaNs is the first lag, -49
    assert frsyn(predictions, speaker[None], official=True) == 49.0


def test_frsyn_lag_window_follows_fps_only_when_corrected():
    rng = np.random.default_rng(5)
    speaker = _smooth_noise(rng, 300, NUM_ATTRIBUTES)
    predictions = _delayed(speaker, 55, rng)[None, None]  # 1.83 s at 30 frames/s
    assert frsyn(predictions, speaker[None], fps=30.0) == 55.0
    assert frsyn(predictions, speaker[None], fps=25.0) != 55.0  # window +/-50
    assert frsyn(predictions, speaker[None], official=True) <= 49.0


def test_frsyn_constant_sample_is_undefined_when_corrected():
    rng = np.random.default_rng(6)
    speaker = _smooth_noise(rng, 100, NUM_ATTRIBUTES)
    predictions = np.full((1, 2, 100, NUM_ATTRIBUTES), 0.3)
    assert math.isnan(frsyn(predictions, speaker[None]))
    assert frsyn(predictions, speaker[None], official=True) == 49.0


# ---- realism proxy ----

def test_frechet_proxy_zero_for_identical_sets_and_grows_with_shift():
    rng = np.random.default_rng(8)
    real = np.stack([_smooth_noise(rng, 60, NUM_ATTRIBUTES) for _ in range(40)])
    assert frechet_window_distance(real, real) == pytest.approx(0.0, abs=1e-8)
    # a constant shift c moves the mean of each of the 10 x 25 window values by c and leaves
    # the covariance as it is: distance 250 c^2
    assert frechet_window_distance(real + 0.5, real) == pytest.approx(62.5, rel=1e-6)
    assert frechet_window_distance(real + 1.0, real) == pytest.approx(250.0, rel=1e-6)


# ---- baselines and evaluate ----

@pytest.fixture(scope='module')
def small_set():
    """Return speakers (6, 40, 25), appropriate sets of 3..5 reactions, training clips."""
    rng = np.random.default_rng(9)

    def clips(count):
        return np.clip(np.stack([_smooth_noise(rng, 40, NUM_ATTRIBUTES) * 0.3 + 0.5
                                 for _ in range(count)]), 0.0, 1.0)

    speakers = clips(6)
    appropriate = [clips(count) for count in (3, 4, 5, 3, 4, 5)]
    for reactions in appropriate:
        reactions[:, :, 2] = 0.0  # an AU never shown, as in real data
    return speakers, appropriate, clips(8)


def test_gt_beats_random(small_set):
    speakers, appropriate, train = small_set
    gt = baseline_predictions('GT', speakers, appropriate, train, k=4, seed=1)
    rand = baseline_predictions('Random', speakers, appropriate, train, k=4, seed=1)
    gt_metrics = evaluate(gt, appropriate, speakers)
    random_metrics = evaluate(rand, appropriate, speakers)
    assert set(gt_metrics) == set(METRIC_NAMES)
    # every GT sample is an appropriate reaction: CCC 1 per sample, DTW 0
    assert gt_metrics['FRCorr'] == pytest.approx(4.0)
    assert gt_metrics['FRDist'] == pytest.approx(0.0, abs=1e-3)
    assert random_metrics['FRCorr'] < 1.0
    assert random_metrics['FRDist'] > 1.0
    assert random_metrics['FRRea_proxy'] > gt_metrics['FRRea_proxy']
    # official: the never-shown AU scores 0 even for the real reaction itself
    official = evaluate(gt, appropriate, speakers, official=True)
    assert official['FRCorr'] == pytest.approx(4.0 * 24.0 / 25.0)


def test_baseline_shapes_and_definitions(small_set):
    speakers, appropriate, train = small_set
    mime = baseline_predictions('Mime', speakers, appropriate, k=3)
    np.testing.assert_array_equal(mime[:, 2], speakers)
    mean_fr = baseline_predictions('MeanFr', speakers, appropriate, train, k=2)
    np.testing.assert_allclose(mean_fr[4, 1, 17], train.reshape(-1, NUM_ATTRIBUTES).mean(0))
    mean_seq = baseline_predictions('MeanSeq', speakers, appropriate, train, k=2)
    np.testing.assert_allclose(mean_seq[0, 0], train.mean(axis=0))
    gt_official = baseline_predictions('GT', speakers, appropriate, k=3, official=True)
    np.testing.assert_array_equal(gt_official[1, 2], appropriate[1][0])
    # Random: [0, 1] everywhere officially; valence and arousal use [-1, 1] when corrected
    official = baseline_predictions('Random', speakers, appropriate, k=10, official=True)
    corrected = baseline_predictions('Random', speakers, appropriate, k=10)
    assert official.min() >= 0.0 and official.max() <= 1.0
    assert corrected[..., AFFECT_SLICE].min() < -0.5
    assert corrected.shape == (6, 10, 40, NUM_ATTRIBUTES)
    with_speakers = baseline_predictions('MeanFr', speakers, appropriate, train, k=1,
                                         train_speakers=speakers)
    pooled = np.concatenate([train, speakers]).reshape(-1, NUM_ATTRIBUTES).mean(0)
    np.testing.assert_allclose(with_speakers[0, 0, 0], pooled)


def test_bad_input_is_named(small_set):
    speakers, appropriate, train = small_set
    predictions = baseline_predictions('Mime', speakers, appropriate, k=2)
    with pytest.raises(ValueError, match='appropriate holds 5 sets'):
        evaluate(predictions, appropriate[:5], speakers)
    with pytest.raises(ValueError, match='predictions must be'):
        evaluate(predictions[..., :24], appropriate, speakers)
    with pytest.raises(ValueError, match='speakers must be'):
        evaluate(predictions, appropriate, speakers[:, :30])
    with pytest.raises(ValueError, match='unknown baseline'):
        baseline_predictions('Oracle', speakers, appropriate)
    with pytest.raises(ValueError, match='train_listeners'):
        baseline_predictions('MeanSeq', speakers, appropriate)
    broken = predictions.copy()
    broken[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match='NaN'):
        evaluate(broken, appropriate, speakers)


def test_format_table_lists_rows_and_metric_columns():
    table = format_table({'GT': {'FRCorr': 9.6, 'FRDist': 0.0},
                          'Random': {'FRCorr': 0.1234, 'FRDist': 150.5, 'FRSyn': 40.0}})
    lines = table.splitlines()
    assert lines[0].split() == ['method', 'FRCorr', 'FRDist', 'FRSyn']
    assert lines[2].split() == ['GT', '9.600', '0.00', '-']
    assert lines[3].split() == ['Random', '0.123', '150.50', '40.00']
    assert 'FRDist lower' in lines[-1]
