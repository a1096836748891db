"""
Data-parallel training: torchrun with 2 processes (gloo, CPU) gives the weights of 1 process.

The predictor stage on the tiny corpus of test_train, without predictor dropout and token
noise (drawn per process, react_ros.train.trainer), batch 8 = 2 shares of 4.
"""

import argparse
import os
import subprocess
import sys

import pytest
from react_ros.commands import train as train_command
from react_ros.data.synth import write_corpus
from react_ros.model.generator import ReactionGenerator
from react_ros.train import checkpoint
from react_ros.train.distributed import Distributed
from react_ros.train.trainer import load_training_data, Trainer, TrainOptions
import torch
import torch.distributed as dist

RUN = ('--epochs', '2', '--batch-size', '8', '--window', '32', '--warmup-steps', '2',
       '--threads', '1', '--quiet')


def _args(*argv):
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    return parser.parse_args([str(value) for value in argv])


@pytest.fixture(scope='module')
def tokenizer(tmp_path_factory):
    """Return (corpus, a checkpoint with a trained tokenizer and no predictor dropout)."""
    root = tmp_path_factory.mktemp('ddp')
    write_corpus(root / 'corpus', sessions=3, seed=0, clip_seconds=(4.0,), progress=False)
    out = root / 'tokenizer.pt'
    assert train_command.run(_args('--stage', 'tokenizer', '--data', root / 'corpus', '--out',
                                   out, '--model', 'predictor_dropout=0', *RUN)) == 0
    return root / 'corpus', out


@pytest.fixture(scope='module')
def one_process(tokenizer, tmp_path_factory):
    """Return the predictor stage trained by one process (the reference)."""
    corpus, init = tokenizer
    out = tmp_path_factory.mktemp('one') / 'one.pt'
    assert train_command.run(_args('--stage', 'predictor', '--init', init, '--data', corpus,
                                   *RUN, '--out', out)) == 0
    return out


class Interrupted(Exception):
    """Stands in for a crash after the first epoch's checkpoint."""


def _assert_same_weights(path, reference, start) -> None:
    ours = ReactionGenerator.from_checkpoint(path).network.state_dict()
    moved = 0.0
    for name, value in ReactionGenerator.from_checkpoint(reference).network.state_dict().items():
        torch.testing.assert_close(ours[name], value, atol=2e-4, rtol=1e-3, msg=name)
        moved = max(moved, float((value - start[name]).abs().max()))
    assert moved > 5e-3  # the predictor trained: the tolerance is well below its steps


def _torchrun(processes: int, *argv) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1', GLOO_SOCKET_IFNAME='lo')
    return subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--standalone',
         f'--nproc_per_node={processes}', '-m', 'react_ros', 'train', *map(str, argv)],
        env=env, capture_output=True, text=True, timeout=300)


def test_two_processes_give_the_weights_of_one(tmp_path, tokenizer, one_process):
    corpus, init = tokenizer
    result = _torchrun(2, '--stage', 'predictor', '--init', init, '--data', corpus, *RUN,
                       '--out', tmp_path / 'two.pt')
    assert result.returncode == 0, result.stderr[-3000:]
    assert '[rank 0]' in result.stderr and '[rank 1] predictor epoch' not in result.stderr
    start = ReactionGenerator.from_checkpoint(init).network.state_dict()
    _assert_same_weights(tmp_path / 'two.pt', one_process, start)
    provenance = ReactionGenerator.from_checkpoint(tmp_path / 'two.pt').provenance
    assert provenance['processes'] == 2
    assert ReactionGenerator.from_checkpoint(one_process).provenance['processes'] == 1
    # Same logged losses: the records are averaged over the processes.
    history = [checkpoint.read_training_state(path)['history']['predictor']
               for path in (one_process, tmp_path / 'two.pt')]
    assert [record['train_loss'] for record in history[0]] == pytest.approx(
        [record['train_loss'] for record in history[1]], rel=1e-4)
    assert sorted(path.name for path in tmp_path.iterdir()) == ['two.pt', 'two_losses.png']


def test_torchrun_resumes_a_run(tmp_path, tokenizer, one_process):
    """One process stops after epoch 1; two processes under torchrun finish it."""
    corpus, init = tokenizer
    out = tmp_path / 'model.pt'
    options = TrainOptions(stages=('predictor',), epochs=(2,), batch_size=8, window=32,
                           warmup_steps=2, threads=1)
    trainer = Trainer.fresh(out, load_training_data(corpus), options, 'test', init=init,
                            progress=False)

    def stop(stage, epoch):
        raise Interrupted

    with pytest.raises(Interrupted):
        trainer.run(epoch_callback=stop)
    assert checkpoint.read_training_state(out)['epoch'] == 1
    result = _torchrun(2, '--stage', 'predictor', '--data', corpus, '--out', out, '--resume',
                       '--quiet')
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'trained with 1 process(es) so far, now 2' in result.stderr
    state = checkpoint.read_training_state(out)
    assert state['complete'] and state['processes'] == 2
    assert len(state['history']['predictor']) == 2
    start = ReactionGenerator.from_checkpoint(init).network.state_dict()
    _assert_same_weights(out, one_process, start)


def test_only_rank_0_writes_files(tmp_path, tokenizer):
    """A process of rank 1 trains its share and writes nothing (a 1-process gloo group)."""
    corpus, init = tokenizer
    dist.init_process_group('gloo', store=dist.HashStore(), rank=0, world_size=1)
    try:
        out = tmp_path / 'model.pt'
        options = TrainOptions(stages=('predictor',), epochs=(1,), batch_size=8, window=32,
                               threads=1)
        trainer = Trainer.fresh(out, load_training_data(corpus), options, 'test', init=init,
                                progress=False, distributed=Distributed(1, 2))
        before = {name: value.clone() for name, value in trainer.network.state_dict().items()}
        trainer.run()
        assert not list(tmp_path.iterdir())
        assert trainer.state['complete'] and trainer.state['processes'] == 2
        assert any(not torch.equal(before[name], value)
                   for name, value in trainer.network.state_dict().items())
    finally:
        dist.destroy_process_group()


def test_one_process_needs_no_process_group(monkeypatch):
    monkeypatch.delenv('WORLD_SIZE', raising=False)
    distributed, device = Distributed.from_environment('cpu')
    assert (distributed.is_main, distributed.active, device) == (True, False, 'cpu')
    assert distributed.mean({'loss': 2.0}) == {'loss': 2.0}
    assert distributed.broadcast('run') == 'run'


def test_shares_split_each_global_batch_evenly():
    batch = list(range(10))
    shares = [Distributed(rank, 3).trim(batch) for rank in range(3)]
    assert shares[0] == list(range(9))
    parts = [shares[rank][Distributed(rank, 3).shard(shares[rank])] for rank in range(3)]
    assert parts == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
