"""Small archives built on the fly, and a real HTTP server on 127.0.0.1, for the data-layer tests."""
from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import pickle
import socket
import tarfile
import threading
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from cnncourse.data import download
from cnncourse.data.cifar10 import CIFAR10_CLASSES


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolate(tmp_path: Path, monkeypatch) -> Path:
    """A private data folder, no mirror, and official URLs that point at a closed local port (offline)."""
    data = tmp_path / "data"
    monkeypatch.setenv("CNNCOURSE_DATA_DIR", str(data))
    monkeypatch.delenv("CNNCOURSE_MIRROR", raising=False)
    monkeypatch.delenv("CNNCOURSE_OFFLINE", raising=False)
    monkeypatch.setattr(download, "RETRIES", 0)
    port = closed_port()
    for name, cands in list(download.SOURCES.items()):
        monkeypatch.setitem(download.SOURCES, name, tuple(
            replace(c, url=f"http://127.0.0.1:{port}/{c.name}") if c.url else c for c in cands))
    return data


def set_official(monkeypatch, dataset: str, sha: str, url: str) -> None:
    """Pin a test-built file as the dataset's official source (hash and URL)."""
    monkeypatch.setitem(download.SOURCES, dataset, tuple(
        replace(c, sha256=sha, url=url) if c.url else c for c in download.SOURCES[dataset]))


def add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


# ---------------------------------------------------------------- CIFAR-10

def cifar_arrays(n_train: int = 10, n_test: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    x_train = rng.integers(0, 256, (n_train, 32, 32, 3), dtype=np.uint8)
    x_test = rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8)
    y_train = (np.arange(n_train) % 10).astype(np.uint8).reshape(-1, 1)
    y_test = ((np.arange(n_test) * 3) % 10).astype(np.uint8).reshape(-1, 1)
    return (x_train, y_train), (x_test, y_test)


def cifar_python_archive(path: Path, arrays, extra: dict | None = None) -> Path:
    """The official layout: cifar-10-batches-py/data_batch_1..5 and test_batch, pickled dicts with bytes keys."""
    (x_train, y_train), (x_test, y_test) = arrays

    def batch(x, y):
        flat = x.transpose(0, 3, 1, 2).reshape(len(x), -1)
        return pickle.dumps({b"batch_label": b"test", b"labels": [int(v) for v in y.ravel()], b"data": flat},
                            protocol=2)

    with tarfile.open(path, "w:gz") as tf:
        for i, idx in enumerate(np.array_split(np.arange(len(x_train)), 5), start=1):
            add(tf, f"cifar-10-batches-py/data_batch_{i}", batch(x_train[idx], y_train[idx]))
        add(tf, "cifar-10-batches-py/test_batch", batch(x_test, y_test))
        add(tf, "cifar-10-batches-py/readme.html", b"<html></html>")
        for name, data in (extra or {}).items():
            add(tf, name, data)
    return path


def encode(arr: np.ndarray, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt, **kw)
    return buf.getvalue()


def cifar_image_archive(path: Path, arrays, fmt: str = "PNG", prefix: str = "cifar10/") -> Path:
    """The image-folder layout (fast.ai, Kaggle): <prefix>train/<class>/<n>.png and test/<class>/<n>.png."""
    ext = "png" if fmt == "PNG" else "jpg"
    members = {}
    for split, (x, y) in zip(("train", "test"), arrays):
        for i, (img, label) in enumerate(zip(x, y.ravel())):
            members[f"{prefix}{split}/{CIFAR10_CLASSES[label]}/{i:04d}.{ext}"] = encode(img, fmt)
    if str(path).endswith(".zip"):
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)
    else:
        with tarfile.open(path, "w:gz") as tf:
            add(tf, f"{prefix}labels.txt", "\n".join(CIFAR10_CLASSES).encode())
            for name, data in reversed(members.items()):  # order in the archive must not matter
                add(tf, name, data)
    return path


