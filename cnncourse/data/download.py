"""Find a dataset's archive and verify it: the data folder, then the mirror, then the official source.

Every file is checked against a SHA-256 before use: the pin in ``SOURCES`` for official files, the
pin or a mirror's ``SHA256SUMS`` line for mirror files. Downloads go through pooch, which writes
to a temporary file in ``data/downloads`` and renames it only once the hash matches, so a broken
transfer is never taken for a complete file (a retry restarts the transfer).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..fileio import temp_path, write_json_atomic  # noqa: F401 (re-exported for cifar10, pets)
from .errors import DataError

MIRROR_ENV = "CNNCOURSE_MIRROR"
OFFLINE_ENV = "CNNCOURSE_OFFLINE"
SUMS_FILE = "SHA256SUMS"
RETRIES = 2  # extra attempts after a failed or corrupt transfer (pooch waits 1 s, 2 s, ... between)
TIMEOUT_S = 60


@dataclass(frozen=True)
class Candidate:
    """A file name a dataset may come as; ``url`` marks the official file, ``sha256`` its pin."""
    name: str
    sha256: str | None
    url: str | None = None
    about: str = ""


# The one table of pins. Official files accept only their pin; other names accept their pin or
# a hash listed in the mirror's SHA256SUMS, and without either they are refused.
SOURCES: dict[str, tuple[Candidate, ...]] = {
    "cifar10": (
        Candidate("cifar-10-python.tar.gz", "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
                  "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "official python batches, 170 MB"),
        Candidate("cifar10-jpeg.tar.gz", "d1c156a1d9a0a372040c4bb6188f2edfd3766fd17f1151307c247b9da991b107",
                  None, "image folder, JPEG (course mirror, 19 MB)"),
        Candidate("cifar10.tgz", None, None, "image folder, PNG (fast.ai layout; needs a SHA256SUMS line)"),
    ),
    "cats_vs_dogs": (
        Candidate("kagglecatsanddogs_5340.zip", "b7974bd00a84a99921f36ee4403f089853777b5ae8d151c76a86e64900334af9",
                  "https://download.microsoft.com/download/3/E/1/3E1C3F21-ECDB-4869-8368-6DEBA77B919F/"
                  "kagglecatsanddogs_5340.zip", "Microsoft PetImages, 825 MB"),
        Candidate("PetImages-180px.zip", "0dd0e513f919e80423d77f27f055adf2373d2bee6a979eb5ab30819f3eac2c44",
                  None, "PetImages at 180x180 (course mirror, 85 MB)"),
    ),
}
# Extracted folders a dataset may also come as (no hash: every image is checked by decoding).
FOLDERS: dict[str, tuple[str, ...]] = {"cats_vs_dogs": ("PetImages",)}
TITLES = {"cifar10": "CIFAR-10", "cats_vs_dogs": "Cats vs dogs (PetImages)"}


@dataclass(frozen=True)
class Located:
    """A verified archive (or an extracted folder, ``sha256`` None) and where it was found."""
    path: Path
    name: str
    sha256: str | None
    origin: str
    official: bool = False


def official_sha256(dataset: str) -> str | None:
    """The pinned hash of the dataset's official file (read at call time, so tests can swap the table)."""
    return next((c.sha256 for c in SOURCES[dataset] if c.url), None)


def downloads_dir() -> Path:
    return paths.data_dir() / "downloads"


def offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes")


# ---------------------------------------------------------------- hashing, with a cache

def _cache_file() -> Path:
    return paths.data_dir() / ".sha256-cache.json"


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # no cheap and safe check elsewhere: keep it (status lists it)
    try:
        os.kill(pid, 0)  # signal 0 only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_temps(folder: Path) -> list[Path]:
    """Temporary files and folders (``.name.pid123.*``) left in ``folder`` by processes that were killed."""
    found = []
    if folder.is_dir():
        for entry in folder.iterdir():
            m = re.match(r"^\..*\.pid(\d+)\.", entry.name)
            if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
                found.append(entry)
    return found


