"""Per-layer profiling on named platforms, and Edgent's per-layer-type regression models.

- ``layer_table``: every layer of a network (its partition candidates) measured on a platform —
  latency (warm-up, repeats, mean ± std, scaled by the platform's slowdown), output bytes, FLOPs.
- ``sweep`` + ``fit_regressions``: Edgent's latency models, one linear regression per layer type
  per platform, on the seed table's independent variables (``FEATURES``), fitted on a sweep of
  layer configurations; ``mape`` scores them on held-out configurations.
- A **profile** is JSON (``write_profile`` / ``load_profile``): the platform, its layer tables
  and its regressions. ``python -m edgelib.profiling --platform NAME --out FILE`` writes one;
  run it on a real Raspberry Pi with ``--platform host`` and plug the file in.
"""

from __future__ import annotations

import io
import json
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LinearRegression
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from . import platforms
from .models.branchy_alexnet import FC, BranchyAlexNet
from .platforms import Platform

FORMAT = "edgelib-profile/1"
PROFILE_DIR_ENV = "EDGELIB_PROFILE_DIR"  # measured profiles that replace the dilated ones
HOLDOUT = 0.25  # share of each layer type's sweep configurations held out to score a fit
# Edgent's table: the independent variables of each layer type's latency model.
FEATURES = {
    "conv": ("input feature-map amount", "(filter size / stride)² · filters"),
    "relu": ("input size",),
    "lrn": ("input size",),
    "dropout": ("input size",),
    "pool": ("input size", "output size"),
    "fc": ("input size", "output size"),
    "load": ("model size (bytes)",),
}


class ProfileError(ValueError):
    """A profile file that does not parse or lacks what the project reads from it."""


