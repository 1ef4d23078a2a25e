"""Archives with '..', absolute paths or escaping links are refused before anything is written."""
import io
import re
import stat
import tarfile
import zipfile

import pytest

from cnncourse.data import DataError, load_cifar10, prepare_cats_vs_dogs
from cnncourse.data.archives import iter_files, open_zip, safe_extract
from cnncourse.data.errors import UnsafeArchiveError
from tests import data_helpers as h


@pytest.fixture
def data_env(tmp_path, monkeypatch):
    return h.isolate(tmp_path, monkeypatch)


def tar_with(path, *members):
    """members: (name, bytes) for files, (name, "->", target) for symlinks, (name, "=>", target) for hard links."""
    with tarfile.open(path, "w:gz") as tf:
        for member in members:
            if len(member) == 2:
                h.add(tf, *member)
            else:
                info = tarfile.TarInfo(member[0])
                info.type = tarfile.SYMTYPE if member[1] == "->" else tarfile.LNKTYPE
                info.linkname = member[2]
                tf.addfile(info)
    return path


def zip_with(path, *members):
    with zipfile.ZipFile(path, "w") as zf:
        for member in members:
            if len(member) == 2:
                zf.writestr(*member)
            else:
                info = zipfile.ZipInfo(member[0])
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, member[2])
    return path


PNG = h.encode(h.cifar_arrays(1, 1)[0][0][0], "PNG")
EVIL_TARS = {
    "dotdot": [("train/cat/0.png", PNG), ("../../evil.txt", b"x")],
    "dotdot-inside": [("cifar10/train/../../../evil.txt", b"x")],
    "absolute": [("/tmp/evil.txt", b"x")],
    "windows-absolute": [("C:\\evil.txt", b"x")],
    "symlink-out": [("train/cat/link.png", "->", "../../../../etc/passwd")],
    "symlink-absolute": [("train/cat/link.png", "->", "/etc/passwd")],
    "hardlink-out": [("train/cat/link.png", "=>", "../outside.png")],
}


@pytest.mark.parametrize("kind", sorted(EVIL_TARS))
def test_evil_tar_is_refused_by_reading_and_by_extraction(tmp_path, kind):
    archive = tar_with(tmp_path / "evil.tar.gz", *EVIL_TARS[kind])
    with pytest.raises(UnsafeArchiveError, match="refusing the archive"):
        list(iter_files(archive))
    dest = tmp_path / "out" / "dest"
    with pytest.raises(UnsafeArchiveError):
        safe_extract(archive, dest)
    assert not dest.exists() and list((tmp_path / "out").iterdir()) == [], "nothing may be left behind"
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("members", [
    [("PetImages/Cat/1.jpg", b"x"), ("../evil.txt", b"x")],
    [("/abs/evil.txt", b"x")],
    [("PetImages/Cat/link.jpg", "->", "../../../etc/passwd")],
], ids=["dotdot", "absolute", "symlink-out"])
def test_evil_zip_is_refused(tmp_path, members):
    archive = zip_with(tmp_path / "evil.zip", *members)
    with pytest.raises(UnsafeArchiveError):
        open_zip(archive).close()
    with pytest.raises(UnsafeArchiveError):
        safe_extract(archive, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_links_inside_the_archive_are_allowed_but_not_followed(tmp_path):
    archive = tar_with(tmp_path / "ok.tar.gz", ("a/b.txt", b"hello"), ("a/c.txt", "->", "b.txt"),
                       ("a/d.txt", "=>", "a/b.txt"))
    assert list(iter_files(archive)) == [("a/b.txt", b"hello")]
    dest = safe_extract(archive, tmp_path / "dest")
    assert (dest / "a" / "b.txt").read_bytes() == b"hello"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_loaders_refuse_evil_archives_and_write_nothing(data_env, tmp_path):
    evil_tar = tar_with(tmp_path / "evil.tar.gz", ("train/cat/0.png", PNG), ("test/cat/0.png", PNG),
                        ("train/cat/1.png", "->", "/etc/passwd"))
    with pytest.raises(DataError, match="refusing the archive"):
        load_cifar10(source=evil_tar)
    assert not (data_env / "cifar10" / "cifar10.npz").exists()
    members = {name: data for name, (data, _) in h.pet_members(4).items()}
    evil_zip = zip_with(tmp_path / "evil.zip", *members.items(), ("PetImages/Dog/../../../x.jpg", h.jpeg(1)))
    with pytest.raises(DataError, match="refusing the archive"):
        prepare_cats_vs_dogs((1, 1, 1), source=evil_zip)
    assert not (data_env / "cats_vs_dogs").exists() or not any((data_env / "cats_vs_dogs").iterdir())


def test_not_an_archive_is_a_clear_error(data_env, tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"this is not an archive" * 10)
    with pytest.raises(DataError, match="not a readable tar or zip archive"):
        list(iter_files(junk))
    truncated = tmp_path / "cut.tar.gz"
    full = io.BytesIO()
    with tarfile.open(fileobj=full, mode="w:gz") as tf:
        for i in range(50):
            h.add(tf, f"train/cat/{i}.png", PNG + bytes(i))
    truncated.write_bytes(full.getvalue()[: len(full.getvalue()) // 2])
    with pytest.raises(DataError, match="not a readable"):
        load_cifar10(source=truncated)


def utf8_flagged_zip(path, members):
    """A zip whose member QQQQ.jpg is renamed to the Latin-1 bytes caf\\xe9.jpg while flagged as UTF-8."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        zf.writestr("PetImages/Cat/QQQQ.jpg", h.jpeg(77))
    raw = bytearray(path.read_bytes().replace(b"QQQQ.jpg", b"caf\xe9.jpg"))
    pos = 0
    while (pos := raw.find(b"PK\x01\x02", pos)) != -1:  # central directory entries: set flag bit 11 (UTF-8)
        raw[pos + 9] |= 0x08
        pos += 4
    path.write_bytes(bytes(raw))
    return path


def test_a_zip_name_flagged_utf8_that_is_not_utf8_is_a_clear_error(data_env, tmp_path):
    members = {name: data for name, (data, _) in h.pet_members(4).items()}
    archive = utf8_flagged_zip(tmp_path / "pets.zip", members)
    message = r"pets.zip is damaged: the member name 'PetImages/Cat/caf\xe9.jpg' is marked as UTF-8 but is not UTF-8"
    with pytest.raises(DataError, match=re.escape(message)):
        open_zip(archive)
    with pytest.raises(DataError, match=re.escape(message)):
        prepare_cats_vs_dogs((1, 1, 1), source=archive)
    with pytest.raises(DataError, match=re.escape(message)):
        list(iter_files(archive))


def test_members_over_the_cap_are_not_read(tmp_path, monkeypatch):
    from cnncourse.data import archives
    monkeypatch.setattr(archives, "MAX_MEMBER_BYTES", 1 << 20)
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("small.txt", b"hello")
        zf.writestr("zeros.bin", bytes(8 << 20))  # 8 MiB of zeros, 8 kB compressed
    skipped = []
    assert list(iter_files(archive, on_skip=lambda *item: skipped.append(item))) == [("small.txt", b"hello")]
    assert skipped == [("zeros.bin", "too large: 8,388,608 bytes, over the 1 MiB cap")]
