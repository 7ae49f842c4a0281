"""Verdict code of notebooks 00-02 on measurements where nothing is feasible (and on ordinary
ones): every table and verdict is built, and says so, instead of raising."""

import pandas as pd
import pytest
import torch

from edgelib import backbone_report, report, superclass_report, two_level_report as tlr


def _costs(keys=("resnet20", "resnet18", "densenet201")):
    return pd.DataFrame([{"model": k, "key": k, "trained here": False, "params_M": 1.0,
                          "GMACs": 0.5, "latency_ms": 1.0} for k in keys])


def _record(acc=0.9, minutes=10.0, epochs=3):
    return {"metrics": {"test_acc": acc, "history": {"test_acc": [0.5, 0.7, 0.8, acc]}},
            "timing": {"train_seconds": 60 * minutes, "cpu": "a CPU"},
            "config": {"recipe": {"epochs": epochs}, "precision": "fp32"}}


def test_00_with_nothing_trained():
    costs = _costs()
    table = backbone_report.table1(costs, {}, {}, cifar100_available=False)
    assert (table["CIFAR-10 verdict"] != report.REPRODUCED).all()
    claims = backbone_report.claims(table, costs, {}, False)
    goal = claims[claims.claim.str.startswith("speed goal")].iloc[0]
    assert goal.verdict == report.NOTHING_FEASIBLE
    assert "needs network" in set(claims.verdict)
    lines = backbone_report.findings(claims, {})
    assert any("Speed goal" in line for line in lines)


def test_00_table1_flops_and_params_reproduce_under_the_papers_count():
    claims = backbone_report.claims(backbone_report.table1(_costs(), {}, {}, False), _costs(),
                                    {}, False)
    flops, raw, params = claims.verdict.iloc[:3]
    assert flops == backbone_report.FITTED and params == report.REPRODUCED
    assert raw.startswith(report.DIVERGES)  # conv + linear alone is up to ~3 % below


def test_00_speed_goal_and_accuracy_rows_from_records():
    costs = _costs(("resnet20", "cifarnet"))
    records = {"resnet20": _record(0.9125), "cifarnet": _record(0.93, minutes=25)}
    table = backbone_report.table1(costs, {k: 100 * r["metrics"]["test_acc"]
                                           for k, r in records.items()}, {}, False)
    claims = backbone_report.claims(table, costs, records, False)
    assert claims[claims.claim.str.startswith("resnet20")].verdict.iloc[0] == report.REPRODUCED
    assert claims[claims.claim.str.startswith("speed goal")].verdict.iloc[0].startswith("not met")
    assert backbone_report.late_gain(records["resnet20"]) == pytest.approx(100 * (0.9125 - 0.5))


def test_01_without_k2_and_without_cifar100():
    k_table = pd.DataFrame([{"embedding": "simclr", "K": 3, "silhouette": 0.3, "ARI": 0.2}])
    claims = superclass_report.claims(k_table, "ARI", "simclr", None, probes={"simclr": 0.5})
    assert claims.verdict.iloc[1] == report.NOTHING_FEASIBLE
    assert claims.verdict.iloc[2:].str.startswith("needs network").all()
    empty = superclass_report.claims(k_table.iloc[:0], "ARI", "simclr", None)
    assert empty.verdict.iloc[0] == report.NOTHING_FEASIBLE
    comp = superclass_report.embedding_comparison(k_table, {"simclr": 0.5}, "ARI")
    assert pd.isna(comp["ARI at K=2"].iloc[0])
    assert superclass_report.findings(comp, {}, [], "simclr", "ARI")


def test_02_no_threshold_within_budget_falls_back_to_no_recall():
    rows = pd.DataFrame([{"t_l_max": 0.9, "t_l_min": 0.1, "p_max": 2, "t_h": None,
                          "accuracy": 0.9, "calls": 2.0}])
    th, ok = tlr.choose(rows, budget=1.5)
    assert th == tlr.NO_RECALL and not ok
    th, ok = tlr.choose(rows, budget=2.0)
    assert ok and th.p_max == 2 and th.t_h is None


