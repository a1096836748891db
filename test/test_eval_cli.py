"""`react-ros eval` on small synthetic corpora: baselines, prediction files, Oracle, mirroring."""

import json
from pathlib import Path

import numpy as np
import pytest
from react_ros.commands import main
from react_ros.data.synth import write_corpus
from react_ros.eval import CHANNEL_GROUPS, METRIC_NAMES
from react_ros.eval.metrics import GROUP_METRICS


@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    """Write a 5-session corpus of short clips."""
    root = tmp_path_factory.mktemp('corpus') / 'synth'
    write_corpus(root, sessions=5, seed=11, clip_seconds=(4.0, 5.0), progress=False,
                 val_fraction=0.2, test_fraction=0.2)
    return root


@pytest.fixture(scope='module')
def oracle_corpus(tmp_path_factory):
    """Write a corpus whose 2 test sessions (clips of different lengths) have 3 Oracle draws."""
    root = tmp_path_factory.mktemp('oracle') / 'synth'
    write_corpus(root, sessions=5, seed=12, clip_seconds=(4.0, 5.0), progress=False,
                 listeners_per_clip=2, val_fraction=0.2, test_fraction=0.4, oracle=3)
    return root


def run_json(capsys, *args):
    assert main(['eval', *args, '--json']) == 0
    return json.loads(capsys.readouterr().out)


