"""Find a dataset's archive and verify it: the data folder, then the mirror, or else the official source.

Every file is checked against a SHA-256 before use. A pin in ``SOURCES`` always wins; a mirror's
``SHA256SUMS`` line vouches only for files the course has no pin for. When ``CNNCOURSE_MIRROR`` is
set it is the only place looked at besides the data folder: a mirror that is missing, unreachable,
stalled or without the files is an error at once, never a silent fall-back to an internet download.

Downloads go through pooch into a per-process folder ``data/downloads/.download-<name>.pid<N>.*``
and are renamed into ``data/downloads`` only once the hash matches, so a broken transfer is never
taken for a complete file, and what a killed download leaves behind is recognisable
(``cnncourse data status`` lists it, ``cnncourse data clean`` removes it). A transfer that
receives nothing for ``STALL_TIMEOUT_S`` seconds fails with a message naming the server.
"""
from __future__ import annotations

import codecs
import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..fileio import discard, temp_path, write_json_atomic  # noqa: F401 (re-exported for cifar10, pets)
from .errors import DataError

MIRROR_ENV = paths.MIRROR_ENV
OFFLINE_ENV = "CNNCOURSE_OFFLINE"
SUMS_FILE = "SHA256SUMS"
SUMS_MAX_BYTES = 1 << 20
RETRIES = 2  # extra attempts after a failed or corrupt transfer (pooch waits 1 s, 2 s, ... between)
CONNECT_TIMEOUT_S = 10
STALL_TIMEOUT_S = 20  # seconds without a byte from the server before a transfer counts as stalled


@dataclass(frozen=True)
class Candidate:
    """A file name a dataset may come as; ``url`` marks the official file, ``sha256`` its pin."""
    name: str
    sha256: str | None
    url: str | None = None
    about: str = ""


# The one table of pins. A pinned file is accepted only with its pin; a name without a pin only
# with the hash a mirror's SHA256SUMS lists for it; without either it is refused.
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
    """A JSON object from ``path``; {} when it is missing or damaged (caches and markers are rebuilt)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def timeout() -> tuple[float, float]:
    """(connect, stall) seconds for requests (read at call time, so tests can shorten them)."""
    return CONNECT_TIMEOUT_S, STALL_TIMEOUT_S


def warn(message: str) -> None:
    print(message, file=sys.stderr)


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
        discard(path)


_POOCH_TEMP = re.compile(r"^tmp[a-z0-9_]{8}$")  # tempfile's names, as pooch used them directly in downloads/


def leftovers() -> list[Path]:
    """What killed processes left in the data folder and its subfolders (downloads, caches, splits,
    models): temporary files and folders whose process is gone, and bare pooch temp files in
    ``downloads/`` untouched for a minute."""
    base = paths.data_dir()
    found = stale_temps(base)
    for folder in sorted(base.iterdir()):  # temporary files sit beside their targets: one level down
        if folder.is_dir() and not folder.is_symlink() and not folder.name.startswith("."):
            found += stale_temps(folder)
    if downloads_dir().is_dir():
        for entry in downloads_dir().iterdir():
            with contextlib.suppress(OSError):
                if _POOCH_TEMP.match(entry.name) and entry.is_file() and time.time() - entry.stat().st_mtime > 60:
                    found.append(entry)
    return sorted(found)


def size_of(path: Path) -> int:
    """Bytes in a file, or in every file under a folder (links are not followed)."""
    if path.is_dir() and not path.is_symlink():
        total = 0
        for root, _, files in os.walk(path):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(root, name)).st_size
        return total
    try:
        return path.stat().st_size
    except OSError:
        return 0


def clean_leftovers() -> list[tuple[Path, int]]:
    """Remove :func:`leftovers`; returns what was removed, with sizes."""
    removed = []
    for path in leftovers():
        size = size_of(path)
        discard(path)
        if os.path.lexists(path):  # discard() is quiet: say what could not be removed
            raise PermissionError(errno.EACCES, "could not remove this leftover", str(path))
        removed.append((path, size))
    return removed


def _stat_key(st: os.stat_result) -> dict:
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, remembered by path, size, mtime and inode: hashed again whenever one changes."""
    path = Path(path).resolve()
    key = _stat_key(path.stat())
    entry = _read_json(_cache_file()).get(str(path))
    if isinstance(entry, dict) and "sha256" in entry and all(entry.get(k) == v for k, v in key.items()):
        return entry["sha256"]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    db = _read_json(_cache_file())  # re-read: another process may have added entries meanwhile
    old = db.get(str(path))
    new = {**key, "sha256": digest}
    if isinstance(old, dict) and isinstance(old.get("vouched"), dict):
        new["vouched"] = old["vouched"]  # what a mirror's list vouched for; compared with the new hash
    db[str(path)] = new
    with contextlib.suppress(OSError):  # a read-only data folder only costs a re-hash next time
        write_json_atomic(_cache_file(), db)
    return digest


