"""Headline numbers of a run, recorded beside the figure the lecture reported.

Every notebook: ``record("test_accuracy", 0.83, lecture=0.815)`` while it runs, ``table()`` in its
last section. Each record rewrites ``<notebook>.json`` (atomically) in :func:`cnncourse.paths.results_dir`
with the run's wall time so far, so the file always describes the latest run, even one stopped half-way.

Where: ``cnncourse run`` (the regeneration command; it sets ``CNNCOURSE_RECORD_RESULTS=1`` for its
kernels) records into ``results/<profile>/`` and gathers the files into ``results/<profile>/SUMMARY.md``;
a notebook run by hand in JupyterLab (or by nbval) records into the git-ignored
``results/interactive/<profile>/``, and its ``table()`` reads from there. So only ``cnncourse run
--profile class`` changes the committed ``results/class/``.

A run with a second seed (``cnncourse run --seed 7``, which sets ``CNNCOURSE_SEED``) records into
``seed7/`` inside that folder, so the notebook's own seed and the second one sit side by side:
``load_seed("02_cifar10_overfitting", 7)`` reads it back (notebooks 02, 03 and 05 quote it).
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
    return write_json_atomic(run_dir(cfg) / f"{cfg.notebook}.json", doc, indent=2, sort_keys=False)


def seed_dir(profile: str, seed: int) -> Path:
    """Where a second-seed run (``cnncourse run --seed N``) of ``profile`` records: ``<results>/seed<N>/``."""
    return paths.results_dir(profile) / f"seed{seed}"


def run_dir(cfg) -> Path:
    """The folder this run records into: the profile's, or its ``seed<N>/`` when the seed was overridden."""
    return seed_dir(cfg.profile, cfg.seed) if getattr(cfg, "seed_overridden", False) else paths.results_dir(cfg.profile)


def load_seed(notebook: str, seed: int, profile: str | None = None) -> dict | None:
    """The results of ``notebook``'s run with ``seed`` (``cnncourse run --seed N``) as ``{key: value}``, or None.

    Read from the committed ``results/<profile>/seed<N>/`` (not the interactive folder), so a notebook run
    by hand still quotes the recorded second seed. None when that run has not been recorded (one line says
    so on stderr, with the command that records it).
    """
    cfg = runtime.current()
    profile = profile or (cfg.profile if cfg else profiles.current_name())
    path = paths.results_base() / profile / f"seed{seed}" / f"{notebook}.json"
    try:
        doc = json.loads(path.read_text())
        values = {k: r["value"] for k, r in doc["results"].items()}
    except FileNotFoundError:
        print(f"No seed-{seed} run of {notebook} is recorded for profile {profile!r} ({path}); "
              f"record one with: cnncourse run --seed {seed} --profile {profile} {notebook[:2]}", file=sys.stderr)
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        print(f"Skipping the damaged results file {path} ({e}); record it again with: "
              f"cnncourse run --seed {seed} --profile {profile} {notebook[:2]}", file=sys.stderr)
        return None
    return values


def table_path(name: str, profile: str = "class", seed: int | None = None) -> Path:
    """Where a script's table ``name`` lives: ``results/<profile>/tables/``, or ``results/<profile>/seed<N>/tables/``
    for a seed other than the notebooks' own (42)."""
    folder = paths.results_base() / profile
    return (folder if seed in (None, 42) else folder / f"seed{seed}") / "tables" / f"{name}.json"


def load_table(name: str, profile: str = "class", seed: int | None = None) -> dict | None:
    """A results document a script wrote beside the notebooks' (``results/<profile>/tables/<name>.json``), or None.

    Notebook 08 reads the ablation table that ``benchmarks/speedrun_ablation.py`` writes this way; with
    ``seed``, the rows that script ran with another seed (``results/<profile>/seed<N>/tables/``). None
    when the file is missing or damaged (one line on stderr says so, and how to write it).
    """
    path = table_path(name, profile, seed)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        print(f"{path} is missing: it is written by the script named in the notebook", file=sys.stderr)
    except (OSError, ValueError) as e:
        print(f"Skipping the damaged results file {path} ({e})", file=sys.stderr)
    return None


