"""Downloads over real HTTP (127.0.0.1), mirrors, hash checks, stalls, kills and the offline error."""
import os
import signal
import stat
import subprocess
import sys
import time
from dataclasses import replace

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
    mirror = make_mirror(tmp_path / "mirror", {"cifar10.tgz": archive}, {"cifar10.tgz": h.sha256(archive)})
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
    assert located.path == mirror / "cifar10.tgz" and located.origin.startswith("mirror")
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


# ---------------------------------------------------------------- a pin always wins

def pin(monkeypatch, name: str, sha: str) -> None:
    """Pin a test-built file under one of the course's mirror names (as the real file is pinned)."""
    for dataset, cands in list(download.SOURCES.items()):
        monkeypatch.setitem(download.SOURCES, dataset, tuple(
            replace(c, sha256=sha) if c.name == name else c for c in cands))


def test_a_web_mirrors_sha256sums_cannot_override_a_pin(data_env, tmp_path, monkeypatch, capsys):
    genuine = h.petimages_zip(tmp_path / "genuine.zip", h.pet_members(4))
    pin(monkeypatch, "PetImages-180px.zip", h.sha256(genuine))
    forged = h.petimages_zip(tmp_path / "forged.zip", h.pet_members(5))
    files = {"PetImages-180px.zip": forged.read_bytes(),
             "SHA256SUMS": f"{h.sha256(forged)}  PetImages-180px.zip\n".encode()}
    with h.Server(files) as server:  # plain HTTP, a mirror vouching for the forged file
        monkeypatch.setenv("CNNCOURSE_MIRROR", server.url)
        pinned = f"does not match the pinned hash of PetImages-180px.zip .{h.sha256(genuine)}"
        with pytest.raises(DataError, match=pinned):
            download.locate("cats_vs_dogs")
    assert_no_partial_files(data_env)  # nothing kept, so nothing is trusted later
    good = make_mirror(tmp_path / "good", {"PetImages-180px.zip": genuine})
    monkeypatch.setenv("CNNCOURSE_MIRROR", str(good))
    assert download.locate("cats_vs_dogs").sha256 == h.sha256(genuine)


def test_a_file_matching_its_pin_is_used_whatever_sha256sums_says(data_env, tmp_path, monkeypatch, capsys):
    archive = h.cifar_image_archive(tmp_path / "built.tar.gz", h.cifar_arrays())
    pin(monkeypatch, "cifar10-jpeg.tar.gz", h.sha256(archive))
    mirror = make_mirror(tmp_path / "mirror", {"cifar10-jpeg.tar.gz": archive}, {"cifar10-jpeg.tar.gz": "0" * 64})
    monkeypatch.setenv("CNNCOURSE_MIRROR", str(mirror))
    (x_train, _), _ = load_cifar10()
    assert len(x_train) == 10
    from cnncourse.data.cli import print_status
    capsys.readouterr()
    print_status()
    out = capsys.readouterr().out
    assert "ok (the pinned hash of cifar10-jpeg.tar.gz); the mirror's SHA256SUMS lists another hash, ignored" in out


def test_a_data_folder_copy_that_misses_its_pin_is_ignored_and_replaced(data_env, tmp_path, monkeypatch, capsys):
    genuine = h.petimages_zip(tmp_path / "genuine.zip", h.pet_members(4))
    pin(monkeypatch, "PetImages-180px.zip", h.sha256(genuine))
    (data_env / "downloads").mkdir(parents=True)
    stale = data_env / "downloads" / "PetImages-180px.zip"
    stale.write_bytes(b"left by an older version")
    with h.Server({"PetImages-180px.zip": genuine.read_bytes()}) as server:
        monkeypatch.setenv("CNNCOURSE_MIRROR", server.url)
        located = download.locate("cats_vs_dogs")
    assert located.path == stale and h.sha256(stale) == h.sha256(genuine)
    assert f"Ignoring {stale}: its SHA-256" in capsys.readouterr().err


def test_status_verifies_a_downloaded_file_instead_of_trusting_a_verdict(data_env, tmp_path, monkeypatch, capsys):
    from cnncourse.data.cli import print_status
    archive = h.cifar_image_archive(tmp_path / "cifar10.tgz", h.cifar_arrays())
    files = {"cifar10.tgz": archive.read_bytes(), "SHA256SUMS": f"{h.sha256(archive)}  cifar10.tgz\n".encode()}
    with h.Server(files) as server:
        monkeypatch.setenv("CNNCOURSE_MIRROR", server.url)
        download.locate("cifar10")
    monkeypatch.delenv("CNNCOURSE_MIRROR")
    capsys.readouterr()
    print_status()
    assert "ok (the hash a mirror's SHA256SUMS listed when it was downloaded)" in capsys.readouterr().out
    copy = data_env / "downloads" / "cifar10.tgz"
    data = bytearray(copy.read_bytes())
    data[100] ^= 0xFF
    copy.write_bytes(bytes(data))  # same size; the mtime (or inode) changes, so it is hashed again
    print_status()
    out = capsys.readouterr().out
    assert h.sha256(copy) in out and "NOT USED: no known hash" in out
    with pytest.raises(DataError, match="no known hash"):
        download.locate("cifar10")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-8-sig"])
def test_sha256sums_written_by_powershell_is_read(data_env, tmp_path, monkeypatch, encoding):
    archive = h.cifar_image_archive(tmp_path / "built.tar.gz", h.cifar_arrays())
    mirror = make_mirror(tmp_path / "mirror", {"cifar10.tgz": archive})
    (mirror / "SHA256SUMS").write_bytes(f"{h.sha256(archive).upper()}  cifar10.tgz\r\n".encode(encoding))
    monkeypatch.setenv("CNNCOURSE_MIRROR", str(mirror))
    assert download.locate("cifar10").sha256 == h.sha256(archive)


