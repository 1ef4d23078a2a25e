"""Read tar and zip archives without trusting their member names.

Every member name is checked before anything is read or written: a name with a ``..`` part, an
absolute path (``/x``, ``C:\\x``) or a link pointing outside the archive's root makes the whole
archive refused. Images are read straight from the archive; ``safe_extract`` is for the rare
case where files must land on disk. A member is read whole into memory only when it is at most
``MAX_MEMBER_BYTES``; bigger ones are skipped and reported (a tiny zip can hold a 1 GiB member).
Likewise an image is decoded only when its header says it has at most ``MAX_IMAGE_PIXELS``.
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
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import DataError, UnsafeArchiveError

_DRIVE = re.compile(r"^[A-Za-z]:")
# The largest member read into memory: CIFAR-10's python batches are 31 MB, photos a few MB.
MAX_MEMBER_BYTES = 64 << 20
# The most pixels an image may have to be decoded: 40 megapixels (120 MB as RGB). A small file can hold a
# huge image (a 450 KB PNG of 12000 x 12000 pixels decodes to over 1 GB); PetImages' photos are far smaller.
MAX_IMAGE_PIXELS = 40_000_000


def too_large(size: int) -> str | None:
    """The drop reason for a member of ``size`` bytes, or None when it may be read."""
    if size > MAX_MEMBER_BYTES:
        cap = f"{MAX_MEMBER_BYTES >> 20} MiB" if MAX_MEMBER_BYTES >= 1 << 20 else f"{MAX_MEMBER_BYTES:,}-byte"
        return f"too large: {size:,} bytes, over the {cap} cap"
    return None


def too_many_pixels(width: int, height: int) -> str | None:
    """The drop reason for an image of ``width`` x ``height`` pixels (read from its header), or None."""
    if width * height > MAX_IMAGE_PIXELS:
        return f"too large: {width} x {height} pixels, over the {MAX_IMAGE_PIXELS:,}-pixel cap"
    return None


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
    except UnicodeDecodeError as e:  # a name flagged UTF-8 that is not UTF-8
        name = e.object.decode("utf-8", "backslashreplace") if isinstance(e.object, bytes) else "?"
        raise DataError(f"{path} is damaged: the member name '{name}' is marked as UTF-8 but is not UTF-8. "
                        "Re-create the archive, or extract it with another tool and use the folder.") from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as e:
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


def iter_files(path: Path, on_read: Callable[[int], None] | None = None,
               on_skip: Callable[[str, str], None] | None = None) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) for every regular file of a .zip or .tar[.gz|.bz2|.xz], in archive order.

    A tar is read as a stream (one pass, no seeking); ``on_read(n)`` is called with the compressed
    bytes consumed so far, for a progress bar. Links are checked, then skipped. A member larger
    than ``MAX_MEMBER_BYTES`` is not read: ``on_skip(name, reason)`` is called instead.
    """
    path = Path(path)
    if zipfile.is_zipfile(path):
        with open_zip(path) as zf:
            done = 0
            for info in zf.infolist():
                done += info.compress_size
                if info.is_dir() or is_zip_link(zf, info):
                    continue
                name = info.filename.replace("\\", "/")
                if reason := too_large(info.file_size):  # zipfile never returns more than file_size bytes
                    if on_skip:
                        on_skip(name, reason)
                    continue
                try:
                    data = zf.read(info)
                except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as e:
                    raise DataError(f"{path}: {name} is not readable ({e}); the archive is damaged") from None
                yield name, data
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
                    if reason := too_large(member.size):  # the stream skips it without keeping it
                        if on_skip:
                            on_skip(name, reason)
                        continue
                    yield name, tf.extractfile(member).read()
                    if on_read:
                        on_read(raw.tell())
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
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
