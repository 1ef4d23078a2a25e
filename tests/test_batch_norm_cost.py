"""benchmarks/batch_norm_cost.py: the fused batch norm against Keras' layer, model by model (issue #22)."""
from __future__ import annotations

import json

from tests.test_notebooks import ROOT
from tests.test_speedrun import run_benchmark

SCRIPT = ROOT / "benchmarks" / "batch_norm_cost.py"


def _run(*args, results=None):
    return run_benchmark(SCRIPT, *args, env_extra={"CNNCOURSE_RESULTS_DIR": str(results)} if results else None)


def test_an_unknown_model_is_one_clear_line():
    done = _run("--models", "08_speedrun,no_such_model")
    assert done.returncode == 2
    assert "unknown model(s) no_such_model" in done.stderr and "Traceback" not in done.stderr


def test_each_model_is_timed_with_each_layer(tmp_path):
    done = _run("--quick", "--models", "02_batchnorm_rung,08_speedrun", results=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    doc = json.loads((tmp_path / "quick" / "tables" / "batch_norm_cost.json").read_text())
    assert doc["quick"] is True and list(doc["rows"]) == ["02_batchnorm_rung", "08_speedrun"]
    for row in doc["rows"].values():
        # the swap reached every batch norm of the model, and nothing else changed
        assert row["layers"] == {"fused": ["FastBatchNormalization"], "keras": ["BatchNormalization"]}
        assert row["fused_images_per_second"] > 0 and row["keras_images_per_second"] > 0
        assert abs(row["speedup"] - row["fused_images_per_second"] / row["keras_images_per_second"]) < 0.01
    # the committed class table, when there is one, was measured on every model
    committed = ROOT / "results" / "class" / "tables" / "batch_norm_cost.json"
    if committed.exists():
        rows = json.loads(committed.read_text())["rows"]
        assert not json.loads(committed.read_text())["quick"]
        assert set(rows) == {"02_batchnorm_rung", "02_modern_cnn", "03_cpu_convnet", "05_member", "08_speedrun"}
