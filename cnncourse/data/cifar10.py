"""CIFAR-10 as ``keras.datasets.cifar10.load_data()`` returns it, from the official batches or an image folder.

The decoded arrays are cached in ``<data>/cifar10/cifar10.npz`` (uncompressed, written to a
temporary file and renamed), so only the first call pays for decoding 60,000 images.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import re
import sys
import time
from pathlib import Path

import numpy as np

from .. import paths
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

    Label ``i`` is ``CIFAR10_CLASSES[i]``. The first call finds an archive (data folder, then
    ``CNNCOURSE_MIRROR``, then the official download), decodes it and caches the arrays; later
    calls read the cache. ``source`` names an archive to use instead (the cache is rebuilt when
    it came from another file); ``refresh=True`` rebuilds the cache.
    """
    cache = cache_path()
    if cache.is_file() and not refresh and source is None:
        cached = _read_cache(cache)
        if cached is not None:
            return cached[0]
    located = download.local_source(source, "cifar10") if source is not None else \
        download.locate("cifar10", progress=progress)
    if cache.is_file() and not refresh:
        cached = _read_cache(cache)
        if cached is not None and cached[1].get("sha256") == located.sha256:
            return cached[0]
    arrays = decode(located, progress=download.progress_default(progress))
    meta = {"format": CACHE_FORMAT, "source": located.name, "sha256": located.sha256, "origin": located.origin,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    write_cache(cache, arrays, meta)
    return arrays


def cache_info() -> dict | None:
    """What the cache holds (its marker plus shapes), or None when there is no valid cache."""
    cached = _read_cache(cache_path()) if cache_path().is_file() else None
    if cached is None:
        return None
    (x_train, _), (x_test, _) = cached[0]
    return {**cached[1], "train": len(x_train), "test": len(x_test)}


def _read_cache(path: Path):
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = ((z["x_train"], z["y_train"]), (z["x_test"], z["y_test"]))
    except (OSError, ValueError, KeyError) as e:
        print(f"Ignoring the unreadable CIFAR-10 cache {path} ({e}); rebuilding it.", file=sys.stderr)
        return None
    for x, y in arrays:
        if meta.get("format") != CACHE_FORMAT or x.shape[1:] != (32, 32, 3) or y.shape != (len(x), 1):
            return None
    return arrays, meta


def write_cache(path: Path, arrays: Arrays, meta: dict) -> None:
    """Write the npz to a temporary file, then rename: a kill never leaves a half-written cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    download.remove_stale_temps(path.parent)
    (x_train, y_train), (x_test, y_test) = arrays
    tmp = download.temp_path(path)
    try:
        with open(tmp, "xb") as f:
            np.savez(f, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, meta=np.array(json.dumps(meta)))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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
    with tqdm(total=path.stat().st_size, unit="B", unit_scale=True, disable=not progress, desc="cifar10") as bar:
        def advance(done: int) -> None:
            bar.update(done - bar.n)

        for name, data in archives.iter_files(path, on_read=advance):
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
            arr = np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataError(f"{archive}: {name} does not decode as an image ({e})") from None
    if arr.shape != (32, 32, 3):
        raise DataError(f"{archive}: {name} is {arr.shape[1]}x{arr.shape[0]}; CIFAR-10 images are 32x32")
    return arr


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
