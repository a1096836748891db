"""
The REACT metrics and baselines on small cases whose values are worked out by hand.

Expected numbers come from the definitions (written out next to each case), never from the
code under test; docs/metrics.md describes the metrics and the official/corrected modes.
"""

import math

import numpy as np
import pytest

from react_ros.eval import (BASELINE_NAMES, baseline_predictions, ccc, CHANNEL_GROUPS,
                            dtw_distances, evaluate, EvaluationInputs, format_table, frcorr,
                            frdist, frdiv, frdvs, frechet_window_distance, frsyn, frvar,
                            METRIC_NAMES, Scores, segment_bounds, share_of)
from react_ros.spec import AFFECT_SLICE, AU_SLICE, NUM_ATTRIBUTES


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


def test_constant_reference_channel_is_left_out_when_corrected():
    reaction = _every_channel([1, 2, 3, 4])
    reaction[:, 0] = 0.5  # an AU that never changes, in both the reaction and the sample
    predictions = reaction[None, None].copy()
    # corrected: the constant channel is undefined, the other 24 agree perfectly; official:
    # the constant one scores 0
    assert frcorr(predictions, [reaction[None]]) == pytest.approx(1.0)
    assert frcorr(predictions, [reaction[None]], official=True) == pytest.approx(24.0 / 25.0)
    # matching the constant earns nothing: a sample reversed on the moving channels scores
    # -1 on each, whatever it does on channel 0
    reversed_sample = reaction[::-1].copy()
    assert frcorr(reversed_sample[None, None], [reaction[None]]) == pytest.approx(-1.0)
    moving = _every_channel([1, 2, 3, 4])
    # constant reference: undefined when corrected, whatever the sample; 0 officially
    assert np.isnan(ccc(reaction, moving)[0]) and np.isnan(ccc(reaction, reaction)[0])
    assert ccc(reaction, moving, official=True)[0] == 0.0
    # constant sample against a moving reference: 2 * 0 / (1.25 + 0 + ...) = 0 in both modes
    assert ccc(moving, reaction)[0] == 0.0
    assert ccc(moving, reaction, official=True)[0] == 0.0


def test_a_pair_with_no_defined_channel_scores_zero():
    still = np.full((1, 4, NUM_ATTRIBUTES), 0.5)  # a reaction that never moves
    assert frcorr(still[None], [still]) == 0.0
    assert frcorr(still[None], [still], official=True) == 0.0


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


def test_frdvs_compares_inputs_over_their_common_prefix():
    ones = np.ones((4, NUM_ATTRIBUTES))
    # inputs of 4, 2 and 3 frames, values 0, 1, 3: pairs over 2, 3 and 2 frames differ by
    # 1, 3 and 2 everywhere -> squared 1, 9, 4 -> mean over the 3 pairs 14 / 3
    inputs = [0 * ones[None], ones[None, :2], 3 * ones[None, :3]]
    assert frdvs(inputs) == pytest.approx(14.0 / 3.0)
    # frames past the common prefix never count
    longer = [inputs[0].copy(), inputs[1], inputs[2]]
    longer[0][:, 3] = 100.0
    assert frdvs(longer) == pytest.approx(14.0 / 3.0)


