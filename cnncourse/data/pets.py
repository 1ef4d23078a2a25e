"""Cats vs dogs: the lecture's train / validation / test folders drawn from Microsoft's PetImages.

``prepare_cats_vs_dogs`` builds ``<data>/cats_vs_dogs/<seed>-<train>-<val>-<test>/{train,validation,test}/{cat,dog}``
once: it draws a seeded sample per class, decodes every drawn file (PetImages has empty, truncated
and non-JPEG files), skips the ones that fail with a report, and builds in a temporary folder that
is renamed only when complete, with ``marker.json`` recording the source hash and the split sizes.
"""
from __future__ import annotations

import io
import os
import random
import re
import secrets
import shutil
import sys
import time
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .. import paths, profiles
from ..errors import SettingError
from . import archives, download
from .errors import DataError

CLASSES = ("cat", "dog")  # label 0 = cat, 1 = dog
SPLITS = ("train", "validation", "test")
DEFAULT_SEED = 1337
MARKER = "marker.json"
MARKER_FORMAT = 1
_MEMBER = re.compile(r"(?:^|/)PetImages/(Cat|Dog)/([^/]+)$", re.IGNORECASE)


@dataclass
class Report:
    """What a preparation kept, converted and dropped (also stored in the marker)."""
    root: Path
    source: str
    counts: dict = field(default_factory=dict)       # split -> class -> images
    dropped: list = field(default_factory=list)      # [{"file": name, "reason": why}]
    converted: list = field(default_factory=list)    # files re-encoded as RGB JPEG (PNG, CMYK, ...)
    reused: bool = False

    def summary(self) -> str:
        sizes = ", ".join(f"{s} {sum(self.counts.get(s, {}).values())}" for s in SPLITS)
        text = f"Cats vs dogs in {self.root} ({sizes} images) from {self.source}"
        if self.reused:
            return text + " (prepared earlier)."
        text += "."
        if self.dropped:
            why = Counter(d["reason"].split(":")[0] for d in self.dropped)
            text += (f"\nDropped {len(self.dropped)} file(s) that are not usable images: "
                     + ", ".join(f"{n} {r}" for r, n in why.most_common())
                     + " (" + ", ".join(d["file"] for d in self.dropped[:5])
                     + (", ..." if len(self.dropped) > 5 else "") + ").")
        else:
            text += "\nEvery drawn file decoded; none dropped."
        if self.converted:
            text += f"\nRe-encoded {len(self.converted)} non-JPEG, CMYK or otherwise unusual image(s) as RGB JPEG."
        return text


def split_sizes(split=None) -> tuple[int, int, int]:
    try:
        sizes = tuple(int(n) for n in (split if split is not None else profiles.settings("data").cats_vs_dogs_split))
    except (TypeError, ValueError):
        sizes = ()
    if len(sizes) != 3 or min(sizes) < 1:
        raise SettingError(f"split must be three positive sizes per class (train, validation, test), not {split!r}")
    return sizes


def split_root(split=None, seed: int = DEFAULT_SEED) -> Path:
    n_train, n_val, n_test = split_sizes(split)
    return paths.data_dir() / "cats_vs_dogs" / f"{seed}-{n_train}-{n_val}-{n_test}"


def read_marker(root: Path) -> dict | None:
    """The marker of a complete split folder whose files are all there, else None."""
    marker = download._read_json(root / MARKER)
    if marker.get("format") != MARKER_FORMAT:
        return None
    try:
        for split in SPLITS:
            for cls in CLASSES:
                files = sum(1 for e in os.scandir(root / split / cls) if e.is_file())
                if files != marker["counts"][split][cls]:
                    return None
    except (OSError, KeyError, TypeError):
        return None
    return marker


def prepare_cats_vs_dogs(split=None, *, seed: int = DEFAULT_SEED, source: str | os.PathLike | None = None,
                         progress: bool | None = None) -> Report:
    """Build (once) and return the split folders; ``split`` = images per class (train, val, test).

    ``split`` defaults to the profile's ``cats_vs_dogs_split``; ``source`` names a PetImages zip
    or folder to use instead of the data folder / mirror / download lookup.
    """
    n_train, n_val, n_test = split_sizes(split)
    root = split_root((n_train, n_val, n_test), seed)
    marker = read_marker(root)
    located = download.local_source(source, "cats_vs_dogs") if source is not None else None
    if marker is not None and (located is None or marker["source"]["id"] == _source_id(located)):
        return Report(root, marker["source"]["name"], marker["counts"], marker["dropped"], marker["converted"], True)
    if located is None:
        located = download.locate("cats_vs_dogs", progress=progress)
    _remove_stale_builds(root.parent)
    report = _build(root, located, (n_train, n_val, n_test), seed, download.progress_default(progress))
    print(report.summary(), file=sys.stderr)
    return report