# ---------------------------------------------------------------- a mirror that is set is used, or an error

def test_a_mistyped_mirror_folder_is_an_error_at_once(data_env, tmp_path, monkeypatch, official_cifar):
    path, _ = official_cifar
    with h.Server({path.name: path.read_bytes()}) as server:
        h.set_official(monkeypatch, "cifar10", h.sha256(path), server.url + path.name)
        monkeypatch.setenv("CNNCOURSE_MIRROR", str(tmp_path / "datsets"))
        with pytest.raises(DataError) as err:
            load_cifar10()
        assert server.hits == [], "the official source was tried"
    assert str(err.value) == (f"CNNCOURSE_MIRROR={tmp_path / 'datsets'} is not a folder (missing). Fix the path, "
                              "or unset CNNCOURSE_MIRROR to download CIFAR-10 from the official source.")


def test_a_mirror_without_the_files_is_an_error_not_a_download(data_env, tmp_path, monkeypatch, official_cifar):
    path, _ = official_cifar
    with h.Server({path.name: path.read_bytes()}) as server, h.Server({}) as empty:
        h.set_official(monkeypatch, "cifar10", h.sha256(path), server.url + path.name)
        for setting in (str(make_mirror(tmp_path / "empty", {})), empty.url):
            monkeypatch.setenv("CNNCOURSE_MIRROR", setting)
            with pytest.raises(DataError, match=r"has none of the CIFAR-10 files, so nothing was downloaded"):
                load_cifar10()
        assert server.hits == []


def test_a_stalled_mirror_fails_quickly_naming_it(data_env, monkeypatch):
    monkeypatch.setattr(download, "STALL_TIMEOUT_S", 1)
    with h.silent_server() as url:
        monkeypatch.setenv("CNNCOURSE_MIRROR", url)
        start = time.monotonic()
        with pytest.raises(DataError) as err:
            load_cifar10()
        assert time.monotonic() - start < 10
    assert str(err.value).startswith(f"CNNCOURSE_MIRROR={url} cannot be used: nothing received for 1 s (stalled)")
    assert "unset CNNCOURSE_MIRROR" in str(err.value)


def test_a_transfer_that_stalls_midway_names_the_mirror(data_env, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "STALL_TIMEOUT_S", 1)
    archive = h.cifar_image_archive(tmp_path / "cifar10.tgz", h.cifar_arrays())
    files = {"cifar10.tgz": archive.read_bytes(), "SHA256SUMS": f"{h.sha256(archive)}  cifar10.tgz\n".encode()}
    with h.Server(files, modes={"cifar10.tgz": "stall"}) as server:
        monkeypatch.setenv("CNNCOURSE_MIRROR", server.url)
        with pytest.raises(DataError, match=r"Downloading from CNNCOURSE_MIRROR=http://127.*failed: .*stalled"):
            load_cifar10()
    assert_no_partial_files(data_env)


# ---------------------------------------------------------------- killed downloads

@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_download_leaves_a_leftover_that_status_lists_and_clean_removes(tmp_path, sig):
    archive = h.cifar_image_archive(tmp_path / "cifar10.tgz", h.cifar_arrays(300, 50))
    files = {"cifar10.tgz": archive.read_bytes(), "SHA256SUMS": f"{h.sha256(archive)}  cifar10.tgz\n".encode()}
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNNCOURSE_")}
    with h.Server(files, modes={"cifar10.tgz": "stall"}) as server:
        env.update(CNNCOURSE_DATA_DIR=str(data), CNNCOURSE_MIRROR=server.url)
        proc = subprocess.Popen([sys.executable, "-m", "cnncourse", "data", "fetch", "cifar10"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not any(p.is_file() and p.stat().st_size for p in data.rglob("tmp*")) and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    left = [p.relative_to(data) for p in (data / "downloads").rglob("*")]
    status = subprocess.run([sys.executable, "-m", "cnncourse", "data", "status"], env=env, capture_output=True,
                            text=True, timeout=60).stdout
    if sig == signal.SIGTERM:  # unwound: pooch's and our temporary files are removed on the way out
        assert proc.returncode == 143 and "cnncourse: stopped (SIGTERM)" in err
        assert left == [] and "leftover" not in status
        return
    assert proc.returncode == -signal.SIGKILL
    work = [p for p in left if p.parent.name == "downloads"]
    assert len(left) == 2 and len(work) == 1 and work[0].name.startswith(".download-cifar10.tgz.pid"), left
    assert f"leftover {data / work[0]}" in status and "cnncourse data clean removes them" in status
    clean = subprocess.run([sys.executable, "-m", "cnncourse", "data", "clean"], env=env, capture_output=True,
                           text=True, timeout=60)
    assert clean.returncode == 0 and f"removed  {data / work[0]}" in clean.stdout
    assert list((data / "downloads").iterdir()) == []


def test_bare_pooch_temp_files_of_older_versions_are_leftovers_too(data_env):
    downloads = data_env / "downloads"
    downloads.mkdir(parents=True)
    old, fresh = downloads / "tmpab12cd_x", downloads / "tmpzz99yy00"
    old.write_bytes(bytes(1000))
    fresh.write_bytes(bytes(10))
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert download.leftovers() == [old], "a file still being written (changed in the last minute) is kept"
    assert download.clean_leftovers() == [(old, 1000)] and sorted(downloads.iterdir()) == [fresh]
