"""`cnncourse data fetch` and `cnncourse data status`, through argparse as the main CLI wires them."""
import argparse

import pytest

from cnncourse.data.cli import register
from tests import data_helpers as h


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
    folder = tmp_path / "mirror"
    folder.mkdir()
    cifar = h.cifar_image_archive(folder / "cifar10-jpeg.tar.gz", h.cifar_arrays())
    pets = h.petimages_zip(folder / "PetImages-180px.zip")
    (folder / "SHA256SUMS").write_text(f"{h.sha256(cifar)}  {cifar.name}\n{h.sha256(pets)}  {pets.name}\n")
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
    for expected in (str(data_env), str(mirror), h.sha256(mirror / "cifar10-jpeg.tar.gz"),
                     h.sha256(mirror / "PetImages-180px.zip"), "ok (the mirror's SHA256SUMS)", "10 train + 5 test",
                     "1337-3-2-2", "3/2/2 per class", "MB"):
        assert expected in out, expected


def test_status_flags_a_bad_mirror_file(data_env, mirror, capsys):
    (mirror / "SHA256SUMS").write_text("0" * 64 + "  cifar10-jpeg.tar.gz\n")
    (mirror / "cifar10.tgz").write_bytes((mirror / "cifar10-jpeg.tar.gz").read_bytes())  # listed nowhere
    assert run("data", "status") == 0
    out = capsys.readouterr().out
    assert "MISMATCH: the mirror's SHA256SUMS expects " + "0" * 64 in out
    assert "MISMATCH: the pinned hash of PetImages-180px.zip expects" in out  # a test file, not the real one
    assert "NOT USED: no known hash" in out and "none yet" in out


def test_fetch_without_any_copy_fails_with_the_message(data_env, capsys):
    assert run("data", "fetch", "cifar10") == 1
    err = capsys.readouterr().err
    assert "error: CIFAR-10 is not available" in err and "CNNCOURSE_MIRROR" in err


def test_data_needs_a_subcommand(capsys):
    with pytest.raises(SystemExit):
        run("data")
    with pytest.raises(SystemExit):
        run("data", "fetch", "imagenet")
