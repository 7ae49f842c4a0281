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
- ``claims``: the paper-vs-here table, robust to empty or degenerate measurements.
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
}
_SIZE = {"conv": (True, False)}  # which variables are data sizes (all of them elsewhere)
# The variable sets compared on conv and FC (``fit_variants``).
VARIANTS = ("Edgent's", "MACs", "Edgent's + MACs")
MAPE_TOL = 25.0  # %: a latency model we call accurate (median held-out MAPE at most this)
NEGLIGIBLE_PCT = 5.0  # %: a share of summed layer latency below this is negligible
FACTOR_TOL = 2.0  # the slides' Σ over a branch within this factor of our measured Σ
LAYER_MAPE_TOL = 100.0  # %: ... and their per-layer MAPE at most this (off by ≤ a layer's latency)


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
                         "our coef (ms per element or byte)":
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


# ------------------------------------------------------------------------ paper vs here
CHEAP = ("relu", "pool", "dropout", "lrn")  # SAC-d Fig. 3's "other types of layers"


def _frame(m: dict, key: str, needs: set[str]) -> pd.DataFrame:
    t = m.get(key)
    return t if isinstance(t, pd.DataFrame) and needs <= set(t.columns) else pd.DataFrame()


def _fig3_claims(shares: pd.DataFrame, device: str, batch: int) -> list[dict]:
    big = f"SAC-d Fig. 3: conv + FC take most of the layer latency ({device}, batch {batch})"
    small = f"SAC-d Fig. 3: ReLU + pool + dropout + LRN small but not negligible in sum ({device})"
    on = shares[shares.platform == device] if not shares.empty else shares
    at = on[on.batch == batch] if not on.empty else on
    if at.empty or at.share_pct.isna().all():
        why = f"no {device} layer latency at batch {batch}"
        return [report.infeasible(big, "most of the computing time", why),
                report.infeasible(small, "non-negligible", why)]

    def total(kinds, b):
        return float(on[(on.batch == b) & on.type.isin(kinds)].share_pct.sum())

    also = [b for b in sorted(on.batch.unique()) if b != batch]
    rows = []
    for what, paper, kinds, ok in ((big, "most of the computing time", ("conv", "fc"),
                                    lambda v: v > 50),
                                   (small, "non-negligible", CHEAP, lambda v: v >= NEGLIGIBLE_PCT)):
        ours = f"{total(kinds, batch):.1f} %" + "".join(f" (batch {b}: {total(kinds, b):.1f} %)"
                                                        for b in also)
        verdict = report.REPRODUCED if ok(total(kinds, batch)) else (
            f"{report.DIVERGES} ({total(kinds, batch):.1f} % of the summed layer latency)")
        rows.append(report.claim(what, paper, ours, verdict))
    return rows


def _fit_claim(fits: pd.DataFrame) -> dict:
    what, paper = "Edgent: per-type linear regressions predict layer latency", "used to plan"
    med = (fits.groupby("platform").heldout_mape_pct.median().dropna() if not fits.empty
           else pd.Series(dtype=float))
    if med.empty:
        return report.infeasible(what, paper, "no held-out configurations to score")
    ours = "; ".join(f"{n}: median held-out MAPE {v:.0f} %" for n, v in med.items())
    worst = float(med.max())
    return report.claim(what, paper, ours, report.REPRODUCED if worst <= MAPE_TOL else
                        f"{report.DIVERGES} (median held-out MAPE up to {worst:.0f} %, "
                        f"tolerance {MAPE_TOL:g} %)")


def _slide_claims(slides: pd.DataFrame) -> list[dict]:
    paper = "the slides' coefficients (no units printed)"
    best = slides[slides.best & (slides.ratio > 0)] if not slides.empty else slides
    if best.empty:
        return [report.infeasible("Edgent slides' models predict our layers", paper,
                                  "no measured layers to compare with")]
    rows = []
    for r in best.to_dict("records"):
        slide = SLIDE_PLATFORM.get(r["platform"], "?")
        reading = r["predictor"].removeprefix("slides, ")
        ours = (f"best of {len(READINGS)} unit readings ({reading}): Σ {r['sum_ms']:.3g} ms vs "
                f"measured {r['measured_ms']:.3g} ms (×{r['ratio']:.2g}), per-layer MAPE "
                f"{r['mape_pct']:.0f} %")
        verdict = report.within(math.log2(r["ratio"]), math.log2(FACTOR_TOL),
                                "log2 of Σ slides / Σ measured; other hardware")
        if verdict == report.REPRODUCED and not r["mape_pct"] <= LAYER_MAPE_TOL:
            verdict = (f"{report.DIVERGES} (Σ within ×{FACTOR_TOL:g}, but per-layer MAPE "
                       f"{r['mape_pct']:.0f} % > {LAYER_MAPE_TOL:g} %)")
        rows.append(report.claim(
            f"Edgent slides' {slide} models predict our {r['platform']} AlexNet's main branch",
            paper, ours, verdict))
    return rows


