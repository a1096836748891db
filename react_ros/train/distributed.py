"""
Data-parallel training across processes and machines with torch.distributed, as torchrun runs it.

`torchrun --nproc_per_node N [--nnodes M ...] -m react_ros train ...` starts N processes per
machine and sets RANK, WORLD_SIZE and LOCAL_RANK (plus the rendezvous address) in each one's
environment; `Distributed.from_environment()` joins them into one process group (nccl on CUDA
devices, gloo on the CPU) and a plain `react-ros train` is the one-process case. The trainer
wraps each stage's loss in torch's DistributedDataParallel, so gradients are averaged over the
processes as backward runs, and shards every global batch with `shard`.

Rank 0 alone writes the checkpoint, the loss curves and the log; the others wait at
`barrier()` so a resume reads a finished file.
"""

from dataclasses import dataclass
import datetime
import logging
import os

import torch
import torch.distributed as dist

LOGGER = logging.getLogger(__name__)

# Validation and the checkpoint run on rank 0 while the others wait: allow them time.
BARRIER_TIMEOUT = datetime.timedelta(minutes=60)


@dataclass(frozen=True)
class Distributed:
    """Where this process stands among the training processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = 'cpu'  # where collective operations put their tensors

    @property
    def is_main(self) -> bool:
        """Return True on the process that writes files (rank 0)."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """Return True when there is more than one process."""
        return self.world_size > 1

    @classmethod
    def from_environment(cls, device: str = 'cpu') -> tuple:
        """
        Join the process group torchrun describes; return (Distributed, this process's device).

        Without torchrun's variables (or with WORLD_SIZE 1) nothing is joined. On a CUDA device
        each process takes the GPU of its LOCAL_RANK ('cuda' becomes 'cuda:LOCAL_RANK').
        """
        world_size = int(os.environ.get('WORLD_SIZE', '1'))
        if world_size <= 1:
            return cls(), device
        rank, local_rank = int(os.environ['RANK']), int(os.environ.get('LOCAL_RANK', '0'))
        on_cuda = torch.device(device).type == 'cuda'
        if on_cuda:
            device = f'cuda:{local_rank}'
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group('nccl' if on_cuda else 'gloo', timeout=BARRIER_TIMEOUT)
        LOGGER.info('process %d of %d (local rank %d) on %s, backend %s', rank, world_size,
                    local_rank, device, dist.get_backend())
        return cls(rank, world_size, local_rank, device), device

    def shard(self, batch: list) -> slice:
        """
        Return the slice of a global batch of window indices this process trains on.

        Contiguous, equal shares: the caller keeps the global batch a multiple of world_size.
        """
        share = len(batch) // self.world_size
        return slice(self.rank * share, (self.rank + 1) * share)

    def trim(self, batch: list) -> list:
        """Return a global batch cut to a multiple of world_size (every process gets a share)."""
        return batch[:len(batch) - len(batch) % self.world_size]

    def mean(self, values: dict) -> dict:
        """Return float values averaged over the processes (the values themselves alone)."""
        if not self.active or not values:
            return values
        names = list(values)  # the same insertion order on every process
        tensor = torch.tensor([values[name] for name in names], dtype=torch.float64,
                              device=self.device)  # nccl reduces GPU tensors only
        dist.all_reduce(tensor)
        return {name: float(total) / self.world_size
                for name, total in zip(names, tensor.tolist())}

    def broadcast(self, value):
        """Return rank 0's value (any picklable object) on every process."""
        if not self.active:
            return value
        values = [value]
        dist.broadcast_object_list(values, src=0)
        return values[0]

    def barrier(self) -> None:
        """Wait until every process gets here."""
        if self.active:
            dist.barrier()

    def close(self) -> None:
        """Leave the process group."""
        if self.active and dist.is_initialized():
            dist.destroy_process_group()
