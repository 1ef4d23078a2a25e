"""Downloads over real HTTP (127.0.0.1), mirrors, hash checks and the offline error."""
import os
import stat

import numpy as np
import pytest

from cnncourse.data import DataError, download, load_cifar10
from tests import data_helpers as h


@pytest.fixture
def data_env(tmp_path, monkeypatch):
    return h.isolate(tmp_path, monkeypatch)


@pytest.fixture
def official_cifar(tmp_path):
    arrays = h.cifar_arrays()
    path = h.cifar_python_archive(tmp_path / "cifar-10-python.tar.gz", arrays)
    return path, arrays


def assert_no_partial_files(data):
    downloads = data / "downloads"
    leftovers = [p.name for p in downloads.iterdir()] if downloads.is_dir() else []
    assert leftovers == [], f"a failed download left files behind: {leftovers}"


def test_official_download_over_http_is_verified_then_cached(data_env, monkeypatch, official_cifar):
    path, arrays = official_cifar
    with h.Server({path.name: path.read_bytes()}) as server:
        h.set_official(monkeypatch, "cifar10", h.sha256(path), server.url + path.name)
        (x_train, y_train), (x_test, y_test) = load_cifar10()
        assert server.gets(path.name) == 1
    # exactly what keras.datasets.cifar10.load_data() gives: official order, uint8, labels (N, 1)
    (ex_train, ey_train), (ex_test, ey_test) = arrays
    np.testing.assert_array_equal(x_train, ex_train)
    np.testing.assert_array_equal(y_train, ey_train)
    np.testing.assert_array_equal(x_test, ex_test)
    np.testing.assert_array_equal(y_test, ey_test)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8 and y_train.shape == (10, 1)
    assert sorted(p.name for p in (data_env / "downloads").iterdir()) == [path.name]
    # the server is gone: a new call reads the cache and touches no network
    (x_again, _), _ = load_cifar10()
    np.testing.assert_array_equal(x_again, ex_train)


def test_checksum_mismatch_is_a_clear_error_and_keeps_nothing(data_env, monkeypatch, official_cifar):
    path, _ = official_cifar
    with h.Server({path.name: path.read_bytes()[:-10] + b"0123456789"}) as server:
        h.set_official(monkeypatch, "cifar10", h.sha256(path), server.url + path.name)
        with pytest.raises(DataError, match=h.sha256(path)):
            load_cifar10()
    assert_no_partial_files(data_env)
    assert not (data_env / "cifar10" / "cifar10.npz").exists()


def test_interrupted_transfer_is_retried_then_reported_never_kept(data_env, monkeypatch, official_cifar):
    path, _ = official_cifar
    monkeypatch.setattr(download, "RETRIES", 1)
    with h.Server({path.name: path.read_bytes()}, modes={path.name: "truncate"}) as server:
        h.set_official(monkeypatch, "cifar10", h.sha256(path), server.url + path.name)
        with pytest.raises(DataError) as err:
            load_cifar10()
        assert server.gets(path.name) == 2  # the first attempt and one retry, each from the start
    assert "CNNCOURSE_MIRROR" in str(err.value) and "cifar-10-python.tar.gz" in str(err.value)
    assert_no_partial_files(data_env)


def test_a_transfer_cut_once_is_restarted_and_succeeds(data_env, monkeypatch, official_cifar):
    path, arrays = official_cifar
    monkeypatch.setattr(download, "RETRIES", 1)
    with h.Server({path.name: path.read_bytes()}, modes={path.name: "flaky"}) as server:
        h.set_official(monkeypatch, "cifar10", h.sha256(path), server.url + path.name)
        (x_train, _), _ = load_cifar10()
        assert server.gets(path.name) == 2
    np.testing.assert_array_equal(x_train, arrays[0][0])
    assert h.sha256(data_env / "downloads" / path.name) == h.sha256(path)


def test_offline_without_a_copy_names_the_mirror_setting_and_the_files(data_env):
    with pytest.raises(DataError) as err:
        download.locate("cats_vs_dogs")
    message = str(err.value)
    assert message.count("\n") >= 3, "one message, with the files it looks for listed"
    for expected in ("CNNCOURSE_MIRROR", "kagglecatsanddogs_5340.zip", "PetImages-180px.zip", "PetImages/",
                     str(data_env / "downloads"), "ConnectionError"):
        assert expected in message


def test_offline_switch_skips_the_internet(data_env, monkeypatch):
    monkeypatch.setenv("CNNCOURSE_OFFLINE", "1")
    with pytest.raises(DataError, match="CNNCOURSE_OFFLINE is set") as err:
        load_cifar10()
    assert "cifar10-jpeg.tar.gz" in str(err.value)


def make_mirror(folder, files: dict, sums: dict | None = None):
    folder.mkdir()
    for name, path in files.items():
        (folder / name).write_bytes(path.read_bytes())
    if sums:
        (folder / "SHA256SUMS").write_text("".join(f"{digest}  {name}\n" for name, digest in sums.items()))
    return folder


def make_read_only(folder):
    for p in [*folder.rglob("*"), folder]:
        p.chmod(stat.S_IREAD | (stat.S_IEXEC if p.is_dir() else 0))


