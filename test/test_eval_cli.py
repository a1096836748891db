"""`react-ros eval` on a small synthetic corpus: baselines, prediction files, bad files."""

import json
from pathlib import Path

import numpy as np
import pytest
from react_ros.commands import main
from react_ros.data.synth import write_corpus


@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    """Write a 5-session corpus of short clips."""
    root = tmp_path_factory.mktemp('corpus') / 'synth'
    write_corpus(root, sessions=5, seed=11, clip_seconds=(4.0, 5.0), progress=False,
                 val_fraction=0.2, test_fraction=0.2)
    return root


def run_json(capsys, *args):
    assert main(['eval', *args, '--json']) == 0
    return json.loads(capsys.readouterr().out)


def test_baselines_rank_as_in_the_papers(corpus, capsys):
    rows = run_json(capsys, '--data', str(corpus), '--baselines', '-k', '4')
    assert set(rows) == {'GT', 'Random', 'Mime', 'MeanSeq', 'MeanFr'}
    others = [rows[name] for name in ('Random', 'Mime', 'MeanSeq', 'MeanFr')]
    assert all(rows['GT']['FRCorr'] > row['FRCorr'] for row in others)
    assert all(rows['GT']['FRDist'] < row['FRDist'] for row in others)
    assert rows['Random']['FRDiv'] > 0 and rows['MeanFr']['FRDiv'] == 0


def test_a_prediction_file_is_scored_and_bad_ones_are_named(corpus, capsys, tmp_path):
    assert main(['eval', '--data', str(corpus), '--list']) == 0
    listing = capsys.readouterr().out.strip().splitlines()
    inputs, frames = len(listing) - 1, int(listing[-1].split()[-2])
    rng = np.random.default_rng(0)
    good = tmp_path / 'pred.npy'
    np.save(good, rng.uniform(0, 1, (inputs, 3, frames + 5, 25)))
    rows = run_json(capsys, '--data', str(corpus), '--pred', str(good))
    assert np.isfinite(rows['pred.npy']['FRDist'])
    bad = tmp_path / 'bad.npy'
    np.save(bad, np.zeros((inputs + 1, 3, frames, 25)))
    assert main(['eval', '--data', str(corpus), '--pred', str(bad)]) == 2
    assert f'(N={inputs}, K, T>={frames}, 25)' in capsys.readouterr().err


def test_official_mode_differs_where_documented(corpus, capsys):
    corrected = run_json(capsys, '--data', str(corpus), '--baselines', '-k', '3')
    official = run_json(capsys, '--data', str(corpus), '--baselines', '-k', '3', '--official')
    # The official GT repeats the input's own reaction K times: no diversity at all.
    assert official['GT']['FRDiv'] == 0 and corrected['GT']['FRDiv'] > 0


def test_predict_on_onnxruntime_then_eval_scores_the_shipped_model(corpus, capsys, tmp_path):
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / 'pred.npy'
    assert main(['predict', '--ckpt', str(root / 'models' / 'reaction_synth.pt'), '--data',
                 str(corpus), '--out', str(out), '-k', '2', '--backend', 'onnxruntime',
                 '--engines', str(root / 'engines' / 'reaction_synth'), '--quiet']) == 0
    assert 'backend: onnxruntime' in capsys.readouterr().err
    rows = run_json(capsys, '--data', str(corpus), '--pred', str(out), '--baselines', '-k', '2')
    assert rows['pred.npy']['FRDiv'] > 0  # two different reactions per input
    assert rows['pred.npy']['FRDist'] < rows['Random']['FRDist']