# ------------------------------------------------------------------------- measurement
@torch.no_grad()
def time_ms(fn, platform: Platform, warmup: int, repeats: int) -> dict:
    """Run ``fn()`` on ``platform``'s threads; its latency in ms, dilated by its slowdown."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    old = torch.get_num_threads()
    torch.set_num_threads(platform.threads)
    try:
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1e3 * platform.slowdown)
    finally:
        torch.set_num_threads(old)
    return {"mean_ms": statistics.fmean(times), "std_ms": statistics.pstdev(times),
            "median_ms": statistics.median(times), "min_ms": min(times)}


def _flops(module: nn.Module, x: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter:
        module(x)
    return counter.get_total_flops()


def branch_layers(model: BranchyAlexNet, exit: int) -> list[tuple[str, str, nn.Module]]:
    return [(layer.name, layer.type, layer.module) for layer in model.branch(exit)]


def staged_layers(model) -> list[tuple[str, str, nn.Module]]:
    """A ``StagedNet`` enumerated at block granularity (stem layers, residual blocks, head)."""
    layers = []
    for stage_name, stage in model.stages.items():
        children = list(stage.children()) if isinstance(stage, nn.Sequential) else [stage]
        for i, child in enumerate(children):
            kind = {nn.Conv2d: "conv", nn.ReLU: "relu", nn.BatchNorm2d: "bn"}.get(type(child))
            layers.append((f"{stage_name}.{i}", kind or type(child).__name__.lower(), child))
    return layers


@torch.no_grad()
def layer_table(layers, platform: Platform, warmup: int = 3, repeats: int = 20,
                input_shape=(1, 3, 32, 32)) -> pd.DataFrame:
    """Measure each layer, alone, on the previous layers' output (the first layer's input is
    ``torch.randn(input_shape)``, batch 1 by default): the activations of random data through
    the network as given — untrained when ``platform_profile`` measures it — not of a real
    image (dense fp32 kernels take nearly the same time whatever the values)."""
    x = torch.randn(input_shape)
    rows = []
    for i, (name, kind, module) in enumerate(layers):
        module.eval()
        y = module(x)
        t = time_ms(lambda m=module, inp=x: m(inp), platform, warmup, repeats)
        rows.append({"index": i + 1, "layer": name, "type": kind, "platform": platform.name,
                     "input_shape": tuple(x.shape[1:]), "output_shape": tuple(y.shape[1:]),
                     "input_elems": x[0].numel(), "output_elems": y[0].numel(),
                     "output_bytes": y[0].numel() * 4, "flops": _flops(module, x), **t})
        x = y
    return pd.DataFrame(rows)


@torch.no_grad()
def whole_latency(layers, platform: Platform, warmup: int = 3, repeats: int = 20,
                  input_shape=(1, 3, 32, 32)) -> dict:
    """Latency of running all ``layers`` end to end (what per-layer sums try to predict)."""
    x = torch.randn(input_shape)
    seq = nn.Sequential(*[m for _, _, m in layers]).eval()
    return time_ms(lambda: seq(x), platform, warmup, repeats)


# ------------------------------------------------------------------ Edgent's regressions
def features(kind: str, row: dict) -> list[float]:
    """The regression inputs of one layer (keys of a ``layer_table`` or ``sweep`` row)."""
    if kind == "conv":
        return [row["input_elems"], (row["kernel"] / row["stride"]) ** 2 * row["filters"]]
    if kind in ("relu", "lrn", "dropout"):
        return [row["input_elems"]]
    if kind in ("pool", "fc"):
        return [row["input_elems"], row["output_elems"]]
    if kind == "load":
        return [row["model_bytes"]]
    raise ValueError(f"no Edgent regression for layer type {kind!r}; have {', '.join(FEATURES)}")


def conv_details(module: nn.Module) -> dict:
    return {"kernel": module.kernel_size[0], "stride": module.stride[0],
            "filters": module.out_channels}


def _random_layer(kind: str, rng: np.random.Generator) -> tuple[nn.Module, tuple, dict]:
    """One random layer configuration of ``kind`` and its input shape (batch 1)."""
    c = int(rng.choice([3, 16, 32, 64, 96, 128, 192]))
    hw = int(rng.choice([4, 8, 16, 32]))
    if kind == "conv":
        k, s, f = int(rng.choice([1, 3, 5])), int(rng.choice([1, 1, 2])), int(rng.integers(8, 257))
        while c * f * k * k * (hw // s) ** 2 > 6e7:  # keep one run under ~0.1 s on a Pi core
            f = max(8, f // 2)
            hw = max(4, hw // 2) if f == 8 else hw
        m = nn.Conv2d(c, f, k, s, k // 2)
        return m, (1, c, hw, hw), {"kernel": k, "stride": s, "filters": f}
    if kind == "relu":
        return nn.ReLU(), (1, c, hw, hw), {}
    if kind == "lrn":
        return nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0), (1, c, hw, hw), {}
    if kind == "dropout":
        return nn.Dropout(0.5), (1, c, hw, hw), {}
    if kind == "pool":
        k = int(rng.choice([2, 3]))
        return nn.MaxPool2d(k, 2, k // 2 if k == 3 else 0), (1, c, hw, hw), {}
    if kind == "fc":
        cin, cout = int(rng.integers(64, 8193)), int(rng.integers(10, 2049))
        return FC(cin, cout), (1, cin), {}
    raise ValueError(f"unknown layer type {kind!r}")


@torch.no_grad()
def sweep(platform: Platform, configs: int = 40, seed: int = 0, warmup: int = 3,
          repeats: int = 20, kinds=("conv", "relu", "pool", "lrn", "dropout", "fc", "load")
          ) -> pd.DataFrame:
    """Measure ``configs`` random configurations of each layer type on ``platform``."""
    rng = np.random.default_rng(seed)
    rows = []
    for kind in kinds:
        for _ in range(configs):
            if kind == "load":
                rows.append({"type": kind, **_load_measurement(rng, platform, repeats)})
                continue
            module, shape, extra = _random_layer(kind, rng)
            module.eval()
            x = torch.randn(shape)
            y = module(x)
            t = time_ms(lambda m=module, inp=x: m(inp), platform, warmup, repeats)
            rows.append({"type": kind, "input_elems": x.numel(), "output_elems": y.numel(),
                         **extra, **t})
    out = pd.DataFrame(rows)
    out["platform"] = platform.name
    return out


def _load_measurement(rng: np.random.Generator, platform: Platform, repeats: int) -> dict:
    """Model loading: deserialising a state dict of a random size (``weights_only=True``)."""
    numel = int(rng.integers(10_000, 4_000_000))
    buf = io.BytesIO()
    torch.save({"weight": torch.randn(numel)}, buf)
    payload = buf.getvalue()
    t = time_ms(lambda: torch.load(io.BytesIO(payload), weights_only=True), platform,
                1, max(3, repeats // 4))
    return {"model_bytes": len(payload), **t}


def heldout_split(measurements: pd.DataFrame, holdout: float = HOLDOUT,
                  seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per layer type: (held-out, fitted) row positions within its group of ``measurements``.

    A seeded permutation per type, drawn in the order the types first appear; types with
    fewer than 4 configurations hold nothing out. Every fit scored on a sweep uses this split.
    """
    rng = np.random.default_rng(seed)
    splits = {}
    for kind, group in measurements.groupby("type", sort=False):
        order = rng.permutation(len(group))
        n_test = max(1, int(round(holdout * len(group)))) if len(group) >= 4 else 0
        splits[kind] = order[:n_test], order[n_test:]
    return splits


