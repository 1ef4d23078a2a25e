"""Notebook 08's recipe pieces and its ablation script (``benchmarks/speedrun_ablation.py``).

The notebook writes the whitening layer, the network, lookahead and test-time augmentation out in its cells;
``cnncourse.course_models`` keeps the copies the ablation script and ``cnncourse bench`` train. These tests
check the copies against the notebook's definitions and the maths they claim, and run the script on the
``quick`` sizes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.test_notebooks import ROOT, cells, source

NOTEBOOK = ROOT / "notebooks" / "08_cifar10_speedrun.ipynb"
SCRIPT = ROOT / "benchmarks" / "speedrun_ablation.py"


def notebook_namespace(*names):
    """Executes the notebook's cells that define ``names`` (pure definitions) and returns them."""
    import keras
    from keras import layers

    from cnncourse.layers import FastBatchNormalization
    from cnncourse.profiles import settings

    ns = {"np": np, "keras": keras, "layers": layers, "FastBatchNormalization": FastBatchNormalization,
          "S": settings("08_cifar10_speedrun", "class")}
    for cell in cells(NOTEBOOK):
        src = source(cell)
        if cell["cell_type"] == "code" and any(f"def {n}(" in src or f"class {n}(" in src for n in names):
            defs = src.split("\n\n\n")[0] if "kernel = whitening_kernel" in src else src
            exec(compile("\n".join(line for line in defs.splitlines() if not line.startswith(("kernel =", "print("))),
                         str(NOTEBOOK), "exec"), ns)
    return ns


def test_the_whitening_filters_decorrelate_2x2_patches():
    from cnncourse.course_models import whitening_kernel

    rng = np.random.default_rng(0)
    base = rng.normal(size=(200, 33, 33, 3))
    images = (base[:, 1:, 1:] + base[:, :-1, :-1] + 0.5 * base[:, :-1, 1:]).astype("float32")   # correlated pixels
    kernel = whitening_kernel(images, eps=0.0)
    assert kernel.shape == (2, 2, 3, 24)
    np.testing.assert_allclose(kernel[..., 12:], -kernel[..., :12])
    patches = np.lib.stride_tricks.sliding_window_view(images, (2, 2), axis=(1, 2))
    patches = patches.transpose(0, 1, 2, 4, 5, 3).reshape(-1, 12)
    white = (patches - patches.mean(0)) @ kernel[..., :12].reshape(12, 12)
    np.testing.assert_allclose(np.cov(white, rowvar=False), np.eye(12), atol=1e-3)


def test_the_package_copies_match_the_notebook():
    from cnncourse import course_models

    ns = notebook_namespace("whitening_kernel", "conv_bn", "speedrun_net")
    images = np.random.default_rng(1).normal(size=(64, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(ns["whitening_kernel"](images), course_models.whitening_kernel(images), rtol=1e-5)
    kernel = course_models.whitening_kernel(images)
    mine, theirs = ns["speedrun_net"](kernel), course_models.speedrun_net(kernel)
    assert mine.count_params() == theirs.count_params()
    assert [type(layer).__name__ for layer in mine.layers] == [type(layer).__name__ for layer in theirs.layers]
    assert not theirs.get_layer("whiten").trainable
    np.testing.assert_array_equal(theirs.get_layer("whiten").get_weights()[0], kernel)


def test_lookahead_moves_the_slow_weights_half_way_every_fifth_step():
    import keras

    from cnncourse.course_models import lookahead_callback

    for make in (lambda: notebook_namespace("Lookahead")["Lookahead"](), lookahead_callback):
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
        callback = make()
        callback.set_model(model)
        callback.on_train_begin()
        for step in range(5):
            model.layers[0].kernel.assign([[float(step + 1)]])    # the fast weights move to 1, 2, ..., 5
            callback.on_train_batch_end(step)
        assert float(model.layers[0].kernel.numpy()[0, 0]) == pytest.approx(2.5)   # half-way from 0 to 5


def run_benchmark(script, *args, env_extra=None):
    """``python benchmarks/<script> args`` from the repository root, with extra environment variables."""
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=600)


def _run_script(*args, env_extra=None):
    return run_benchmark(SCRIPT, *args, env_extra=env_extra)


def test_an_unknown_ablation_row_is_one_clear_line():
    done = _run_script("--rows", "final,no_such_idea")
    assert done.returncode == 2
    assert "unknown row(s) no_such_idea" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.skipif(not os.environ.get("CNNCOURSE_MIRROR"), reason="needs the CIFAR-10 mirror (CNNCOURSE_MIRROR)")
def test_the_ablation_script_writes_its_rows(tmp_path, monkeypatch):
    done = _run_script("--profile", "quick", "--rows", "final,no_whitening",
                       env_extra={"CNNCOURSE_RESULTS_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    doc = json.loads((tmp_path / "quick" / "tables" / "08_cifar10_speedrun_ablation.json").read_text())
    assert list(doc["rows"]) == ["final", "no_whitening"] and doc["seed"] == 42
    from cnncourse import profiles

    quick = profiles.settings("08_cifar10_speedrun", "quick")
    for row in doc["rows"].values():
        assert 0 <= row["test_plain"] <= 1 and row["train_seconds"] > 0 and row["curve"][-1][0] == row["epochs"]
        assert row["recipe"]["weight_decay"] == quick.weight_decay and row["recipe"]["widths"] == list(quick.widths)
    # another seed goes beside that seed's notebook results and leaves the seed-42 table alone
    before = (tmp_path / "quick" / "tables" / "08_cifar10_speedrun_ablation.json").read_bytes()
    done = _run_script("--profile", "quick", "--seed", "7", "--rows", "no_label_smoothing",
                       env_extra={"CNNCOURSE_RESULTS_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "quick" / "tables" / "08_cifar10_speedrun_ablation.json").read_bytes() == before
    from cnncourse import results

    monkeypatch.setenv("CNNCOURSE_RESULTS_DIR", str(tmp_path))
    seven = results.load_table("08_cifar10_speedrun_ablation", profile="quick", seed=7)
    assert seven["seed"] == 7 and list(seven["rows"]) == ["no_label_smoothing"]
