"""cnncourse bench and benchmarks/precision_parity.py: the models mirror the notebooks, the quick runs write
complete tables of positive, finite figures (how fast the machine is, they do not say)."""
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from cnncourse import bench, cli, course_models, runtime

ROOT = Path(__file__).resolve().parents[1]

# The parameter counts the notebooks print (outputs, or the text around them), class profile sizes.
NOTEBOOK_PARAMS = {
    "02_lecture_cnn": (558_186, None),        # 02's markdown: "the parameter count stays 558,186"
    "02_modern_cnn": (1_177_706, 1_175_786),  # 02's output: "1,177,706 parameters (1,175,786 trainable)"
    "03_lecture_convnet": (506_593, None),    # 03's output: "96x96: 506,593 parameters"
    "03_cpu_convnet": (1_184_737, None),      # 03's output: "1,184,737 parameters, 388,915,456 multiply-accumulates"
    "04_lite0_finetune": (3_414_305, 2_645_665),  # 04's outputs: "of 3,414,305", "phase B: trainable 2,645,665"
    # 05 prints its counts, but its outputs are not committed: computed once from notebook 05's small_cnn
    "05_member": (73_402, None),
    "05_member_5x5": (66_298, None),
    # 08's output (the class profile's run with seed 7): "1,115,050 parameters, 69 million multiply-accumulates
    # per image, about 393 million FLOPs to train on one image"; trainable computed (08 does not print it): all
    # but the frozen whitening layer's 288 weights and the batch norms' statistics
    "08_speedrun": (1_115_050, 1_113_034),
}

ROW_NUMBERS = ("image_size", "batch_size", "params", "trainable_params", "macs_per_image", "train_flops_per_image",
               "steps_per_round", "img_s_float32", "img_s_mixed", "ratio", "tflops_float32", "tflops_mixed",
               "fraction_of_roof_float32", "fraction_of_roof_mixed", "pipeline_img_s")
ROW_TEXT = ("name", "notebook", "description", "input_dtype", "policy_mixed", "notebook_policy", "pipeline")


