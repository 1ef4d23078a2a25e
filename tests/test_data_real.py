"""The real offline copies in ../shared/datasets (skipped where that folder is absent)."""
import os
from pathlib import Path

import numpy as np
import pytest

from cnncourse.data import load_cifar10, pets, prepare_cats_vs_dogs

CHECKOUT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CNNCOURSE_MIRROR") or CHECKOUT.parent / "shared" / "datasets")
if not SHARED.is_absolute():
    SHARED = (CHECKOUT / SHARED).resolve()
pytestmark = pytest.mark.skipif(not (SHARED / "cifar10-jpeg.tar.gz").is_file()
                                or not (SHARED / "PetImages-180px.zip").is_file(),
                                reason=f"no offline dataset copies in {SHARED}")


@pytest.fixture
def real_mirror(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNCOURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CNNCOURSE_MIRROR", str(SHARED))
    monkeypatch.setenv("CNNCOURSE_OFFLINE", "1")  # the copies must be enough
    return tmp_path / "data"


def test_real_cifar10_and_cats_vs_dogs(real_mirror):
    (x_train, y_train), (x_test, y_test) = load_cifar10()
    assert x_train.shape == (50000, 32, 32, 3) and x_test.shape == (10000, 32, 32, 3)
    assert x_train.dtype == np.uint8 and y_train.shape == (50000, 1) and y_test.shape == (10000, 1)
    assert np.bincount(y_train.ravel()).tolist() == [5000] * 10
    assert np.bincount(y_test.ravel()).tolist() == [1000] * 10
    assert len(set(y_train[:100].ravel())) == 10, "training images are mixed, not class by class"

    report = prepare_cats_vs_dogs((1000, 500, 500))
    for split, n in zip(pets.SPLITS, (1000, 500, 500)):
        for cls in pets.CLASSES:
            assert len(list((report.root / split / cls).iterdir())) == n
    assert report.counts == {"train": {"cat": 1000, "dog": 1000}, "validation": {"cat": 500, "dog": 500},
                             "test": {"cat": 500, "dog": 500}}
