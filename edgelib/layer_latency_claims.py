"""Notebook 04's paper-vs-here rows and closing lines, from the measurements of
``layer_latency`` (split from it to keep each module short).

``claims`` is robust to empty or degenerate measurements; ``findings`` computes every number
it states from the same measurements.
"""

from __future__ import annotations

import math

import pandas as pd

from . import papers, report
from .layer_latency import (
    FACTOR_TOL, KEY_TYPES, LAYER_MAPE_TOL, MAPE_TOL, MET, NEGLIGIBLE_PCT, NOT_MET, READINGS,
    SCALE_ONLY, SLIDE_PLATFORM, VARIANTS, _who)

# SAC-d §IV on Fig. 3 names two groups: "the convolutional layers and fully connected layers take
# up most of the computing time. Although activation function layers and pooling layers take
# less time, the amount of them is non-negligible". AlexNet's LRN and dropout are in neither.
SACD_BIG = ("conv", "fc")
SACD_SMALL = ("relu", "pool")
SACD_UNNAMED = ("lrn", "dropout")
PRETTY = {"conv": "conv", "fc": "FC", "relu": "ReLU", "pool": "pool", "lrn": "LRN",
          "dropout": "dropout", "load": "model loading"}
NEAR_CONSTANT_PP = 5.0  # a bias whose spread over the branches is at most this is "near-constant"
X86_NOTE = "x86 shares, not a Pi's: a constant slowdown cancels in a share"
# a Fig. 3 verdict on an emulated platform is a reproduction on this host's x86 shares only
EMULATED_REPRODUCED = f"{report.REPRODUCED} on x86 shares (emulated Pi; untested on a Pi)"
# a layer type with at least this share of a platform's summed layer latency (at any measured
# batch) carries much of it: its fit must be accurate on its own, like conv and FC (KEY_TYPES)
KEY_SHARE_PCT = 10.0


def key_types(shares: pd.DataFrame, platform: str) -> tuple[str, ...]:
    """The types whose fit is judged on its own on ``platform``: conv and FC (SAC-d's heavy
    group) and every type with ≥ ``KEY_SHARE_PCT`` % of the measured latency at some batch."""
    heavy = []
    if not shares.empty and {"platform", "type", "share_pct"} <= set(shares.columns):
        on = shares[shares.platform == platform]
        heavy = sorted(on[on.share_pct >= KEY_SHARE_PCT].type.unique())
    return tuple(dict.fromkeys([*KEY_TYPES, *heavy]))


def _frame(m: dict, key: str, needs: set[str]) -> pd.DataFrame:
    t = m.get(key)
    return t if isinstance(t, pd.DataFrame) and needs <= set(t.columns) else pd.DataFrame()


