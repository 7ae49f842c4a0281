import nbformat
import pytest

import run_all


def notebook(code: str):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "cpu"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# test"), params, nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_failing_notebook_is_named_and_the_rest_still_run(tmp_path, monkeypatch, capsys):
    src = tmp_path / "notebooks"
    src.mkdir()
    nbformat.write(notebook("raise RuntimeError('deliberate failure')"), src / "00_fails.ipynb")
    nbformat.write(notebook("assert profile == 'smoke'\nprint('ran', profile)"), src / "01_ok.ipynb")
    monkeypatch.setattr(run_all, "NOTEBOOKS", src)
    out = tmp_path / "out"
    assert run_all.main(["--profile", "smoke", "--output-dir", str(out)]) == 1
    captured = capsys.readouterr()
    assert "00_fails.ipynb: cell 3 of the executed notebook" in captured.err
    assert "`raise RuntimeError('deliberate failure')`" in captured.err
    assert "raised RuntimeError: deliberate failure" in captured.err
    assert "01_ok.ipynb" in captured.out and "summary" in captured.out
    executed = nbformat.read(out / "01_ok.ipynb", as_version=4)
    assert "ran smoke" in executed.cells[-1].outputs[0]["text"]
    assert nbformat.read(src / "01_ok.ipynb", as_version=4).cells[-1].outputs == []


def test_list_only_and_bad_arguments(tmp_path, monkeypatch, capsys):
    src = tmp_path / "notebooks"
    src.mkdir()
    for name in ("00_a.ipynb", "03_b.ipynb", "scratch.ipynb"):
        nbformat.write(notebook("pass"), src / name)
    monkeypatch.setattr(run_all, "NOTEBOOKS", src)
    assert run_all.main(["--list", "--only", "3"]) == 0
    assert capsys.readouterr().out.split() == ["03_b.ipynb"]
    with pytest.raises(SystemExit, match="no notebook numbered 07"):
        run_all.main(["--list", "--only", "07"])
    with pytest.raises(SystemExit):
        run_all.main(["--profile", "laptop"])