def test_02_no_larger_single_backbone_is_not_tested():
    singles = pd.DataFrame([{"model": "ResNet-20", "acc": 80.0, "GMACs": 0.04, "params M": 0.27}])
    two = {"K": 2, "acc": 81.0, "GMACs": 0.05, "expected GMACs": 0.055}
    claims = tlr.claims(two, singles, 5000, 10000, {2: (0.1, 0.2, 0.05)}, "resnet20")
    row = claims[claims.claim.str.contains("beats a larger")].iloc[0]
    assert row.verdict == report.NOTHING_FEASIBLE
    recall = claims[claims.claim.str.startswith("recall")].iloc[0]
    assert recall.verdict == f"{report.DIVERGES} (no gain beyond 2 standard errors at any K)"
    zero = tlr.claims(two, singles, 5000, 10000, {2: (0.0, 0.0, 0.05)}, "resnet20")
    assert zero.verdict.iloc[-1] == recall.verdict  # no difference at all is not a loss
    assert tlr.findings(claims, pd.DataFrame([{"K": 2, "superclass acc (first level)": 0.9}]), [2])


def test_02_beats_needs_two_standard_errors():
    singles = pd.DataFrame([{"model": "big", "acc": 80.0, "GMACs": 1.0, "params M": 1.0}])
    assert tlr.beats({"acc": 80.5, "expected GMACs": 0.5}, singles, 5000, 10000) == []
    assert tlr.beats({"acc": 83.0, "expected GMACs": 0.5}, singles, 5000, 10000) == \
        ["big at 50 % of its GMACs"]
    assert tlr.beats({"acc": 83.0, "expected GMACs": 1.2}, singles, 5000, 10000) == []


def test_02_table2_readings():
    claims = tlr.claims({"K": 2, "acc": 80.0, "GMACs": 0.05, "expected GMACs": 0.05},
                        pd.DataFrame([{"model": "big", "acc": 80.0, "GMACs": 1.0}]),
                        5000, 10000, {2: (1.0, 0.1, 0.1)}, "resnet20")
    by = dict(zip(claims.claim, claims.verdict))
    assert by["Table 2 parameters read as the backbone + 2 copies of its last stage"] == \
        tlr.FITTED
    assert by["Table 2 FLOPs read as the backbone + 2 copies of its last stage"] == tlr.FITTED
    assert by["Table 2 parameters read as ours: K second levels, each the stages after the cut "
              "+ a head"].startswith(report.DIVERGES)
    assert tlr.readings_table().shape == (8, 5)


def test_02_halves_are_class_balanced_and_disjoint():
    labels = torch.arange(10).repeat_interleave(100)[torch.randperm(1000)]
    half = tlr.halves(labels, seed=0)
    assert not (half["select"] & half["report"]).any()
    assert torch.bincount(labels[half["select"]]).tolist() == [50] * 10
    g, se = tlr.paired_gain(torch.tensor([True, False, False, True]),
                            torch.tensor([True, True, False, True]))
    assert g == pytest.approx(25.0) and se > 0


def test_02_recall_without_recall_is_not_tested():
    singles = pd.DataFrame([{"model": "big", "acc": 80.0, "GMACs": 1.0}])
    two = {"K": 2, "acc": 80.0, "GMACs": 0.05, "expected GMACs": 0.05, "p_max": 1}
    claims = tlr.claims(two, singles, 5000, 10000, {2: (0.0, 0.0, 0.0), 3: (0.0, 0.0, 0.0)},
                        "resnet20")
    assert claims.verdict.iloc[-1] == report.NOTHING_FEASIBLE
    mixed = tlr.recall_claim({2: (0.0, 0.0, 0.0), 3: (-1.0, 0.2, 0.1), 4: (0.1, 0.2, 0.1)})
    assert mixed["verdict"] == f"{report.DIVERGES} (recall loses at K = 3)"
    assert "K=2: the chosen thresholds never recall" in mixed["ours"]
    assert tlr.recall_claim({3: (1.0, 0.2, 0.1)})["verdict"].startswith(report.REPRODUCED)
    assert tlr.recall_claim({2: (0.0, 0.0, 0.0), 4: (0.44, 0.16, 0.05)})["verdict"] == (
        f"{report.REPRODUCED} at K = 4 (not at K = 2)")
    assert tlr.recall_claim({2: (0.0, 0.0, 0.0), 4: (0.44, 0.16, 0.05)}, unstable=(4,))[
        "verdict"].endswith("at K = 4 the partition changes with the seed")


