"""Atomic writes: a failed write (a full disk) leaves the old file, names the target, and leaves no temp file."""
import errno
import json
import os

import pytest

from cnncourse import fileio


class FullDisk:
    """A file object that takes ``room`` bytes and then fails like a full disk."""

    def __init__(self, f, room):
        self.f, self.room = f, room

    def write(self, data):
        self.f.write(data[: self.room])
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return len(data)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def test_a_full_disk_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "lesson.ipynb"
    target.write_text('{"cells": []}\n')
    real_open = open
    monkeypatch.setattr("builtins.open", lambda f, mode="r", *a, **k: FullDisk(real_open(f, mode, *a, **k), 10)
                        if "x" in mode else real_open(f, mode, *a, **k))
    with pytest.raises(OSError) as err:
        fileio.write_text_atomic(target, json.dumps({"cells": ["x" * 10_000]}))
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(target), "the error names the target"
    assert target.read_text() == '{"cells": []}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["lesson.ipynb"]


def test_an_exception_inside_the_block_keeps_the_old_file(tmp_path):
    target = tmp_path / "cache.npz"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), fileio.atomic_write(target, "wb") as f:
        f.write(b"half")
        raise RuntimeError("killed")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["cache.npz"]


def test_replacing_keeps_permissions_and_writes_through_links(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("{}")
    real.chmod(0o640)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    fileio.write_json_atomic(link, {"a": 1})
    assert link.is_symlink() and json.loads(real.read_text()) == {"a": 1}
    assert oct(real.stat().st_mode & 0o777) == oct(0o640)


def test_atomic_path_for_libraries_that_write_by_name(tmp_path):
    target = tmp_path / "models" / "net.keras"
    with fileio.atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".keras" and tmp.name.startswith(".net.keras.pid")
        tmp.write_bytes(b"weights")
        assert not target.exists()
    assert target.read_bytes() == b"weights" and os.listdir(target.parent) == ["net.keras"]


@pytest.mark.parametrize("name", ["n" * 245 + ".json", "a" * 250, "é" * 122 + ".weights.h5", "x" * 200 + ".a" * 27],
                         ids=["245+json", "250", "255-bytes-utf8", "many-suffixes"])
def test_a_name_of_up_to_255_bytes_can_be_written(tmp_path, name):
    """The temporary name beside the target must fit the file system's 255 bytes too."""
    import re


    target = tmp_path / name
    assert len(os.fsencode(name)) <= 255
    fileio.write_text_atomic(target, "{}")
    assert target.read_text() == "{}" and os.listdir(tmp_path) == [name]
    tmp = fileio.temp_path(target)
    assert len(os.fsencode(tmp.name)) <= 255 and tmp.parent == tmp_path
    assert re.match(r"^\..*\.pid(\d+)\.", tmp.name).group(1) == str(os.getpid()), "stale_temps() finds leftovers"
    with fileio.atomic_path(target) as tmp:
        assert len(os.fsencode(tmp.name)) <= 255
        if name.endswith(".weights.h5"):
            assert tmp.name.endswith(".weights.h5"), "the suffix Keras insists on is kept"
        tmp.write_text("[]")
    assert target.read_text() == "[]" and os.listdir(tmp_path) == [name]
    fileio.check_writable(target)  # `cnncourse run`'s probe beside a notebook
    assert os.listdir(tmp_path) == [name]


def test_notebook_04s_bottleneck_features_on_a_full_disk_leave_nothing_behind(tmp_path, monkeypatch):
    """Notebook 04 saves its features as ``with fileio.atomic_write(file, "wb") as f: np.savez(f, ...)``:
    on a full disk neither a partial ``.npz`` (which a later run would load) nor a temp file stays."""
    from pathlib import Path

    import numpy as np

    source = (Path(__file__).resolve().parents[1] / "notebooks" / "04_transfer_learning.ipynb").read_text()
    assert 'atomic_write(file, \\"wb\\")' in source and ".tmp-" not in source
    target = tmp_path / "04_lite0_224px_split_train.npz"
    real_open = open
    monkeypatch.setattr("builtins.open", lambda f, mode="r", *a, **k: FullDisk(real_open(f, mode, *a, **k), 1000)
                        if "x" in mode else real_open(f, mode, *a, **k))
    with pytest.raises(OSError) as err, fileio.atomic_write(target, "wb") as f:
        np.savez(f, x=np.zeros((200, 1280), "float32"), y=np.zeros(200, "float32"))
    assert err.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    with fileio.atomic_write(target, "wb") as f:                   # with room, the file is whole
        np.savez(f, x=np.ones((3, 4), "float32"), y=np.arange(3, dtype="float32"))
    assert np.load(target)["x"].shape == (3, 4) and [p.name for p in tmp_path.iterdir()] == [target.name]
