"""load_cifar10: both archive layouts, the cache, and what it refuses."""
import pickle
import subprocess
import sys
import tarfile
import textwrap

import numpy as np
import pytest

from cnncourse.data import CIFAR10_CLASSES, DataError, load_cifar10
from cnncourse.data import cifar10 as c10
from tests import data_helpers as h


@pytest.fixture
def data_env(tmp_path, monkeypatch):
    return h.isolate(tmp_path, monkeypatch)


def test_classes_are_the_official_order():
    assert CIFAR10_CLASSES == ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                               "truck")


@pytest.mark.parametrize("suffix", [".tar.gz", ".zip"])
def test_png_image_folder_gives_the_same_pixels_and_labels(data_env, tmp_path, suffix):
    arrays = h.cifar_arrays(n_train=30, n_test=10)
    archive = h.cifar_image_archive(tmp_path / f"cifar{suffix}", arrays, fmt="PNG")
    (x_train, y_train), (x_test, y_test) = load_cifar10(source=archive)
    assert x_train.shape == (30, 32, 32, 3) and x_test.shape == (10, 32, 32, 3)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8 and y_train.shape == (30, 1)
    assert h.as_pairs(x_train, y_train) == h.as_pairs(*arrays[0])
    assert h.as_pairs(x_test, y_test) == h.as_pairs(*arrays[1])
    # class folders come one after the other; the fixed shuffle mixes them, like the official batches
    assert len(set(y_train[:10].ravel())) > 3


def test_jpeg_image_folder_is_decoded(data_env, tmp_path):
    arrays = h.cifar_arrays(n_train=20, n_test=10)
    archive = h.cifar_image_archive(tmp_path / "cifar10-jpeg.tar.gz", arrays, fmt="JPEG", prefix="")
    (x_train, y_train), _ = load_cifar10(source=archive)
    assert sorted(y_train.ravel()) == sorted(arrays[0][1].ravel())
    assert np.abs(x_train.astype(int).mean() - arrays[0][0].astype(int).mean()) < 5


def test_second_call_reads_the_cache_without_the_source(data_env, tmp_path, monkeypatch):
    arrays = h.cifar_arrays()
    (tmp_path / "mirror").mkdir()
    archive = h.cifar_image_archive(tmp_path / "mirror" / "cifar10.tgz", arrays)
    (tmp_path / "mirror" / "SHA256SUMS").write_text(f"{h.sha256(archive)}  cifar10.tgz\n")
    monkeypatch.setenv("CNNCOURSE_MIRROR", str(tmp_path / "mirror"))
    first = load_cifar10()
    cache = data_env / "cifar10" / "cifar10.npz"
    assert cache.is_file() and c10.cache_info()["sha256"] == h.sha256(archive)
    archive.unlink()  # the mirror is gone (a student at home, offline)
    monkeypatch.setattr(c10, "decode", lambda *a, **k: pytest.fail("decoded again"))
    second = load_cifar10()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


def test_another_source_rebuilds_the_cache(data_env, tmp_path):
    one = h.cifar_image_archive(tmp_path / "one.tar.gz", h.cifar_arrays(seed=1))
    two = h.cifar_image_archive(tmp_path / "two.tar.gz", h.cifar_arrays(seed=2))
    (x1, _), _ = load_cifar10(source=one)
    (x2, _), _ = load_cifar10(source=two)
    assert not np.array_equal(x1, x2)
    assert c10.cache_info()["sha256"] == h.sha256(two)


def test_pickle_is_refused_unless_the_archive_is_the_official_file(data_env, tmp_path):
    archive = h.cifar_python_archive(tmp_path / "cifar-10-python.tar.gz", h.cifar_arrays())
    with pytest.raises(DataError, match="only the hash-verified official file is unpickled"):
        load_cifar10(source=archive)
    assert not (data_env / "cifar10" / "cifar10.npz").exists()


def test_even_the_official_hash_does_not_unpickle_arbitrary_objects(data_env, tmp_path, monkeypatch):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    arrays = h.cifar_arrays()
    archive = h.cifar_python_archive(tmp_path / "cifar-10-python.tar.gz", arrays)
    # replace one batch with a pickle that would call a function when loaded
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(evil, "w:gz") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read()
            if m.name.endswith("test_batch"):
                data = pickle.dumps({b"data": Evil(), b"labels": []}, protocol=2)
            h.add(dst, m.name, data)
    h.set_official(monkeypatch, "cifar10", h.sha256(evil), "http://127.0.0.1:9/cifar-10-python.tar.gz")
    with pytest.raises(DataError, match="refusing"):
        load_cifar10(source=evil)