def cats_vs_dogs(image_size=(180, 180), batch_size: int = 32, *, seed: int = DEFAULT_SEED, split=None,
                 source: str | os.PathLike | None = None, label_mode: str = "binary", progress: bool | None = None):
    """``(train_ds, val_ds, test_ds)``: batched, prefetched ``tf.data`` datasets of (images, labels).

    Built with ``keras.utils.image_dataset_from_directory`` from the prepared folders; label 0 is
    cat, 1 is dog. ``label_mode="binary"`` gives float labels of shape (batch, 1) for a sigmoid
    output with binary cross-entropy (``"int"`` gives integer labels). Only the training set is
    shuffled (seeded). Images are float32 in [0, 255], resized to ``image_size``.
    """
    from ..runtime import import_tensorflow
    report = prepare_cats_vs_dogs(split, seed=seed, source=source, progress=progress)
    tf = import_tensorflow()
    import keras

    def load(name: str, shuffle: bool):
        ds = keras.utils.image_dataset_from_directory(
            report.root / name, labels="inferred", label_mode=label_mode, class_names=list(CLASSES),
            image_size=tuple(image_size), batch_size=batch_size, shuffle=shuffle, seed=seed if shuffle else None)
        out = ds.prefetch(tf.data.AUTOTUNE)
        out.class_names, out.file_paths = ds.class_names, ds.file_paths  # prefetch() drops these attributes
        return out

    return load("train", True), load("validation", False), load("test", False)


# ---------------------------------------------------------------- building

def _source_id(located: download.Located) -> str:
    if located.sha256:
        return located.sha256
    # an extracted folder: its names and sizes stand in for a hash (names as the OS gave them, any encoding)
    import hashlib
    h = hashlib.sha256()
    for name, size in sorted(_folder_members(located.path, with_size=True)):
        h.update(f"{name}\0{size}\n".encode("utf-8", "surrogateescape"))
    return "folder:" + h.hexdigest()


def printable(name: str) -> str:
    """A file name fit for JSON and any terminal: bytes that are not UTF-8 (a Latin-1 name) become U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _folder_members(folder: Path, with_size: bool = False):
    """Files of PetImages/{Cat,Dog} in a folder that is PetImages or contains it (links are skipped)."""
    base = folder if folder.name.lower() == "petimages" or (folder / "Cat").is_dir() else folder / "PetImages"
    for cls in ("Cat", "Dog"):
        try:
            entries = list(os.scandir(base / cls))
        except FileNotFoundError:
            continue
        for e in entries:
            if e.is_file(follow_symlinks=False):
                name = f"PetImages/{cls}/{e.name}"
                yield (name, e.stat(follow_symlinks=False).st_size) if with_size else (name, Path(e.path))


class _Reader:
    """Random access to PetImages members of a zip (read in place) or a folder."""

    def __init__(self, located: download.Located):
        self.zip = None
        if located.path.is_dir():
            self.files = dict(_folder_members(located.path))
        else:
            if not zipfile.is_zipfile(located.path):
                raise DataError(f"{located.path}: cats vs dogs needs Microsoft's PetImages zip "
                                "(PetImages/Cat/*.jpg, PetImages/Dog/*.jpg) or its extracted folder")
            self.zip = archives.open_zip(located.path)
            self.files = {i.filename.replace("\\", "/"): i for i in self.zip.infolist()
                          if not i.is_dir() and not archives.is_zip_link(self.zip, i)}

    def by_class(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {cls: [] for cls in CLASSES}
        for name in self.files:
            m = _MEMBER.search(name)
            if m:
                found[m.group(1).lower()].append(name)
        return found

    def read(self, name: str) -> bytes:
        """The member's bytes; _Unreadable (with the drop reason) when it is too large or damaged."""
        try:
            size = self.files[name].stat().st_size if self.zip is None else self.files[name].file_size
            if reason := archives.too_large(size):  # never read whole into memory
                raise _Unreadable(reason)
            if self.zip is None:
                return self.files[name].read_bytes()
            return self.zip.read(self.files[name])
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:  # e.g. a CRC error
            raise _Unreadable(f"truncated or corrupt: {e}") from None

    def close(self):
        if self.zip is not None:
            self.zip.close()


class _Unreadable(Exception):
    """A member that is not read; the message is the drop reason."""


def _natural(name: str):
    stem = Path(name).stem
    return (0, int(stem), name) if stem.isdigit() else (1, 0, name)