def as_pairs(x: np.ndarray, y: np.ndarray) -> list[tuple[int, bytes]]:
    """(label, pixels) pairs, sorted: compares data sets regardless of order."""
    return sorted((int(label), img.tobytes()) for img, label in zip(x, y.ravel()))


# ---------------------------------------------------------------- PetImages

def photo(seed: int, size=(48, 40), mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(arr).convert(mode)


def jpeg(seed: int, mode: str = "RGB", **kw) -> bytes:
    buf = io.BytesIO()
    photo(seed, mode=mode if mode != "CMYK" else "RGB", **kw).convert(mode).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def png(seed: int) -> bytes:
    buf = io.BytesIO()
    photo(seed).save(buf, "PNG")
    return buf.getvalue()


# The bad and unusual files of the real PetImages zip, in miniature: name -> (bytes, expected outcome)
def pet_members(n_good: int = 8) -> dict[str, tuple[bytes, str]]:
    members = {}
    for i in range(n_good):
        members[f"PetImages/Cat/{100 + i}.jpg"] = (jpeg(i), "kept")
        members[f"PetImages/Dog/{100 + i}.jpg"] = (jpeg(1000 + i), "kept")
    truncated = jpeg(7, size=(96, 96))
    members.update({
        "PetImages/Cat/666.jpg": (b"", "empty file"),
        "PetImages/Cat/1.jpg": (truncated[: len(truncated) * 2 // 3], "truncated or corrupt"),
        "PetImages/Cat/2.jpg": (b"<html><body>Not Found</body></html>\n", "not an image"),
        "PetImages/Cat/Thumbs.db": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(200), "not an image"),
        "PetImages/Cat/3.jpg": (jpeg(8, mode="CMYK"), "converted"),
        "PetImages/Dog/11702.jpg": (b"", "empty file"),
        "PetImages/Dog/4.jpg": (png(9), "converted"),            # a PNG named .jpg
        "PetImages/Dog/5.jpg": (jpeg(10, mode="L"), "kept"),     # grayscale JPEG: TensorFlow reads it as RGB
    })
    return members


def petimages_zip(path: Path, members: dict[str, tuple[bytes, str]] | None = None) -> Path:
    members = members if members is not None else pet_members()
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme[1].txt", "Microsoft's PetImages, in miniature")
        for name, (data, _) in members.items():
            zf.writestr(name, data)
    return path


# ---------------------------------------------------------------- a real HTTP server

class Server:
    """``ThreadingHTTPServer`` on 127.0.0.1, port 0, serving ``files``; ``modes[name]`` may be
    ``"truncate"`` (announce the full length, send half, close), ``"flaky"`` (truncate once, then
    serve) or ``"stall"`` (send half, then nothing until the server stops)."""

    def __init__(self, files: dict[str, bytes] | None = None, modes: dict[str, str] | None = None):
        self.files = dict(files or {})
        self.modes = dict(modes or {})
        self.hits: list[tuple[str, str]] = []
        self.stopping = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self, body: bool):
                name = self.path.lstrip("/")
                server.hits.append((self.command, name))
                if name not in server.files:
                    self.send_error(404)
                    return
                data = server.files[name]
                mode = server.modes.get(name)
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not body:
                    return
                gets = sum(1 for method, n in server.hits if n == name and method == "GET")
                if mode == "stall":
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    server.stopping.wait(120)
                    return
                if mode == "truncate" or (mode == "flaky" and gets == 1):
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

            def do_GET(self):
                self._serve(True)

            def do_HEAD(self):
                self._serve(False)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def gets(self, name: str) -> int:
        return sum(1 for method, n in self.hits if n == name and method == "GET")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@contextlib.contextmanager
def silent_server():
    """The URL of a server that accepts connections (the kernel does that) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Names, sizes and mtimes under a folder: equal snapshots mean nothing was written."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}