def fit_scored(X: np.ndarray, y: np.ndarray, split: tuple[np.ndarray, np.ndarray]
               ) -> tuple[LinearRegression, float]:
    """Least squares on all rows, and its held-out MAPE (refitted without the held-out rows;
    NaN when nothing is held out)."""
    test, fit_on = split
    heldout = float("nan")
    if len(test):
        held = LinearRegression().fit(X[fit_on], y[fit_on])
        heldout = mape(y[test], held.predict(X[test]))
    return LinearRegression().fit(X, y), heldout


def fit_regressions(measurements: pd.DataFrame, holdout: float = HOLDOUT,
                    seed: int = 0) -> dict:
    """One least-squares model per layer type: latency_ms = coef · features + intercept.

    A random ``holdout`` share of each type's configurations (``heldout_split``) is kept out
    of the fit and scored (MAPE); the reported model is then refitted on all of them.
    """
    splits = heldout_split(measurements, holdout, seed)
    models = {}
    for kind, group in measurements.groupby("type", sort=False):
        X = np.array([features(kind, r) for r in group.to_dict("records")], dtype=float)
        y = group["mean_ms"].to_numpy()
        full, heldout_mape = fit_scored(X, y, splits[kind])
        models[kind] = {"features": list(FEATURES[kind]), "coef": full.coef_.tolist(),
                        "intercept": float(full.intercept_), "heldout_mape": heldout_mape,
                        "configs": len(y)}
    return models


def predict(regression: dict, kind: str, row: dict) -> float:
    """A layer's latency (ms) predicted by its type's regression (never below zero)."""
    if kind not in regression:
        raise ValueError(f"the profile has no regression for layer type {kind!r}")
    m = regression[kind]
    return max(0.0, float(np.dot(m["coef"], features(kind, row)) + m["intercept"]))


