"""Cost accounting: FLOPs (``torch.utils.flop_counter.FlopCounterMode``), parameters, latency.

FlopCounterMode counts a multiply-accumulate as 2 FLOPs. The papers' "FLOPs" are
multiply-accumulates (the two-level paper's 0.558 G for CIFAR ResNet-18 is 0.558 G MACs), so
``macs`` = FLOPs / 2 is the column to compare with them.
"""

from __future__ import annotations

import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from .models import StagedNet


def parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def flops(model: torch.nn.Module, input_shape=(1, 3, 32, 32)) -> dict:
    """Total FLOPs and MACs of one forward pass, and per stage for a ``StagedNet``."""
    model = model.eval()
    x = torch.zeros(input_shape)
    per_stage = {}
    if isinstance(model, StagedNet):
        for name, stage in model.stages.items():
            with FlopCounterMode(display=False) as counter:
                y = stage(x)
            per_stage[name] = counter.get_total_flops()
            x = y
        total = sum(per_stage.values())
    else:
        with FlopCounterMode(display=False) as counter:
            model(x)
        total = counter.get_total_flops()
    return {"flops": total, "macs": total / 2, "per_stage_flops": per_stage}


@torch.no_grad()
def latency(model: torch.nn.Module, input_shape=(1, 3, 32, 32), warmup: int = 5,
            repeats: int = 30, threads: int | None = None) -> dict:
    """Wall-clock latency of a forward pass in ms: warm-up, then ``repeats`` timed runs.

    Single measurements fluctuate (SAC-d notes it), so mean, std, median and min are returned.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        model = model.eval()
        x = torch.randn(input_shape)
        for _ in range(warmup):
            model(x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - start) * 1e3)
    finally:
        torch.set_num_threads(old_threads)
    return {"mean_ms": statistics.fmean(times), "std_ms": statistics.pstdev(times),
            "median_ms": statistics.median(times), "min_ms": min(times), "repeats": repeats,
            "threads": threads or old_threads}


def summary(model: torch.nn.Module, input_shape=(1, 3, 32, 32)) -> dict:
    """Parameters, GFLOPs and GMACs in one dict (for tables)."""
    f = flops(model, input_shape)
    return {"params_M": parameters(model) / 1e6, "gflops": f["flops"] / 1e9,
            "gmacs": f["macs"] / 1e9}
