import json

import pytest

import cnncourse
from cnncourse import results


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
    assert path == isolated_results / "quick" / "99_demo.json"
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