def check_image(data: bytes) -> tuple[bytes | None, str | None, bool]:
    """(bytes to write, reason it was dropped, whether it was re-encoded) for one file.

    The whole image is decoded (a valid JFIF header says nothing about a truncated body), unless
    its header gives it more than ``archives.MAX_IMAGE_PIXELS``: then it is dropped undecoded. JPEGs
    in RGB or grayscale are kept byte for byte; PNG, GIF, BMP, CMYK and other modes are
    re-encoded as RGB JPEG so every file decodes the same way in TensorFlow.
    """
    from PIL import Image, UnidentifiedImageError
    if not data:
        return None, "empty file", False
    try:
        with warnings.catch_warnings():  # PIL warns of 90-megapixel images on opening; they are dropped here
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))  # reads the header only
        with im:
            if reason := archives.too_many_pixels(*im.size):
                return None, reason, False
            fmt = im.format
            im.load()
            if fmt == "JPEG" and im.mode in ("RGB", "L"):
                return data, None, False
            buf = io.BytesIO()
            im.convert("RGB").save(buf, "JPEG", quality=95)
            return buf.getvalue(), None, True
    except UnidentifiedImageError:
        return None, "not an image", False
    except Image.DecompressionBombError as e:  # PIL's own cap, at twice its 90 megapixels: refused on opening
        return None, f"too large: {e}", False
    except (OSError, ValueError, SyntaxError) as e:
        return None, f"truncated or corrupt: {e}", False


def _write_image(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _build(root: Path, located: download.Located, sizes: tuple[int, int, int], seed: int, progress: bool) -> Report:
    from tqdm import tqdm
    report = Report(root, f"{located.name} ({located.origin})")
    reader = _Reader(located)  # first: an unusable source must not leave a temporary folder
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.with_name(f".tmp-{root.name}.pid{os.getpid()}.{secrets.token_hex(4)}")
    try:
        tmp.mkdir()
        members = reader.by_class()
        need = sum(sizes)
        print(f"Preparing cats vs dogs {'/'.join(map(str, sizes))} per class (seed {seed}) from {located.path}",
              file=sys.stderr)
        with tqdm(total=need * len(CLASSES), unit="img", disable=not progress, desc="cats_vs_dogs") as bar:
            for cls in CLASSES:
                names = sorted(members[cls], key=_natural)
                random.Random(f"{seed}-{cls}").shuffle(names)  # str seeds are stable across runs and platforms
                kept: list[tuple[str, bytes]] = []
                for name in names:
                    if len(kept) == need:
                        break
                    try:
                        data, reason, converted = check_image(reader.read(name))
                    except _Unreadable as e:
                        data, reason, converted = None, str(e), False
                    if data is None:
                        report.dropped.append({"file": printable(name), "reason": reason})
                        continue
                    if converted:
                        report.converted.append(printable(name))
                    kept.append((name, data))
                    bar.update(1)
                if len(kept) < need:
                    raise DataError(f"{located.path} has only {len(kept)} decodable {cls} images; the split "
                                    f"{'/'.join(map(str, sizes))} needs {need}. Use a smaller split.")
                start, used = 0, set()
                for split, n in zip(SPLITS, sizes):
                    folder = tmp / split / cls
                    folder.mkdir(parents=True, exist_ok=True)
                    for name, data in kept[start:start + n]:
                        stem = re.sub(r"[^A-Za-z0-9_-]", "_", Path(name).stem)
                        while stem in used:  # two source names that sanitize alike keep both files
                            stem += "_"
                        used.add(stem)
                        _write_image(folder / f"{cls}.{stem}.jpg", data)
                    report.counts.setdefault(split, {})[cls] = n
                    start += n
        marker = {"format": MARKER_FORMAT, "seed": seed, "split": dict(zip(SPLITS, sizes)), "classes": list(CLASSES),
                  "source": {"name": located.name, "id": _source_id(located), "sha256": located.sha256,
                             "origin": located.origin, "path": printable(str(located.path))},
                  "counts": report.counts, "dropped": report.dropped, "converted": report.converted,
                  "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
        download.write_json_atomic(tmp / MARKER, marker)  # written last: a folder without it is incomplete
        _install(tmp, root)
    except OSError as e:  # a full or read-only disk: name the split, not a file of the removed temp folder
        shutil.rmtree(tmp, ignore_errors=True)
        if e.errno is None:
            raise
        raise OSError(e.errno, e.strerror or os.strerror(e.errno), str(root)) from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        reader.close()
    return report


def _install(tmp: Path, root: Path) -> None:
    """Move the finished folder into place; an old or incomplete folder there is removed first."""
    if root.exists():
        trash = root.with_name(f".trash-{root.name}.pid{os.getpid()}.{secrets.token_hex(4)}")
        os.rename(root, trash)
        shutil.rmtree(trash, ignore_errors=True)
    try:
        os.rename(tmp, root)
    except OSError:
        if read_marker(root) is None:  # not another process finishing the same split first
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def stale_builds(base: Path) -> list[Path]:
    """Temporary folders left by preparations that were killed (their process is gone)."""
    return download.stale_temps(base)


def _remove_stale_builds(base: Path) -> None:
    download.remove_stale_temps(base)
