"""Cost accounting: FLOPs (``torch.utils.flop_counter.FlopCounterMode``), parameters, latency.

FlopCounterMode counts a multiply-accumulate as 2 FLOPs. The papers' "FLOPs" are
multiply-accumulate counts (the two-level paper's 0.558 G for CIFAR ResNet-18 against our
0.555 G MACs; the rest is batch norm, see flop_conventions), so ``macs`` = FLOPs / 2 is the
column to compare with them.

``ops_by_kind`` counts, besides those multiply-accumulates, the element-wise work that counters
differ on (batch norm, ReLU, residual additions, pooling, biases), and ``macs_under`` weighs it by
one of ``CONVENTIONS`` — the ways common FLOP counters (fvcore, thop, ptflops) count a network.
Which of them reproduces the two-level paper's Table 1 is worked out in ``flop_conventions``.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode
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
        # one memory format for every model: a freshly trained one is channels_last, one
        # loaded from the cache is not, and the format alone moves batch-1 latency
        model = model.eval().to(memory_format=torch.contiguous_format)
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


# ------------------------------------------------------------------ op counts by kind
# What ``ops_by_kind`` counts for one forward pass (batch included), each a plain element count:
OP_KINDS = (
    "conv",          # convolution multiply-accumulates: out elements × (C_in/groups) × k_h × k_w
    "conv_bias",     # output elements of convolutions that have a bias
    "linear",        # matrix-multiply multiply-accumulates (nn.Linear, mm, bmm)
    "linear_bias",   # output elements of linear layers with a bias (addmm)
    "bn",            # batch-norm input elements
    "bn_affine",     # … of those, in batch norms with a learnt scale and shift
    "relu",          # ReLU output elements
    "add",           # tensor + tensor additions (residual shortcuts), output elements
    "pool_in",       # windowed pooling (avg / max), input elements
    "pool_out",      # … output elements
    "global_pool_in",   # global / adaptive pooling (mean over H×W), input elements
    "global_pool_out",  # … output elements
)

_A = torch.ops.aten
_BN = {_A.native_batch_norm, _A._native_batch_norm_legit_no_training, _A._native_batch_norm_legit,
       _A.batch_norm, _A.cudnn_batch_norm}
_POOL = {_A.avg_pool2d, _A.max_pool2d, _A.max_pool2d_with_indices, _A.avg_pool1d,
         _A.max_pool1d, _A.avg_pool3d, _A.max_pool3d, _A.max_pool3d_with_indices}
_GLOBAL_POOL = {_A.mean, _A.adaptive_avg_pool2d, _A._adaptive_avg_pool2d,
                _A.adaptive_max_pool2d, _A.adaptive_avg_pool1d, _A.adaptive_max_pool1d}


class _OpCounter(TorchDispatchMode):
    """Counts OP_KINDS at the aten level, so functional calls count like modules."""

    def __init__(self):
        super().__init__()
        self.counts = Counter({k: 0 for k in OP_KINDS})

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        p, c = func.overloadpacket, self.counts
        first = out[0] if isinstance(out, (tuple, list)) else out
        if p is _A.convolution:
            x, w, b, transposed = args[0], args[1], args[2], args[6]
            per = w.shape[1] * math.prod(w.shape[2:])
            c["conv"] += (x.numel() if transposed else first.numel()) * per
            c["conv_bias"] += first.numel() if b is not None else 0
        elif p is _A.addmm:
            c["linear"] += args[1].shape[0] * args[1].shape[1] * args[2].shape[1]
            c["linear_bias"] += first.numel()
        elif p is _A.mm:
            c["linear"] += args[0].shape[0] * args[0].shape[1] * args[1].shape[1]
        elif p is _A.bmm:
            c["linear"] += args[0].numel() * args[1].shape[-1]
        elif p in _BN:
            c["bn"] += args[0].numel()
            c["bn_affine"] += args[0].numel() if args[1] is not None else 0
        elif p in (_A.relu, _A.relu_):
            c["relu"] += first.numel()
        elif p in (_A.add, _A.add_) and all(isinstance(a, torch.Tensor) and a.numel() > 1
                                             for a in args[:2]):
            c["add"] += first.numel()
        elif p in _POOL:
            c["pool_in"] += args[0].numel()
            c["pool_out"] += first.numel()
        elif p in _GLOBAL_POOL:
            c["global_pool_in"] += args[0].numel()
            c["global_pool_out"] += first.numel()
        return out


@torch.no_grad()
def ops_by_kind(model: torch.nn.Module, input_shape=(1, 3, 32, 32)) -> dict[str, int]:
    """Element counts of every ``OP_KINDS`` entry in one forward pass (in eval mode).

    ``conv + linear`` equals ``flops(model)["macs"]`` (FlopCounterMode's count). Counted at the
    aten level, so ``F.relu`` / ``F.adaptive_avg_pool2d`` count like their modules; a counter
    hooked on modules (thop, ptflops' module hooks) would miss functional calls.
    """
    was_training = model.training
    model.eval()
    try:
        with _OpCounter() as counter:
            model(torch.zeros(input_shape))
    finally:
        model.train(was_training)
    return dict(counter.counts)


# Weights per OP_KINDS entry; a convention's MACs = Σ weight × count. Multiply-accumulates
# weigh 1 in each (these counters all report MACs, one fused multiply-add = 1).
CONVENTIONS = {
    # Ours (FlopCounterMode / 2): convolutions and matrix multiplies only.
    "conv+linear": {"conv": 1, "linear": 1},
    # + the classifier's bias.
    "+linear_bias": {"conv": 1, "linear": 1, "linear_bias": 1},
    # + batch norm, 1 or 2 operations per element (normalise; scale-and-shift).
    "+bn1": {"conv": 1, "linear": 1, "bn": 1},
    "+bn2": {"conv": 1, "linear": 1, "bn": 2},
    "+bn2+relu": {"conv": 1, "linear": 1, "bn": 2, "relu": 1},
    "+bn2+relu+add": {"conv": 1, "linear": 1, "bn": 2, "relu": 1, "add": 1},
    "+bn2+relu+add+pool_in": {"conv": 1, "linear": 1, "bn": 2, "relu": 1, "add": 1,
                              "pool_in": 1, "global_pool_in": 1},
    "+bn2+relu+add+pool_out": {"conv": 1, "linear": 1, "bn": 2, "relu": 1, "add": 1,
                               "pool_out": 1, "global_pool_out": 1},
    # + batch norm at 5 per element, nothing else: fvcore's training-mode count on a model
    # whose global pooling is F.avg_pool2d (fvcore ignores aten::avg_pool2d), e.g. kuangliu's
    # pytorch-cifar ResNets / DenseNets.
    "+bn5": {"conv": 1, "linear": 1, "bn_affine": 5},
    # fvcore FlopCountAnalysis, model in eval mode: batch_norm 2 per element if affine (else 1),
    # adaptive_avg_pool2d 1 per input element; ReLU, add, avg/max_pool2d ignored.
    "fvcore_eval": {"conv": 1, "linear": 1, "bn": 1, "bn_affine": 1, "global_pool_in": 1},
    # fvcore, model in training mode (FlopCountAnalysis does not call .eval()): batch_norm
    # 5 per element if affine (else 4).
    "fvcore_train": {"conv": 1, "linear": 1, "bn": 4, "bn_affine": 1, "global_pool_in": 1},
    # thop ≥ 0.1 (calc_func.calculate_norm): batch norm 2 per element, ×2 if affine; nn.ReLU
    # zero; AvgPool 1 per output element; AdaptiveAvgPool (kernel + 1) per output element;
    # linear without bias; residual adds not seen (not modules).
    "thop": {"conv": 1, "linear": 1, "bn": 2, "bn_affine": 2, "pool_out": 1,
             "global_pool_in": 1, "global_pool_out": 1},
    # thop 0.0.31 (2020): batch norm 2 per element in eval mode, otherwise as above.
    "thop_0.0.31": {"conv": 1, "linear": 1, "bn": 2, "pool_out": 1, "global_pool_in": 1,
                    "global_pool_out": 1},
    # ptflops (pytorch backend): conv + bias, batch norm 1 per element ×2 if affine, ReLU 1,
    # pooling 1 per input element, linear + bias; residual adds not counted.
    "ptflops": {"conv": 1, "conv_bias": 1, "linear": 1, "linear_bias": 1, "bn": 1,
                "bn_affine": 1, "relu": 1, "pool_in": 1, "global_pool_in": 1},
}


def macs_under(counts: dict[str, int], convention: str | dict[str, float]) -> float:
    """MACs of ``ops_by_kind`` counts under a ``CONVENTIONS`` name or a {kind: weight} dict."""
    weights = CONVENTIONS[convention] if isinstance(convention, str) else convention
    unknown = set(weights) - set(OP_KINDS)
    if unknown:
        raise ValueError(f"unknown op kinds {sorted(unknown)}; kinds are {OP_KINDS}")
    return sum(w * counts.get(kind, 0) for kind, w in weights.items())


@torch.no_grad()
def ops_by_stage(model: StagedNet, input_shape=(1, 3, 32, 32)) -> dict[str, dict[str, int]]:
    """``ops_by_kind`` of each stage of a ``StagedNet``, run in order on one input."""
    was_training = model.training
    model.eval()
    x, out = torch.zeros(input_shape), {}
    try:
        for name, stage in model.stages.items():
            with _OpCounter() as counter:
                x = stage(x)
            out[name] = dict(counter.counts)
    finally:
        model.train(was_training)
    return out
