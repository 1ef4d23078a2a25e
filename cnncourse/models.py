"""Trained models kept between notebooks: ``save(model, "03_scratch")`` and ``load("03_scratch")``.

Used in 02 (saves the modern recipe), 03 (the from-scratch convnets), 04 (the fine-tuned network),
05 (saves its members; its solutions load them and 02's network) and by anyone who wants a model
back without training it again. Models live in ``<data dir>/models/<name>.keras``; a run in another
profile or with another seed keeps its own (``models/quick/``, ``models/class-seed7/``: see
:func:`models_dir`), so that a test run or a second-seed run never replaces the models of the lesson's run.
The two digits a name starts with say which notebook writes it, so a missing model's error names
the notebook to run.
"""
from __future__ import annotations

import json
import re
import sys
import zipfile
import zlib
from pathlib import Path

from . import paths, profiles, runtime
from .fileio import atomic_path

_NAME = re.compile(r"^[0-9]{2}_[A-Za-z0-9_-]+$")
# Where the classes and functions of the course's models come from; a .keras file naming any other module
# (os, subprocess, builtins...) or a Lambda layer was not written by the course, and is not handed to Keras.
_OWN_MODULES = ("keras", "cnncourse")
_MAX_CONFIG_BYTES = 64 << 20
# What Keras and the zip, HDF5 and JSON readers under it raise for a damaged or foreign file.
_UNREADABLE = (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, EOFError, RecursionError,
               zipfile.BadZipFile, zlib.error)


class ModelNotFoundError(FileNotFoundError):
    """No saved model of that name: the message says which notebook writes it."""


class UnsafeModelError(ModelNotFoundError):
    """A saved model that would run code from outside Keras and the course (a crafted file): never loaded."""


def models_dir() -> Path:
    """Where this run's models are, created on first use: ``<data dir>/models`` for the default profile
    (``class``) with the notebooks' own seed; ``models/<profile>`` in another profile (``models/quick``
    for the tests); ``models/<profile>-seed<N>`` when ``cnncourse run --seed N`` replaces the seed."""
    profile, seed = profiles.current_name(), runtime.seed_override()
    folder = paths.data_dir() / "models"
    if seed is not None:
        folder = folder / f"{profile}-seed{seed}"
    elif profile != profiles.DEFAULT:
        folder = folder / profile
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"model name {name!r} must look like 'NN_short_name' (NN = the notebook that trains it), "
                         "e.g. '03_scratch'")
    return name


def path(name: str) -> Path:
    """Where the model ``name`` is (or would be) saved."""
    return models_dir() / f"{_check_name(name)}.keras"


def _notebook_for(name: str) -> str:
    prefix = name[:2]
    root = paths.repo_root()
    found = sorted((root / "notebooks").glob(f"{prefix}_*.ipynb")) if root is not None else []
    return found[0].name if found else f"notebook {prefix}"


def save(model, name: str, *, verbose: bool = True) -> Path:
    """``model.save()`` to ``<models_dir()>/<name>.keras`` through a temporary file and a rename.

    A reader never sees half a file, and an interrupted save leaves the previous model in place.
    """
    final = path(name)
    with atomic_path(final) as tmp:  # keeps the .keras suffix Keras insists on
        model.save(tmp)
    if verbose:
        size = final.stat().st_size / 1e6
        print(f"saved {name} ({size:.1f} MB) to {final}")
    return final


def load(name: str, *, compile: bool = True):
    """The model saved as ``name``; a clear error naming the notebook to run when it is missing."""
    import keras

    from . import layers  # noqa: F401  registers the course's custom layers for deserialisation

    file = path(name)
    if not file.is_file():
        raise ModelNotFoundError(f"no saved model {name!r} in {file.parent}: run {_notebook_for(name)} first "
                                 f"(it saves {name} there)")
    try:
        foreign = foreign_code(file)
        if foreign is None:
            return keras.models.load_model(file, compile=compile, safe_mode=True)
    except _UNREADABLE as exc:  # truncated, damaged or foreign file: not a usable .keras archive
        raise ModelNotFoundError(f"the saved model {file} cannot be read ({type(exc).__name__}): delete it and "
                                 f"run {_notebook_for(name)} again") from exc
    raise UnsafeModelError(f"the saved model {file} would run code from outside Keras ({foreign}), which no model "
                           f"of this course does: refusing to load it. Delete it and run {_notebook_for(name)} again")


def foreign_code(file: Path) -> str | None:
    """What in the ``.keras`` archive ``file`` would run code from outside Keras and the course, or None.

    Read from its ``config.json`` before Keras sees it: a ``Lambda`` layer (its function is code) or any
    class or function named from a module other than ``keras.*`` and ``cnncourse.*``. The course's models
    have neither; a crafted file that does (``os.system`` as a layer's function) is refused whatever Keras'
    own checks let through. Raises what the zip and JSON readers raise for a damaged file.
    """
    with zipfile.ZipFile(file) as zf:
        info = zf.getinfo("config.json")
        if info.file_size > _MAX_CONFIG_BYTES:
            raise ValueError(f"config.json holds {info.file_size:,} bytes")
        config = json.loads(zf.read(info))
    stack, lam = [config], None
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            module = node.get("module")
            if module is not None and not (isinstance(module, str) and module.split(".")[0] in _OWN_MODULES):
                what = node.get("config") if node.get("class_name") == "function" else node.get("class_name")
                return f"{module}.{what}" if isinstance(what, str) else f"module {module!r}"
            if node.get("class_name") in ("Lambda", "__lambda__"):
                lam = lam or f"a Lambda layer, {node.get('name') or 'unnamed'}"
            stack.extend(node.values())
    return lam


def saved() -> list[str]:
    """Names of the models saved so far, sorted."""
    return sorted(p.stem for p in models_dir().glob("[0-9][0-9]_*.keras"))


__all__ = ["ModelNotFoundError", "UnsafeModelError", "foreign_code", "load", "models_dir", "path", "save", "saved"]

if __name__ == "__main__":  # pragma: no cover - a tiny listing for the curious
    print("\n".join(saved()) or "no saved models", file=sys.stdout)