def test_read_only_folder_mirror_is_read_in_place(data_env, tmp_path, monkeypatch):
    arrays = h.cifar_arrays()
    archive = h.cifar_image_archive(tmp_path / "built.tar.gz", arrays, fmt="PNG")
    mirror = make_mirror(tmp_path / "mirror", {"cifar10-jpeg.tar.gz": archive},
                         {"cifar10-jpeg.tar.gz": h.sha256(archive)})
    make_read_only(mirror)
    before = h.snapshot(mirror)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CNNCOURSE_MIRROR", "mirror")  # relative: resolved against the working directory
    try:
        (x_train, y_train), (x_test, y_test) = load_cifar10()
        located = download.locate("cifar10")
    finally:
        for p in [mirror, *mirror.rglob("*")]:
            p.chmod(stat.S_IRWXU)
    assert h.snapshot(mirror) == before, "the mirror was written to"
    assert located.path == mirror / "cifar10-jpeg.tar.gz" and located.origin.startswith("mirror")
    assert not (data_env / "downloads").exists(), "a local mirror file must not be copied"
    assert h.as_pairs(x_train, y_train) == h.as_pairs(*arrays[0])
    assert h.as_pairs(x_test, y_test) == h.as_pairs(*arrays[1])


def test_mirror_file_with_the_wrong_hash_is_refused(data_env, tmp_path, monkeypatch):
    archive = h.cifar_image_archive(tmp_path / "built.tar.gz", h.cifar_arrays())
    mirror = make_mirror(tmp_path / "mirror", {"cifar10-jpeg.tar.gz": archive})  # pinned name, other bytes
    monkeypatch.setenv("CNNCOURSE_MIRROR", str(mirror))
    pinned = next(c.sha256 for c in download.SOURCES["cifar10"] if c.name == "cifar10-jpeg.tar.gz")
    with pytest.raises(DataError, match=f"expects {pinned}"):
        load_cifar10()


def test_unknown_mirror_file_without_a_listed_hash_is_refused(data_env, tmp_path, monkeypatch):
    archive = h.cifar_image_archive(tmp_path / "built.tar.gz", h.cifar_arrays())
    mirror = make_mirror(tmp_path / "mirror", {"cifar10.tgz": archive})
    monkeypatch.setenv("CNNCOURSE_MIRROR", str(mirror))
    with pytest.raises(DataError, match=r"no known SHA-256.*SHA256SUMS"):
        load_cifar10()
    (mirror / "SHA256SUMS").write_text(f"{h.sha256(archive)} *cifar10.tgz\n")  # sha256sum's binary-mode form
    (x_train, _), _ = load_cifar10()
    assert len(x_train) == 10


def test_hash_is_remembered_until_the_file_changes(data_env, tmp_path, monkeypatch):
    archive = h.cifar_image_archive(tmp_path / "built.tar.gz", h.cifar_arrays())
    mirror = make_mirror(tmp_path / "mirror", {"cifar10.tgz": archive}, {"cifar10.tgz": h.sha256(archive)})
    monkeypatch.setenv("CNNCOURSE_MIRROR", str(mirror))
    download.locate("cifar10")
    calls = []
    real = download.hashlib.sha256
    monkeypatch.setattr(download.hashlib, "sha256", lambda *a: calls.append(1) or real(*a))
    download.locate("cifar10")
    assert calls == [], "an unchanged file was hashed again"
    target = mirror / "cifar10.tgz"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10**9))
    with pytest.raises(DataError, match="SHA-256"):
        download.locate("cifar10")
    assert calls == [1]


def test_web_mirror_with_sha256sums(data_env, tmp_path, monkeypatch):
    arrays = h.cifar_arrays()
    archive = h.cifar_image_archive(tmp_path / "cifar10.tgz", arrays)
    files = {"cifar10.tgz": archive.read_bytes(), "SHA256SUMS": f"{h.sha256(archive)}  cifar10.tgz\n".encode()}
    with h.Server(files) as server:
        monkeypatch.setenv("CNNCOURSE_MIRROR", server.url.rstrip("/"))
        (x_train, y_train), _ = load_cifar10()
        assert server.gets("cifar10.tgz") == 1
        assert server.gets("cifar-10-python.tar.gz") == 0, "files the mirror lacks are not downloaded"
    assert h.as_pairs(x_train, y_train) == h.as_pairs(*arrays[0])
    assert (data_env / "downloads" / "cifar10.tgz").is_file()
    # the server is gone: the downloaded copy was verified against the mirror's list and is reused
    (x_again, _), _ = load_cifar10(refresh=True)
    assert h.as_pairs(x_again, y_train) == h.as_pairs(*arrays[0])
    located = download.locate("cifar10", download=False)
    assert located.origin == "data folder" and located.sha256 == h.sha256(archive)


def test_sha256sums_parser():
    text = "# comment\n" + "a" * 64 + "  x.zip\n" + "B" * 64 + " *y.tar.gz\nnot a line\n"
    assert download.parse_sums(text) == {"x.zip": "a" * 64, "y.tar.gz": "b" * 64}
