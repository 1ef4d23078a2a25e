"""Atomic file writes shared by the data layer and the results recorder.

A reader (a notebook, a killed-and-restarted run) must never see half a file: write to a hidden
temporary name beside the target, then rename over it.
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path


def temp_path(final: Path, suffix: str = ".tmp") -> Path:
    """A unique hidden name beside ``final`` (created with the usual umask, unlike mkstemp's 0600).

    The ``.pid<N>.`` part lets the data layer find and remove leftovers of killed processes.
    """
    return final.with_name(f".{final.name}.pid{os.getpid()}.{secrets.token_hex(4)}{suffix}")


def write_json_atomic(path: Path, data, *, indent: int = 1, sort_keys: bool = True) -> Path:
    """Write JSON through a temporary file and a rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        with open(tmp, "x") as f:
            json.dump(data, f, indent=indent, sort_keys=sort_keys)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
