"""Cats vs dogs: split preparation from a tiny PetImages with bad files, kills, and the tf.data datasets."""
import json
import os
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from cnncourse import profiles
from cnncourse.data import DataError, cats_vs_dogs, demo_images, pets, prepare_cats_vs_dogs
from cnncourse.data.archives import safe_extract
from tests import data_helpers as h

SPLIT = (5, 2, 2)  # 9 per class: every file of the tiny PetImages below is drawn, bad ones included


@pytest.fixture
def data_env(tmp_path, monkeypatch):
    return h.isolate(tmp_path, monkeypatch)


@pytest.fixture
def pet_zip(tmp_path):
    return h.petimages_zip(tmp_path / "kagglecatsanddogs_5340.zip")


def files(root):
    return {split: {cls: sorted(p.name for p in (root / split / cls).iterdir()) for cls in pets.CLASSES}
            for split in pets.SPLITS}


def test_bad_files_are_dropped_with_reasons_and_the_rest_is_split(data_env, pet_zip, capsys):
    report = prepare_cats_vs_dogs(SPLIT, source=pet_zip)
    root = report.root
    assert root == data_env / "cats_vs_dogs" / "1337-5-2-2"
    listing = files(root)
    for split, n in zip(pets.SPLITS, SPLIT):
        for cls in pets.CLASSES:
            assert len(listing[split][cls]) == n
    every = [name for split in listing.values() for names in split.values() for name in names]
    assert len(every) == len(set(every)), "an image is in two splits"

    expected = {name: outcome for name, (_, outcome) in h.pet_members().items()}
    dropped = {d["file"]: d["reason"] for d in report.dropped}
    assert set(dropped) == {n for n, o in expected.items() if o not in ("kept", "converted")}
    for name, reason in dropped.items():
        assert reason.startswith(expected[name])
    assert set(report.converted) == {n for n, o in expected.items() if o == "converted"}
    err = capsys.readouterr().err  # the report goes to stderr: it differs between first and later runs
    assert "Dropped 5 file(s)" in err and "2 empty file" in err and "PetImages/Cat/666.jpg" in err

    marker = json.loads((root / "marker.json").read_text())
    assert marker["source"]["sha256"] == h.sha256(pet_zip)
    assert marker["split"] == {"train": 5, "validation": 2, "test": 2} and marker["seed"] == 1337
    # every written file is an RGB or grayscale JPEG that decodes completely
    from PIL import Image
    for path in root.rglob("*.jpg"):
        with Image.open(path) as im:
            im.load()
            assert im.format == "JPEG" and im.mode in ("RGB", "L")


def test_same_seed_same_split_other_seed_other_split(data_env, tmp_path, monkeypatch):
    members = h.pet_members(n_good=30)
    archive = h.petimages_zip(tmp_path / "pets.zip", members)
    first = files(prepare_cats_vs_dogs((4, 2, 2), source=archive).root)
    monkeypatch.setenv("CNNCOURSE_DATA_DIR", str(tmp_path / "other-data"))
    again = files(prepare_cats_vs_dogs((4, 2, 2), source=archive).root)
    assert again == first
    other = files(prepare_cats_vs_dogs((4, 2, 2), seed=7, source=archive).root)
    assert other != first


def test_an_extracted_folder_gives_the_same_split_as_the_zip(data_env, tmp_path, pet_zip):
    from_zip = files(prepare_cats_vs_dogs(SPLIT, source=pet_zip).root)
    folder = safe_extract(pet_zip, data_env / "extracted")
    report = prepare_cats_vs_dogs(SPLIT, source=folder / "PetImages")
    assert not report.reused, "another source (a folder) rebuilds the split"
    assert files(report.root) == from_zip
    assert json.loads((report.root / "marker.json").read_text())["source"]["id"].startswith("folder:")


def test_a_prepared_split_is_reused_without_the_source(data_env, tmp_path, pet_zip, monkeypatch):
    prepare_cats_vs_dogs(SPLIT, source=pet_zip)
    monkeypatch.setenv("CNNCOURSE_OFFLINE", "1")  # and nothing on disk to find: reuse must not look
    report = prepare_cats_vs_dogs(SPLIT)
    assert report.reused and "prepared earlier" in report.summary()
    victim = next((report.root / "train" / "cat").iterdir())
    victim.unlink()  # a file went missing: the split is no longer trusted
    with pytest.raises(DataError, match="CNNCOURSE_OFFLINE"):
        prepare_cats_vs_dogs(SPLIT)


