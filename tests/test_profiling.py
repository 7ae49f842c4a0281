"""Platforms, per-layer tables, Edgent's regressions and the profile JSON."""

import numpy as np
import pandas as pd
import pytest
import torch

from edgelib import platforms, profiling
from edgelib.models.branchy_alexnet import BranchyAlexNet

FAST = platforms.Platform("test", threads=1, slowdown=3.0, memory_mb=10,
                          stands_for="a test", calibration="none")


def test_layer_table_lists_every_partition_point_with_sizes_and_dilated_latency():
    net = BranchyAlexNet(10, width=8).eval()
    tables = profiling.measure_branchy(net, FAST, warmup=0, repeats=2)
    main = tables["branchy_alexnet/exit3"]
    assert len(main) == 20 and list(main["index"]) == list(range(1, 21))
    assert main.iloc[0].output_bytes == 8 * 32 * 32 * 4  # conv1's output, fp32
    assert main.iloc[-1].output_bytes == 10 * 4
    assert (main[main.type == "conv"].flops > 0).all() and (main[main.type == "relu"].flops == 0).all()
    assert (main.mean_ms > 0).all() and main.iloc[0].kernel == 5


def test_time_is_dilated_by_the_slowdown(monkeypatch):
    ticks = iter(np.arange(0, 100, 0.5))  # every run "takes" 0.5 s
    monkeypatch.setattr(profiling.time, "perf_counter", lambda: next(ticks))
    t = profiling.time_ms(lambda: None, FAST, warmup=0, repeats=3)
    assert t["mean_ms"] == pytest.approx(500 * 3.0) and t["std_ms"] == 0


def test_regression_recovers_planted_coefficients():
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(60):
        cin, cout = rng.integers(100, 10000), rng.integers(10, 1000)
        rows.append({"type": "fc", "input_elems": cin, "output_elems": cout,
                     "mean_ms": 2e-4 * cin + 3e-3 * cout + 0.7 + rng.normal(0, 1e-4)})
        k, s, f, n = rng.choice([1, 3, 5]), rng.choice([1, 2]), rng.integers(8, 256), rng.integers(
            100, 50000)
        rows.append({"type": "conv", "input_elems": n, "kernel": k, "stride": s, "filters": f,
                     "mean_ms": 1e-4 * n + 5e-3 * (k / s) ** 2 * f + 0.2})
    models = profiling.fit_regressions(pd.DataFrame(rows))
    assert models["fc"]["coef"] == pytest.approx([2e-4, 3e-3], rel=1e-2)
    assert models["fc"]["intercept"] == pytest.approx(0.7, abs=1e-2)
    assert models["conv"]["coef"] == pytest.approx([1e-4, 5e-3], rel=1e-6)
    assert models["conv"]["heldout_mape"] < 1e-3
    assert profiling.predict(models, "fc", {"input_elems": 1000, "output_elems": 100}) == \
        pytest.approx(0.2 + 0.3 + 0.7, abs=1e-2)
    with pytest.raises(ValueError, match="no regression"):
        profiling.predict(models, "lrn", {"input_elems": 1})


def test_sweep_measures_each_type(monkeypatch):
    out = profiling.sweep(FAST, configs=2, warmup=0, repeats=1)
    assert sorted(out.type.unique()) == sorted(profiling.FEATURES)
    assert (out.mean_ms > 0).all()


def test_profile_json_round_trips(tmp_path):
    table = pd.DataFrame([{"index": 1, "layer": "conv1", "type": "conv", "mean_ms": 1.5}])
    regs = {"relu": {"features": ["input size"], "coef": [1e-6], "intercept": 0.01,
                     "heldout_mape": 3.0, "configs": 5}}
    path = profiling.write_profile(tmp_path / "p.json", FAST, {"m": table}, regs)
    doc = profiling.load_profile(path)
    assert doc["platform"] == FAST
    assert doc["regressions"] == regs
    pd.testing.assert_frame_equal(doc["tables"]["m"], table)


def test_bad_profile_files_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(profiling.ProfileError, match="not valid JSON"):
        profiling.load_profile(bad)
    bad.write_text('{"format": "edgelib-profile/1", "platform": {}}')
    with pytest.raises(profiling.ProfileError, match="lacks tables, regressions"):
        profiling.load_profile(bad)
    bad.write_text('[1, 2]')
    with pytest.raises(profiling.ProfileError, match="not an edgelib-profile/1"):
        profiling.load_profile(bad)
    with pytest.raises(profiling.ProfileError, match="does not exist"):
        profiling.load_profile(tmp_path / "missing.json")


