"""Notebook 04's paper-vs-here table: verdicts on a normal small measurement and on degenerate
ones (nothing measured, no held-out configurations) — the latter must not raise."""

import numpy as np
import pandas as pd
import pytest

from edgelib import layer_latency as L
from edgelib import layer_latency_claims as LC
from edgelib import papers, profiling, report

PI, EDGE = "raspberry-pi-4", "edge-server"
B = papers.SACD_FIG3_BATCH_SIZE


def _shares(conv, fc, relu, pool, batch=B, lrn=0.0, dropout=0.0):
    return pd.DataFrame([{"platform": PI, "batch": batch, "type": k, "share_pct": v}
                         for k, v in dict(conv=conv, fc=fc, relu=relu, pool=pool, lrn=lrn,
                                          dropout=dropout).items()])


def _fits(platform=PI, **mape):
    return pd.DataFrame({"platform": platform, "type": list(mape),
                         "heldout_mape_pct": list(mape.values())})


def _layers():
    """A two-layer 'branch' whose measured latency is exactly the slides' mobile model, x read
    in elements and y in ms."""
    rows = [{"index": 1, "layer": "conv1", "type": "conv", "input_elems": 3072, "kernel": 5,
             "stride": 1, "filters": 16, "output_elems": 16384},
            {"index": 2, "layer": "relu1", "type": "relu", "input_elems": 16384,
             "output_elems": 16384}]
    for r in rows:
        r["mean_ms"] = L.slide_predict(r["type"], r, "mobile", "x in elements, y in ms")
    return pd.DataFrame(rows)


