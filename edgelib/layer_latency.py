"""Notebook 04's analyses of per-layer latency, beside the papers.

- ``coefficient_table`` / ``layer_predictions`` / ``reading_summary``: Edgent's published
  regression coefficients (``papers.EDGENT_REGRESSIONS``) next to ours, and both applied to our
  AlexNet's layers. The slides give no units, so the slides' models are applied under each of
  the ``READINGS`` (what a "size" and a "y" are) and every reading is shown.
- ``fit_variants``: conv and FC latency fitted on Edgent's variables, on the MAC count alone and
  on both, scored on ``profiling.heldout_split`` (the split ``fit_regressions`` scores on).
- ``batch_tables`` / ``type_shares``: SAC-d Fig. 3 (per-layer latency by type) measured at the
  paper's batch size beside batch 1.
- ``whole_model_comparison``: averaged layers vs regressions as predictors of a whole branch.
- ``claims``: the paper-vs-here table, robust to empty or degenerate measurements;
  ``findings``: the notebook's closing lines, computed from the same measurements.

``raspberry-pi-4`` is *emulated* (one host thread, its times dilated by the calibrated
slowdown; ``platforms``), never measured on a Pi: every claim row names it so (``emulated``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import cache, papers, platforms, profiling, report
from .models.branchy_alexnet import BranchyAlexNet

SLIDE_PLATFORM = {"raspberry-pi-4": "mobile", "edge-server": "edge"}  # ours → the slides'
# The slides print no units. A reading maps our quantities onto the slides' variables: every
# data-size variable (ours in elements; model size in bytes) is multiplied by the factor, and the
# slides' y is converted to ms. (filter size / stride)² · filters has no unit and is never scaled.
READINGS = {
    "x in elements, y in ms": (1.0, 1.0),
    "x in fp32 bytes, y in ms": (4.0, 1.0),
    "x in kB (fp32), y in ms": (4e-3, 1.0),
    "x in elements, y in µs": (1.0, 1e-3),
    "x in fp32 bytes, y in µs": (4.0, 1e-3),
    "x in kB (fp32), y in µs": (4e-3, 1e-3),
}
_SIZE = {"conv": (True, False)}  # which variables are data sizes (all of them elsewhere)
# The variable sets compared on conv and FC (``fit_variants``).
VARIANTS = ("Edgent's", "MACs", "Edgent's + MACs")
MAPE_TOL = 25.0  # %: a latency model we call accurate (held-out MAPE at most this: the median
# over the layer types and, each on its own, every type of ``KEY_TYPES``)
KEY_TYPES = ("conv", "fc")  # most of AlexNet's latency: their fits must be accurate on their own
NEGLIGIBLE_PCT = 5.0  # %: a share of summed layer latency below this is negligible
FACTOR_TOL = 2.0  # the slides' Σ over a branch within this factor of our measured Σ
LAYER_MAPE_TOL = 100.0  # %: ... and their per-layer MAPE at most this (off by ≤ a layer's latency)
# The slides print no units: the reading nearest our measurement is chosen after seeing it, so
# at best the slides match our scale; that is never a reproduction.
SCALE_ONLY = "scale only (units unpublished; reading chosen after the fact)"
MET, NOT_MET = "met", "not met"  # verdicts of this project's own hypotheses (not the papers')
OUR_COEF = "our coef (ms per unit of each variable)"


def emulated(plats) -> tuple[str, ...]:
    """The names of the platforms whose times are dilated (slowdown ≠ 1): emulated, not
    measured on the machine they stand for."""
    return tuple(p.name for p in plats if p.slowdown != 1)


def provenance(platform) -> str:
    """'measured' or 'emulated (n host thread(s) × slowdown)': for figure titles."""
    if platform.slowdown == 1:
        return "measured"
    threads = f"{platform.threads} host thread{'s' if platform.threads > 1 else ''}"
    return f"emulated ({threads} × {platform.slowdown:g})"


def _who(name: str, emulated_: tuple = ()) -> str:
    return f"{name} (emulated)" if name in emulated_ else name


# ----------------------------------------------------------- the slides' coefficients vs ours
def slide_predict(kind: str, row: dict, slide_platform: str, reading: str) -> float:
    """A layer's latency (ms) by the slides' model of ``kind`` under ``reading`` (never < 0)."""
    model = papers.EDGENT_REGRESSIONS[slide_platform][kind]
    size_factor, y_ms = READINGS[reading]
    if kind == "load":
        size_factor /= 4  # our model size is in bytes, not elements
    x = profiling.features(kind, row)
    scaled = [v * (size_factor if s else 1.0) for v, s in zip(x, _SIZE.get(kind, (True, True)))]
    return max(0.0, float(np.dot(model["coef"], scaled) + model["intercept"])) * y_ms


def coefficient_table(regressions: dict[str, dict]) -> pd.DataFrame:
    """Layer type × platform: the slides' variables, coefficients and intercept beside ours."""
    rows = []
    for kind in profiling.FEATURES:
        for name, slide in SLIDE_PLATFORM.items():
            paper = papers.EDGENT_REGRESSIONS[slide][kind]
            ours = regressions.get(name, {}).get(kind, {})
            rows.append({"layer type": kind, "platform": f"{slide} / {name}",
                         "variables": " ; ".join(paper["variables"]),
                         "paper coef": " ; ".join(f"{c:.3g}" for c in paper["coef"]),
                         "paper intercept": paper["intercept"],
                         OUR_COEF:
                             " ; ".join(f"{c:.3g}" for c in ours.get("coef", [])) or "—",
                         "our intercept (ms)": ours.get("intercept", math.nan),
                         "our held-out MAPE (%)": ours.get("heldout_mape", math.nan)})
    return pd.DataFrame(rows)