def _fig3_claims(shares: pd.DataFrame, device: str, batch: int, emulated_: tuple) -> list[dict]:
    who = _who(device, emulated_)
    big = (f"SAC-d Fig. 3: convolutional and fully connected layers take most of the computing "
           f"time ({who}, batch {batch})")
    small = (f"SAC-d Fig. 3: activation (ReLU) and pooling layers take less time, but in sum are "
             f"non-negligible ({who}, batch {batch})")
    big_paper, small_paper = "most of the computing time", "less time, non-negligible in sum"
    on = shares[shares.platform == device] if not shares.empty else shares
    at = on[on.batch == batch] if not on.empty else on
    if at.empty or at.share_pct.isna().all():
        why = f"no {device} layer latency at batch {batch}"
        return [report.infeasible(big, big_paper, why), report.infeasible(small, small_paper, why)]

    def share(kind, b):
        return float(on[(on.batch == b) & (on.type == kind)].share_pct.sum())

    def total(kinds, b):
        return sum(share(k, b) for k in kinds)

    def detail(kinds, b):
        return (f"{' + '.join(PRETTY[k] for k in kinds)} {total(kinds, b):.1f} % = "
                + " + ".join(f"{PRETTY[k]} {share(k, b):.1f} %" for k in kinds))

    others = [b for b in sorted(on.batch.unique()) if b != batch]
    note = f"; {X86_NOTE}" if device in emulated_ else ""

    def ours(kinds, extra=""):
        return (detail(kinds, batch) + "".join(f" (batch {b}: {detail(kinds, b)})" for b in others)
                + extra + note)

    big_pct, small_pct, fc = total(SACD_BIG, batch), total(SACD_SMALL, batch), share("fc", batch)
    rep = EMULATED_REPRODUCED if device in emulated_ else report.REPRODUCED
    if big_pct <= 50:
        big_verdict = f"{report.DIVERGES} ({big_pct:.1f} % of the summed layer latency)"
    else:
        above = [k for k in (*SACD_SMALL, *SACD_UNNAMED) if share(k, batch) > fc]
        big_verdict = rep if not above else (
            f"{rep}, for conv + FC together, but FC alone ({fc:.1f} %) takes less "
            "than " + " and ".join(f"{PRETTY[k]} ({share(k, batch):.1f} %)" for k in above))
    unnamed = "; in neither group: " + ", ".join(f"{PRETTY[k]} {share(k, batch):.1f} %"
                                                  for k in SACD_UNNAMED)
    if small_pct < NEGLIGIBLE_PCT:
        small_verdict = f"{report.DIVERGES} ({small_pct:.1f} %: negligible, < {NEGLIGIBLE_PCT:g} %)"
    elif small_pct >= big_pct:
        small_verdict = (f"{report.DIVERGES} ({small_pct:.1f} %, not less than conv + FC's "
                         f"{big_pct:.1f} %)")
    else:
        small_verdict = rep
    return [report.claim(big, big_paper, ours(SACD_BIG), big_verdict),
            report.claim(small, small_paper, ours(SACD_SMALL, unnamed), small_verdict)]


def _fit_claim(fits: pd.DataFrame, emulated_: tuple, shares: pd.DataFrame) -> dict:
    what = ("Edgent: per-type linear regressions predict layer latency (held-out MAPE: the median "
            f"over the types, and each of conv, FC and every type with ≥ {KEY_SHARE_PCT:g} % of "
            "the measured latency)")
    paper = "“regression-based performance prediction models” (no accuracy stated)"
    scored = fits.dropna(subset=["heldout_mape_pct"]) if not fits.empty else fits
    if scored.empty:
        return report.infeasible(what, paper, "no held-out configurations to score")
    parts, failed, missing = [], [], []
    for name, t in scored.groupby("platform"):
        who, mape_of = _who(name, emulated_), t.set_index("type").heldout_mape_pct
        med, judged = float(mape_of.median()), key_types(shares, name)
        key = {k: float(mape_of[k]) for k in judged if k in mape_of.index}
        parts.append(f"{who}: median {med:.0f} % over {len(mape_of)} types"
                     + "".join(f", {PRETTY[k]} {v:.0f} %" for k, v in key.items()))
        failed += [f"{who} median {med:.0f} %"] if med > MAPE_TOL else []
        failed += [f"{who} {PRETTY[k]} {v:.0f} %" for k, v in key.items() if v > MAPE_TOL]
        missing += [f"{who} {PRETTY[k]}" for k in judged if k not in key]
    ours = "; ".join(parts)
    if failed:
        verdict = (f"{report.DIVERGES} (held-out MAPE above {MAPE_TOL:g} %: "
                   f"{', '.join(failed)})")
    elif missing:
        verdict = f"not tested: no held-out {', '.join(missing)} configurations"
    else:
        verdict = report.REPRODUCED
    return report.claim(what, paper, ours, verdict)


