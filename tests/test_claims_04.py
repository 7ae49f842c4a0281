"""Notebook 04's paper-vs-here table: verdicts on a normal small measurement and on degenerate
ones (nothing measured, no held-out configurations) — the latter must not raise."""

import numpy as np
import pandas as pd
import pytest

from edgelib import layer_latency as L
from edgelib import papers, profiling, report

PI, EDGE = "raspberry-pi-4", "edge-server"
B = papers.SACD_FIG3_BATCH_SIZE


def _shares(conv, fc, relu, pool, batch=B):
    return pd.DataFrame([{"platform": PI, "batch": batch, "type": k, "share_pct": v}
                         for k, v in dict(conv=conv, fc=fc, relu=relu, pool=pool).items()])


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


def _whole(averaged, regression):
    return pd.DataFrame([{"platform": PI, "model": "exit3", "error, averaged (%)": averaged,
                          "error, regression (%)": regression}])


def test_a_normal_measurement_gets_a_verdict_per_claim():
    sweep = _sweep()
    pred = L.layer_predictions({PI: _layers()}, {})
    m = {"shares": pd.concat([_shares(60, 20, 12, 8), _shares(50, 10, 25, 15, batch=1)]),
         "fits": pd.DataFrame({"platform": [PI, PI], "type": ["relu", "load"],
                               "heldout_mape_pct": [10.0, 20.0]}),
         "slides": L.reading_summary(pred),
         "variants": L.fit_variants({PI: sweep}),
         "whole": _whole(-10.0, -40.0)}
    table = L.claims(m)
    assert list(table.columns) == list(report.CLAIM_COLUMNS)
    assert list(table.verdict) == [report.REPRODUCED] * 6
    assert "80.0 %" in table.ours[0] and "(batch 1: 60.0 %)" in table.ours[0]
    assert "(x in elements, y in ms)" in table.ours[3] and "×1" in table.ours[3]


def test_diverging_measurements_say_so():
    m = {"shares": _shares(30, 10, 58, 2), "fits": pd.DataFrame(
        {"platform": [PI], "type": ["conv"], "heldout_mape_pct": [90.0]}),
         "variants": pd.DataFrame({"platform": PI, "type": "conv",
                                   "variables": ["Edgent's", "MACs", "Edgent's + MACs"],
                                   "heldout_mape_pct": [200.0, 50.0, 40.0]}),
         "whole": _whole(-30.0, -5.0)}
    verdicts = list(L.claims(m).verdict)
    assert verdicts[0].startswith(report.DIVERGES) and "40.0 %" in verdicts[0]
    assert verdicts[1] == report.REPRODUCED  # 60 % in ReLU + pool: not negligible
    assert verdicts[2].startswith(report.DIVERGES) and "90 %" in verdicts[2]
    assert verdicts[3] == report.NOTHING_FEASIBLE  # no slides comparison given
    assert verdicts[4].startswith(report.DIVERGES) and "raspberry-pi-4 conv" in verdicts[4]
    assert verdicts[5] == report.DIVERGES


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
    assert (row.verdict == report.REPRODUCED) is ok
    assert "(x in elements, y in ms)" in row.ours and f"×{ratio:.2g}" in row.ours


def test_slides_with_the_right_sum_but_wrong_layers_diverge():
    pred = pd.DataFrame({"platform": [PI, PI], "measured (ms)": [1.0, 1.0],
                         "ours (ms)": [1.0, 1.0],
                         **{f"slides, {r} (ms)": [3.0 * (1 + 1e3 * i), 0.01] for i, r in
                            enumerate(L.READINGS)}})
    verdict = L.claims({"slides": L.reading_summary(pred)}).verdict[3]
    assert verdict.startswith(report.DIVERGES) and "per-layer MAPE 150 %" in verdict