def layer_predictions(tables: dict[str, pd.DataFrame], regressions: dict[str, dict]
                      ) -> pd.DataFrame:
    """Each layer measured, predicted by our regressions and by the slides' (every reading)."""
    rows = []
    for name, table in tables.items():
        for r in table.to_dict("records"):
            kind = r["type"]
            row = {"platform": name, "index": r["index"], "layer": r["layer"], "type": kind,
                   "measured (ms)": r["mean_ms"],
                   "ours (ms)": profiling.predict(regressions[name], kind, r)
                   if kind in regressions.get(name, {}) else math.nan}
            for reading in READINGS:
                row[f"slides, {reading} (ms)"] = (
                    slide_predict(kind, r, SLIDE_PLATFORM[name], reading)
                    if name in SLIDE_PLATFORM and kind in profiling.FEATURES else math.nan)
            rows.append(row)
    return pd.DataFrame(rows, columns=["platform", "index", "layer", "type", "measured (ms)",
                                       "ours (ms)", *(f"slides, {r} (ms)" for r in READINGS)])


def reading_summary(pred: pd.DataFrame) -> pd.DataFrame:
    """Per platform and predictor: Σ predicted vs Σ measured over the layers, and per-layer MAPE
    (``best`` marks the slides' reading whose Σ lands nearest ours, by |log ratio|)."""
    cols = [c for c in pred.columns if c == "ours (ms)" or c.startswith("slides, ")]
    # predictor names drop the " (ms)": "ours", "slides, <reading>"
    rows = []
    for name, t in pred.groupby("platform", sort=False):
        measured = t["measured (ms)"].sum()
        for c in cols:
            total = t[c].sum()
            ratio = total / measured if measured > 0 else math.nan
            rows.append({"platform": name, "predictor": c.removesuffix(" (ms)"),
                         "sum_ms": total, "measured_ms": measured, "ratio": ratio,
                         "mape_pct": profiling.mape(t["measured (ms)"], t[c])
                         if len(t) and (t["measured (ms)"] > 0).all() else math.nan,
                         "log_gap": abs(math.log10(ratio)) if ratio > 0 else math.inf})
    out = pd.DataFrame(rows, columns=["platform", "predictor", "sum_ms", "measured_ms", "ratio",
                                      "mape_pct", "log_gap"]).astype({"log_gap": float})
    slides = out[out.predictor.str.startswith("slides")]
    best = slides.loc[slides.groupby("platform").log_gap.idxmin()] if len(slides) else slides
    out["best"] = out.index.isin(best.index) & np.isfinite(out.log_gap)
    return out.drop(columns="log_gap")


