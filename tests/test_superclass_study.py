"""The superclass stability study's pieces (edgelib.superclass_study)."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from edgelib import profiles, superclass_study as study, user_data
from test_user_data import _folder


def test_confusion_groups_recover_blocks():
    conf = np.eye(6) * 0.7
    for block in ((0, 1, 2), (3, 4, 5)):
        for i in block:
            for j in block:
                if i != j:
                    conf[i, j] = 0.15
    groups = study.confusion_groups(conf, 2)
    assert groups.tolist() == [0, 0, 0, 1, 1, 1]
    with pytest.raises(ValueError, match="square"):
        study.confusion_groups(np.ones((3, 4)), 2)


def test_confusion_matrix_rows_sum_to_one():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    m = study.confusion_matrix(logits, torch.tensor([0, 0, 1]), 2)
    assert m.tolist() == [[0.5, 0.5], [1.0, 0.0]]


def test_stability_summary():
    parts = [np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0]), np.array([0, 1, 0, 1])]
    assert study.pairwise_ari(parts[:2]) == [1.0]  # the same partition, renumbered
    row = study.summary("m", [{"partition": p, "silhouette": 0.5} for p in parts],
                        reference=parts[0])
    assert row["seeds"] == 3 and row["pairwise ARI, min"] < row["pairwise ARI, mean"] < 1
    assert np.isnan(study.summary("m", [{"partition": parts[0], "silhouette": np.nan}])
                    ["pairwise ARI, mean"])


@pytest.mark.parametrize("method", study.METHODS)
def test_every_method_partitions_a_small_dataset(tmp_path, data_dir, method):
    ds = user_data.from_image_folder(_folder(tmp_path / "fruit"))
    smoke = profiles.get("smoke")
    P = replace(smoke, two_level=replace(smoke.two_level, embed_backbone="resnet20"))
    out = study.partition(P, ds, method, 2, seed=1)
    assert sorted(set(out["partition"].tolist())) == [0, 1]
    with pytest.raises(ValueError, match="unknown method"):
        study.partition(P, ds, "astrology", 2, 0)


def test_run_reports_stability_over_seeds(tmp_path, data_dir):
    ds = user_data.from_image_folder(_folder(tmp_path / "fruit"))
    smoke = profiles.get("smoke")
    P = replace(smoke, two_level=replace(smoke.two_level, embed_backbone="resnet20"))
    seen = []
    rows = study.run(P, ds, ["supervised"], [2], [0, 1], echo=seen.append)
    assert len(rows) == 1 and seen[0]["seeds"] == 2 and "partitions" not in seen[0]
    assert len(rows[0]["partitions"]) == 2
    parts = [np.array(p) for p in rows[0]["partitions"]]
    assert rows[0]["pairwise ARI, min"] == pytest.approx(study.pairwise_ari(parts)[0])


def test_collect_reads_matching_saved_runs_and_computes_the_rest(tmp_path, data_dir):
    import json

    ds = user_data.from_image_folder(_folder(tmp_path / "fruit"))
    P = study.on_architecture(profiles.get("smoke"), "resnet20")
    saved_row = {"method": "supervised", "K": 2, "seeds": 2, "pairwise ARI, mean": 0.25,
                 "partitions": [[0, 1, 0], [0, 0, 1]]}
    match = tmp_path / "match.json"
    match.write_text(json.dumps({**study.header(P, [0, 1], [2]), "rows": [saved_row]}))
    other = tmp_path / "other_seeds.json"
    other.write_text(json.dumps({**study.header(P, [5, 6], [2]),
                                 "rows": [{**saved_row, "method": "confusion"}]}))
    rows = study.collect(P, ds, [match, other], ["supervised", "confusion"], [2], [0, 1])
    assert [r["method"] for r in rows] == ["supervised", "confusion"]
    assert rows[0]["pairwise ARI, mean"] == 0.25 and rows[0]["source"].startswith("saved run")
    assert rows[1]["source"] == "computed here" and len(rows[1]["partitions"]) == 2


def test_collect_matches_each_method_on_its_own_recipe(tmp_path, data_dir):
    """A longer SimCLR makes a saved SimCLR row stale, not the saved supervised rows."""
    import json

    ds = user_data.from_image_folder(_folder(tmp_path / "fruit"))
    P = study.on_architecture(profiles.get("smoke"), "resnet20")
    rows = [{"method": m, "K": 2, "seeds": 2, "pairwise ARI, mean": 0.25,
             "partitions": [[0, 1, 0], [0, 0, 1]]} for m in ("supervised", "simclr", "pixels")]
    old_ssl = {**study.header(P, [0, 1], [2]), "simclr_recipe": {"epochs": 999}, "rows": rows}
    (tmp_path / "old_ssl.json").write_text(json.dumps(old_ssl))
    got = study.collect(P, ds, [tmp_path / "old_ssl.json"], ["supervised", "simclr", "pixels"],
                        [2], [0, 1])
    assert [r["source"].startswith("saved run") for r in got] == [True, False, True]