def positive_finite(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_model_has_the_parameter_count_its_notebook_prints(float32_after):
    assert set(NOTEBOOK_PARAMS) == set(course_models.MODEL_NAMES)
    for name, (params, trainable) in NOTEBOOK_PARAMS.items():
        spec = course_models.MODELS[name]
        model = spec.build(spec.image_size)
        assert model.count_params() == params, name
        if trainable is not None:
            assert sum(math.prod(w.shape) for w in model.trainable_weights) == trainable, name
        assert model.input.dtype == spec.input_dtype, name
    cpu = course_models.MODELS["03_cpu_convnet"]
    from cnncourse import summary
    assert cpu.image_size == 96    # the class profile's size; notebook 03 prints this count for a 96x96 photo
    assert int(summary.layer_table(cpu.build(cpu.image_size))["macs"].iloc[-1]) == 140_009_728


def test_training_flops_count_only_the_backward_pass_that_runs():
    table = pd.DataFrame({"layer": ["a", "b", "c", "total"], "macs": [10, 20, 30, 60], "trainable": [5, 5, 5, 15]})
    assert bench.train_flops_per_image(table) == 2 * (10 * 2 + 20 * 3 + 30 * 3)  # no input gradient for the first
    frozen = table.assign(trainable=[0, 0, 5, 5])
    assert bench.train_flops_per_image(frozen) == 2 * (10 + 20 + 30 * 2)  # the frozen base: forward only


def test_the_speedrun_trains_behind_its_frozen_whitening_layer(float32_after):
    """08's whitening layer costs its forward pass only, and the convolution after it no input gradient: the
    393 million FLOPs notebook 08 prints; trainable (the ablation), it costs both."""
    from cnncourse import summary

    spec = course_models.MODELS["08_speedrun"]
    assert (spec.image_size, spec.batch_size, spec.input_dtype, spec.labels) == (32, 512, "float32", "onehot10")
    table = summary.layer_table(spec.build(spec.image_size))
    whiten = table[table["layer"] == "whiten"].iloc[0]
    assert whiten["trainable"] == 0 and whiten["non_trainable"] == 2 * 2 * 3 * 24
    macs = [int(m) for m in table[(table["layer"] != "total") & (table["macs"] > 0)]["macs"]]
    assert sum(macs) == int(table["macs"].iloc[-1]) and round(sum(macs) / 1e6) == 69
    flops = bench.train_flops_per_image(table)
    assert flops == 2 * macs[0] + 4 * macs[1] + 6 * sum(macs[2:]) and round(flops / 1e6) == 393
    ablation = summary.layer_table(course_models.speedrun_net())  # kernel=None: the whitening layer trains
    assert bench.train_flops_per_image(ablation) == 4 * macs[0] + 6 * sum(macs[1:])


def test_the_speedrun_pipeline_is_measured_alone():
    assert positive_finite(bench.measure_speedrun_pipeline(96, batch_size=32))
    assert positive_finite(bench.measure_speedrun_pipeline(8))  # fewer images than a batch: one smaller batch
    assert "cifar_tfdata_flip_translate" in bench.PIPELINE_WHAT


def test_machine_names_are_short_slugs():
    cpu = runtime.Device("CPU", "CPU x2")
    assert bench.machine_slug(cpu, cores=2, cpu="Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz") == \
        "intel-xeon-platinum-8481c-2c"
    assert bench.machine_slug(cpu, cores=16, cpu="AMD EPYC 7B13 64-Core Processor") == "amd-epyc-7b13-16c"
    gpu = runtime.Device("GPU", "NVIDIA H100 80GB HBM3", 1, (9, 0))
    assert bench.machine_slug(gpu, cores=16) == "nvidia-h100-80gb-hbm3-16c"
    assert bench.roof_dtypes(gpu, "mixed_float16") == ["float32", "float16", "bfloat16"]
    assert bench.roof_dtypes(cpu, "float32") == ["float32"]


def test_model_names_resolve_in_the_fixed_order():
    assert bench.resolve_models(None) == list(course_models.MODEL_NAMES)
    assert bench.resolve_models(["05_member,02_lecture_cnn", "03_cpu_convnet"]) == \
        ["02_lecture_cnn", "03_cpu_convnet", "05_member"]


def test_an_unknown_model_is_one_error_line_naming_the_valid_ones(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNNCOURSE_")}
    env["CNNCOURSE_RESULTS_DIR"] = str(tmp_path / "results")
    proc = subprocess.run([sys.executable, "-m", "cnncourse", "bench", "--quick", "--models", "02_lecture_cnn",
                           "resnet"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: unknown model 'resnet'; choose from ")
    assert all(name in proc.stderr for name in course_models.MODEL_NAMES)
    assert "Traceback" not in proc.stderr and not (tmp_path / "results").exists()


def test_an_unwritable_results_folder_fails_before_measuring(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNNCOURSE_")}
    (tmp_path / "file").write_text("")
    env["CNNCOURSE_RESULTS_DIR"] = str(tmp_path / "file")  # a file where the results folder should be
    proc = subprocess.run([sys.executable, "-m", "cnncourse", "bench", "--quick"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("error: ") and str(tmp_path / "file") in proc.stderr and proc.stdout == ""


def test_a_round_is_timed_from_the_end_of_its_first_step_to_the_end_of_its_last(float32_after):
    """``fit``'s set-up counts in the whole call, not in the training speed: here a data source that takes
    0.6 s to deliver its first batch, as a tear-down that waits did on the development machine."""
    import time

    import keras
    import numpy as np
    import tensorflow as tf

    def slow_start():
        time.sleep(0.6)
        while True:
            yield np.ones((4, 3), "float32"), np.ones((4, 1), "float32")

    spec = (tf.TensorSpec((4, 3), tf.float32), tf.TensorSpec((4, 1), tf.float32))
    data = tf.data.Dataset.from_generator(slow_start, output_signature=spec)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    bench._timed_round(model, data, 2)  # traces the training step
    per_step, per_step_fit = bench._timed_round(model, data, 6)
    assert per_step_fit * 6 > 0.6 and per_step < 0.1, (per_step, per_step_fit)


def test_parity_verdict_compares_the_loss_with_the_seed_spread():
    def summary(f32, mixed):
        return {p: {"test_accuracy": {"mean": m, "std": 0.004}} for p, m in
                (("float32", f32), ("mixed_bfloat16", mixed))}
    policies = ["float32", "mixed_bfloat16"]
    assert "should change its default" in bench.parity_verdict(summary(0.80, 0.79), policies, seeds=3)
    assert "can stay" in bench.parity_verdict(summary(0.80, 0.798), policies, seeds=3)
    assert "nothing to compare" in bench.parity_verdict({}, ["float32"], seeds=3)


def test_quick_bench_writes_a_complete_table(isolated_results, tmp_path, monkeypatch, capsys, float32_after):
    monkeypatch.setenv("CNNCOURSE_DATA_DIR", str(tmp_path / "data"))  # no prepared split: the bench writes JPEGs
    monkeypatch.delenv("CNNCOURSE_PRECISION", raising=False)
    import keras
    before = keras.mixed_precision.global_policy().name

    assert cli.main(["bench", "--quick", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert keras.mixed_precision.global_policy().name == before, "the bench restores the global policy"

    files = list((isolated_results / "bench").glob("*-quick.json"))
    assert len(files) == 1 and str(files[0]) in out
    result = json.loads(files[0].read_text())
    assert result["quick"] is True and result["machine"] == files[0].name.removesuffix("-quick.json")
    assert {"cnncourse", "tensorflow", "keras"} <= set(result["versions"]) and result["banner"] in out
    assert [r["name"] for r in result["models"]] == list(course_models.MODEL_NAMES)
    mixed = result["precision"]["mixed"]
    assert "float32" in result["roof"] and bench.POLICY_DTYPE[mixed] in result["roof"]
    assert all(positive_finite(r["tflops"]) and positive_finite(r["flops"]) for r in result["roof"].values())
    for row in result["models"]:
        assert all(positive_finite(row[k]) for k in ROW_NUMBERS), row
        assert all(isinstance(row[k], str) and row[k] for k in ROW_TEXT), row
        assert row["batch_size"] == 2 and row["policy_mixed"] == mixed and isinstance(row["input_bound"], bool)
        assert all(positive_finite(x) for x in row["img_s_float32_rounds"] + row["img_s_mixed_rounds"]
                   + row["img_s_float32_fit_rounds"] + row["img_s_mixed_fit_rounds"])
        assert row["params"] == NOTEBOOK_PARAMS[row["name"]][0]
        assert row["image_size"] == course_models.MODELS[row["name"]].image_size
        assert row["name"] in out
    pipelines = {p["name"]: p for p in result["pipelines"]}
    assert {"cifar_arrays", "cifar_crop_flip", "cifar_tfdata_flip_translate", "jpeg_96", "jpeg_224",
            "jpeg_96_augment"} <= set(pipelines)
    assert pipelines["cifar_tfdata_flip_translate"]["used_by"] == ["08_speedrun"]
    assert all(positive_finite(p["img_s"]) for p in pipelines.values())
    assert {r["pipeline"] for r in result["models"]} <= set(pipelines)
    assert "written by the bench" in result["jpeg_source"]


def test_precision_parity_quick_writes_its_report(isolated_results, capsys, monkeypatch, float32_after):
    monkeypatch.delenv("CNNCOURSE_PRECISION", raising=False)
    assert load_script("precision_parity").main(["--quick", "--no-progress"]) == 0
    out = capsys.readouterr().out
    files = list((isolated_results / "bench").glob("precision_parity_*-quick.json"))
    assert len(files) == 1
    result = json.loads(files[0].read_text())
    assert result["recipe"]["epochs"] == 1 and result["recipe"]["seeds"] == 1
    assert [r["policy"] for r in result["runs"]] == result["policies"] and result["policies"][0] == "float32"
    for run in result["runs"]:
        assert 0 <= run["test_accuracy"] <= 1 and 0 <= run["test_accuracy_tta"] <= 1 and run["seconds"] > 0
    assert result["verdict"] in out and "verdict:" in out


def test_bench_options_are_checked_before_anything_runs(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["bench", "--rounds", "0"])
    assert e.value.code == 2 and "argument --rounds: '0' is not a positive number of rounds" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        load_script("precision_parity").main(["--seeds", "two"])
    assert e.value.code == 2 and "argument --seeds: 'two' is not a positive number of seeds" in capsys.readouterr().err