# --------------------------------------------------------------------- MACs for conv and FC
def macs(kind: str, row: dict) -> float:
    """Multiply-accumulates of one conv or FC layer at batch 1. For a conv whose output is its
    input's size / stride (every "same"-padded conv here) that is exactly the product of
    Edgent's two variables: input elements · (kernel / stride)² · filters."""
    if kind == "conv":
        return row["input_elems"] * (row["kernel"] / row["stride"]) ** 2 * row["filters"]
    if kind == "fc":
        return row["input_elems"] * row["output_elems"]
    raise ValueError(f"MACs are defined here for conv and fc, not {kind!r}")


def _design(kind: str, row: dict, variant: str) -> list[float]:
    if variant == "MACs":
        return [macs(kind, row)]
    edgent = profiling.features(kind, row)
    return edgent + [macs(kind, row)] if variant == "Edgent's + MACs" else edgent


def fit_variants(sweeps: dict[str, pd.DataFrame], kinds=("conv", "fc"),
                 holdout: float = profiling.HOLDOUT, seed: int = 0) -> pd.DataFrame:
    """Held-out MAPE of each of ``VARIANTS`` per platform and layer type, on the same held-out
    configurations that ``profiling.fit_regressions(sweep, holdout, seed)`` scores."""
    rows = []
    for name, sweep in sweeps.items():
        splits = profiling.heldout_split(sweep, holdout, seed)
        for kind in kinds:
            group = sweep[sweep.type == kind].to_dict("records")
            if not group:
                continue
            y = np.array([r["mean_ms"] for r in group])
            for variant in VARIANTS:
                X = np.array([_design(kind, r, variant) for r in group], dtype=float)
                _, heldout = profiling.fit_scored(X, y, splits[kind])
                rows.append({"platform": name, "type": kind, "variables": variant,
                             "configs": len(y), "held out": len(splits[kind][0]),
                             "heldout_mape_pct": heldout})
    return pd.DataFrame(rows, columns=["platform", "type", "variables", "configs", "held out",
                                       "heldout_mape_pct"])


# ------------------------------------------------------------------ SAC-d Fig. 3 by batch size
def batch_tables(profile, platform_name: str, batches=(1, papers.SACD_FIG3_BATCH_SIZE),
                 refresh: bool = False) -> pd.DataFrame:
    """The main branch's layer table at each batch size, measured side by side (cached).

    Latency is per batch; sizes (``input_elems`` …) stay per image. The profile JSON (batch 1)
    is not touched.
    """
    platform, knobs = platforms.get(platform_name), profile.edge
    config = {"stage": "profile_batch", "platform": platform.to_dict(), "batches": list(batches),
              "width": knobs.branchy.width, "warmup": knobs.profile_warmup,
              "repeats": knobs.profile_repeats, "seed": profile.seed}
    path = cache.entry("profile_batch", config) / f"{platform_name}.json"
    if refresh or not path.exists():
        layers = profiling.branch_layers(BranchyAlexNet(width=knobs.branchy.width).eval(), 3)
        tables = [profiling.layer_table(layers, platform, knobs.profile_warmup,
                                        knobs.profile_repeats, input_shape=(b, 3, 32, 32))
                  .assign(batch=b) for b in batches]
        cache.write_json(path, pd.concat(tables).to_dict("records"))
    return pd.DataFrame(cache.read_json(path))


def type_shares(table: pd.DataFrame) -> pd.DataFrame:
    """Share (%) of each layer type in the summed layer latency, per platform and batch."""
    cols = ["platform", "batch", "type", "share_pct"]
    if table.empty:
        return pd.DataFrame(columns=cols)
    t = table if "batch" in table else table.assign(batch=1)
    by = t.groupby(["platform", "batch", "type"]).mean_ms.sum()
    share = 100 * by / by.groupby(level=["platform", "batch"]).transform("sum")
    return share.rename("share_pct").reset_index()[cols]