def _slide_claims(slides: pd.DataFrame, emulated_: tuple) -> list[dict]:
    paper = "the slides' coefficients (no units printed)"
    best = slides[slides.best & (slides.ratio > 0)] if not slides.empty else slides
    if best.empty:
        return [report.infeasible("Edgent slides' models predict our layers", paper,
                                  "no measured layers to compare with")]
    rows = []
    for r in best.to_dict("records"):
        slide = SLIDE_PLATFORM.get(r["platform"], "?")
        reading = r["predictor"].removeprefix("slides, ")
        ours = (f"nearest of {len(READINGS)} unit readings, chosen after seeing our data "
                f"({reading}): Σ {r['sum_ms']:.3g} ms vs measured {r['measured_ms']:.3g} ms "
                f"(×{r['ratio']:.2g}), per-layer MAPE {r['mape_pct']:.0f} %")
        if abs(math.log2(r["ratio"])) > math.log2(FACTOR_TOL):
            verdict = (f"{report.DIVERGES} (even the nearest reading's Σ is ×{r['ratio']:.2g} "
                       f"ours, beyond ×{FACTOR_TOL:g}; units unpublished)")
        elif not r["mape_pct"] <= LAYER_MAPE_TOL:
            verdict = (f"{report.DIVERGES} (Σ within ×{FACTOR_TOL:g}, but per-layer MAPE "
                       f"{r['mape_pct']:.0f} % > {LAYER_MAPE_TOL:g} % even in the nearest "
                       "reading; units unpublished)")
        else:
            verdict = SCALE_ONLY
        rows.append(report.claim(
            f"Edgent slides' {slide} models predict our {_who(r['platform'], emulated_)} "
            "AlexNet's main branch", paper, ours, verdict))
    return rows


def _macs_claim(variants: pd.DataFrame, emulated_: tuple) -> dict:
    what = ("This project's hypothesis (no paper's): adding the MAC count brings Edgent's conv "
            f"and FC fits within {MAPE_TOL:g} % held-out MAPE")
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
    names = [f"{_who(p, emulated_)} {PRETTY.get(k, k)}" for p, k in pairs.index]
    ours = "; ".join(f"{n}: {b:.0f} → {a:.0f} %" for n, b, a in zip(names, before, after))
    better = [n for n, b, a in zip(names, before, after) if a < b]
    worse = [n for n in names if n not in better]
    above = [f"{n} {a:.0f} %" for n, a in zip(names, after) if a > MAPE_TOL]
    improved = (f"all {len(names)} fits improved" if not worse else
                f"{len(better)} of {len(names)} fits improved (not: {', '.join(worse)})")
    if not above and not worse:
        return report.claim(what, paper, f"held-out MAPE {ours}", MET)
    miss = (f"{len(above)} of {len(names)} still above {MAPE_TOL:g} %: {', '.join(above)}"
            if above else f"all within {MAPE_TOL:g} %")
    return report.claim(what, paper, f"held-out MAPE {ours}",
                        f"{NOT_MET} ({improved}: {ours}; {miss})")


def whole_bias(whole: pd.DataFrame) -> pd.DataFrame:
    """Per platform: mean |error| of each predictor, and the signed error of Σ averaged layers
    (mean, min, max) — a near-constant bias has a small spread."""
    cols = ["platform", "branches", "|error| averaged (%)", "|error| regression (%)",
            "averaged bias (%)", "averaged bias min (%)", "averaged bias max (%)"]
    rows = []
    for name, t in (whole.groupby("platform", sort=False) if not whole.empty else []):
        a, r = t["error, averaged (%)"], t["error, regression (%)"]
        rows.append({"platform": name, "branches": len(t), "|error| averaged (%)": a.abs().mean(),
                     "|error| regression (%)": r.abs().mean(), "averaged bias (%)": a.mean(),
                     "averaged bias min (%)": a.min(), "averaged bias max (%)": a.max()})
    return pd.DataFrame(rows, columns=cols)


def _whole_claims(whole: pd.DataFrame, emulated_: tuple) -> list[dict]:
    what = "SAC-d: averaged measurements predict whole-model latency better than regressions"
    if whole.empty:
        return [report.infeasible(what, "better", "no whole-branch measurements")]
    rows = []
    for b in whole_bias(whole).to_dict("records"):
        t = whole[whole.platform == b["platform"]]
        a, r = b["|error| averaged (%)"], b["|error| regression (%)"]
        by_branch = ("; regression error by branch: " + ", ".join(
            f"{m} {e:+.0f} %" for m, e in zip(t.model, t["error, regression (%)"]))
            if "model" in t else "")
        ours = (f"mean |error| averaged {a:.1f} % vs regression {r:.1f} % over "
                f"{b['branches']} branches; Σ averaged layers biased "
                f"{b['averaged bias (%)']:+.0f} % "
                f"(from {b['averaged bias min (%)']:+.0f} to {b['averaged bias max (%)']:+.0f} %)"
                + by_branch)
        verdict = report.REPRODUCED if a < r else (
            f"{report.DIVERGES} (regression {r:.0f} % ≤ averaged {a:.0f} %; Σ averaged layers "
            f"biased {b['averaged bias (%)']:+.0f} %)")
        rows.append(report.claim(f"{what} ({_who(b['platform'], emulated_)})", "better", ours,
                                 verdict))
    return rows