def test_platforms_are_named_and_documented(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGELIB_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(platforms, "host_gflops", lambda: 40.0)
    pi = platforms.get("raspberry-pi-4")
    assert pi.threads == 1 and pi.slowdown == pytest.approx(40.0 / platforms.PI4_HPL_GFLOPS)
    assert "Feiereisen" in pi.calibration
    assert platforms.get("edge-server").slowdown == 1.0
    with pytest.raises(ValueError, match="known platforms"):
        platforms.get("jetson")
    with pytest.raises(ValueError, match="bad platform"):
        platforms.Platform("x", threads=0, slowdown=1, memory_mb=1, stands_for="", calibration="")


def test_cli_writes_a_profile_that_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGELIB_DATA_DIR", str(tmp_path))
    out = tmp_path / "edge.json"
    profiling.main(["--platform", "edge-server", "--out", str(out), "--profile", "smoke"])
    doc = profiling.load_profile(out)
    assert set(doc["tables"]) == {*(f"branchy_alexnet/exit{e}" for e in (1, 2, 3)),
                                  "resnet20", "whole", "sweep"}
    assert len(doc["tables"]["whole"]) == 4
    assert set(doc["regressions"]) == set(profiling.FEATURES)
    torch.set_num_threads(torch.get_num_threads())


def test_a_supplied_profile_replaces_the_measured_one(tmp_path, monkeypatch):
    from edgelib import profiles
    table = pd.DataFrame([{"index": 1, "layer": "conv1", "type": "conv", "mean_ms": 99.0}])
    profiling.write_profile(tmp_path / "raspberry-pi-4.json", FAST, {"m": table}, {})
    monkeypatch.setenv(profiling.PROFILE_DIR_ENV, str(tmp_path))
    doc = profiling.platform_profile(profiles.get("smoke"), "raspberry-pi-4")
    assert doc["platform"] == FAST and doc["tables"]["m"].mean_ms.iloc[0] == 99.0


# ----------------------------------------------------- layer_latency: notebook 04's analyses
from edgelib import layer_latency  # noqa: E402


def test_heldout_split_is_seeded_and_scores_what_fit_regressions_scores():
    sweep = profiling.sweep(FAST, configs=8, warmup=0, repeats=1, kinds=("conv", "fc", "relu"))
    a, b = profiling.heldout_split(sweep, seed=3), profiling.heldout_split(sweep, seed=3)
    assert all((a[k][0] == b[k][0]).all() for k in a)
    assert all(len(test) == 2 and sorted([*test, *fit]) == list(range(8))
               for test, fit in a.values())
    regs = profiling.fit_regressions(sweep, seed=3)
    variants = layer_latency.fit_variants({"p": sweep}, seed=3).set_index(["type", "variables"])
    for kind in ("conv", "fc"):
        assert variants.loc[(kind, "Edgent's"), "heldout_mape_pct"] == \
            pytest.approx(regs[kind]["heldout_mape"])
        assert variants.loc[(kind, "Edgent's"), "held out"] == 2


def test_macs_are_the_flop_counters_half_for_every_alexnet_conv_and_fc():
    tables = profiling.measure_branchy(BranchyAlexNet(10, width=8).eval(), FAST, 0, 1)
    main = tables["branchy_alexnet/exit3"]
    for r in main[main.type.isin(["conv", "fc"])].to_dict("records"):
        assert layer_latency.macs(r["type"], r) == r["flops"] / 2
    with pytest.raises(ValueError, match="conv and fc"):
        layer_latency.macs("relu", {})


def test_slide_readings_scale_sizes_and_y_as_documented():
    row = {"input_elems": 1000, "kernel": 3, "stride": 1, "filters": 10, "model_bytes": 4000}
    coef, icpt = (6.03e-5, 1.24e-4), 1.89e-1  # the slides' mobile conv model, as printed
    predict = layer_latency.slide_predict
    assert predict("conv", row, "mobile", "x in elements, y in ms") == \
        pytest.approx(coef[0] * 1000 + coef[1] * 90 + icpt)
    assert predict("conv", row, "mobile", "x in fp32 bytes, y in ms") == \
        pytest.approx(coef[0] * 4000 + coef[1] * 90 + icpt)  # (k/s)²·filters is not scaled
    assert predict("conv", row, "mobile", "x in elements, y in µs") == \
        pytest.approx((coef[0] * 1000 + coef[1] * 90 + icpt) / 1e3)
    assert predict("load", row, "mobile", "x in fp32 bytes, y in ms") == \
        pytest.approx(1.33e-6 * 4000 + 2.182)
    empty = {**row, "input_elems": 0, "filters": 0}  # the edge conv's negative intercept
    assert predict("conv", empty, "edge", "x in elements, y in ms") == 0


def test_coefficient_table_puts_the_slides_beside_ours():
    regs = {"raspberry-pi-4": {"relu": {"coef": [1e-6], "intercept": 0.01, "heldout_mape": 3.0}}}
    t = layer_latency.coefficient_table(regs).set_index(["layer type", "platform"])
    assert len(t) == 2 * len(profiling.FEATURES)
    relu = t.loc[("relu", "mobile / raspberry-pi-4")]
    assert relu["paper coef"] == "5.6e-06" and relu[layer_latency.OUR_COEF] == "1e-06"
    assert layer_latency.OUR_COEF == "our coef (ms per unit of each variable)"
    assert np.isnan(t.loc[("relu", "edge / edge-server"), "our intercept (ms)"])


def test_type_shares_sum_to_100_per_platform_and_batch():
    t = pd.DataFrame({"platform": ["a"] * 4, "batch": [1, 1, 8, 8],
                      "type": ["conv", "relu", "conv", "relu"], "mean_ms": [3.0, 1.0, 1.0, 1.0]})
    s = layer_latency.type_shares(t).set_index(["batch", "type"]).share_pct
    assert s[(1, "conv")] == 75 and s[(8, "relu")] == 50
    assert layer_latency.type_shares(t.drop(columns="batch")).batch.eq(1).all()


def test_batch_tables_measure_each_batch_side_by_side_and_cache(tmp_path, monkeypatch):
    from edgelib import profiles
    monkeypatch.setenv("EDGELIB_DATA_DIR", str(tmp_path))
    smoke = profiles.get("smoke")
    t = layer_latency.batch_tables(smoke, "edge-server", batches=(1, 2))
    assert sorted(t.batch.unique()) == [1, 2] and len(t) == 2 * 20
    one, two = t[t.batch == 1], t[t.batch == 2]
    assert list(one.output_bytes) == list(two.output_bytes)  # sizes stay per image
    assert (two.flops.to_numpy() == 2 * one.flops.to_numpy()).all()
    monkeypatch.setattr(profiling, "layer_table", lambda *a, **k: 1 / 0)
    pd.testing.assert_frame_equal(layer_latency.batch_tables(smoke, "edge-server", (1, 2)), t)


def test_slide_readings_are_every_size_unit_times_every_time_unit():
    sizes = {r.split(", y in ")[0] for r in layer_latency.READINGS}
    times = {r.split(", y in ")[1] for r in layer_latency.READINGS}
    assert len(layer_latency.READINGS) == len(sizes) * len(times) == 6


def test_resnet_block_labels_and_the_cut_summary():
    assert layer_latency.block_label("stem.1", "bn") == "stem BN"
    assert layer_latency.block_label("stage2.2", "basicblock") == "stage2.2"
    names = ["stem.0", "stage1.0", "stage2.0", "stage3.0", "head.0"]
    res = pd.DataFrame({"platform": "p", "index": range(1, 6), "layer": names,
                        "mean_ms": [1.0, 2.0, 3.0, 4.0, 0.0],
                        "output_bytes": [40, 30, 20, 10, 4]})
    cut = layer_latency.cut_summary(res).iloc[0]
    assert cut["device share (%)"] == pytest.approx(60.0)
    assert cut["upload (bytes per image)"] == 20 and cut["last block before the cut"] == "stage2.0"
    assert layer_latency.cut_summary(res, cut="nowhere").empty
    assert layer_latency.cut_summary(pd.DataFrame()).empty


def test_provenance_says_emulated_for_a_dilated_platform():
    from edgelib.platforms import Platform
    pi = Platform("raspberry-pi-4", 1, 4.427, 4096, "a Pi", "HPL")
    edge = Platform("edge-server", 2, 1.0, 4096, "a desktop", "none")
    assert layer_latency.emulated([pi, edge]) == ("raspberry-pi-4",)
    assert layer_latency.provenance(pi) == "emulated (1 host thread × 4.427)"
    assert layer_latency.provenance(edge) == "measured"