def remove_stale_temps(folder: Path) -> None:
    for path in stale_temps(folder):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, remembered by path, size and mtime so big archives are hashed once."""
    path = Path(path).resolve()
    st = path.stat()
    db = _read_json(_cache_file())
    entry = db.get(str(path))
    if entry and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns:
        return entry["sha256"]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    db = _read_json(_cache_file())  # re-read: another process may have added entries meanwhile
    db[str(path)] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
    with contextlib.suppress(OSError):  # a read-only data folder only costs a re-hash next time
        write_json_atomic(_cache_file(), db)
    return digest


def mark_trusted(path: Path, why: str) -> None:
    """Remember that ``path`` (as it is now) matched a trusted hash, e.g. a mirror's listing at download time."""
    sha256_of(path)
    db = _read_json(_cache_file())
    entry = db.get(str(Path(path).resolve()))
    if entry:
        entry["trusted"] = why
        with contextlib.suppress(OSError):
            write_json_atomic(_cache_file(), db)


def trusted_hash(path: Path) -> str | None:
    """The hash of ``path`` if it was marked trusted and has not changed since."""
    path = Path(path).resolve()
    entry = _read_json(_cache_file()).get(str(path))
    st = path.stat()
    if entry and entry.get("trusted") and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns:
        return entry["sha256"]
    return None


def verify(path: Path, expected: str, why: str) -> str:
    """Raise a DataError unless ``path`` hashes to ``expected``; return the hash."""
    actual = sha256_of(path)
    if actual != expected.lower():
        raise DataError(
            f"{path} has SHA-256 {actual}, but {why} expects {expected}. The file is damaged or a "
            f"different version: replace it (or fix the mirror's {SUMS_FILE}) and try again.")
    return actual


# ---------------------------------------------------------------- the mirror

def parse_sums(text: str) -> dict[str, str]:
    """``<hex>  <name>`` lines (as sha256sum writes them, ``*name`` too) to a name -> hash dict."""
    sums = {}
    for line in text.splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 2 and len(parts[0]) == 64 and not line.lstrip().startswith("#"):
            sums[parts[1].lstrip("*").strip()] = parts[0].lower()
    return sums


@dataclass(frozen=True)
class Mirror:
    setting: str
    folder: Path | None = None   # a local folder mirror
    url: str | None = None       # a web mirror (base URL ending in /)

    def describe(self) -> str:
        where = self.folder if self.folder is not None else self.url
        return f"{MIRROR_ENV}={self.setting}" + (f" ({where})" if str(where) != self.setting else "")


def mirror() -> Mirror | None:
    """The mirror from ``CNNCOURSE_MIRROR``: a URL, or a folder (relative to the working directory,
    else to the checkout, so notebooks running in ``notebooks/`` see the same folder)."""
    value = paths.mirror()
    if not value:
        return None
    if value.startswith(("http://", "https://")):
        return Mirror(value, url=value.rstrip("/") + "/")
    folder = value
    if value.startswith("file://"):
        folder = urllib.parse.unquote(urllib.parse.urlparse(value).path)
    path = Path(folder).expanduser()
    if not path.is_absolute():
        tries = [Path.cwd() / path] + ([paths.repo_root() / path] if paths.repo_root() else [])
        path = next((p for p in tries if p.is_dir()), tries[0])
    return Mirror(value, folder=path.resolve())


def mirror_sums(m: Mirror) -> dict[str, str]:
    if m.folder is not None:
        sums_path = m.folder / SUMS_FILE
        return parse_sums(sums_path.read_text()) if sums_path.is_file() else {}
    import io

    import pooch
    import requests
    buf = io.BytesIO()
    try:
        pooch.HTTPDownloader(timeout=TIMEOUT_S)(m.url + SUMS_FILE, buf, None)
    except requests.RequestException:
        return {}  # no list (or no server): files then need a pinned hash
    return parse_sums(buf.getvalue().decode("utf-8", "replace"))


