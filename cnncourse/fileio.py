"""Atomic file writes for everything the course writes that a user cares about.

Executed notebooks, recorded results, caches, prepared splits, converted weights and saved models:
a reader (a notebook, a killed-and-restarted run) must never see half a file, and a full disk must
never leave a truncated file where a good one was. So every write goes to a hidden temporary name
in the same folder and is renamed over the target only once it is complete and flushed.

- ``atomic_write(path, "w")``: a file object to write to; renamed into place when the block ends.
- ``atomic_path(path)``: a temporary path (same suffixes, e.g. ``.weights.h5``) for libraries that
  write by file name and check the suffix, e.g. ``with atomic_path(p) as tmp: model.save(tmp)``.
- ``discard(path)``: remove a file or a folder tree, quietly (temporary files of failed writes).
- ``write_text_atomic``, ``write_bytes_atomic``, ``write_json_atomic``: the one-call forms.

A failed write removes its temporary file and leaves the target as it was; an ``OSError`` raised
while writing (``ENOSPC``, ``EROFS``...) names the target file, so messages can say which file.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

NAME_MAX = 255  # bytes in one file name, on Linux, macOS and Windows file systems alike
_SUFFIX_MAX = 32  # a temporary name keeps at most this many bytes of the target's suffixes (".weights.h5")


def _truncate(name: str, size: int) -> str:
    """``name`` cut to at most ``size`` bytes in the file system's encoding (never inside a character)."""
    while len(os.fsencode(name)) > size:
        name = name[:-1]
    return name


def temp_path(final: Path, suffix: str = ".tmp") -> Path:
    """A unique hidden name beside ``final`` (created with the usual umask, unlike mkstemp's 0600).

    The ``.pid<N>.`` part lets the data layer find and remove leftovers of killed processes. The name
    stays within the file system's 255 bytes: the part taken from ``final``'s name is shortened as
    needed (a 250-character file name still gets a temporary name, and so can be written).
    """
    if len(os.fsencode(suffix)) > _SUFFIX_MAX:
        suffix = ".tmp"
    tail = f".pid{os.getpid()}.{secrets.token_hex(4)}{suffix}"
    room = NAME_MAX - 1 - len(os.fsencode(tail))  # 1: the leading dot
    return final.with_name(f".{_truncate(final.name, room)}{tail}")


def _target(path: Path) -> Path:
    path = Path(path)
    return path.resolve() if path.is_symlink() else path  # replace the file a link points to, not the link


def _named(e: OSError, path: Path, tmp: Path) -> OSError:
    """``e`` naming ``path`` where it names no file (a failed write()) or the temporary file."""
    unnamed = e.filename is None or os.fsdecode(e.filename) == str(tmp)
    if unnamed and e.errno is not None:
        return OSError(e.errno, e.strerror or os.strerror(e.errno), str(path))
    return e


def _install(tmp: Path, path: Path) -> None:
    with contextlib.suppress(OSError):  # keep the permissions of the file being replaced
        os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
    os.replace(tmp, path)


def _suffixes(path: Path) -> str:
    """The suffixes a library may insist on (``.keras``, ``.weights.h5``): the last two, if they are short."""
    for suffixes in (path.suffixes[-2:], path.suffixes[-1:]):
        text = "".join(suffixes)
        if text and len(os.fsencode(text)) <= _SUFFIX_MAX:
            return text
    return ".tmp"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, mkdir: bool = True) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffixes) to write to; renamed over ``path`` on success."""
    path = _target(Path(path))
    if mkdir:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path, suffix=_suffixes(path))
    try:
        yield tmp
        if tmp.is_dir():
            os.replace(tmp, path)
        else:
            _install(tmp, path)
    except OSError as e:
        discard(tmp)
        named = _named(e, path, tmp)
        if named is e:
            raise
        raise named from e
    except BaseException:
        discard(tmp)
        raise


def discard(path: Path) -> None:
    """Remove a file, a link or a folder tree; nothing to remove, or a failure, is not an error."""
    if path.is_dir() and not path.is_symlink():
        import shutil
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", *, encoding: str | None = "utf-8") -> Iterator:
    """An open file (``mode`` ``"w"`` or ``"wb"``) whose content replaces ``path`` when the block ends."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes whole files: mode 'w' or 'wb', not {mode!r}")
    binary = mode == "wb"
    with atomic_path(path) as tmp, open(tmp, "xb" if binary else "x", encoding=None if binary else encoding) as f:
        yield f
        f.flush()
        os.fsync(f.fileno())


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_write(path, "wb") as f:
        f.write(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    with atomic_write(path, "w", encoding=encoding) as f:
        f.write(text)
    return Path(path)


def write_json_atomic(path: Path, data, *, indent: int = 1, sort_keys: bool = True) -> Path:
    """Write JSON through a temporary file and a rename, so readers never see half a file."""
    return write_text_atomic(path, json.dumps(data, indent=indent, sort_keys=sort_keys) + "\n")


def check_writable(path: Path) -> None:
    """Raise the OSError (naming ``path``) if no file can be created beside it, before hours of execution."""
    probe = temp_path(path)
    try:
        with open(probe, "x"):
            pass
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(path)) from e
    probe.unlink()
