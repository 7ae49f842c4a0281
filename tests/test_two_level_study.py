"""The two-level factor study (edgelib.two_level_study)."""

import json
from dataclasses import replace

import pytest
import torch

from edgelib import profiles, two_level_study as study, user_data
from edgelib.superclasses import SuperclassMap
from test_user_data import _folder

SMAP = SuperclassMap("toy", 2, (0, 0, 1, 1), {"by": "hand"})


def test_factors_multiply_to_the_accuracy():
    labels = torch.tensor([0, 1, 2, 3, 0, 2])
    pred = torch.tensor([0, 0, 2, 1, 1, 3])  # superclass right 5 of 6, class right 2 of those 5
    f = study.factors(pred, labels, SMAP)
    assert f["acc %"] == pytest.approx(100 * 2 / 6)
    assert f["superclass acc %"] == pytest.approx(100 * 5 / 6)
    assert f["within-superclass acc % (given the right superclass)"] == pytest.approx(40)
    assert (f["superclass acc %"] * f["within-superclass acc % (given the right superclass)"]
            / 100) == pytest.approx(f["acc %"])


def test_restricted_answers_within_the_true_superclass():
    logits = torch.tensor([[0.0, 1.0, 9.0, 0.0],    # true 0: best overall is 2, within {0,1}: 1
                           [0.0, 0.0, 1.0, 2.0]])   # true 2: within {2,3}: 3
    assert study.restricted(logits, torch.tensor([0, 2]), SMAP).tolist() == [1, 3]


def _fruit(tmp_path):
    ds = user_data.from_image_folder(_folder(tmp_path / "fruit"))
    smoke = profiles.get("smoke")
    return ds, replace(smoke, two_level=replace(smoke.two_level, k_values=(2,), k_sweep=(2,)))


def test_run_measures_variants_against_every_single(tmp_path, data_dir):
    ds, P = _fruit(tmp_path)
    out = study.run(P, ds, 2, [("fine-tuned", "resnet20", 1), ("frozen", "resnet20", 2)],
                    progress=False)
    assert [r["model"] for r in out["singles"]] == ["single ResNet-20"]
    assert [(r["first-level trunk"], r["second-level epochs"]) for r in out["variants"]] == [
        ("fine-tuned", 1), ("frozen", 2)]
    row = out["variants"][0]
    assert row["acc %"] == pytest.approx(
        row["superclass acc %"] * row["within-superclass acc % (given the right superclass)"]
        / 100)
    assert 0 <= row["right superclass given %"] <= 100 and row["distillation min"] > 0
    assert {"gain over ResNet-20 (points)", "gain over ResNet-20 (SE)"} <= set(row)
    assert len(out["superclasses"]) == 4


def test_load_reads_a_matching_saved_study_only(tmp_path, data_dir):
    ds, P = _fruit(tmp_path)
    fresh = study.load(P, ds, [], 2, [("fine-tuned", "resnet20", 1)])
    assert fresh["source"] == "computed here" and len(fresh["variants"]) == 1
    saved = {**{k: v for k, v in fresh.items() if k != "source"}, "variants": []}
    match = tmp_path / "match.json"
    match.write_text(json.dumps(saved))
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**saved, "alpha": 0.5}))
    assert study.load(P, ds, [other, match], 2, [])["source"].startswith(
        "saved run match.json")
    again = study.load(P, ds, [other], 2, [("fine-tuned", "resnet20", 1)])
    assert again["source"] == "computed here"


def test_cli_rejects_bad_variants():
    for bad in ("frozen:vgg99:5", "thawed:resnet20:5", "fine-tuned:resnet20:0", "resnet20:5"):
        with pytest.raises(SystemExit, match="bad (--)?variant"):
            study.main(["--profile", "smoke", "--variants", bad])