def listed_lengths(capsys, corpus, *args):
    """Return the length of each input as `react-ros eval --list` prints it."""
    assert main(['eval', '--data', str(corpus), '--list', *args]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    return [int(line.split('\t')[2].split()[0]) for line in lines[:-1]]


def write_predictions(path, lengths, k=3, extra=5):
    """Write random predictions for inputs of these lengths, padded past the longest."""
    rng = np.random.default_rng(0)
    np.save(path, rng.uniform(0, 1, (len(lengths), k, max(lengths) + extra, 25)))
    return path


def test_baselines_rank_as_in_the_papers(corpus, capsys):
    rows = run_json(capsys, '--data', str(corpus), '--baselines', '-k', '4')
    assert set(rows) == {'GT', 'Random', 'Mime', 'MeanSeq', 'MeanFr'}
    others = [rows[name] for name in ('Random', 'Mime', 'MeanSeq', 'MeanFr')]
    assert all(rows['GT']['FRCorr'] > row['FRCorr'] for row in others)
    assert all(rows['GT']['FRDist'] < row['FRDist'] for row in others)
    assert rows['Random']['FRDiv'] > 0 and rows['MeanFr']['FRDiv'] == 0
    # Every row is broken down by channel group; one direction only: no direction breakdown.
    assert set(rows['Mime']['channel_groups']) == set(CHANNEL_GROUPS)
    assert set(rows['Mime']['channel_groups']['AUs']) == set(GROUP_METRICS)
    assert 'directions' not in rows['Mime'] and 'vs_oracle' not in rows['Mime']
    assert rows['GT']['samples'] == 4


def test_a_prediction_file_is_scored_and_bad_ones_are_named(corpus, capsys, tmp_path):
    lengths = listed_lengths(capsys, corpus)
    good = write_predictions(tmp_path / 'pred.npy', lengths)
    rows = run_json(capsys, '--data', str(corpus), '--pred', str(good))
    assert np.isfinite(rows['pred.npy']['FRDist'])
    bad = tmp_path / 'bad.npy'
    np.save(bad, np.zeros((len(lengths) + 1, 3, max(lengths), 25)))
    assert main(['eval', '--data', str(corpus), '--pred', str(bad)]) == 2
    assert f'(N={len(lengths)}, K, T>={max(lengths)}, 25)' in capsys.readouterr().err
    np.save(bad, np.zeros((len(lengths), 3, max(lengths) - 1, 25)))
    assert main(['eval', '--data', str(corpus), '--pred', str(bad)]) == 2
    assert f'the longest input has {max(lengths)}' in capsys.readouterr().err


def test_official_mode_differs_where_documented(corpus, capsys):
    corrected = run_json(capsys, '--data', str(corpus), '--baselines', '-k', '3')
    official = run_json(capsys, '--data', str(corpus), '--baselines', '-k', '3', '--official')
    # The official GT repeats the input's own reaction K times: no diversity at all.
    assert official['GT']['FRDiv'] == 0 and corrected['GT']['FRDiv'] > 0


def test_the_oracle_row_is_scored_and_every_row_shares_it(oracle_corpus, capsys, tmp_path):
    lengths = listed_lengths(capsys, oracle_corpus)
    assert len(set(lengths)) == 2  # two test sessions of different lengths, scored whole
    pred = write_predictions(tmp_path / 'pred.npy', lengths)
    assert main(['eval', '--data', str(oracle_corpus), '--pred', str(pred)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f'{len(lengths)} inputs (0 mirrored)' in lines[0]
    assert lines[2].split()[-2:] == ['FRCorr/O', 'FRDist/O']
    oracle_line = next(line.split() for line in lines if line.startswith('Oracle'))
    assert oracle_line[-2:] == ['1.000', '1.000']
    rows = run_json(capsys, '--data', str(oracle_corpus), '--baselines', '-k', '3')
    assert list(rows)[0] == 'Oracle' and rows['Oracle']['samples'] == 3
    assert set(rows['MeanSeq']['vs_oracle']) == set(METRIC_NAMES)
    # Per sample, the real reactions themselves beat fresh draws and noise does not. (Not
    # asserted for MeanSeq: on clips this short, the reactions every synthetic session shows
    # a few seconds in put the training mean sequence past the Oracle.)
    assert rows['GT']['vs_oracle']['FRCorr'] > 1 > rows['GT']['vs_oracle']['FRDist']
    assert rows['Random']['vs_oracle']['FRCorr'] < 1 < rows['Random']['vs_oracle']['FRDist']


def test_mirroring_is_counted_and_broken_down(corpus, oracle_corpus, capsys, tmp_path):
    lengths = listed_lengths(capsys, corpus, '--mirror', 'yes')
    pred = write_predictions(tmp_path / 'pred.npy', lengths)
    assert main(['eval', '--data', str(corpus), '--pred', str(pred), '--mirror', 'yes']) == 0
    assert f'{len(lengths)} inputs ({len(lengths) // 2} mirrored)' in capsys.readouterr().out
    rows = run_json(capsys, '--data', str(corpus), '--pred', str(pred), '--mirror', 'yes')
    assert set(rows['pred.npy']['directions']) == {'forward', 'mirrored'}
    # A mirrored input has no Oracle draws while the forward ones do: named, not skipped.
    assert main(['eval', '--data', str(oracle_corpus), '--pred', str(pred), '--mirror',
                 'yes']) == 2
    error = capsys.readouterr().err
    assert 'oracle/test/listener/' in error and 'no Oracle draws' in error


def test_long_inputs_are_scored_as_segments(corpus, capsys, tmp_path):
    lengths = listed_lengths(capsys, corpus)
    pred = write_predictions(tmp_path / 'pred.npy', lengths)
    assert main(['eval', '--data', str(corpus), '--pred', str(pred)]) == 0
    assert 'none over the 750-frame segment length' in capsys.readouterr().out
    args = ['--data', str(corpus), '--pred', str(pred), '--segment-frames', '50']
    assert main(['eval', *args]) == 0
    segments = sum(-(-length // 50) for length in lengths)
    assert f'({segments} scored sequences in all)' in capsys.readouterr().out
    whole = run_json(capsys, '--data', str(corpus), '--pred', str(pred))
    cut = run_json(capsys, *args)
    assert cut['pred.npy']['FRDist'] < whole['pred.npy']['FRDist']  # DTW over fewer frames


def test_predict_on_onnxruntime_then_eval_scores_the_shipped_model(corpus, capsys, tmp_path):
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / 'pred.npy'
    assert main(['predict', '--ckpt', str(root / 'models' / 'reaction_synth.pt'), '--data',
                 str(corpus), '--out', str(out), '-k', '2', '--backend', 'onnxruntime',
                 '--engines', str(root / 'engines' / 'reaction_synth'), '--quiet']) == 0
    assert 'backend: onnxruntime' in capsys.readouterr().err
    assert np.load(out).shape[2] == max(listed_lengths(capsys, corpus))
    rows = run_json(capsys, '--data', str(corpus), '--pred', str(out), '--baselines', '-k', '2')
    assert rows['pred.npy']['FRDiv'] > 0  # two different reactions per input
    assert rows['pred.npy']['FRDist'] < rows['Random']['FRDist']