def _study_row(method, k, parts, sil, known=None):
    row = {"method": method, "K": k, "seeds": len(parts), "partitions": parts,
           "pairwise ARI, mean": 1.0 if all(p == parts[0] for p in parts) else 0.3,
           "pairwise ARI, min": 1.0 if all(p == parts[0] for p in parts) else 0.1,
           "silhouette, mean": sil}
    return {**row, "ARI vs reference, mean": known} if known is not None else row


def test_study_table_figure_and_hypothesis_verdicts():
    classes = ["a", "b", "c", "d"]
    same, other = [0, 0, 1, 1], [0, 1, 1, 0]
    study = [_study_row("supervised", 2, [same, other], 0.05, 0.4),
             _study_row("supervised-no-smoothing", 2, [same, same], 0.20, 1.0),
             _study_row("simclr", 2, [same, same], 0.40, 1.0)]
    table = superclass_report.stability_table(study, classes)
    assert table["partition (seed 0)"].tolist()[0] == "a, b | c, d"
    assert superclass_report.smoothing_effect(study) == {2: (0.05, 0.20)}
    fig = superclass_report.fig_partitions(study, classes)
    assert len(fig.axes) == 1 and fig.axes[0].images[0].get_array().shape == (6, 4)
    k_table = pd.DataFrame({"embedding": ["simclr"], "K": [2], "silhouette": [0.4],
                            "ARI": [1.0]})
    claims = superclass_report.claims(k_table, "ARI", "simclr", None, study=study)
    hyp = claims[claims.claim == superclass_report.HYPOTHESIS].iloc[0]
    assert hyp.verdict.startswith("supported")  # no-smoothing is also the more stable here
    assert "pairwise ARI 1.00 (min)" in claims.iloc[1].ours
    lines = superclass_report.findings(superclass_report.embedding_comparison(
        k_table, {"simclr": 0.5}, "ARI"), {}, classes, "simclr", "ARI", study=study)
    assert any("for supervised-no-smoothing, simclr; not for supervised (lowest pairwise ARI "
               "0.10)" in line for line in lines)
    assert any("(supervised-no-smoothing, simclr) give one and the same partition" in line
               for line in lines)
    assert superclass_report.moved_classes([[0, 0, 1, 1, 1], [0, 0, 0, 1, 1]]) == [2]
    assert len(superclass_report.moved_classes([same, other])) == 2
    assert superclass_report.moved_classes([same, same]) == []
    assert any("supervised at K = 2: " in line for line in lines)
    # as stable with smoothing as without: only partly supported
    study[0] = _study_row("supervised", 2, [same, same], 0.05, 1.0)
    claims = superclass_report.claims(k_table, "ARI", "simclr", None, study=study)
    assert claims[claims.claim == superclass_report.HYPOTHESIS].iloc[0].verdict.startswith(
        "partly supported")
    # smoothing that does not lower the silhouette at every K does not support the hypothesis
    study[1]["silhouette, mean"] = 0.01
    claims = superclass_report.claims(k_table, "ARI", "simclr", None, study=study)
    assert claims[claims.claim == superclass_report.HYPOTHESIS].iloc[0].verdict.startswith(
        "not supported")


def test_pixel_control_is_reported_apart_from_the_candidates():
    classes = ["a", "b", "c", "d"]
    same, other = [0, 0, 1, 1], [0, 1, 1, 0]
    study = [_study_row("simclr", 2, [same, same], 0.4, 1.0),
             _study_row("pixels", 2, [other, other], 0.1, 0.0)]
    k_table = pd.DataFrame({"embedding": ["simclr"], "K": [2], "silhouette": [0.4],
                            "ARI": [1.0]})
    lines = superclass_report.findings(superclass_report.embedding_comparison(
        k_table, {"simclr": 0.5}, "ARI"), {}, classes, "simclr", "ARI", study=study)
    assert any(line.startswith("Control **pixels**") and "different partition" in line
               for line in lines)
    assert not any("(simclr, pixels)" in line for line in lines)  # not a candidate