def test_equal_lengths_give_the_closed_forms():
    # With one length for all, the per-input metrics are the old whole-array closed forms.
    rng = np.random.default_rng(10)
    predictions = rng.random((5, 3, 20, NUM_ATTRIBUTES))
    assert frdvs(predictions) == pytest.approx(2.0 * predictions.var(axis=0, ddof=1).mean(),
                                               rel=1e-12)
    assert frdiv(predictions) == pytest.approx(2.0 * predictions.var(axis=1, ddof=1).mean(),
                                               rel=1e-12)
    assert frvar(predictions) == pytest.approx(predictions.var(axis=2, ddof=1).mean(),
                                               rel=1e-12)


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
    np.testing.assert_array_equal(mime[1][2], speakers[1])
    mean_fr = baseline_predictions('MeanFr', speakers, appropriate, train, k=2)
    np.testing.assert_allclose(mean_fr[4][1, 17], train.reshape(-1, NUM_ATTRIBUTES).mean(0))
    mean_seq = baseline_predictions('MeanSeq', speakers, appropriate, train, k=2)
    np.testing.assert_allclose(mean_seq[0][0], train.mean(axis=0))
    gt_official = baseline_predictions('GT', speakers, appropriate, k=3, official=True)
    np.testing.assert_array_equal(gt_official[1][2], appropriate[1][0])
    # Random: [0, 1] everywhere officially; valence and arousal use [-1, 1] when corrected
    official = np.stack(baseline_predictions('Random', speakers, appropriate, k=10,
                                             official=True))
    corrected = np.stack(baseline_predictions('Random', speakers, appropriate, k=10))
    assert official.min() >= 0.0 and official.max() <= 1.0
    assert corrected[..., AFFECT_SLICE].min() < -0.5
    assert corrected.shape == (6, 10, 40, NUM_ATTRIBUTES)
    with_speakers = baseline_predictions('MeanFr', speakers, appropriate, train, k=1,
                                         train_speakers=speakers)
    pooled = np.concatenate([train, speakers]).reshape(-1, NUM_ATTRIBUTES).mean(0)
    np.testing.assert_allclose(with_speakers[0][0, 0], pooled)


def test_mean_sequence_averages_the_clips_covering_each_frame():
    ones = np.ones((4, NUM_ATTRIBUTES))
    train = [ones[:2], 3 * ones]  # clips of 2 and 4 frames
    speakers = [np.zeros((6, NUM_ATTRIBUTES)), np.zeros((3, NUM_ATTRIBUTES))]
    longer, shorter = baseline_predictions('MeanSeq', speakers, None, train, k=2)
    # frames 0-1: (1 + 3) / 2; frames 2-3: only the long clip, 3; frames 4-5: no clip, the
    # mean frame (2 * 1 + 4 * 3) / 6
    np.testing.assert_allclose(longer[1, :, 0], [2, 2, 3, 3, 14 / 6, 14 / 6])
    np.testing.assert_allclose(shorter, longer[:, :3])


def _constant_channel_case(k=4):
    """
    Return speakers, appropriate sets, Oracle draws and training clips of 4 inputs.

    15 channels (14 AUs and one expression) are 0 throughout every speaker, real reaction and
    training clip, as AUs nobody shows are in real data; the others move. The appropriate set
    of an input holds one reaction per mode (3 modes of smooth noise) plus a little noise;
    each Oracle draw is a random mode with fresh noise, and shows, for two frames, each of
    the channels this clip's real reactions never move.
    """
    rng = np.random.default_rng(12)
    silent = list(range(1, 15)) + [24]
    moving = [channel for channel in range(NUM_ATTRIBUTES) if channel not in silent]

    def clip(frames):
        values = np.zeros((frames, NUM_ATTRIBUTES))
        values[:, moving] = np.clip(0.5 + 0.6 * _smooth_noise(rng, frames, len(moving)), 0, 1)
        return values

    speakers, appropriate, oracle = [], [], []
    for frames in (48, 60, 72, 54):
        speakers.append(clip(frames))
        modes = np.stack([clip(frames) for _ in range(3)])
        reactions = modes.copy()
        reactions[..., moving] += 0.02 * rng.standard_normal((3, frames, len(moving)))
        appropriate.append(reactions)
        draws = modes[rng.integers(3, size=k)]
        draws[..., moving] += 0.02 * rng.standard_normal((k, frames, len(moving)))
        for draw in draws:
            for channel in silent:
                start = rng.integers(frames - 2)
                draw[start:start + 2, channel] = 0.5
        oracle.append(draws)
    train = [clip(frames) for frames in (40, 50, 66, 80, 70, 45)]
    return speakers, appropriate, oracle, train


