"""Where the course keeps its files: the working data folder and the results folder.

Used by every chapter: data downloads and prepared splits land in ``data_dir()``;
recorded numbers land in ``results_dir(profile)``: ``results/<profile>/`` when ``cnncourse run``
executes the notebooks (it sets ``CNNCOURSE_RECORD_RESULTS=1``), ``results/interactive/<profile>/``
(git-ignored) for a notebook run by hand in JupyterLab or by nbval, so that only the regeneration
command changes the committed ``results/class/``.

A relative ``CNNCOURSE_DATA_DIR`` or ``CNNCOURSE_RESULTS_DIR`` is relative to the working directory.
The ``cnncourse`` command turns them into absolute paths once, where it was started
(:func:`absolutize_env`), so the notebook kernels it starts in the notebooks' folder use the same folders.
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import SettingError

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_ENV = "CNNCOURSE_DATA_DIR"
RESULTS_ENV = "CNNCOURSE_RESULTS_DIR"
MIRROR_ENV = "CNNCOURSE_MIRROR"
RECORD_ENV = "CNNCOURSE_RECORD_RESULTS"
INTERACTIVE = "interactive"


def repo_root() -> Path | None:
    """The checkout this package runs from, or None when installed as a wheel."""
    root = PACKAGE_DIR.parent
    if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir():
        return root
    return None


def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cnncourse"


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path.cwd() / Path(value).expanduser() if value else None  # "/" joined with an absolute path is that path


def data_dir_path() -> Path:
    """Where the data folder is (not created): ``CNNCOURSE_DATA_DIR``, else ``data/`` in a checkout, else
    a user cache folder."""
    path = _env_path(DATA_ENV)
    if path is None:
        path = (repo_root() / "data") if repo_root() is not None else user_cache_dir() / "data"
    return path


def data_dir() -> Path:
    """The data folder (see :func:`data_dir_path`), created if missing; SettingError if it cannot be."""
    path = data_dir_path()
    fix = (f"point {DATA_ENV} at a folder you can write to" if os.environ.get(DATA_ENV, "").strip()
           else f"set {DATA_ENV} to a folder you can write to")
    if path.exists() and not path.is_dir():
        raise SettingError(f"the data folder {path} is a file, not a folder: {fix}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SettingError(f"cannot create the data folder {path} ({e.strerror}): {fix}") from None
    return path


def results_base() -> Path:
    """``CNNCOURSE_RESULTS_DIR``, else ``results/`` in a checkout (or the user cache)."""
    return _env_path(RESULTS_ENV) or (repo_root() or user_cache_dir()) / "results"


def recording() -> bool:
    """True in the kernels of ``cnncourse run`` (``CNNCOURSE_RECORD_RESULTS=1``): their numbers are the record."""
    return os.environ.get(RECORD_ENV, "").strip().lower() in ("1", "true", "yes")


def results_dir(profile: str) -> Path:
    """Where this run's numbers go: ``results_base()/<profile>`` under ``cnncourse run`` (:func:`recording`),
    else ``results_base()/interactive/<profile>``.

    In a checkout, ``results/class/`` is committed beside the notebooks' outputs; ``results/interactive/``
    is git-ignored, so running a notebook in JupyterLab (or with nbval) never changes a tracked file.
    """
    return results_base() / profile if recording() else results_base() / INTERACTIVE / profile


def mirror() -> str | None:
    """``CNNCOURSE_MIRROR``: a local folder or base URL; when set, nothing is downloaded from elsewhere."""
    value = os.environ.get(MIRROR_ENV, "").strip()
    return value or None


def absolutize_env() -> None:
    """Make relative ``CNNCOURSE_DATA_DIR`` / ``CNNCOURSE_RESULTS_DIR`` absolute against the working directory.

    Called once by the ``cnncourse`` command: the kernels ``cnncourse run`` starts inherit the
    environment but run in the notebook's folder, where a relative path would name another folder.
    """
    for name in (DATA_ENV, RESULTS_ENV):
        path = _env_path(name)
        if path is not None:
            os.environ[name] = str(path)