def _sweep(n=24, seed=0):
    """conv and FC latency that is linear in the MAC count (plus a little noise)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        conv = {"type": "conv", "input_elems": int(rng.integers(1_000, 60_000)),
                "kernel": int(rng.choice([1, 3, 5])), "stride": int(rng.choice([1, 2])),
                "filters": int(rng.integers(8, 256))}
        fc = {"type": "fc", "input_elems": int(rng.integers(64, 8000)),
              "output_elems": int(rng.integers(10, 2000))}
        for r in (conv, fc):
            r["mean_ms"] = 2e-7 * L.macs(r["type"], r) + 0.05 + rng.normal(0, 1e-3)
            rows.append(r)
    return pd.DataFrame(rows)


def _whole(averaged, regression, platform=PI):
    return pd.DataFrame([{"platform": platform, "model": f"exit{e}",
                          "error, averaged (%)": averaged + e - 2,
                          "error, regression (%)": regression * e / 3} for e in (1, 2, 3)])


GOOD_FITS = dict(conv=10.0, fc=20.0, relu=5.0, load=20.0)


def test_a_normal_measurement_gets_a_verdict_per_claim():
    sweep = _sweep()
    pred = L.layer_predictions({PI: _layers()}, {})
    m = {"shares": pd.concat([_shares(60, 20, 12, 8), _shares(50, 10, 25, 15, batch=1)]),
         "fits": _fits(**GOOD_FITS, pool=15.0),  # ReLU and pool reach 10 %: judged on their own
         "slides": L.reading_summary(pred),
         "variants": L.fit_variants({PI: sweep}),
         "whole": _whole(-10.0, -40.0)}
    table = L.claims(m)
    assert list(table.columns) == list(report.CLAIM_COLUMNS)
    assert list(table.verdict) == [LC.EMULATED_REPRODUCED] * 2 + [
        report.REPRODUCED, L.SCALE_ONLY, L.MET, report.REPRODUCED]
    # SAC-d's own groups, each type reported on its own; the emulated Pi says so
    assert "conv + FC 80.0 % = conv 60.0 % + FC 20.0 %" in table.ours[0]
    assert "(batch 1: conv + FC 60.0 % = conv 50.0 % + FC 10.0 %)" in table.ours[0]
    assert "ReLU + pool 20.0 % = ReLU 12.0 % + pool 8.0 %" in table.ours[1]
    assert "in neither group: LRN 0.0 %, dropout 0.0 %" in table.ours[1]
    assert all("raspberry-pi-4 (emulated)" in c for c in table.claim[:2])
    assert all(L.X86_NOTE in o for o in table.ours[:2])
    assert "conv 10 %, FC 20 %, pool 15 %, ReLU 5 %" in table.ours[2]
    assert "no accuracy stated" in table.paper[2] and "used to plan" not in table.paper[2]
    assert "(x in elements, y in ms)" in table.ours[3] and "×1" in table.ours[3]
    assert "chosen after seeing our data" in table.ours[3]
    assert "hypothesis" in table.claim[4] and "earlier claim" not in table.claim[4]
    assert "biased -10 % (from -11 to -9 %)" in table.ours[5]
    assert "exit1 -13 %, exit2 -27 %, exit3 -40 %" in table.ours[5]


def test_an_unmarked_platform_is_not_called_emulated():
    table = L.claims({"shares": _shares(60, 20, 12, 8)}, emulated=())
    assert "emulated" not in table.claim[0] and L.X86_NOTE not in table.ours[0]


def test_diverging_measurements_say_so():
    m = {"shares": _shares(30, 10, 58, 2), "fits": _fits(conv=90.0),
         "variants": pd.DataFrame({"platform": PI, "type": "conv",
                                   "variables": ["Edgent's", "MACs", "Edgent's + MACs"],
                                   "heldout_mape_pct": [200.0, 50.0, 40.0]}),
         "whole": _whole(-30.0, -5.0)}
    verdicts = list(L.claims(m).verdict)
    assert verdicts[0].startswith(report.DIVERGES) and "40.0 %" in verdicts[0]
    # ReLU + pool 60 %: not negligible, but not "less time" than conv + FC's 40 %
    assert verdicts[1] == f"{report.DIVERGES} (60.0 %, not less than conv + FC's 40.0 %)"
    assert verdicts[2].startswith(report.DIVERGES) and "conv 90 %" in verdicts[2]
    assert verdicts[3] == report.NOTHING_FEASIBLE  # no slides comparison given
    assert verdicts[4].startswith(L.NOT_MET) and "raspberry-pi-4 (emulated) conv" in verdicts[4]
    assert verdicts[5].startswith(report.DIVERGES) and "biased -30 %" in verdicts[5]


def test_negligible_cheap_layers_diverge():
    verdict = L.claims({"shares": _shares(90, 7, 2, 1)}).verdict[1]
    assert verdict.startswith(report.DIVERGES) and "negligible" in verdict


def test_conv_plus_fc_carried_by_conv_alone_is_a_qualified_reproduction():
    """The Pi at batch 8: conv + FC above half, but FC below pool and LRN."""
    table = L.claims({"shares": _shares(59.4, 2.0, 0.5, 25.3, lrn=12.7)})
    assert table.verdict[0] == (f"{LC.EMULATED_REPRODUCED}, for conv + FC together, but FC "
                                "alone (2.0 %) takes less than pool (25.3 %) and LRN (12.7 %)")
    assert "LRN 12.7 %" in table.ours[1]
    assert table.verdict[1] == LC.EMULATED_REPRODUCED  # ReLU + pool 25.8 % < 61.4 %, ≥ 5 %
    # on a platform measured as it is (not emulated) the verdict is a plain reproduction
    assert L.claims({"shares": _shares(59.4, 2.0, 0.5, 25.3, lrn=12.7)},
                    emulated=()).verdict[1] == report.REPRODUCED


def test_conv_and_fc_must_fit_even_when_the_median_passes():
    """The edge server: median over 7 types 24 % (within 25 %), conv 83 %, FC 530 %."""
    fits = _fits(EDGE, conv=83.0, fc=530.0, relu=14.0, pool=39.0, lrn=24.0, dropout=6.0,
                 load=14.0)
    row = L.claims({"fits": fits}).iloc[2]
    assert fits.heldout_mape_pct.median() <= L.MAPE_TOL
    assert row.verdict == (f"{report.DIVERGES} (held-out MAPE above 25 %: edge-server conv 83 %, "
                           "edge-server FC 530 %)")
    assert "edge-server: median 24 % over 7 types, conv 83 %, FC 530 %" == row.ours


def test_a_failing_median_diverges_and_missing_conv_fc_is_not_tested():
    bad = L.claims({"fits": _fits(conv=10.0, fc=10.0, relu=60.0, pool=70.0, lrn=80.0)})
    assert "raspberry-pi-4 (emulated) median 60 %" in bad.verdict[2]
    untested = L.claims({"fits": _fits(relu=5.0, load=5.0)}).verdict[2]
    assert untested.startswith("not tested") and "conv" in untested and "FC" in untested


def test_whole_model_claim_is_judged_per_platform():
    whole = pd.concat([_whole(-16.0, -30.0), _whole(-31.0, -20.0, platform=EDGE)])
    rows = L.claims({"whole": whole}).iloc[-2:]
    assert list(rows.claim.str.endswith(("(raspberry-pi-4 (emulated))", "(edge-server)"))) == \
        [True, True]
    assert rows.verdict.iloc[0] == report.REPRODUCED
    assert rows.verdict.iloc[1] == (f"{report.DIVERGES} (regression 13 % ≤ averaged 31 %; "
                                    "Σ averaged layers biased -31 %)")


def test_findings_are_computed_lines():
    m = {"shares": _shares(59.4, 2.0, 0.5, 25.3, lrn=12.7),
         "fits": _fits(EDGE, conv=83.0, fc=530.0, relu=14.0),
         "whole": pd.concat([_whole(-16.0, -30.0), _whole(-31.0, -20.0, platform=EDGE)])}
    table = L.claims(m)
    lines = L.findings(m, table)
    assert any("FC 2.0 %" in x and "raspberry-pi-4 (emulated)" in x for x in lines)
    assert any("median held-out MAPE 83 % over 3 layer types; conv 83 %, FC 530 %" in x
               for x in lines)
    assert any("near-constant -31 %" in x and "Σ regressions predict better" in x for x in lines)
    assert lines[-1].startswith(f"Verdicts of the {len(table)} rows:")
    assert "2 reproduced with a caveat" in lines[-1]


def test_every_type_with_a_large_share_must_fit():
    """The Pi: pool takes 25 % and LRN 13 % of the latency, FC 2 %; pool's fit is 86 % off."""
    m = {"shares": _shares(59.4, 2.0, 0.5, 25.3, lrn=12.7),
         "fits": _fits(conv=20.0, fc=20.0, relu=5.0, pool=86.0, lrn=10.0, load=5.0)}
    assert LC.key_types(m["shares"], PI) == ("conv", "fc", "lrn", "pool")
    row = L.claims(m).iloc[2]
    assert row.verdict == (f"{report.DIVERGES} (held-out MAPE above 25 %: "
                           "raspberry-pi-4 (emulated) pool 86 %)")
    assert "LRN 10 %, pool 86 %" in row.ours and "10 % of the measured latency" in row.claim


