"""Headline numbers of a run, recorded beside the figure the lecture reported.

Every notebook: ``record("test_accuracy", 0.83, lecture=0.815)`` while it runs, ``table()`` in its
last section. Each record rewrites ``<notebook>.json`` (atomically) in :func:`cnncourse.paths.results_dir`
with the run's wall time so far, so the file always describes the latest run, even one stopped half-way.

Where: ``cnncourse run`` (the regeneration command; it sets ``CNNCOURSE_RECORD_RESULTS=1`` for its
kernels) records into ``results/<profile>/`` and gathers the files into ``results/<profile>/SUMMARY.md``;
a notebook run by hand in JupyterLab (or by nbval) records into the git-ignored
``results/interactive/<profile>/``, and its ``table()`` reads from there. So only ``cnncourse run
--profile class`` changes the committed ``results/class/``.
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

from . import paths, profiles, runtime
from .fileio import write_json_atomic

_run: dict = {}


def _to_json(value):
    """numpy scalars and arrays become plain Python numbers and lists."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _active_config():
    cfg = runtime.current()
    if cfg is None or not cfg.notebook:
        raise RuntimeError("results.record() needs cnncourse.setup(notebook='NN_name') to run first, "
                           "so it knows which notebook and profile the numbers belong to")
    return cfg


def record(key: str, value, lecture=None, unit: str | None = None, seed: int | None = None,
           note: str | None = None) -> Path:
    """Record ``value`` under ``key`` for the current notebook; returns the JSON file's path."""
    cfg = _active_config()
    run_id = (cfg.notebook, cfg.profile, cfg.started)
    if _run.get("id") != run_id:  # a new setup() call starts a new run: forget the old numbers
        _run.clear()
        _run.update(id=run_id, results={})
    _run["results"][key] = {"value": _to_json(value), "lecture": _to_json(lecture), "unit": unit,
                            "seed": cfg.seed if seed is None else seed, "note": note}
    doc = {
        "notebook": cfg.notebook, "profile": cfg.profile, "precision": cfg.precision,
        "device": cfg.device.describe(), "banner": cfg.banner,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(cfg.started)),
        "wall_time_s": round(time.time() - cfg.started, 1),
        "results": _run["results"],
    }
    return write_json_atomic(paths.results_dir(cfg.profile) / f"{cfg.notebook}.json", doc, indent=2, sort_keys=False)


def load(profile: str) -> dict[str, dict]:
    """All recorded notebooks of a profile: ``{notebook stem: document}``; a damaged file is skipped, in one line."""
    folder = paths.results_dir(profile)
    docs = {}
    for p in sorted(folder.glob("*.json")):
        try:
            doc = json.loads(p.read_text())
            if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict):
                raise ValueError("no 'results' object")
        except (OSError, ValueError) as e:
            print(f"Skipping the damaged results file {p} ({e}); run its notebook again to rewrite it.",
                  file=sys.stderr)
            continue
        docs[p.stem] = doc
    return docs


def table(notebook: str | None = None, profile: str | None = None):
    """The recorded numbers of one notebook (default: the current one) as a DataFrame."""
    import pandas as pd

    cfg = _active_config() if notebook is None else runtime.current()
    notebook = notebook or cfg.notebook
    profile = profile or (cfg.profile if cfg else profiles.current_name())
    doc = load(profile).get(notebook)
    rows = [] if doc is None else [
        {"result": k, "value": r["value"], "lecture": r["lecture"], "unit": r["unit"] or ""}
        for k, r in doc["results"].items()
    ]
    # object columns keep integers as integers (15200, not 15200.0) beside fractions
    return pd.DataFrame(rows, columns=["result", "value", "lecture", "unit"], dtype=object).set_index("result")


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def summary_markdown(profile: str, timings: dict[str, float] | None = None) -> str:
    """A Markdown report: every recorded number beside the lecture's figure, and the time taken."""
    docs = load(profile)
    lines = [f"# Results, profile `{profile}`", ""]
    if not docs:
        lines.append("No notebook has recorded results in this profile yet.")
    for stem, doc in docs.items():
        seconds = (timings or {}).get(stem, doc.get("wall_time_s"))
        lines += [f"## {stem}", "", f"{doc.get('banner', '')}  ", f"Started {doc.get('started', '?')}, "
                  f"wall time {seconds:.0f} s." if seconds is not None else "", "",
                  "| result | this run | lecture | unit |", "|---|---:|---:|---|"]
        for key, r in doc["results"].items():
            lines.append(f"| {key} | {_fmt(r['value'])} | {_fmt(r['lecture'])} | {r.get('unit') or ''} |")
        lines.append("")
    return "\n".join(lines) + "\n"