def test_too_few_decodable_images_is_a_clear_error(data_env, pet_zip):
    with pytest.raises(DataError, match=r"only 9 decodable cat images.*needs 30"):
        prepare_cats_vs_dogs((10, 10, 10), source=pet_zip)
    assert [p.name for p in (data_env / "cats_vs_dogs").iterdir()] == [], "no half-built folder is left"


def test_split_sizes_come_from_the_profile(monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, "quick")
    assert pets.split_sizes() == (100, 50, 50)
    for name in ("class", "full"):
        monkeypatch.setenv(profiles.ENV_VAR, name)
        assert pets.split_sizes() == (1000, 500, 500)
    assert pets.split_sizes((3, 2, 1)) == (3, 2, 1)
    with pytest.raises(ValueError):
        pets.split_sizes((3, 0, 1))


def test_a_preparation_killed_midway_is_never_used_and_a_rerun_completes(data_env, pet_zip):
    script = textwrap.dedent(f"""
        import os, signal
        from cnncourse.data import pets
        written = []
        real = pets._write_image

        def write(path, data):
            real(path, data)
            written.append(path)
            if len(written) == 4:
                os.kill(os.getpid(), signal.SIGKILL)

        pets._write_image = write
        pets.prepare_cats_vs_dogs({SPLIT!r}, source={str(pet_zip)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    base = data_env / "cats_vs_dogs"
    root = base / "1337-5-2-2"
    assert not root.exists(), "a killed preparation must not leave the final folder"
    assert [p for p in base.iterdir() if p.name.startswith(".tmp-")], "expected the killed build's temp folder"
    assert pets.stale_builds(base)

    report = prepare_cats_vs_dogs(SPLIT, source=pet_zip)
    assert not report.reused and pets.read_marker(root) is not None
    assert sum(len(v) for split in files(root).values() for v in split.values()) == 2 * sum(SPLIT)
    assert [p.name for p in base.iterdir()] == [root.name], "the stale temp folder is removed"


def test_datasets_are_batched_labelled_and_decodable_by_tensorflow(data_env, pet_zip):
    train, val, test = cats_vs_dogs(image_size=(32, 32), batch_size=4, split=SPLIT, source=pet_zip)
    assert train.class_names == ["cat", "dog"]
    for ds, n in ((train, 10), (val, 4), (test, 4)):
        labels, seen = [], 0
        for x, y in ds:  # decodes every file: CMYK, PNG-in-.jpg and grayscale must all work
            assert x.shape[1:] == (32, 32, 3) and x.dtype.name == "float32"
            assert y.shape[1:] == (1,) and y.dtype.name == "float32"
            labels += list(y.numpy().ravel())
            seen += len(x)
        assert seen == n and sorted(labels) == [0.0] * (n // 2) + [1.0] * (n // 2)
    # unshuffled validation: labels follow the folders (cat = 0, dog = 1)
    names = [p.split("/")[-2] for p in val.file_paths]
    labels = np.concatenate([y.numpy().ravel() for _, y in val])
    assert [pets.CLASSES[int(v)] for v in labels] == names
    # a second call reuses the split, and int labels are there for a softmax head
    train_int, _, _ = cats_vs_dogs(image_size=(32, 32), batch_size=4, split=SPLIT, label_mode="int")
    _, y = next(iter(train_int))
    assert y.dtype.name == "int32" and y.shape == (4,)


def test_demo_images_include_cats_dogs_and_other(data_env, pet_zip, monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, "quick")
    with pytest.warns(UserWarning, match="cnncourse data fetch cats_vs_dogs"):
        images = demo_images(per_class=1)
    kinds = [key.split("/")[0] for key in images]
    assert "cat" in kinds and "other" in kinds  # scikit-image's photos, no dataset needed
    prepare_cats_vs_dogs(SPLIT, source=pet_zip)
    images = demo_images(per_class=2, size=(50, 60))
    kinds = [key.split("/")[0] for key in images]
    assert kinds.count("dog") == 2 and kinds.count("cat") == 3 and kinds.count("other") >= 2
    for key, img in images.items():
        assert img.shape == (50, 60, 3) and img.dtype == np.uint8, key


def test_an_extracted_folder_with_a_latin1_file_name_is_prepared(data_env, tmp_path):
    folder = tmp_path / "PetImages"
    for cls, offset in (("Cat", 0), ("Dog", 100)):
        (folder / cls).mkdir(parents=True)
        for i in range(8):
            (folder / cls / f"{i}.jpg").write_bytes(h.jpeg(offset + i))
    with open(os.fsencode(folder / "Cat") + b"/caf\xe9.jpg", "wb") as f:  # a Latin-1 name: not UTF-8
        f.write(h.jpeg(99))
    (folder / "Dog" / "8.jpg").write_bytes(h.jpeg(108))  # 9 files per class, every one drawn: the Latin-1 one too
    report = prepare_cats_vs_dogs((5, 2, 2), source=folder)
    assert report.dropped == []
    kept = sorted(p.name for p in report.root.rglob("cat.*.jpg"))
    assert "cat.caf_.jpg" in kept and len(kept) == 9
    assert json.loads((report.root / "marker.json").read_text())["source"]["id"].startswith("folder:")
    assert prepare_cats_vs_dogs((5, 2, 2), source=folder).reused


def test_a_member_over_the_size_cap_is_dropped_without_being_read(data_env, tmp_path, monkeypatch):
    from cnncourse.data import archives
    monkeypatch.setattr(archives, "MAX_MEMBER_BYTES", 1 << 20)
    members = h.pet_members(n_good=4)
    members["PetImages/Cat/big.jpg"] = (bytes(4 << 20), "too large")
    archive = h.petimages_zip(tmp_path / "pets.zip", members)
    def drawn_first(seed):  # the draw's order, as pets._build shuffles
        names = sorted((n for n in members if "/Cat/" in n), key=pets._natural)
        random.Random(f"{seed}-cat").shuffle(names)
        return names[0]

    seed = next(s for s in range(1000) if drawn_first(s).endswith("big.jpg"))
    report = prepare_cats_vs_dogs((2, 1, 1), seed=seed, source=archive)  # the big one is drawn first
    dropped = {d["file"]: d["reason"] for d in report.dropped}
    assert dropped["PetImages/Cat/big.jpg"] == "too large: 4,194,304 bytes, over the 1 MiB cap"
    assert "1 too large" in report.summary()


def huge_png(width: int, height: int) -> bytes:
    """A real PNG of width x height black pixels, 1 bit each: a few KB on disk, width x height bytes once decoded
    (and three times that as RGB). Written row by row: the test never holds the image itself."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row, deflate = bytes(1 + (width + 7) // 8), zlib.compressobj(9)  # filter byte 0, then the row's bits
    idat = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_an_image_over_the_pixel_cap_is_dropped_without_being_decoded(data_env, tmp_path):
    from cnncourse.data import archives
    huge = huge_png(12000, 12000)
    assert len(huge) < 100_000 and archives.MAX_IMAGE_PIXELS < 12000 * 12000
    reason = "too large: 12000 x 12000 pixels, over the 40,000,000-pixel cap"
    assert pets.check_image(huge) == (None, reason, False)
    assert pets.check_image(huge_png(600, 400))[1:] == (None, True), "an ordinary size is decoded and kept"
    members = h.pet_members(n_good=4)
    members["PetImages/Dog/huge.jpg"] = (huge, "too large")

    def drawn_first(seed):  # the draw's order, as pets._build shuffles
        names = sorted((n for n in members if "/Dog/" in n), key=pets._natural)
        random.Random(f"{seed}-dog").shuffle(names)
        return names[0]

    seed = next(s for s in range(1000) if drawn_first(s).endswith("huge.jpg"))
    report = prepare_cats_vs_dogs((2, 1, 1), seed=seed, source=h.petimages_zip(tmp_path / "pets.zip", members))
    assert {d["file"]: d["reason"] for d in report.dropped}["PetImages/Dog/huge.jpg"] == reason
    assert "1 too large" in report.summary()
    assert not any("huge" in p.name for p in report.root.rglob("*.jpg"))
