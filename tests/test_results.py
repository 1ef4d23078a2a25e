import json
import shutil
import subprocess

import pytest

import cnncourse
from cnncourse import paths, results


@pytest.fixture(autouse=True)
def interactive(monkeypatch):
    """Tests run as an interactive session does, unless they set CNNCOURSE_RECORD_RESULTS themselves."""
    monkeypatch.delenv(paths.RECORD_ENV, raising=False)


def test_record_needs_setup_with_a_notebook(monkeypatch):
    monkeypatch.setattr(cnncourse.runtime, "_CURRENT", None)
    with pytest.raises(RuntimeError, match="setup"):
        results.record("x", 1)


def test_record_writes_json_beside_the_lecture_figure(isolated_results, monkeypatch, float32_after):
    monkeypatch.setenv("CNNCOURSE_PROFILE", "quick")
    import numpy as np
    cnncourse.setup(seed=1, notebook="99_demo", verbose=False)
    results.record("test_accuracy", np.float32(0.8125), lecture=0.815, unit="fraction")
    path = results.record("epochs", np.int64(12), lecture=100)
    assert path == isolated_results / "interactive" / "quick" / "99_demo.json"
    doc = json.loads(path.read_text())
    assert doc["notebook"] == "99_demo" and doc["profile"] == "quick"
    assert doc["results"]["test_accuracy"] == {"value": 0.8125, "lecture": 0.815, "unit": "fraction",
                                               "seed": 1, "note": None}
    assert doc["results"]["epochs"]["value"] == 12 and doc["wall_time_s"] >= 0
    table = results.table()
    assert table.loc["test_accuracy", "lecture"] == 0.815
    # a new run (new setup) replaces the old numbers instead of mixing two runs
    cnncourse.setup(seed=1, notebook="99_demo", verbose=False)
    results.record("epochs", 3)
    assert list(json.loads(path.read_text())["results"]) == ["epochs"]


def test_summary_markdown_lists_each_number(isolated_results, monkeypatch, float32_after):
    monkeypatch.setenv("CNNCOURSE_PROFILE", "quick")
    cnncourse.setup(notebook="98_demo", verbose=False)
    results.record("params", 15200, lecture=15200)
    text = results.summary_markdown("quick", {"98_demo": 12.0})
    assert "## 98_demo" in text and "| params | 15,200 | 15,200 |  |" in text and "wall time 12 s" in text
    assert "No notebook" in results.summary_markdown("full")


def test_a_damaged_results_file_is_skipped_in_one_line(isolated_results, monkeypatch, float32_after, capsys):
    monkeypatch.setenv("CNNCOURSE_PROFILE", "quick")
    cnncourse.setup(notebook="98_demo", verbose=False)
    results.record("params", 15200)
    (paths.results_dir("quick") / "97_cut.json").write_text('{"notebook": "97_cut", "resu')  # cut by a full disk
    text = results.summary_markdown("quick")
    assert "## 98_demo" in text and "97_cut" not in text
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"Skipping the damaged results file {isolated_results}")


def test_only_cnncourse_run_records_into_the_committed_folder(isolated_results, monkeypatch, float32_after):
    """An interactive run (JupyterLab, nbval) records into results/interactive/<profile>/; `cnncourse run`
    sets CNNCOURSE_RECORD_RESULTS=1 for its kernels and records into results/<profile>/; table() reads
    from wherever the current run wrote."""
    monkeypatch.setenv("CNNCOURSE_PROFILE", "quick")
    cnncourse.setup(notebook="95_demo", verbose=False)
    interactive_path = results.record("params", 1)
    assert interactive_path == isolated_results / "interactive" / "quick" / "95_demo.json"
    monkeypatch.setenv(paths.RECORD_ENV, "1")
    cnncourse.setup(notebook="95_demo", verbose=False)
    recorded_path = results.record("params", 2)
    assert recorded_path == isolated_results / "quick" / "95_demo.json"
    assert results.table().loc["params", "value"] == 2
    monkeypatch.delenv(paths.RECORD_ENV)
    assert results.table().loc["params", "value"] == 1
    assert json.loads(recorded_path.read_text())["results"]["params"]["value"] == 2


def test_interactive_results_in_a_checkout_are_git_ignored(monkeypatch):
    monkeypatch.delenv(paths.RESULTS_ENV, raising=False)
    root = paths.repo_root()
    if root is None or shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    interactive = paths.results_dir("class") / "01_conv_basics.json"
    assert interactive == root / "results" / "interactive" / "class" / "01_conv_basics.json"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(interactive.relative_to(root))], cwd=root)
    assert ignored.returncode == 0, "results/interactive/ must be git-ignored"
    monkeypatch.setenv(paths.RECORD_ENV, "1")
    assert paths.results_dir("class") == root / "results" / "class"


@pytest.mark.parametrize("doc, skipped", [
    ({"notebook": "97_bad", "results": {"test_accuracy": 0.8}},
     "Skipping the damaged entry 'test_accuracy' of {path} (0.8 is not an object with 'value' and 'lecture')"),
    ({"notebook": "97_bad", "results": {"test_accuracy": {"value": 0.8, "unit": "fraction", "seed": 1}}},
     "Skipping the damaged entry 'test_accuracy' of {path} (no 'lecture')"),
    ({"notebook": "97_bad", "wall_time_s": "12", "results": {"x": {"value": 1, "lecture": 2}}},
     "Skipping the damaged results file {path} (wall_time_s is '12', not a number)"),
    ({"notebook": "97_bad", "results": {"x": {"value": 1, "lecture": 2, "unit": 5}}},
     "Skipping the damaged entry 'x' of {path} (unit is 5, not text)"),
    ([1, 2], "Skipping the damaged results file {path} (no 'results' object)"),
], ids=["number-not-object", "no-lecture", "wall-time-text", "unit-number", "list"])
def test_a_results_file_of_the_wrong_shape_is_skipped_in_one_line(isolated_results, monkeypatch, float32_after, capsys,
                                                                  doc, skipped):
    """Parseable JSON of the wrong shape: the file or the entry is skipped, in one line, and the rest is reported."""
    monkeypatch.setenv("CNNCOURSE_PROFILE", "quick")
    cnncourse.setup(notebook="98_demo", verbose=False)
    results.record("params", 15200, lecture=15200)
    path = paths.results_dir("quick") / "97_bad.json"
    path.write_text(json.dumps(doc))
    capsys.readouterr()
    text = results.summary_markdown("quick", {"98_demo": 3.0})
    assert "| params | 15,200 | 15,200 |  |" in text
    err = capsys.readouterr().err
    assert err == skipped.format(path=path) + "; run its notebook again to rewrite it.\n"
    assert results.table("98_demo").loc["params", "value"] == 15200
    if "entry" in skipped:  # the file's other numbers are kept
        assert "## 97_bad" in text