def expected_hash(c: Candidate, sums: dict[str, str]) -> tuple[str | None, str]:
    """The hash a file must have, and who says so."""
    if c.url:
        return c.sha256, f"the pinned hash of the official {c.name}"
    if c.name in sums:
        return sums[c.name], f"the mirror's {SUMS_FILE}"
    if c.sha256:
        return c.sha256, f"the pinned hash of {c.name}"
    return None, ""


# ---------------------------------------------------------------- downloads

def fetch_url(url: str, name: str, sha256: str, progress: bool | None) -> Path:
    """Download ``url`` to ``data/downloads/name`` with pooch, verified against ``sha256``.

    A download shows a progress bar unless ``progress=False`` (it is long, and only happens online).
    """
    import pooch
    import requests
    progress = progress is not False
    dest = downloads_dir()
    dest.mkdir(parents=True, exist_ok=True)
    fetcher = pooch.create(path=dest, base_url=url.rsplit("/", 1)[0] + "/", registry={name: f"sha256:{sha256}"},
                           urls={name: url}, retry_if_failed=RETRIES)
    try:
        path = Path(fetcher.fetch(name, progressbar=progress,
                                  downloader=pooch.HTTPDownloader(progressbar=progress, timeout=TIMEOUT_S)))
    except ValueError as e:  # pooch: hash mismatch after every retry
        raise DataError(f"Downloaded {url}, but its SHA-256 is not the expected {sha256} "
                        f"(tried {1 + RETRIES} times; nothing was kept). Details: {e}") from None
    except requests.RequestException as e:
        raise _Unreachable(f"{url}: {type(e).__name__}: {e}") from None
    mark_trusted(path, f"matched {sha256} when downloaded from {url}")  # later calls skip hashing
    return path


class _Unreachable(Exception):
    """A download failed for network reasons (try the next source)."""


# ---------------------------------------------------------------- locating a dataset

def locate(dataset: str, *, download: bool = True, progress: bool | None = None) -> Located:
    """The first verified copy of ``dataset``: data folder, mirror, then (if allowed) the official URL.

    Raises DataError on a hash mismatch, on a mirror file with no known hash, and when no copy
    can be had (naming the mirror setting and the file names it looks for).
    """
    cands = SOURCES[dataset]
    notes: list[str] = []

    # 1. a copy in the working data folder (an earlier download, or one a student put there)
    for c in cands:
        path = downloads_dir() / c.name
        if not path.is_file():
            continue
        if c.url:  # the official file: only its pin counts
            verify(path, c.sha256, f"the pinned hash of the official {c.name}")
            return Located(path, c.name, c.sha256, "data folder", True)
        digest = trusted_hash(path)  # downloaded earlier and verified then (perhaps against a mirror's list)
        if digest is None and c.sha256:
            digest = verify(path, c.sha256, f"the pinned hash of {c.name}")  # a copy put there by hand
        if digest is not None:
            return Located(path, c.name, digest, "data folder")
        notes.append(f"{path} has no known hash; it is only used from a mirror listing it in {SUMS_FILE}")
    for name in FOLDERS.get(dataset, ()):
        if (paths.data_dir() / name).is_dir():
            return Located(paths.data_dir() / name, name + "/", None, "data folder")

    # 2. the mirror
    m = mirror()
    if m is not None and m.folder is not None:
        if not m.folder.is_dir():
            notes.append(f"{m.describe()} is not a folder")
        else:
            sums = mirror_sums(m)
            for c in cands:
                path = m.folder / c.name
                if not path.is_file():
                    continue
                expected, why = expected_hash(c, sums)
                if expected is None:
                    raise DataError(
                        f"The mirror file {path} has no known SHA-256, so it is not used. Add a line "
                        f"'<sha256>  {c.name}' to {m.folder / SUMS_FILE}, or use one of: {_names(dataset)}.")
                verify(path, expected, why)  # read in place: a read-only mirror is fine
                return Located(path, c.name, expected, f"mirror {m.folder}", bool(c.url))
            for name in FOLDERS.get(dataset, ()):
                if (m.folder / name).is_dir():
                    return Located(m.folder / name, name + "/", None, f"mirror {m.folder}")
            notes.append(f"{m.describe()} has none of: {_names(dataset)}")
    elif m is not None and download and not offline():
        import pooch
        import requests
        sums = mirror_sums(m)
        for c in cands:
            expected, why = expected_hash(c, sums)
            if expected is None:
                continue
            url = m.url + c.name
            try:
                present = pooch.HTTPDownloader(timeout=TIMEOUT_S)(url, None, None, check_only=True)
            except requests.RequestException as e:
                notes.append(f"{m.describe()} is unreachable ({type(e).__name__})")
                break
            if present:
                try:
                    path = fetch_url(url, c.name, expected, progress)
                except _Unreachable as e:
                    notes.append(f"downloading from the mirror failed: {e}")
                    break
                return Located(path, c.name, expected, f"mirror {m.url}", bool(c.url))
        else:
            notes.append(f"{m.describe()} has none of: {_names(dataset)}")
    elif m is None:
        notes.append(f"{MIRROR_ENV} is not set")

    # 3. the official source
    if download and not offline():
        for c in cands:
            if c.url:
                try:
                    path = fetch_url(c.url, c.name, c.sha256, progress)
                    return Located(path, c.name, c.sha256, f"downloaded from {c.url}", True)
                except _Unreachable as e:
                    notes.append(f"the download failed: {e}")
    elif offline():
        notes.append(f"{OFFLINE_ENV} is set, so nothing is downloaded")
    raise DataError(not_found_message(dataset, notes))