def remember_hash(path: Path, digest: str) -> None:
    """Record the hash of a file just verified while it was written (a download), so it is not hashed again."""
    path = Path(path).resolve()
    db = _read_json(_cache_file())
    db[str(path)] = {**_stat_key(path.stat()), "sha256": digest.lower()}
    with contextlib.suppress(OSError):
        write_json_atomic(_cache_file(), db)


def mark_trusted(path: Path, sha256: str, why: str) -> None:
    """Remember that a mirror's ``SHA256SUMS`` vouched for ``sha256`` when ``path`` was downloaded.

    Used only for names without a pin; :func:`trusted_hash` compares it with the file's hash as it is now.
    """
    sha256_of(path)
    db = _read_json(_cache_file())
    entry = db.get(str(Path(path).resolve()))
    if isinstance(entry, dict):
        entry["vouched"] = {"sha256": sha256.lower(), "why": why}
        with contextlib.suppress(OSError):
            write_json_atomic(_cache_file(), db)


def trusted_hash(path: Path) -> str | None:
    """The file's hash if a mirror's list vouched for exactly this content when it was downloaded."""
    digest = sha256_of(path)
    entry = _read_json(_cache_file()).get(str(Path(path).resolve()))
    vouched = entry.get("vouched") if isinstance(entry, dict) else None
    if isinstance(vouched, dict) and vouched.get("sha256") == digest:
        return digest
    return None


def verify(path: Path, expected: str, why: str) -> str:
    """Raise a DataError unless ``path`` hashes to ``expected``; return the hash."""
    actual = sha256_of(path)
    if actual != expected.lower():
        fix = f"replace it (or fix the mirror's {SUMS_FILE})" if SUMS_FILE in why else "replace it"
        raise DataError(
            f"{path} has SHA-256 {actual}, but {why} expects {expected}. The file is damaged or a "
            f"different version: {fix} and try again.")
    return actual


# ---------------------------------------------------------------- the mirror

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


def parse_sums(text: str) -> dict[str, str]:
    """``<hex>  <name>`` lines (as sha256sum writes them, ``*name`` too) to a name -> hash dict."""
    sums = {}
    for line in text.splitlines():
        parts = line.strip().lstrip("\ufeff").split(maxsplit=1)
        if len(parts) == 2 and _HEX64.match(parts[0]) and not line.lstrip().startswith("#"):
            sums[parts[1].lstrip("*").strip()] = parts[0].lower()
    return sums


def decode_sums(data: bytes) -> str:
    """The text of a ``SHA256SUMS`` file in UTF-8 or UTF-16 (what PowerShell's ``>`` writes), with or without a BOM."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif len(data) >= 2 and data[0] != 0 and data[1] == 0:
        encoding = "utf-16-le"
    elif len(data) >= 2 and data[0] == 0 and data[1] != 0:
        encoding = "utf-16-be"
    else:
        encoding = "utf-8-sig"
    return data.decode(encoding, "replace")  # hashes and the course's names are ASCII: nothing is lost


@dataclass(frozen=True)
class Mirror:
    setting: str
    folder: Path | None = None   # a local folder mirror
    url: str | None = None       # a web mirror (base URL ending in /)

    def describe(self) -> str:
        where = str(self.folder if self.folder is not None else self.url)
        same = where.rstrip("/") == self.setting.rstrip("/")
        return f"{MIRROR_ENV}={self.setting}" + ("" if same else f" ({where})")


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
    """The mirror's ``SHA256SUMS`` ({} when it has none); DataError when a web mirror does not answer."""
    if m.folder is not None:
        sums_path = m.folder / SUMS_FILE
        if not sums_path.is_file():
            return {}
        try:
            return parse_sums(decode_sums(sums_path.read_bytes()[:SUMS_MAX_BYTES]))
        except OSError as e:
            raise DataError(f"{sums_path} cannot be read ({e.strerror}): fix its permissions, or remove it") from None
    import requests
    try:
        with requests.get(m.url + SUMS_FILE, timeout=timeout(), stream=True) as response:
            if response.status_code >= 400:
                return {}  # no list: files then need a pinned hash
            data = b""
            for chunk in response.iter_content(1 << 16):
                data += chunk
                if len(data) > SUMS_MAX_BYTES:
                    raise DataError(f"{m.url}{SUMS_FILE} is larger than {SUMS_MAX_BYTES >> 20} MB; "
                                    f"it should list a few files: check {m.describe()}")
    except requests.RequestException as e:
        raise DataError(mirror_unreachable(m, e)) from None
    return parse_sums(decode_sums(data))