def mape(actual, predicted) -> float:
    """Mean absolute percentage error, in %."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    if len(actual) == 0:
        raise ValueError("MAPE of no values")
    return float(100 * np.mean(np.abs(predicted - actual) / np.abs(actual)))


# ---------------------------------------------------------------------------- profile JSON
def write_profile(path: Path, platform: Platform, tables: dict[str, pd.DataFrame],
                  regressions: dict) -> Path:
    """Write a profile: the platform, named tables (per-layer tables by model/branch, the
    regression sweep, whole-model latencies) and the regressions."""
    doc = {"format": FORMAT, "platform": platform.to_dict(),
           "tables": {k: json.loads(t.to_json(orient="records")) for k, t in tables.items()},
           "regressions": regressions}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1))
    return path


def load_profile(path: Path) -> dict:
    """Read a profile JSON; a file that does not parse or lacks a part fails clearly."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ProfileError(f"profile {path} does not exist") from None
    except json.JSONDecodeError as err:
        raise ProfileError(f"profile {path} is not valid JSON: {err}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ProfileError(f"profile {path} is not an {FORMAT} file (format: "
                           f"{doc.get('format') if isinstance(doc, dict) else type(doc).__name__})")
    missing = [k for k in ("platform", "tables", "regressions") if k not in doc]
    if missing:
        raise ProfileError(f"profile {path} lacks {', '.join(missing)}")
    try:
        doc["platform"] = platforms.from_dict(doc["platform"])
    except (TypeError, ValueError) as err:
        raise ProfileError(f"profile {path} has a bad platform: {err}") from None
    doc["tables"] = {k: pd.DataFrame(v) for k, v in doc["tables"].items()}
    return doc


def measure_platform(platform: Platform, knobs, model: BranchyAlexNet | None = None,
                     seed: int = 0) -> tuple[dict[str, pd.DataFrame], dict]:
    """Everything a profile holds for one platform: the branchy AlexNet's layer tables, the
    two-level backbone's (ResNet-20, block granularity), each exit's end-to-end latency,
    Edgent's sweep and the regressions fitted on it."""
    from . import models

    model = model if model is not None else BranchyAlexNet(width=knobs.branchy.width)
    tables = measure_branchy(model.eval(), platform, knobs.profile_warmup, knobs.profile_repeats)
    backbone = models.build("resnet20").eval()
    tables["resnet20"] = layer_table(staged_layers(backbone), platform, knobs.profile_warmup,
                                     knobs.profile_repeats)
    tables["whole"] = pd.DataFrame(
        [{"model": f"branchy_alexnet/exit{e}",
          **whole_latency(branch_layers(model, e), platform, knobs.profile_warmup,
                          knobs.profile_repeats)} for e in range(1, model.num_exits + 1)]
        + [{"model": "resnet20", **whole_latency(staged_layers(backbone), platform,
                                                 knobs.profile_warmup, knobs.profile_repeats)}])
    tables["sweep"] = sweep(platform, knobs.sweep_configs, seed, knobs.profile_warmup,
                            knobs.profile_repeats)
    return tables, fit_regressions(tables["sweep"], seed=seed)


def platform_profile(profile, platform_name: str, refresh: bool = False) -> dict:
    """The profile JSON of one platform for a project profile: from the cache, or measured.

    Latency does not depend on trained weights, so an untrained network of the profile's
    width is measured; the key is the knobs and the platform (its calibrated slowdown).
    A measured profile replaces it: put ``<platform_name>.json`` (written by ``python -m
    edgelib.profiling --platform host --out …`` on the real machine) in the folder named by
    the environment variable ``EDGELIB_PROFILE_DIR``.
    """
    import os

    from . import cache

    supplied = Path(os.environ.get(PROFILE_DIR_ENV, "")) / f"{platform_name}.json"
    if os.environ.get(PROFILE_DIR_ENV) and supplied.is_file():
        return load_profile(supplied)

    platform = platforms.get(platform_name)
    knobs = profile.edge
    config = {"stage": "profile", "platform": platform.to_dict(), "width": knobs.branchy.width,
              "warmup": knobs.profile_warmup, "repeats": knobs.profile_repeats,
              "sweep_configs": knobs.sweep_configs, "seed": profile.seed, "format": FORMAT}
    path = cache.entry("profile", config) / f"{platform_name}.json"
    if refresh or not path.exists():
        tables, regressions = measure_platform(platform, knobs, seed=profile.seed)
        write_profile(path, platform, tables, regressions)
    return load_profile(path)


def measure_branchy(model: BranchyAlexNet, platform: Platform, warmup: int,
                    repeats: int) -> dict[str, pd.DataFrame]:
    """The layer table of every exit's branch of the branchy AlexNet, with conv details."""
    tables = {}
    for e in range(1, model.num_exits + 1):
        layers = branch_layers(model, e)
        table = layer_table(layers, platform, warmup, repeats)
        for col in ("kernel", "stride", "filters"):
            table[col] = [conv_details(m)[col] if k == "conv" else None for _, k, m in layers]
        table.insert(0, "exit", e)
        tables[f"branchy_alexnet/exit{e}"] = table
    return tables


def main(argv: list[str] | None = None) -> None:
    import argparse

    from . import profiles

    ap = argparse.ArgumentParser(prog="python -m edgelib.profiling",
                                 description="Profile the branchy AlexNet (untrained weights: "
                                             "latency does not depend on them) and fit "
                                             "Edgent's regressions on one platform.")
    ap.add_argument("--platform", required=True, choices=platforms.NAMES)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--profile", default="cpu", help="knobs: repeats, sweep size, width")
    args = ap.parse_args(argv)
    knobs = profiles.get(args.profile).edge
    platform = platforms.get(args.platform)
    tables, regressions = measure_platform(platform, knobs)
    print(f"wrote {write_profile(args.out, platform, tables, regressions)} "
          f"({platform.name}: {platform.stands_for})")


if __name__ == "__main__":
    main()
