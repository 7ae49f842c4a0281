"""Execute every notebook with the smoke profile into a temporary folder (papermill)."""

import pytest

import run_all

NOTEBOOKS = run_all.discover()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_with_smoke_profile(notebook, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGELIB_FIGURES_DIR", str(tmp_path / "figures"))
    failure = run_all.run_one(notebook, tmp_path / notebook.name, "smoke")
    assert failure is None, failure
    assert list((tmp_path / "figures" / "smoke").glob("*.png")), "the notebook saved no figure"