def load_committed(notebook: str, profile: str = "class") -> dict:
    """``{key: value}`` of ``notebook``'s committed run (``results/<profile>/<notebook>.json``, seed 42), wherever the
    reading notebook runs (08 quotes 02's run this way). Empty, with one line on stderr, when it is missing."""
    path = paths.results_base() / profile / f"{notebook}.json"
    try:
        return {k: r["value"] for k, r in json.loads(path.read_text())["results"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        print(f"No usable committed run of {notebook} in {path} ({e}); record one with: "
              f"cnncourse run --profile {profile} {notebook[:2]}", file=sys.stderr)
        return {}


def load(profile: str) -> dict[str, dict]:
    """All recorded notebooks of a profile: ``{notebook stem: document}``; a damaged file is skipped, in one line."""
    return _load_folder(paths.results_dir(profile))


def _problem(doc) -> str | None:
    """What makes a parsed results file unusable as a whole, or None."""
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict):
        return "no 'results' object"
    seconds = doc.get("wall_time_s")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int | float)):
        return f"wall_time_s is {seconds!r}, not a number"
    for key in ("banner", "started"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            return f"{key} is {doc[key]!r}, not text"
    return None


def _entry_problem(entry) -> str | None:
    """What makes one recorded number unusable, or None: each is ``{"value": ..., "lecture": ..., ...}``."""
    if not isinstance(entry, dict):
        return f"{entry!r} is not an object with 'value' and 'lecture'"
    missing = [k for k in ("value", "lecture") if k not in entry]
    if missing:
        return f"no {' and no '.join(repr(k) for k in missing)}"
    if entry.get("unit") is not None and not isinstance(entry["unit"], str):
        return f"unit is {entry['unit']!r}, not text"
    return None


def _load_folder(folder: Path) -> dict[str, dict]:
    """The folder's results files that can be used; a damaged file or entry is skipped, each in one line."""
    docs = {}
    for p in sorted(folder.glob("*.json")):
        try:
            doc = json.loads(p.read_text())
            problem = _problem(doc)
            if problem:
                raise ValueError(problem)
        except (OSError, ValueError, RecursionError) as e:
            print(f"Skipping the damaged results file {p} ({e}); run its notebook again to rewrite it.",
                  file=sys.stderr)
            continue
        kept = {}
        for key, entry in doc["results"].items():
            problem = _entry_problem(entry)
            if problem:
                print(f"Skipping the damaged entry {key!r} of {p} ({problem}); run its notebook again to rewrite it.",
                      file=sys.stderr)
                continue
            kept[key] = entry
        docs[p.stem] = {**doc, "results": kept}
    return docs


def table(notebook: str | None = None, profile: str | None = None):
    """The recorded numbers of one notebook (default: the current one) as a DataFrame."""
    import pandas as pd

    cfg = _active_config() if notebook is None else runtime.current()
    notebook = notebook or cfg.notebook
    profile = profile or (cfg.profile if cfg else profiles.current_name())
    cfg_dir = run_dir(cfg) if cfg is not None and cfg.notebook == notebook else paths.results_dir(profile)
    doc = _load_folder(cfg_dir).get(notebook)
    rows = [] if doc is None else [
        {"result": k, "value": r["value"], "lecture": r["lecture"], "unit": r.get("unit") or ""}
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


def summary_markdown(profile: str, timings: dict[str, float] | None = None, seed: int | None = None) -> str:
    """A Markdown report: every recorded number beside the lecture's figure, and the time taken.

    ``seed``: the report of a second-seed run (``cnncourse run --seed N``), read from ``seed<N>/``."""
    docs = load(profile) if seed is None else _load_folder(seed_dir(profile, seed))
    title = f"# Results, profile `{profile}`" + ("" if seed is None else f", seed {seed}")
    lines = [title, ""]
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