@pytest.mark.parametrize('official', [False, True])
def test_no_baseline_outscores_the_oracle_or_resampled_ground_truth(official):
    # Speaker, training mean and real reactions share exact constants the Oracle's draws do
    # not: crediting agreement on a constant channel (the old corrected CCC) ranked Mime and
    # MeanSeq above the Oracle here.
    speakers, appropriate, oracle, train = _constant_channel_case()
    ceilings = {'Oracle': oracle,
                'GT': baseline_predictions('GT', speakers, appropriate, k=4, seed=1)}
    ceilings = {name: evaluate(predictions, appropriate, speakers, official=official)
                for name, predictions in ceilings.items()}
    for name in BASELINE_NAMES[1:]:
        predictions = baseline_predictions(name, speakers, appropriate, train, k=4, seed=1,
                                           official=official)
        metrics = evaluate(predictions, appropriate, speakers, official=official)
        for ceiling, best in ceilings.items():
            assert metrics['FRCorr'] < best['FRCorr'], (name, ceiling)
            assert metrics['FRDist'] > best['FRDist'], (name, ceiling)


def test_inputs_of_different_lengths_are_scored_whole_and_averaged(small_set):
    speakers, appropriate, train = small_set
    lengths = (40, 25, 33)
    speakers = [speaker[:length] for speaker, length in zip(speakers, lengths)]
    appropriate = [reactions[:, :length] for reactions, length in zip(appropriate, lengths)]
    predictions = baseline_predictions('Random', speakers, appropriate, k=3, seed=2)
    together = evaluate(predictions, appropriate, speakers)
    alone = [evaluate(predictions[i:i + 1], appropriate[i:i + 1], speakers[i:i + 1])
             for i in range(3)]
    for name in ('FRCorr', 'FRDist', 'FRDiv', 'FRVar', 'FRSyn'):
        assert together[name] == pytest.approx(np.mean([row[name] for row in alone]),
                                               rel=1e-12), name
    # With equal lengths a list of inputs and one array agree.
    equal = [samples[:, :25] for samples in predictions]
    equal_appropriate = [reactions[:, :25] for reactions in appropriate]
    equal_speakers = [speaker[:25] for speaker in speakers]
    assert (evaluate(equal, equal_appropriate, equal_speakers)
            == evaluate(np.stack(equal), equal_appropriate, np.stack(equal_speakers)))


def test_segments_cover_the_whole_clip():
    bounds = segment_bounds(20000, 750)
    assert len(bounds) == 27 and bounds[0][0] == 0 and bounds[-1][1] == 20000
    assert all(stop == start for (_, stop), (start, _) in zip(bounds, bounds[1:]))
    lengths = [stop - start for start, stop in bounds]
    assert max(lengths) <= 750 and max(lengths) - min(lengths) <= 1
    assert segment_bounds(750) == [(0, 750)]
    assert segment_bounds(751) == [(0, 375), (375, 751)]
    rng = np.random.default_rng(11)
    speakers = [rng.random((1600, NUM_ATTRIBUTES)), rng.random((500, NUM_ATTRIBUTES))]
    inputs = EvaluationInputs(['a', 'b'], [False, True], speakers,
                              [speaker[None] for speaker in speakers])
    assert inputs.segments == [(0, 0, 533), (0, 533, 1066), (0, 1066, 1600), (1, 0, 500)]
    # frames past an input's length are ignored; the segments put the input back together
    predictions = rng.random((2, 3, 1700, NUM_ATTRIBUTES))
    pieces = inputs.cut(predictions)
    np.testing.assert_array_equal(np.concatenate(pieces[:3], axis=1), predictions[0, :, :1600])
    np.testing.assert_array_equal(pieces[3], predictions[1, :, :500])
    assert inputs.directions() == {'forward': [0, 1, 2], 'mirrored': [3]}
    with pytest.raises(ValueError, match=r'predictions\[1\] has 400 frames'):
        inputs.cut([predictions[0], predictions[1, :, :400]])


