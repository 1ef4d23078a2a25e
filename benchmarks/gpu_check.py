"""The course on a GPU, in one run: what ``benchmarks/gpu_check.sh`` runs after installing the ``gpu`` extra.

Three steps, each timed, in this order:

1. nbval on every lesson notebook (``notebooks/NN_*.ipynb``) in the ``quick`` profile, on a kernel that is this
   Python, so TensorFlow in the kernels sees the GPU;
2. the speedrun notebook (08) in the ``class`` profile, timed, with seed 42, into a scratch copy of ``results/``
   (the committed CPU run is left alone): its training time and test accuracy, plain and with TTA;
3. ``cnncourse bench``, which writes ``results/bench/<machine>.json``.

It writes ``results/bench/gpu_check_<machine>.json`` (each step's status, seconds and numbers) and
``results/bench/gpu_check_<machine>.log`` (every line the steps printed), both atomically.

A machine without a GPU is refused, in one line, unless ``--cpu`` says that this is meant: the run is then
labelled ``"cpu": true`` and its file is ``gpu_check_<machine>-cpu.json``. ``--smoke`` runs the speedrun in
``quick`` and ``bench --quick`` instead (a check that the script works, in a few minutes, whose numbers say
nothing about the machine; its files end in ``-smoke``).

    python benchmarks/gpu_check.py                     # on a GPU machine
    python benchmarks/gpu_check.py --cpu --smoke       # checks the script on a CPU-only machine
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEEDRUN = "08_cifar10_speedrun"
LESSON = re.compile(r"^[0-9][0-9]_[a-z0-9_]+\.ipynb$")


def lesson_notebooks() -> list[Path]:
    """The lesson notebooks, not the executed or second-seed copies beside them."""
    return sorted(p for p in (ROOT / "notebooks").iterdir() if LESSON.match(p.name))


class Log:
    """Every line the steps print, to the terminal and to the log text."""

    def __init__(self):
        self.lines: list[str] = []

    def say(self, line: str) -> None:
        print(line, flush=True)
        self.lines.append(line)

    def run(self, cmd: list[str], env: dict) -> tuple[int, float, str]:
        self.say("$ " + " ".join(cmd))
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        text = []
        for line in proc.stdout:
            line = line.rstrip("\n")
            text.append(line)
            self.say(line)
        return proc.wait(), time.perf_counter() - start, "\n".join(text)


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def nbval_counts(text: str) -> dict:
    """pytest's last summary line as counts: ``{"passed": 40, "failed": 1}``."""
    counts = {}
    for line in reversed(text.splitlines()):
        found = re.findall(r"(\d+) (passed|failed|errors?|skipped)", line)
        if found:
            counts = {kind.rstrip("s") if kind.startswith("error") else kind: int(n) for n, kind in found}
            break
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu", action="store_true", help="this machine has no GPU, and that is meant")
    parser.add_argument("--smoke", action="store_true",
                        help="speedrun in quick and bench --quick: checks the script, measures nothing")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from cnncourse import bench, runtime

    try:
        device = runtime.detect_device()
    except ImportError as e:
        print(f"error: TensorFlow does not import in {sys.executable}: {e}", file=sys.stderr)
        return 1
    found = [device.describe()] if device.kind == "GPU" else []
    if not found and not args.cpu:
        print("error: TensorFlow sees no GPU here. Install the gpu extra (bash benchmarks/gpu_check.sh does), "
              "or pass --cpu to check the script on a CPU-only machine.", file=sys.stderr)
        return 1
    machine = bench.machine_slug(device)
    stem = f"gpu_check_{machine}{'-cpu' if args.cpu else ''}{'-smoke' if args.smoke else ''}"
    out_dir = ROOT / "results" / "bench"
    log = Log()
    report = {"machine": machine, "device": device.describe(), "gpus": found, "cpu": args.cpu, "smoke": args.smoke,
              "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "python": sys.executable, "steps": {}}
    log.say(f"gpu_check on {machine}: GPUs {found or 'none'}{' (--cpu)' if args.cpu else ''}"
            f"{' (--smoke)' if args.smoke else ''}")
    base_env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    bin_dir = str(Path(sys.executable).parent)
    base_env["PATH"] = bin_dir + os.pathsep + base_env.get("PATH", "")
    total = time.perf_counter()

    # 1. nbval, quick, every lesson notebook
    notebooks = [str(p.relative_to(ROOT)) for p in lesson_notebooks()]
    code, seconds, text = log.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *notebooks],
                                  {**base_env, "CNNCOURSE_PROFILE": "quick"})
    report["steps"]["nbval_quick"] = {"ok": code == 0, "seconds": round(seconds, 1), "notebooks": len(notebooks),
                                      "cells": nbval_counts(text)}

    # 2. the speedrun notebook, timed, into a scratch copy of results/ (the committed run stays as it is)
    profile = "quick" if args.smoke else "class"
    with tempfile.TemporaryDirectory() as scratch:
        shutil.copytree(ROOT / "results", Path(scratch) / "results")
        env = {**base_env, "CNNCOURSE_RESULTS_DIR": str(Path(scratch) / "results")}
        code, seconds, _ = log.run([sys.executable, "-m", "cnncourse", "run", "--profile", profile, "--seed", "42",
                                    SPEEDRUN], env)
        recorded = Path(scratch) / "results" / profile / "seed42" / f"{SPEEDRUN}.json"
        try:
            numbers = {k: r["value"] for k, r in json.loads(recorded.read_text())["results"].items()
                       if k != "speedrun_curve"}
        except (OSError, ValueError, KeyError) as e:
            numbers = {"error": f"no results from the run: {e}"}
    (ROOT / "notebooks" / f"{SPEEDRUN}.seed42.ipynb").unlink(missing_ok=True)
    report["steps"]["speedrun"] = {"ok": code == 0, "profile": profile, "seconds": round(seconds, 1), **numbers}

    # 3. the bench
    cmd = [sys.executable, "-m", "cnncourse", "bench", "--no-progress"] + (["--quick"] if args.smoke else [])
    code, seconds, _ = log.run(cmd, base_env)
    report["steps"]["bench"] = {"ok": code == 0, "seconds": round(seconds, 1),
                                "file": f"results/bench/{machine}{'-quick' if args.smoke else ''}.json"}

    report["seconds"] = round(time.perf_counter() - total, 1)
    report["ok"] = all(step["ok"] for step in report["steps"].values())
    log.say(f"gpu_check {'passed' if report['ok'] else 'FAILED'} in {report['seconds']:.0f} s: " + ", ".join(
        f"{name} {'ok' if s['ok'] else 'FAILED'} ({s['seconds']:.0f} s)" for name, s in report["steps"].items()))
    write_atomic(out_dir / f"{stem}.json", json.dumps(report, indent=1) + "\n")
    write_atomic(out_dir / f"{stem}.log", "\n".join(log.lines) + "\n")
    log.say(f"wrote results/bench/{stem}.json and .log")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
