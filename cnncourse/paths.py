"""Where the course keeps its files: the working data folder and the results folder.

Used by every chapter: data downloads and prepared splits land in ``data_dir()``;
recorded numbers land in ``results_dir(profile)``.
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def repo_root() -> Path | None:
    """The checkout this package runs from, or None when installed as a wheel."""
    root = PACKAGE_DIR.parent
    if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir():
        return root
    return None


def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cnncourse"


def data_dir() -> Path:
    """``CNNCOURSE_DATA_DIR``, else ``data/`` in a checkout, else a user cache folder."""
    env = os.environ.get("CNNCOURSE_DATA_DIR")
    if env:
        path = Path(env).expanduser()
    elif repo_root() is not None:
        path = repo_root() / "data"
    else:
        path = user_cache_dir() / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path


def results_dir(profile: str) -> Path:
    """``CNNCOURSE_RESULTS_DIR``, else ``results/<profile>`` in a checkout (or the user cache)."""
    env = os.environ.get("CNNCOURSE_RESULTS_DIR")
    base = Path(env).expanduser() if env else (repo_root() or user_cache_dir()) / "results"
    return base / profile


def mirror() -> str | None:
    """``CNNCOURSE_MIRROR``: a local folder or base URL consulted before the internet."""
    value = os.environ.get("CNNCOURSE_MIRROR", "").strip()
    return value or None