def test_breakdowns_by_inputs_and_channel_groups(small_set):
    speakers, appropriate, train = small_set
    predictions = baseline_predictions('Mime', speakers, appropriate, k=2)
    scores = Scores(predictions, appropriate, speakers)
    assert scores.metrics() == evaluate(predictions, appropriate, speakers)
    first = evaluate(predictions[:2], appropriate[:2], speakers[:2])
    assert scores.metrics([0, 1]) == pytest.approx(first, rel=1e-12)
    groups = scores.channel_groups()
    assert set(groups) == set(CHANNEL_GROUPS)
    # A group scores as the metrics would with the other channels out of the picture: the
    # same constant in samples and reactions (no DTW cost, CCC undefined when corrected).
    for name, channels in (('AUs', AU_SLICE), ('valence_arousal', AFFECT_SLICE)):
        keep = np.zeros(NUM_ATTRIBUTES, bool)
        keep[channels] = True
        only = [np.where(keep, values, 0.5) for values in predictions]
        only_appropriate = [np.where(keep, values, 0.5) for values in appropriate]
        assert groups[name]['FRCorr'] == pytest.approx(frcorr(only, only_appropriate))
        assert groups[name]['FRDist'] == pytest.approx(frdist(only, only_appropriate),
                                                       rel=1e-6)
        assert groups[name]['FRVar'] == pytest.approx(
            np.mean([values[..., channels].var(axis=1, ddof=1).mean()
                     for values in predictions]))


def test_share_of_compares_sums_over_samples_per_sample():
    row = dict.fromkeys(METRIC_NAMES, 2.0)
    row['FRCorr'], row['FRDist'] = 4.0, 30.0  # K = 10
    oracle = dict.fromkeys(METRIC_NAMES, 4.0)
    oracle['FRCorr'], oracle['FRDist'], oracle['FRDiv'] = 1.0, 6.0, 0.0  # K = 2
    shares = share_of(row, 10, oracle, 2)
    assert shares['FRCorr'] == pytest.approx(0.8)  # 0.4 per sample vs 0.5
    assert shares['FRDist'] == pytest.approx(1.0)  # 3 per sample vs 3
    assert shares['FRVar'] == 0.5 and shares['FRDiv'] is None


def test_bad_input_is_named(small_set):
    speakers, appropriate, train = small_set
    predictions = baseline_predictions('Mime', speakers, appropriate, k=2)
    with pytest.raises(ValueError, match='appropriate holds 5 sets'):
        evaluate(predictions, appropriate[:5], speakers)
    with pytest.raises(ValueError, match='predictions must be'):
        evaluate(np.stack(predictions)[..., :24], appropriate, speakers)
    with pytest.raises(ValueError, match='speakers must match the predictions'):
        evaluate(predictions, appropriate, speakers[:, :30])
    with pytest.raises(ValueError, match='same number of samples'):
        evaluate([predictions[0][:1]] + predictions[1:], appropriate, speakers)
    with pytest.raises(ValueError, match='unknown baseline'):
        baseline_predictions('Oracle', speakers, appropriate)
    with pytest.raises(ValueError, match='train_listeners'):
        baseline_predictions('MeanSeq', speakers, appropriate)
    broken = [samples.copy() for samples in predictions]
    broken[0][0, 0, 0] = np.nan
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
    ratios = format_table({'GT': {'FRCorr': 9.6, 'FRDist': 0.0}},
                          ratios={'GT': {'FRCorr': 1.25, 'FRDist': 0.0}}).splitlines()
    assert ratios[0].split() == ['method', 'FRCorr', 'FRDist', 'FRCorr/O', 'FRDist/O']
    assert ratios[2].split() == ['GT', '9.600', '0.00', '1.250', '0.000']
    assert 'FRCorr/O higher, FRDist/O lower' in ratios[-1]