def expected_hash(c: Candidate, sums: dict[str, str]) -> tuple[str | None, str]:
    """The hash a file must have, and who says so: its pin, else (only without a pin) the mirror's list."""
    if c.sha256:
        return c.sha256, f"the pinned hash of the official {c.name}" if c.url else f"the pinned hash of {c.name}"
    if c.name in sums:
        return sums[c.name], f"the mirror's {SUMS_FILE}"
    return None, ""


def network_reason(e: Exception) -> str:
    """A short, plain reason for a failed request (the exception type in brackets)."""
    import requests
    text = str(e)
    if isinstance(e, requests.Timeout) or "timed out" in text.lower():
        reason = f"nothing received for {STALL_TIMEOUT_S} s (stalled)" if not isinstance(e, requests.ConnectTimeout) \
            else f"no connection within {CONNECT_TIMEOUT_S} s"
    elif isinstance(e, requests.HTTPError) and e.response is not None:
        reason = f"HTTP {e.response.status_code} {e.response.reason}"
    elif "NameResolution" in text or "Name or service not known" in text or "getaddrinfo" in text:
        reason = "the host name does not resolve (offline?)"
    elif "refused" in text.lower():
        reason = "connection refused"
    elif isinstance(e, requests.exceptions.ChunkedEncodingError) or "IncompleteRead" in text or \
            "RemoteDisconnected" in text or "reset by peer" in text:
        reason = "the connection was cut"
    else:
        reason = "cannot connect"
    return f"{reason} ({type(e).__name__})"


def mirror_unreachable(m: Mirror, e: Exception) -> str:
    return (f"{m.describe()} cannot be used: {network_reason(e)}. Check that the server is up and the address "
            f"is right, or unset {MIRROR_ENV} to download from the official source.")


# ---------------------------------------------------------------- downloads

def fetch_url(url: str, name: str, sha256: str, progress: bool | None, why: str = "the expected hash") -> Path:
    """Download ``url`` to ``data/downloads/name`` with pooch, verified against ``sha256`` (``why``: who says so).

    The transfer happens in a per-process folder, renamed into place once verified. A download
    shows a progress bar unless ``progress=False`` (it is long, and only happens online).
    """
    import pooch
    import requests
    progress = progress is not False
    dest = downloads_dir()
    final = dest / name
    try:
        dest.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(dest)  # what killed downloads left behind
        work = dest / f".download-{name}.pid{os.getpid()}.{secrets.token_hex(4)}"
        work.mkdir()
        try:
            fetcher = pooch.create(path=work, base_url=url.rsplit("/", 1)[0] + "/",
                                   registry={name: f"sha256:{sha256}"}, urls={name: url}, retry_if_failed=RETRIES)
            try:
                got = fetcher.fetch(name, progressbar=progress,
                                    downloader=pooch.HTTPDownloader(progressbar=progress, timeout=timeout()))
            except ValueError:  # pooch: hash mismatch after every retry
                raise DataError(f"Downloaded {url}, but its SHA-256 does not match {why} ({sha256}); tried "
                                f"{1 + RETRIES} time(s) and kept nothing. The file there is damaged or a different "
                                "version.") from None
            except requests.RequestException as e:
                raise _Unreachable(f"{url}: {network_reason(e)}") from None
            os.replace(got, final)
            remember_hash(final, sha256)  # pooch hashed it while checking: an 825 MB file is not hashed twice
        finally:
            shutil.rmtree(work, ignore_errors=True)
    except OSError as e:
        if e.filename is None and e.errno is not None:  # a failed write names no file: name the download
            raise OSError(e.errno, e.strerror or os.strerror(e.errno), str(final)) from e
        raise
    return final


class _Unreachable(Exception):
    """A download failed for network reasons."""


# ---------------------------------------------------------------- locating a dataset

