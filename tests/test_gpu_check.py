"""benchmarks/gpu_check.sh and gpu_check.py (issue #24): the parts that run without a GPU and in seconds.

The full run (nbval, the timed speedrun, the bench) is measured by hand on a GPU machine and committed under
results/bench/; here: a machine without a GPU is refused in one line unless --cpu says so, a bad option is
refused, and the pytest summary parser reads what nbval prints."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


def load():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lesson_notebooks_are_the_numbered_lessons_only():
    names = [p.name for p in load().lesson_notebooks()]
    assert names == sorted(names) and "08_cifar10_speedrun.ipynb" in names
    assert all(n[:2].isdigit() and ".seed" not in n and ".failed" not in n and ".executed" not in n for n in names)


@pytest.mark.parametrize("text, counts", [
    ("==== 41 passed, 1 warning in 300.2s ====", {"passed": 41}),
    ("=== 2 failed, 39 passed in 12.0s ===", {"failed": 2, "passed": 39}),
    ("FAILED x\n=== 1 failed, 3 passed, 1 error in 9s ===", {"failed": 1, "passed": 3, "error": 1}),
])
def test_nbval_counts(text, counts):
    assert load().nbval_counts(text) == counts


def test_a_machine_without_gpu_is_refused_in_one_line(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "CNNCOURSE_RESULTS_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 1
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "--cpu" in errors[0] and "Traceback" not in out.stderr
    assert not list((ROOT / "results" / "bench").glob("gpu_check_*-none*"))


def test_the_shell_wrapper_refuses_an_unknown_option():
    out = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--gpus=8"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and out.stderr.strip() == "error: unknown option --gpus=8 (try --help)"
    help_text = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--help"], capture_output=True,
                               text=True, timeout=60).stdout
    assert "--cpu" in help_text and "--smoke" in help_text and "results/bench/gpu_check_" in help_text