def test_unknown_class_folder_and_wrong_size_are_errors(data_env, tmp_path):
    bad_class = tmp_path / "bad_class.tar.gz"
    img = h.encode(np.zeros((32, 32, 3), np.uint8), "PNG")
    with tarfile.open(bad_class, "w:gz") as tf:
        h.add(tf, "train/zebra/0.png", img)
        h.add(tf, "test/cat/0.png", img)
    with pytest.raises(DataError, match="unknown class folder 'zebra'"):
        load_cifar10(source=bad_class)
    big = tmp_path / "big.tar.gz"
    with tarfile.open(big, "w:gz") as tf:
        h.add(tf, "train/cat/0.png", h.encode(np.zeros((64, 64, 3), np.uint8), "PNG"))
        h.add(tf, "test/cat/0.png", img)
    with pytest.raises(DataError, match="32x32"):
        load_cifar10(source=big)
    empty = tmp_path / "other.tar.gz"
    with tarfile.open(empty, "w:gz") as tf:
        h.add(tf, "README", b"hello")
    with pytest.raises(DataError, match="neither"):
        load_cifar10(source=empty)


def test_a_kill_while_writing_the_cache_leaves_no_cache(data_env, tmp_path):
    archive = h.cifar_image_archive(tmp_path / "c.tar.gz", h.cifar_arrays())
    script = textwrap.dedent(f"""
        import os, signal
        import numpy as np
        from cnncourse.data import load_cifar10

        def write_array(f, array, **kwargs):
            f.write(bytes(1000))  # part of the first array of the npz, then the process dies
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)

        np.lib.format.write_array = write_array
        load_cifar10(source={str(archive)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    folder = data_env / "cifar10"
    assert not (folder / "cifar10.npz").exists()
    assert [p.name for p in folder.iterdir() if ".pid" in p.name], "expected the killed write's temp file"
    (x_train, _), _ = load_cifar10(source=archive)
    assert len(x_train) == 10 and c10.cache_info() is not None
    assert [p.name for p in folder.iterdir()] == ["cifar10.npz"], "the stale temp file is cleaned up"


DAMAGES = {
    "truncated": (lambda b: b[: len(b) // 2], "BadZipFile"),
    "empty": (lambda b: b"", "EOFError"),
    "overwritten": (lambda b: b[: len(b) // 2] + b"\xff" * 8 + b[len(b) // 2 + 8:], "Bad CRC-32"),
}


@pytest.mark.parametrize("kind", sorted(DAMAGES))
def test_a_damaged_cache_is_reported_in_one_line_and_rebuilt(data_env, tmp_path, monkeypatch, capsys, kind):
    from cnncourse.data.cli import print_status
    arrays = h.cifar_arrays()
    (tmp_path / "mirror").mkdir()
    archive = h.cifar_image_archive(tmp_path / "mirror" / "cifar10.tgz", arrays)
    (tmp_path / "mirror" / "SHA256SUMS").write_text(f"{h.sha256(archive)}  cifar10.tgz\n")
    monkeypatch.setenv("CNNCOURSE_MIRROR", str(tmp_path / "mirror"))
    load_cifar10()
    cache = data_env / "cifar10" / "cifar10.npz"
    damage, reason = DAMAGES[kind]
    cache.write_bytes(damage(cache.read_bytes()))
    capsys.readouterr()

    print_status()  # what `data status` and `info` show, without touching the file
    out = capsys.readouterr().out
    assert f"cache   {cache}  DAMAGED (" in out and reason in out and "rebuilt by: cnncourse data fetch cifar10" in out
    assert c10.cache_info() is None

    (x_train, y_train), _ = load_cifar10()
    err = capsys.readouterr().err
    assert err.splitlines()[0].startswith(f"The CIFAR-10 cache {cache} is damaged (") and reason in err.splitlines()[0]
    assert err.count("is damaged") == 1 and err.splitlines()[0].endswith("; rebuilding it.")
    assert h.as_pairs(x_train, y_train) == h.as_pairs(*arrays[0])
    assert c10.cache_info()["train"] == 10, "the cache was rebuilt"
    assert [p.name for p in cache.parent.iterdir()] == ["cifar10.npz"]


def test_members_over_the_size_cap_are_skipped_and_reported(data_env, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(c10.archives, "MAX_MEMBER_BYTES", 100_000)
    arrays = h.cifar_arrays()
    archive = tmp_path / "c.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for split, (x, y) in zip(("train", "test"), arrays):
            for i, (img, label) in enumerate(zip(x, y.ravel())):
                h.add(tf, f"{split}/{CIFAR10_CLASSES[label]}/{i}.png", h.encode(img, "PNG"))
        h.add(tf, "train/cat/huge.png", bytes(1_000_000))  # never read: it is over the cap
    (x_train, _), _ = load_cifar10(source=archive)
    assert len(x_train) == 10
    err = capsys.readouterr().err
    assert "Skipped 1 member(s) of c.tar.gz not read: train/cat/huge.png (too large: 1,000,000 bytes" in err