# ----------------------------------------------------------- whole branches: two predictors
WHOLE_COLUMNS = ["platform", "model", "measured end to end (ms)", "Σ averaged layers (ms)",
                 "Σ regressions (ms)", "error, averaged (%)", "error, regression (%)"]


def whole_model_comparison(prof: dict[str, dict]) -> pd.DataFrame:
    """Each branch end to end (measured) vs Σ averaged layers (SAC-d) vs Σ regressions
    (Edgent)."""
    rows = []
    for name, doc in prof.items():
        whole, reg = doc["tables"].get("whole", pd.DataFrame()), doc["regressions"]
        whole = whole.set_index("model") if "model" in whole else pd.DataFrame()
        for key in (k for k in doc["tables"] if k.startswith("branchy_alexnet/")):
            t = doc["tables"][key]
            if key not in whole.index or t.empty:
                continue
            regression = sum(profiling.predict(reg, r["type"], r) for r in t.to_dict("records"))
            measured, averaged = whole.loc[key, "mean_ms"], t.mean_ms.sum()
            rows.append({"platform": name, "model": key.split("/")[1],
                         "measured end to end (ms)": measured,
                         "Σ averaged layers (ms)": averaged, "Σ regressions (ms)": regression,
                         "error, averaged (%)": 100 * (averaged - measured) / measured,
                         "error, regression (%)": 100 * (regression - measured) / measured})
    return pd.DataFrame(rows, columns=WHOLE_COLUMNS)


# ------------------------------------------------------------------ ResNet-20: the two-level cut
_PRETTY_BLOCK = {"conv": "conv", "bn": "BN", "relu": "ReLU"}


def block_label(layer: str, kind: str) -> str:
    """A ResNet block's tick label: the stem's layers by their type ('stem BN'), others as named."""
    stage = layer.split(".")[0]
    return f"{stage} {_PRETTY_BLOCK[kind]}" if kind in _PRETTY_BLOCK else layer


def cut_summary(res: pd.DataFrame, cut: str = "stage2") -> pd.DataFrame:
    """Per platform: the blocks up to and including stage ``cut`` (the device's side of the
    two-level cut), their latency and share of the summed block latency, and the bytes per image
    that cross the cut."""
    cols = ["platform", "cut", "device side (ms)", "all blocks (ms)", "device share (%)",
            "upload (bytes per image)", "last block before the cut"]
    rows = []
    for name, t in (res.groupby("platform", sort=False) if not res.empty else []):
        t = t.sort_values("index")
        stages = list(dict.fromkeys(t.layer.str.split(".").str[0]))
        if cut not in stages:
            continue
        before = t[t.layer.str.split(".").str[0].isin(stages[:stages.index(cut) + 1])]
        total = float(t.mean_ms.sum())
        rows.append({"platform": name, "cut": cut, "device side (ms)": float(before.mean_ms.sum()),
                     "all blocks (ms)": total,
                     "device share (%)": 100 * float(before.mean_ms.sum()) / total
                     if total > 0 else math.nan,
                     "upload (bytes per image)": int(before.output_bytes.iloc[-1]),
                     "last block before the cut": before.layer.iloc[-1]})
    return pd.DataFrame(rows, columns=cols)


def fit_scores(regressions: dict[str, dict]) -> pd.DataFrame:
    """Our regressions' held-out MAPE per platform and layer type (``claims``' ``fits``)."""
    return pd.DataFrame([{"platform": n, "type": k, "heldout_mape_pct": m["heldout_mape"]}
                         for n, regs in regressions.items() for k, m in regs.items()],
                        columns=["platform", "type", "heldout_mape_pct"])


# the paper-vs-here rows live in their own module; re-exported for the notebook
from .layer_latency_claims import X86_NOTE, claims, findings, whole_bias  # noqa: E402
