"""Data-parallel training on several GPUs (or CPU processes) with torchrun + DDP.

    torchrun --nproc_per_node=8 -m edgelib.train pretrain --profile paper

Every process builds the same model and the same seeded ``data.Loader``, so all see the same
global batch; each trains on its slice (``shard``) and DistributedDataParallel averages the
gradients. The global batch, the learning-rate schedule and the number of steps are those of
one process, so a recipe means the same thing on 1 or 8 GPUs. Batch-norm statistics are per
slice (no SyncBatchNorm, which needs GPUs), the one difference from a single process.
Only rank 0 writes the cache and prints; the others wait for it, then load what it wrote.
Without torchrun (no ``WORLD_SIZE`` > 1 in the environment) every function here is a no-op.
"""

from __future__ import annotations

import atexit
import os

import torch
import torch.distributed as dist


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def world() -> int:
    return dist.get_world_size() if active() else 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def is_main() -> bool:
    return rank() == 0


def init_from_env() -> bool:
    """Join the process group torchrun describes (NCCL on GPUs, gloo on CPUs); True if joined."""
    if active() or int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return active()
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    atexit.register(finish)
    return True


def finish() -> None:
    """Leave the process group. A gloo process that exits with its group still alive aborts
    now and then ("terminate called without an active exception": its threads are torn down
    mid-flight), so ``init_from_env`` registers this to run at exit."""
    if active():
        dist.destroy_process_group()


def shard(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """This process's slice of a global batch; None when the batch has fewer inputs than
    processes (every process skips it alike)."""
    n = world()
    if n == 1:
        return x, y
    if len(x) < n:
        return None
    return x[rank()::n], y[rank()::n]


def wrap(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` in DistributedDataParallel when a process group is active."""
    if not active():
        return model
    from torch.nn.parallel import DistributedDataParallel

    dev = next(model.parameters()).device
    return DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)


def total(*values: float) -> tuple[float, ...]:
    """Sums of ``values`` over all processes (the values themselves in one process)."""
    if not active():
        return values
    t = torch.tensor(values, dtype=torch.float64,
                     device="cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.all_reduce(t)
    return tuple(t.tolist())


def barrier() -> None:
    if active():
        dist.barrier()