def locate(dataset: str, *, download: bool = True, progress: bool | None = None) -> Located:
    """The first verified copy of ``dataset``: the data folder, then the mirror if one is set, else
    (if allowed) the official URL.

    Raises DataError on a mirror file that does not match its hash or has none, on a mirror that
    is set but unusable (not a folder, unreachable, stalled, without the files), and when no copy
    can be had (naming the mirror setting and the file names it looks for).
    """
    cands = SOURCES[dataset]
    notes: list[str] = []

    # 1. a copy in the working data folder (an earlier download, or one a student put there)
    for c in cands:
        path = downloads_dir() / c.name
        if not path.is_file():
            continue
        digest = sha256_of(path)
        if c.sha256:  # a pinned file: only its pin counts
            if digest == c.sha256:
                return Located(path, c.name, digest, "data folder", bool(c.url))
            warn(f"Ignoring {path}: its SHA-256 {digest[:12]}... is not the pinned {c.sha256[:12]}... "
                 "(damaged, or another file of that name): delete it.")
            notes.append(f"{path} does not match its pinned hash")
            continue
        if trusted_hash(path):  # downloaded earlier, and this very content was listed in the mirror's SHA256SUMS
            return Located(path, c.name, digest, "data folder")
        notes.append(f"{path} has no known hash; it is only used from a mirror listing it in {SUMS_FILE}")
    for name in FOLDERS.get(dataset, ()):
        if (paths.data_dir() / name).is_dir():
            return Located(paths.data_dir() / name, name + "/", None, "data folder")

    # 2. the mirror: when one is set, it is the only other place looked at
    m = mirror()
    if m is not None and m.folder is not None:
        if not m.folder.is_dir():
            what = "a file" if m.folder.exists() else "missing"
            raise DataError(f"{m.describe()} is not a folder ({what}). Fix the path, or unset {MIRROR_ENV} to "
                            f"download {TITLES[dataset]} from the official source.")
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
        raise DataError(mirror_lacks(m, dataset))
    if m is not None:
        if offline() or not download:
            notes.append(f"{OFFLINE_ENV} is set, so nothing is downloaded, not even from {m.describe()}"
                         if offline() else f"{m.describe()} is a web mirror, and downloading was not asked for")
            raise DataError(not_found_message(dataset, notes))
        return _from_web_mirror(m, dataset, progress)
    notes.append(f"{MIRROR_ENV} is not set")

    # 3. the official source
    if download and not offline():
        for c in cands:
            if c.url:
                try:
                    path = fetch_url(c.url, c.name, c.sha256, progress, f"the pinned hash of the official {c.name}")
                    return Located(path, c.name, c.sha256, f"downloaded from {c.url}", True)
                except _Unreachable as e:
                    notes.append(f"the download failed: {e}")
    elif offline():
        notes.append(f"{OFFLINE_ENV} is set, so nothing is downloaded")
    raise DataError(not_found_message(dataset, notes))


def _from_web_mirror(m: Mirror, dataset: str, progress: bool | None) -> Located:
    import pooch
    import requests
    sums = mirror_sums(m)
    for c in SOURCES[dataset]:
        expected, why = expected_hash(c, sums)
        if expected is None:
            continue
        url = m.url + c.name
        try:
            present = pooch.HTTPDownloader(timeout=timeout())(url, None, None, check_only=True)
        except requests.RequestException as e:
            raise DataError(mirror_unreachable(m, e)) from None
        if not present:
            continue
        try:
            path = fetch_url(url, c.name, expected, progress, why)
        except _Unreachable as e:
            raise DataError(f"Downloading from {m.describe()} failed: {e}. Try again, or unset {MIRROR_ENV} to "
                            "download from the official source.") from None
        if not c.sha256:
            mark_trusted(path, expected, f"listed in {m.url}{SUMS_FILE} when downloaded")
        return Located(path, c.name, expected, f"mirror {m.url}", bool(c.url))
    raise DataError(mirror_lacks(m, dataset))


def mirror_lacks(m: Mirror, dataset: str) -> str:
    lines = [f"{m.describe()} has none of the {TITLES[dataset]} files, so nothing was downloaded. Put one of these "
             f"there (a name without a pin needs a line in its {SUMS_FILE}), or unset {MIRROR_ENV} to download from "
             "the official source:"]
    lines += _file_list(dataset)
    return "\n".join(lines)


def _file_list(dataset: str) -> list[str]:
    lines = [f"  {c.name:28s} {c.about}" for c in SOURCES[dataset]]
    return lines + [f"  {name + '/':28s} the extracted folder" for name in FOLDERS.get(dataset, ())]


def _names(dataset: str) -> str:
    return ", ".join([c.name for c in SOURCES[dataset]] + [n + "/" for n in FOLDERS.get(dataset, ())])


def not_found_message(dataset: str, notes: list[str]) -> str:
    lines = [f"{TITLES[dataset]} is not available: " + "; ".join(notes) + "."]
    lines.append(f"To work offline, set {MIRROR_ENV} to a folder (or web address) holding one of these files, "
                  f"or copy one into {downloads_dir()}:")
    lines += _file_list(dataset)
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
