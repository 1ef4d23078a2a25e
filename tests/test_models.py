"""cnncourse.models: trained models saved to the data folder and loaded back, with clear errors."""
import keras
import numpy as np
import pytest

from cnncourse import models
from cnncourse.layers import FastBatchNormalization


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNCOURSE_DATA_DIR", str(tmp_path))
    return tmp_path


def small_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3)(inputs)
    x = FastBatchNormalization()(x)  # a custom layer: loading must know it
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))


def test_save_and_load_round_trip(data_dir, capsys):
    model = small_model()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x = np.random.default_rng(0).uniform(size=(2, 8, 8, 3)).astype("float32")
    model.fit(x, np.array([[0.0], [1.0]]), epochs=1, verbose=0)  # a trained model: its optimizer has state
    path = models.save(model, "03_tiny")
    assert path == data_dir / "models" / "03_tiny.keras" and path.is_file()
    assert "saved 03_tiny" in capsys.readouterr().out
    assert models.saved() == ["03_tiny"]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")], "no temporary file is left"
    back = models.load("03_tiny")
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    steps = [int(keras.ops.convert_to_numpy(m.optimizer.iterations)) for m in (back, model)]
    assert steps == [1, 1], "the optimizer's state came back: training can go on"


def test_a_failed_save_keeps_the_previous_model(data_dir, monkeypatch):
    model = small_model()
    models.save(model, "03_tiny", verbose=False)
    before = (data_dir / "models" / "03_tiny.keras").read_bytes()

    def disk_full(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", disk_full)
    with pytest.raises(OSError):
        models.save(model, "03_tiny")
    assert (data_dir / "models" / "03_tiny.keras").read_bytes() == before
    assert [p.name for p in (data_dir / "models").iterdir()] == ["03_tiny.keras"]


def test_a_missing_model_names_the_notebook_that_writes_it(data_dir):
    with pytest.raises(models.ModelNotFoundError, match=r"run 03_cats_vs_dogs\.ipynb first"):
        models.load("03_cpu_convnet")


def test_a_damaged_model_file_says_what_to_do(data_dir):
    (data_dir / "models").mkdir()
    (data_dir / "models" / "04_finetuned.keras").write_bytes(b"not a keras archive")
    with pytest.raises(models.ModelNotFoundError, match="cannot be read.*04_transfer_learning"):
        models.load("04_finetuned")


@pytest.mark.parametrize("name", ["scratch", "3_x", "03_../../etc", "03_a b"])
def test_names_must_say_which_notebook(data_dir, name):
    with pytest.raises(ValueError, match="NN_short_name"):
        models.path(name)