def claims(m: dict, name: str | None = None, profile=None, device: str = "raspberry-pi-4",
           batch: int = papers.SACD_FIG3_BATCH_SIZE,
           emulated: tuple[str, ...] = ("raspberry-pi-4",)) -> pd.DataFrame:
    """Notebook 04's paper-vs-here table from its measurements ``m`` (missing or empty parts
    give 'not tested' rows, never an error):

    - ``shares``: ``type_shares`` (platform, batch, type, share_pct);
    - ``fits``: our regressions' scores (platform, type, heldout_mape_pct);
    - ``slides``: ``reading_summary``; ``variants``: ``fit_variants``;
    - ``whole``: ``whole_model_comparison``.

    ``emulated`` names the platforms whose times are dilated, not measured (``emulated()``):
    their rows say so.
    """
    emulated = tuple(emulated)
    rows = _fig3_claims(_frame(m, "shares", {"platform", "batch", "type", "share_pct"}),
                        device, batch, emulated)
    shares = _frame(m, "shares", {"platform", "batch", "type", "share_pct"})
    rows.append(_fit_claim(_frame(m, "fits", {"platform", "type", "heldout_mape_pct"}), emulated,
                           shares))
    rows += _slide_claims(_frame(m, "slides", {"platform", "predictor", "ratio", "best"}),
                          emulated)
    rows.append(_macs_claim(_frame(m, "variants", {"platform", "type", "variables",
                                                   "heldout_mape_pct"}), emulated))
    rows += _whole_claims(_frame(m, "whole", {"platform", "error, averaged (%)",
                                              "error, regression (%)"}), emulated)
    return report.claims(rows, name, profile)


# ------------------------------------------------------------------------------ findings
def _kind_of(verdict: str) -> str:
    if verdict == report.REPRODUCED:
        return "reproduced"
    for kind in ("reproduced", "scale only", "diverges", "not met", "met", "not tested"):
        if verdict.startswith(kind):
            return "reproduced with a caveat" if kind == "reproduced" else kind
    return "other"