def _names(dataset: str) -> str:
    return ", ".join([c.name for c in SOURCES[dataset]] + [n + "/" for n in FOLDERS.get(dataset, ())])


def not_found_message(dataset: str, notes: list[str]) -> str:
    lines = [f"{TITLES[dataset]} is not available: " + "; ".join(notes) + "."]
    lines.append(f"To work offline, set {MIRROR_ENV} to a folder (or web address) holding one of these files, "
                  f"or copy one into {downloads_dir()}:")
    for c in SOURCES[dataset]:
        lines.append(f"  {c.name:28s} {c.about}")
    for name in FOLDERS.get(dataset, ()):
        lines.append(f"  {name + '/':28s} the extracted folder")
    lines.append(f"Example: export {MIRROR_ENV}=/path/to/datasets   (then: cnncourse data fetch {dataset})")
    return "\n".join(lines)


def local_source(path: str | os.PathLike, dataset: str) -> Located:
    """A file or folder the caller names explicitly: its hash is computed (a folder has none)."""
    path = Path(path).expanduser().resolve()
    if path.is_dir():
        return Located(path, path.name + "/", None, "given folder")
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    digest = sha256_of(path)
    official = digest == official_sha256(dataset)
    return Located(path, path.name, digest, "given file", official)


def present_sources(dataset: str) -> list[tuple[Path, Candidate | None, str]]:
    """Copies found without downloading, for ``cnncourse data status``: (path, candidate, where)."""
    found = []
    m = mirror()
    places = [(downloads_dir(), "data folder")]
    if m is not None and m.folder is not None and m.folder.is_dir():
        places.append((m.folder, "mirror"))
    for folder, where in places:
        for c in SOURCES[dataset]:
            if (folder / c.name).is_file():
                found.append((folder / c.name, c, where))
        for name in FOLDERS.get(dataset, ()):
            root = folder if where == "mirror" else paths.data_dir()
            if (root / name).is_dir():
                found.append((root / name, None, where))
    return found


def progress_default(progress: bool | None) -> bool:
    """Progress bars when asked, else only on an interactive terminal (not in notebook outputs)."""
    if progress is not None:
        return progress
    return bool(getattr(sys.stderr, "isatty", lambda: False)())
