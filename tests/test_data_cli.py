"""`cnncourse data fetch`, `status` and `clean`, through argparse as the main CLI wires them."""
import argparse
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from cnncourse.data import download
from cnncourse.data.cli import register
from tests import data_helpers as h
from tests import faults


@pytest.fixture
def data_env(tmp_path, monkeypatch):
    return h.isolate(tmp_path, monkeypatch)


def run(*argv) -> int:
    parser = argparse.ArgumentParser(prog="cnncourse")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.func(args)


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """cifar10.tgz vouched for by SHA256SUMS; a test-built PetImages-180px.zip pinned as the real one is."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    cifar = h.cifar_image_archive(folder / "cifar10.tgz", h.cifar_arrays())
    pets = h.petimages_zip(folder / "PetImages-180px.zip")
    monkeypatch.setitem(download.SOURCES, "cats_vs_dogs", tuple(
        replace(c, sha256=h.sha256(pets)) if c.name == pets.name else c for c in download.SOURCES["cats_vs_dogs"]))
    (folder / "SHA256SUMS").write_text(f"{h.sha256(cifar)}  {cifar.name}\n")
    monkeypatch.setenv("CNNCOURSE_MIRROR", str(folder))
    return folder


def test_fetch_all_then_status(data_env, mirror, capsys):
    assert run("data", "fetch", "all", "--split", "3", "2", "2") == 0
    captured = capsys.readouterr()
    assert "CIFAR-10 ready: 10 training and 5 test images" in captured.out and "Dropped" in captured.err
    assert (data_env / "cats_vs_dogs" / "1337-3-2-2" / "marker.json").is_file()
    assert run("data", "fetch", "cats_vs_dogs", "--split", "3", "2", "2") == 0
    assert "prepared earlier" in capsys.readouterr().out

    assert run("data", "status") == 0
    out = capsys.readouterr().out
    for expected in (str(data_env), str(mirror), h.sha256(mirror / "cifar10.tgz"),
                     h.sha256(mirror / "PetImages-180px.zip"), "ok (the mirror's SHA256SUMS)",
                     "ok (the pinned hash of PetImages-180px.zip)", "10 train + 5 test",
                     "1337-3-2-2", "3/2/2 per class", "MB"):
        assert expected in out, expected


def test_status_flags_a_bad_mirror_file(data_env, mirror, capsys):
    (mirror / "SHA256SUMS").write_text("0" * 64 + "  cifar10.tgz\n")
    (mirror / "cifar10-jpeg.tar.gz").write_bytes((mirror / "cifar10.tgz").read_bytes())  # a pinned name, other bytes
    assert run("data", "status") == 0
    out = capsys.readouterr().out
    assert "MISMATCH: the mirror's SHA256SUMS expects " + "0" * 64 in out
    assert "MISMATCH: the pinned hash of cifar10-jpeg.tar.gz expects" in out
    assert "none yet" in out
    (mirror / "SHA256SUMS").unlink()
    assert run("data", "status") == 0
    assert "NOT USED: no known hash" in capsys.readouterr().out


def test_fetch_without_any_copy_fails_with_the_message(data_env, capsys):
    assert run("data", "fetch", "cifar10") == 1
    err = capsys.readouterr().err
    assert "error: CIFAR-10 is not available" in err and "CNNCOURSE_MIRROR" in err


def test_data_needs_a_subcommand(capsys):
    with pytest.raises(SystemExit):
        run("data")
    with pytest.raises(SystemExit):
        run("data", "fetch", "imagenet")


@pytest.mark.parametrize("split", [("0", "1", "1"), ("3", "-2", "1"), ("3", "x", "1")])
def test_a_split_size_below_one_is_a_usage_error(capsys, split):
    with pytest.raises(SystemExit) as exit_:
        run("data", "fetch", "cats_vs_dogs", "--split", *split)
    assert exit_.value.code == 2
    assert "argument --split:" in capsys.readouterr().err


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_status_lists_and_clean_removes_what_killed_processes_left(data_env, capsys):
    dead, alive = dead_pid(), os.getppid()
    leftovers = [data_env / "cifar10" / f".cifar10.npz.pid{dead}.0a1b2c3d.npz",
                 data_env / "cats_vs_dogs" / f".tmp-1337-3-2-2.pid{dead}.0a1b2c3d",
                 data_env / "downloads" / f".download-PetImages-180px.zip.pid{dead}.0a1b2c3d",
                 data_env / "models" / f".net.keras.pid{dead}.0a1b2c3d.keras",
                 data_env / f".sha256-cache.json.pid{dead}.0a1b2c3d.tmp"]
    kept = [data_env / "cifar10" / f".cifar10.npz.pid{alive}.0a1b2c3d.npz",  # a process still running
            data_env / "cifar10" / "cifar10.npz"]
    for path in leftovers + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.name.startswith(".tmp-") or path.name.startswith(".download-"):
            (path / "train").mkdir(parents=True)
            (path / "train" / "x.jpg").write_bytes(bytes(2000))
        else:
            path.write_bytes(bytes(1000))
    assert run("data", "status") == 0
    out = capsys.readouterr().out
    assert "Leftovers of interrupted runs" in out and "cnncourse data clean removes them" in out
    for path in leftovers:
        assert f"leftover {path}" in out
    assert str(kept[0]) not in out
    assert run("data", "clean") == 0
    out = capsys.readouterr().out
    assert f"Removed {len(leftovers)} leftover(s) of interrupted runs" in out
    assert not any(p.exists() for p in leftovers) and all(p.exists() for p in kept)
    assert run("data", "clean") == 0 and "Nothing to clean" in capsys.readouterr().out


@pytest.mark.parametrize("fault, message", [
    ("full", "error: no space left on the device writing {data}/cifar10/cifar10.npz; it was left as it was. "
             "Free some space (cnncourse data clean removes leftovers of interrupted runs) and try again."),
    ("read-only", "error: {data}/cifar10 is on a read-only file system: set CNNCOURSE_DATA_DIR to a folder you can "
                  "write to."),
])
def test_a_full_or_read_only_data_folder_is_one_message(tmp_path, fault, message):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    archive = h.cifar_image_archive(mirror / "cifar10.tgz", h.cifar_arrays(400, 100))  # a 1.5 MB cache
    (mirror / "SHA256SUMS").write_text(f"{h.sha256(archive)}  cifar10.tgz\n")
    disk, data = tmp_path / "disk", tmp_path / "disk" / "data"
    data.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNNCOURSE_")}
    env.update(CNNCOURSE_DATA_DIR=str(data), CNNCOURSE_MIRROR=str(mirror))
    proc = faults.run_with_disk([sys.executable, "-m", "cnncourse", "data", "fetch", "cifar10"], folder=disk,
                                fault=fault, free=256 * 1024, env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == message.format(data=data)
    assert not (data / "cifar10").exists() or list((data / "cifar10").iterdir()) == []