def findings(m: dict, table: pd.DataFrame, batch: int = papers.SACD_FIG3_BATCH_SIZE,
             emulated: tuple[str, ...] = ("raspberry-pi-4",)) -> list[str]:
    """The closing lines of notebook 04, every number computed from ``m`` (as for ``claims``)
    and its claims ``table``."""
    lines = []
    shares = _frame(m, "shares", {"platform", "batch", "type", "share_pct"})
    if not shares.empty:
        sh = shares.groupby(["platform", "batch", "type"]).share_pct.sum()

        def part(n, b, kinds):
            return float(sum(sh.get((n, b, k), 0.0) for k in kinds))

        for n in shares.platform.unique():
            x86 = f" ({X86_NOTE})" if n in emulated else ""
            lines.append(
                f"SAC-d Fig. 3 on `{_who(n, emulated)}`{x86}: conv + FC take "
                f"{part(n, batch, SACD_BIG):.0f} % of the main branch's summed layer latency at "
                f"batch {batch} (conv {part(n, batch, ('conv',)):.0f} %, FC "
                f"{part(n, batch, ('fc',)):.1f} %; at one image {part(n, 1, SACD_BIG):.0f} %); "
                f"ReLU + pool {part(n, batch, SACD_SMALL):.0f} % ({part(n, 1, SACD_SMALL):.0f} %); "
                f"LRN and dropout, in neither of SAC-d's groups, "
                f"{part(n, batch, SACD_UNNAMED):.0f} % ({part(n, 1, SACD_UNNAMED):.0f} %).")
    fits = _frame(m, "fits", {"platform", "type", "heldout_mape_pct"}).dropna()
    for n, t in (fits.groupby("platform") if not fits.empty else []):
        mp = t.set_index("type").heldout_mape_pct
        key = ", ".join(f"{PRETTY[k]} {mp[k]:.0f} %" for k in key_types(shares, n)
                        if k in mp.index)
        lines.append(f"Our regressions on `{_who(n, emulated)}`: median held-out MAPE "
                     f"{mp.median():.0f} % over {len(mp)} layer types; "
                     f"{key or 'conv and FC not scored'} (tolerance {MAPE_TOL:g} %, for the "
                     f"median and for each of conv, FC and every type with ≥ "
                     f"{KEY_SHARE_PCT:g} % of the measured latency).")
    slides = _frame(m, "slides", {"platform", "predictor", "ratio", "best", "mape_pct"})
    if not slides.empty:
        ours = slides[slides.predictor == "ours"].set_index("platform")
        for r in slides[slides.best].to_dict("records"):
            n = r["platform"]
            mine = (f"; our own regressions: ×{ours.loc[n, 'ratio']:.2f} (per-layer MAPE "
                    f"{ours.loc[n, 'mape_pct']:.0f} %)" if n in ours.index else "")
            lines.append(
                f"Edgent's slides ({SLIDE_PLATFORM.get(n, '?')}) on `{_who(n, emulated)}`: the "
                f"nearest of {len(READINGS)} unit readings, chosen after seeing our data, "
                f"*{r['predictor'].removeprefix('slides, ')}*, sums the main branch to "
                f"×{r['ratio']:.2f} of our measurement (per-layer MAPE {r['mape_pct']:.0f} %)"
                f"{mine}. A match of scale at best, not a reproduction.")
    conv = {k: papers.EDGENT_REGRESSIONS[k]["conv"]["coef"] for k in ("edge", "mobile")}
    ratio = [e / mo for e, mo in zip(conv["edge"], conv["mobile"])]
    lines.append(f"The slides' edge-server conv coefficients are {ratio[0]:.0f}× and "
                 f"{ratio[1]:.0f}× the mobile ones: read in one unit, the desktop would run a "
                 "convolution slower than the Pi, so the two columns are probably not in the "
                 "same units.")
    variants = _frame(m, "variants", {"platform", "type", "variables", "heldout_mape_pct"})
    if not variants.empty:
        mac = variants.pivot_table(index=["platform", "type"], columns="variables",
                                   values="heldout_mape_pct")
        lines += [f"`{_who(n, emulated)}` {PRETTY.get(k, k)}: held-out MAPE "
                  f"{r.get(VARIANTS[0], math.nan):.0f} % with Edgent's variables, "
                  f"{r.get(VARIANTS[1], math.nan):.0f} % with the MAC count alone, "
                  f"{r.get(VARIANTS[2], math.nan):.0f} % with both (tolerance {MAPE_TOL:g} %)."
                  for (n, k), r in mac.iterrows()]
    whole = _frame(m, "whole", {"platform", "error, averaged (%)", "error, regression (%)"})
    for b in whole_bias(whole).to_dict("records"):
        n = b["platform"]
        verdict = ("averaged layers predict better" if b["|error| averaged (%)"]
                   < b["|error| regression (%)"] else "Σ regressions predict better")
        t = whole[whole.platform == n]
        reg = ", ".join(f"{e:+.0f} %" for e in t["error, regression (%)"])
        spread = b["averaged bias max (%)"] - b["averaged bias min (%)"]
        constant = " near-constant" if spread <= NEAR_CONSTANT_PP else "n uneven"
        lines.append(
            f"Whole branches on `{_who(n, emulated)}`: mean |error| "
            f"{b['|error| averaged (%)']:.0f} % for averaged layers, "
            f"{b['|error| regression (%)']:.0f} % for Σ regressions — {verdict}. Σ averaged "
            f"layers is biased by a{constant} {b['averaged bias (%)']:+.0f} % (from "
            f"{b['averaged bias min (%)']:+.0f} to {b['averaged bias max (%)']:+.0f} % over "
            f"{b['branches']} branches); Σ regressions' error by branch, shallow to deep: {reg}.")
    if not table.empty:
        counts = table.verdict.map(_kind_of).value_counts()
        order = ("reproduced", "reproduced with a caveat", "scale only", "diverges", "met",
                 "not met", "not tested", "other")
        lines.append("Verdicts of the " + f"{len(table)} rows: " + ", ".join(
            f"{counts[k]} {k}" for k in order if k in counts) + ".")
    return lines