def _macs_claim(variants: pd.DataFrame) -> dict:
    what = "Adding the MAC count repairs Edgent's conv and FC fits (our earlier claim)"
    paper = "— (not in the papers)"
    pairs = (variants.pivot_table(index=["platform", "type"], columns="variables",
                                  values="heldout_mape_pct", dropna=False)
             if not variants.empty else pd.DataFrame())
    need = {"Edgent's", "Edgent's + MACs"}
    if pairs.empty or not need <= set(pairs.columns):
        return report.infeasible(what, paper, "no conv or FC fits scored")
    pairs = pairs.dropna(subset=list(need))
    if pairs.empty:
        return report.infeasible(what, paper, "no held-out conv or FC configurations")
    before, after = pairs["Edgent's"], pairs["Edgent's + MACs"]
    ours = "; ".join(f"{p} {k}: {b:.0f} → {a:.0f} %" for (p, k), b, a in
                     zip(pairs.index, before, after))
    failed = [f"{p} {k}" for (p, k), b, a in zip(pairs.index, before, after)
              if not (a < b and a <= MAPE_TOL)]
    return report.claim(what, paper, f"held-out MAPE {ours}", report.REPRODUCED if not failed
                        else f"{report.DIVERGES} (not below {MAPE_TOL:g} % or not better: "
                             f"{', '.join(failed)})")


def _whole_claim(whole: pd.DataFrame) -> dict:
    what = "SAC-d: averaged measurements predict whole-model latency better than regressions"
    if whole.empty:
        return report.infeasible(what, "better", "no whole-branch measurements")
    err = whole.groupby("platform")[["error, averaged (%)", "error, regression (%)"]].apply(
        lambda d: d.abs().mean())
    ours = "; ".join(f"{n}: |error| averaged {e.iloc[0]:.1f} % vs regression {e.iloc[1]:.1f} %"
                     for n, e in err.iterrows())
    better = bool((err.iloc[:, 0] < err.iloc[:, 1]).all())
    return report.claim(what, "better", ours, report.REPRODUCED if better else report.DIVERGES)


def claims(m: dict, name: str | None = None, profile=None, device: str = "raspberry-pi-4",
           batch: int = papers.SACD_FIG3_BATCH_SIZE) -> pd.DataFrame:
    """Notebook 04's paper-vs-here table from its measurements ``m`` (missing or empty parts
    give 'not tested' rows, never an error):

    - ``shares``: ``type_shares`` (platform, batch, type, share_pct);
    - ``fits``: our regressions' scores (platform, type, heldout_mape_pct);
    - ``slides``: ``reading_summary``; ``variants``: ``fit_variants``;
    - ``whole``: ``whole_model_comparison``.
    """
    rows = _fig3_claims(_frame(m, "shares", {"platform", "batch", "type", "share_pct"}),
                        device, batch)
    rows.append(_fit_claim(_frame(m, "fits", {"platform", "heldout_mape_pct"})))
    rows += _slide_claims(_frame(m, "slides", {"platform", "predictor", "ratio", "best"}))
    rows.append(_macs_claim(_frame(m, "variants", {"platform", "type", "variables",
                                                   "heldout_mape_pct"})))
    rows.append(_whole_claim(_frame(m, "whole", {"platform", "error, averaged (%)",
                                                 "error, regression (%)"})))
    return report.claims(rows, name, profile)


def fit_scores(regressions: dict[str, dict]) -> pd.DataFrame:
    """Our regressions' held-out MAPE per platform and layer type (``claims``' ``fits``)."""
    return pd.DataFrame([{"platform": n, "type": k, "heldout_mape_pct": m["heldout_mape"]}
                         for n, regs in regressions.items() for k, m in regs.items()],
                        columns=["platform", "type", "heldout_mape_pct"])
