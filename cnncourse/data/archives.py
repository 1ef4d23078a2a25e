"""Read tar and zip archives without trusting their member names.

Every member name is checked before anything is read or written: a name with a ``..`` part, an
absolute path (``/x``, ``C:\\x``) or a link pointing outside the archive's root makes the whole
archive refused. Images are read straight from the archive; ``safe_extract`` is for the rare
case where files must land on disk.
"""
from __future__ import annotations

import os
import posixpath
import re
import secrets
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import DataError, UnsafeArchiveError

_DRIVE = re.compile(r"^[A-Za-z]:")


def check_name(name: str, archive: Path | str = "archive") -> str:
    """The member name with ``/`` separators; UnsafeArchiveError if it could escape the archive's root."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or _DRIVE.match(norm):
        raise UnsafeArchiveError(f"{archive}: refusing the archive, member {name!r} has an absolute path")
    if ".." in norm.split("/"):
        raise UnsafeArchiveError(f"{archive}: refusing the archive, member {name!r} contains '..'")
    return norm


def check_link(name: str, target: str, archive: Path | str = "archive", *, hard: bool = False) -> None:
    """Refuse a link whose target leaves the archive's root (tar hard links are relative to the root)."""
    target = target.replace("\\", "/")
    if target.startswith("/") or _DRIVE.match(target):
        raise UnsafeArchiveError(f"{archive}: refusing the archive, link {name!r} points to absolute {target!r}")
    base = "" if hard else posixpath.dirname(name)
    resolved = posixpath.normpath(posixpath.join(base, target))
    if resolved == ".." or resolved.startswith("../"):
        raise UnsafeArchiveError(f"{archive}: refusing the archive, link {name!r} points outside it ({target!r})")


def _zip_link_target(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> str | None:
    if stat.S_ISLNK(info.external_attr >> 16):
        return zf.read(info).decode("utf-8", "replace")
    return None


def open_zip(path: Path) -> zipfile.ZipFile:
    """A zip whose every member name and link was checked (members can then be read at random)."""
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise DataError(f"{path} is not a readable zip archive ({e})") from None
    try:
        for info in zf.infolist():
            name = check_name(info.filename, path)
            target = _zip_link_target(zf, info)
            if target is not None:
                check_link(name, target, path)
    except BaseException:
        zf.close()
        raise
    return zf


def is_zip_link(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def iter_files(path: Path, on_read: Callable[[int], None] | None = None) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) for every regular file of a .zip or .tar[.gz|.bz2|.xz], in archive order.

    A tar is read as a stream (one pass, no seeking); ``on_read(n)`` is called with the compressed
    bytes consumed so far, for a progress bar. Links are checked, then skipped.
    """
    path = Path(path)
    if zipfile.is_zipfile(path):
        with open_zip(path) as zf:
            done = 0
            for info in zf.infolist():
                done += info.compress_size
                if info.is_dir() or is_zip_link(zf, info):
                    continue
                yield info.filename.replace("\\", "/"), zf.read(info)
                if on_read:
                    on_read(done)
        return
    try:
        with open(path, "rb") as raw, tarfile.open(fileobj=raw, mode="r|*") as tf:
            for member in tf:
                name = check_name(member.name, path)
                if member.issym() or member.islnk():
                    check_link(name, member.linkname, path, hard=member.islnk())
                    continue
                if member.isfile():
                    yield name, tf.extractfile(member).read()
                    if on_read:
                        on_read(raw.tell())
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"{path} is not a readable tar or zip archive ({type(e).__name__}: {e})") from None


def safe_extract(archive: Path, dest: Path) -> Path:
    """Extract a checked tar or zip into ``dest``, through a temporary folder renamed at the end.

    ``dest`` must not exist; an interrupted extraction leaves only a ``.tmp-extract-*`` folder.
    """
    archive, dest = Path(archive), Path(dest)
    if dest.exists():
        raise DataError(f"{dest} already exists")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".tmp-extract-{dest.name}.pid{os.getpid()}.{secrets.token_hex(4)}")
    tmp.mkdir()
    try:
        if zipfile.is_zipfile(archive):
            with open_zip(archive) as zf:
                for info in zf.infolist():
                    if not is_zip_link(zf, info):  # a zip link would land as a file holding its target
                        zf.extract(info, tmp)
        else:
            try:
                with tarfile.open(archive) as tf:
                    members = tf.getmembers()
                    for m in members:
                        name = check_name(m.name, archive)
                        if m.issym() or m.islnk():
                            check_link(name, m.linkname, archive, hard=m.islnk())
                    # the "data" filter is a second guard: no devices, no setuid bits, no escaping links
                    tf.extractall(tmp, members=members, filter="data")
            except tarfile.TarError as e:
                raise DataError(f"{archive} is not a readable tar or zip archive ({e})") from None
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
