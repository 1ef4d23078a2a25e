"""CIFAR-10 as ``keras.datasets.cifar10.load_data()`` returns it, from the official batches or an image folder.

The decoded arrays are cached in ``<data>/cifar10/cifar10.npz`` (uncompressed, written to a
temporary file and renamed), so only the first call pays for decoding 60,000 images. A damaged
cache (truncated, emptied, overwritten: the zip's CRC catches it) is reported in one line and rebuilt.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import re
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from .. import paths
from ..fileio import atomic_write
from . import archives, download
from .errors import DataError

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CACHE_FORMAT = 1
_CLASS_INDEX = {name: i for i, name in enumerate(CIFAR10_CLASSES)}
_BATCH = re.compile(r"(?:^|/)cifar-10-batches-py/(data_batch_[1-5]|test_batch)$")
_IMAGE = re.compile(r"(?:^|/)(train|test)/([^/]+)/([^/]+\.(?:png|jpe?g))$", re.IGNORECASE)
_BATCH_NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
# Image folders list files class by class; a fixed shuffle makes slices such as x_train[:10000]
# hold every class, as they do in the official batches.
_ORDER_SEED = 0

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def cache_path() -> Path:
    return paths.data_dir() / "cifar10" / "cifar10.npz"


def load_cifar10(*, source: str | os.PathLike | None = None, refresh: bool = False,
                 progress: bool | None = None) -> Arrays:
    """``((x_train, y_train), (x_test, y_test))``: uint8 images (N, 32, 32, 3), uint8 labels (N, 1).

    Label ``i`` is ``CIFAR10_CLASSES[i]``. From the official python archive the arrays are exactly
    ``keras.datasets.cifar10.load_data()``'s, in the official order. From an image-folder archive
    (``train/<class>/*.png``) they hold the same 60,000 images, in a fixed shuffled order (sorted by
    file name, then permuted with a fixed seed): the same on every machine, not the official order.
    The first call finds an archive (data folder, then
    ``CNNCOURSE_MIRROR``, then the official download), decodes it and caches the arrays; later
    calls read the cache. ``source`` names an archive to use instead (the cache is rebuilt when
    it came from another file); ``refresh=True`` rebuilds the cache.
    """
    cache = cache_path()
    cached = _read_cache(cache) if cache.is_file() and not refresh else None  # a damaged cache: said once
    if cached is not None and source is None:
        return cached[0]
    located = download.local_source(source, "cifar10") if source is not None else \
        download.locate("cifar10", progress=progress)
    if cached is not None and cached[1].get("sha256") == located.sha256:
        return cached[0]
    arrays = decode(located, progress=download.progress_default(progress))
    meta = {"format": CACHE_FORMAT, "source": located.name, "sha256": located.sha256, "origin": located.origin,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    write_cache(cache, arrays, meta)
    return arrays


def cache_status() -> tuple[dict | None, str | None]:
    """(what the cache holds: its marker plus sizes, None), or (None, why it is unusable), or
    (None, None) when there is no cache. Reads every array, so the zip's CRC checks every byte."""
    path = cache_path()
    if not path.is_file():
        return None, None
    try:
        (x_train, _), (x_test, _), meta = _load_cache(path)
    except _Damaged as e:
        return None, str(e)
    return {**meta, "train": len(x_train), "test": len(x_test)}, None


def cache_info() -> dict | None:
    """What the cache holds (its marker plus sizes), or None when there is no valid cache."""
    return cache_status()[0]


class _Damaged(Exception):
    """The cache cannot be used; the message says why."""


def _load_cache(path: Path):
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = ((z["x_train"], z["y_train"]), (z["x_test"], z["y_test"]))
    except Exception as e:  # noqa: BLE001 -- any failure to read a cache (BadZipFile, EOFError, CRC...) means rebuild
        raise _Damaged(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__) from None
    if not isinstance(meta, dict) or meta.get("format") != CACHE_FORMAT:
        raise _Damaged(f"written in another format than {CACHE_FORMAT}")
    for x, y in arrays:
        if x.dtype != np.uint8 or x.shape[1:] != (32, 32, 3) or y.shape != (len(x), 1):
            raise _Damaged(f"arrays of unexpected shapes {x.shape} and {y.shape}")
    return *arrays, meta


def _read_cache(path: Path):
    """(arrays, meta), or None after saying in one line that the cache is damaged and will be rebuilt."""
    try:
        train, test, meta = _load_cache(path)
    except _Damaged as e:
        print(f"The CIFAR-10 cache {path} is damaged ({e}); rebuilding it.", file=sys.stderr)
        return None
    return (train, test), meta


def write_cache(path: Path, arrays: Arrays, meta: dict) -> None:
    """Write the npz to a temporary file, then rename: a kill or a full disk never leaves a half-written cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    download.remove_stale_temps(path.parent)
    (x_train, y_train), (x_test, y_test) = arrays
    members = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test,
               "meta": np.array(json.dumps(meta))}
    # np.load reads this as np.savez writes it (stored .npy members). Written by hand because an error
    # inside np.savez (a full disk) leaves numpy < 2 with an unclosed ZipFile whose __del__ later prints
    # a traceback; a with-block closes it on every path.
    with atomic_write(path, "wb") as f, zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, array in members.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def decode(located: download.Located, progress: bool = False) -> Arrays:
    """Arrays from the official python batches or from an image-folder archive (PNG or JPEG)."""
    from tqdm import tqdm

    official = located.sha256 is not None and located.sha256 == download.official_sha256("cifar10")
    path = located.path
    if path.is_dir():
        raise DataError(f"{path} is a folder; load_cifar10 needs an archive (.tar.gz or .zip)")
    print(f"Decoding CIFAR-10 from {path.name} (once; the arrays are cached in {cache_path().parent})",
          file=sys.stderr)
    batches: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    images: dict[str, list] = {"train": [], "test": []}
    skipped: list[tuple[str, str]] = []
    with tqdm(total=path.stat().st_size, unit="B", unit_scale=True, disable=not progress, desc="cifar10") as bar:
        def advance(done: int) -> None:
            bar.update(done - bar.n)

        for name, data in archives.iter_files(path, on_read=advance, on_skip=lambda *item: skipped.append(item)):
            if m := _BATCH.search(name):
                if not official:
                    raise DataError(
                        f"{path} holds pickled CIFAR-10 batches but is not the official cifar-10-python.tar.gz "
                        f"(SHA-256 {located.sha256 or 'unknown'}, expected {download.official_sha256('cifar10')}). "
                        "Pickle can run code, so only the hash-verified official file is unpickled.")
                batches[m.group(1)] = _read_batch(data, name)
            elif m := _IMAGE.search(name):
                split, cls, _ = m.groups()
                if cls.lower() not in _CLASS_INDEX:
                    raise DataError(f"{path}: {name} is in an unknown class folder {cls!r}; "
                                    f"expected one of {', '.join(CIFAR10_CLASSES)}")
                images[split.lower()].append((name, _CLASS_INDEX[cls.lower()], _decode_image(data, name, path)))
    if skipped:
        print(f"Skipped {len(skipped)} member(s) of {path.name} not read: "
              + ", ".join(f"{name} ({why})" for name, why in skipped[:5]) + (", ..." if len(skipped) > 5 else ""),
              file=sys.stderr)
    if batches:
        missing = [b for b in _BATCH_NAMES if b not in batches]
        if missing:
            raise DataError(f"{path} lacks the CIFAR-10 batches {', '.join(missing)}")
        train = [batches[b] for b in _BATCH_NAMES[:5]]
        x_train = np.concatenate([x for x, _ in train])
        y_train = np.concatenate([y for _, y in train])
        return (x_train, y_train), batches["test_batch"]
    if not images["train"] or not images["test"]:
        raise DataError(f"{path} holds neither CIFAR-10 python batches (cifar-10-batches-py/data_batch_1 ...) "
                        "nor an image folder (train/<class>/*.png|jpg and test/<class>/*)")
    return _stack(images["train"]), _stack(images["test"])


def _stack(items: list) -> tuple[np.ndarray, np.ndarray]:
    items.sort(key=lambda item: item[0])  # archive order may vary; names do not
    order = np.random.default_rng(_ORDER_SEED).permutation(len(items))
    x = np.stack([items[i][2] for i in order])
    y = np.array([items[i][1] for i in order], dtype=np.uint8).reshape(-1, 1)
    return x, y


def _decode_image(data: bytes, name: str, archive: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.size != (32, 32):  # checked before decoding: a huge image is never expanded in memory
                raise DataError(f"{archive}: {name} is {im.size[0]}x{im.size[1]}; CIFAR-10 images are 32x32")
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise DataError(f"{archive}: {name} does not decode as an image ({e})") from None


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles only what CIFAR-10 batches contain: dicts, lists, bytes and numpy arrays.

    A second guard besides the hash check: any other global a pickle names is refused.
    """

    def find_class(self, module, name):
        allowed = {"numpy": {"ndarray", "dtype"}, "numpy.core.multiarray": {"_reconstruct", "scalar"},
                   "numpy._core.multiarray": {"_reconstruct", "scalar"}, "_codecs": {"encode"}}
        if name in allowed.get(module, ()):
            if module.endswith("multiarray"):
                module = "numpy._core.multiarray" if hasattr(np, "_core") else "numpy.core.multiarray"
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"CIFAR-10 batch refers to {module}.{name}; refusing to load it")


def _read_batch(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = _BatchUnpickler(io.BytesIO(data), encoding="bytes").load()
        batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
        x = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        y = np.asarray(batch["labels"], dtype=np.uint8).reshape(-1, 1)
    except (pickle.UnpicklingError, KeyError, ValueError, AttributeError, EOFError) as e:
        raise DataError(f"the CIFAR-10 batch {name} is not readable ({e})") from None
    return np.ascontiguousarray(x), y