def test_macs_claim_says_which_fits_improved_and_which_miss():
    variants = pd.DataFrame({"platform": PI, "type": ["conv"] * 3 + ["fc"] * 3,
                             "variables": ["Edgent's", "MACs", "Edgent's + MACs"] * 2,
                             "heldout_mape_pct": [200.0, 50.0, 33.0, 520.0, 100.0, 20.0]})
    verdict = L.claims({"variants": variants}).verdict[4]
    assert verdict == (f"{L.NOT_MET} (all 2 fits improved: raspberry-pi-4 (emulated) conv: "
                       "200 → 33 %; raspberry-pi-4 (emulated) FC: 520 → 20 %; 1 of 2 still above "
                       "25 %: raspberry-pi-4 (emulated) conv 33 %)")


def test_nothing_measured_gives_not_tested_rows_without_raising(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGELIB_FIGURES_DIR", str(tmp_path))
    empty = pd.DataFrame()
    m = {"shares": L.type_shares(empty),
         "fits": L.fit_scores({PI: {}}),
         "slides": L.reading_summary(L.layer_predictions({PI: empty}, {PI: {}})),
         "variants": L.fit_variants({PI: pd.DataFrame(columns=["type", "mean_ms"])}),
         "whole": L.whole_model_comparison({PI: {"tables": {"branchy_alexnet/exit3": empty,
                                                            "whole": empty},
                                                 "regressions": {}}})}
    for measurement in (m, {}, {"shares": "not a table"}):
        table = L.claims(measurement, "04_paper_vs_here", "smoke")
        assert set(table.verdict) == {report.NOTHING_FEASIBLE}
        assert all(o.startswith("nothing feasible") for o in table.ours)
    assert (tmp_path / "smoke" / "04_paper_vs_here.md").exists()


def test_no_heldout_configurations_is_not_tested():
    sweep = _sweep(n=3)  # fewer than 4 configurations per type: nothing held out
    regs = profiling.fit_regressions(sweep)
    assert np.isnan(regs["conv"]["heldout_mape"])
    table = L.claims({"fits": L.fit_scores({PI: regs}),
                      "variants": L.fit_variants({PI: sweep}),
                      "shares": _shares(60, 20, 12, 8, batch=1)})  # batch 1 only, not the paper's
    assert table.verdict[0] == report.NOTHING_FEASIBLE and f"batch {B}" in table.ours[0]
    assert table.verdict[2] == report.NOTHING_FEASIBLE
    assert table.verdict[4] == report.NOTHING_FEASIBLE
    assert "no held-out" in table.ours[4]


@pytest.mark.parametrize("ratio, ok", [(1.9, True), (0.6, True), (2.2, False), (0.1, False)])
def test_slides_verdict_is_within_a_factor(ratio, ok):
    pred = pd.DataFrame({"platform": [PI], "measured (ms)": [1.0], "ours (ms)": [1.0],
                         **{f"slides, {r} (ms)": [ratio * (1 + 1e3 * i)] for i, r in
                            enumerate(L.READINGS)}})  # the first reading is nearest
    row = L.claims({"slides": L.reading_summary(pred)}).iloc[3]
    assert (row.verdict == L.SCALE_ONLY) is ok  # at best a match of scale, never "reproduced"
    assert ok or (row.verdict.startswith(report.DIVERGES) and "units unpublished" in row.verdict)
    assert "(x in elements, y in ms)" in row.ours and f"×{ratio:.2g}" in row.ours
    assert f"nearest of {len(L.READINGS)} unit readings, chosen after seeing our data" in row.ours


def test_slides_with_the_right_sum_but_wrong_layers_diverge():
    pred = pd.DataFrame({"platform": [PI, PI], "measured (ms)": [1.0, 1.0],
                         "ours (ms)": [1.0, 1.0],
                         **{f"slides, {r} (ms)": [3.0 * (1 + 1e3 * i), 0.01] for i, r in
                            enumerate(L.READINGS)}})
    verdict = L.claims({"slides": L.reading_summary(pred)}).verdict[3]
    assert verdict.startswith(report.DIVERGES) and "per-layer MAPE 150 %" in verdict
    assert "units unpublished" in verdict
