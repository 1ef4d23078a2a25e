"""cnncourse.models: trained models saved to the data folder and loaded back, with clear errors."""
import re

import keras
import numpy as np
import pytest

from cnncourse import models
from cnncourse.layers import FastBatchNormalization


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNCOURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CNNCOURSE_PROFILE", "class")   # a lesson's own run: models go to <data dir>/models
    monkeypatch.delenv("CNNCOURSE_SEED", raising=False)
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


def test_test_runs_and_second_seeds_keep_their_own_models(data_dir, monkeypatch):
    """A quick test run or `cnncourse run --seed 7` must not replace the model the class run saved (the
    solutions notebooks load the lesson's models)."""
    lesson = small_model()
    models.save(lesson, "05_member_1", verbose=False)
    x = np.random.default_rng(0).uniform(size=(2, 8, 8, 3)).astype("float32")
    expected = lesson.predict(x, verbose=0)
    for profile, seed, folder in [("quick", None, "quick"), ("class", "7", "class-seed7"), ("full", "7", "full-seed7")]:
        monkeypatch.setenv("CNNCOURSE_PROFILE", profile)
        if seed is None:
            monkeypatch.delenv("CNNCOURSE_SEED", raising=False)
        else:
            monkeypatch.setenv("CNNCOURSE_SEED", seed)
        with pytest.raises(models.ModelNotFoundError):
            models.load("05_member_1")
        other = small_model()
        other.set_weights([w + 1.0 for w in other.get_weights()])
        assert models.save(other, "05_member_1", verbose=False) == data_dir / "models" / folder / "05_member_1.keras"
    monkeypatch.setenv("CNNCOURSE_PROFILE", "class")
    monkeypatch.delenv("CNNCOURSE_SEED")
    np.testing.assert_allclose(models.load("05_member_1").predict(x, verbose=0), expected, rtol=1e-6)


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


# ---------------------------------------------------------------- crafted and damaged files (issue 25)

def write_keras_archive(path, layer: dict) -> None:
    """A .keras archive by hand: a functional model of an input and ``layer``, called as its inbound node says."""
    import json
    import zipfile

    inputs = {"module": "keras.layers", "class_name": "InputLayer", "name": "inp", "registered_name": None,
              "config": {"batch_shape": [None, 4], "dtype": "float32", "sparse": False, "name": "inp"},
              "inbound_nodes": []}
    config = {"module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional",
              "config": {"name": "crafted", "trainable": True, "layers": [inputs, layer],
                         "input_layers": ["inp", 0, 0], "output_layers": [layer["name"], 0, 0]}}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.8.0", "date_saved": "2025-03-01@12:00:00"}))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", b"")


def system_lambda(command: str) -> dict:
    """A Lambda layer whose function is ``os.system``, called with ``command``: Keras <= 3.8 runs it on load,
    safe mode or not (CVE-2025-1550); later bypasses of the same kind were closed up to Keras 3.14."""
    return {"module": "keras.layers", "class_name": "Lambda", "name": "payload", "registered_name": None,
            "config": {"name": "payload", "trainable": True, "dtype": "float32", "arguments": {},
                       "function": {"module": "os", "class_name": "function", "config": "system",
                                    "registered_name": "function"}},
            "build_config": {"input_shape": [None, 4]},
            "inbound_nodes": [{"args": [], "kwargs": {"inputs": command}}]}


def bytecode_lambda(command: str) -> dict:
    """A Lambda layer whose function is marshalled Python bytecode that runs ``command`` (CVE-2024-3660)."""
    import base64
    import marshal

    code = compile(f"lambda x: __import__('os').system({command!r})", "<crafted>", "eval").co_consts[0]
    return {"module": "keras.layers", "class_name": "Lambda", "name": "payload", "registered_name": None,
            "config": {"name": "payload", "trainable": True, "dtype": "float32", "arguments": {},
                       "function": {"class_name": "__lambda__", "config": {
                           "code": base64.b64encode(marshal.dumps(code)).decode(), "defaults": None,
                           "closure": None}}},
            "build_config": {"input_shape": [None, 4]},
            "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {
                "shape": [None, 4], "dtype": "float32", "keras_history": ["inp", 0, 0]}}], "kwargs": {}}]}


@pytest.mark.parametrize("payload, found", [(system_lambda, "os.system"), (bytecode_lambda, "a Lambda layer, payload")],
                         ids=["os.system", "lambda-bytecode"])
def test_a_model_file_that_would_run_code_is_refused_and_nothing_runs(data_dir, tmp_path, payload, found):
    marker = tmp_path / "code-ran"
    (data_dir / "models").mkdir()
    file = data_dir / "models" / "03_scratch.keras"
    write_keras_archive(file, payload(f"touch {marker}"))
    with pytest.raises(models.UnsafeModelError) as err:
        models.load("03_scratch")
    assert str(err.value) == (f"the saved model {file} would run code from outside Keras ({found}), which no model "
                              "of this course does: refusing to load it. Delete it and run 03_cats_vs_dogs.ipynb again")
    assert isinstance(err.value, models.ModelNotFoundError), "a notebook that retrains on a missing model does here"
    assert not marker.exists(), "the file's code ran"
    # Keras' own check refuses it too (pyproject.toml's floor, keras>=3.14): no code runs even without ours
    with pytest.raises(Exception):  # noqa: B017 -- which one depends on the Keras release
        keras.saving.load_model(file)
    assert not marker.exists(), "Keras ran the file's code: raise the keras floor in pyproject.toml"


def flip_byte(path, member: str) -> None:
    """Flip one byte in the middle of ``member``'s stored data (Keras stores its members uncompressed)."""
    import struct
    import zipfile

    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    data = bytearray(path.read_bytes())
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    data[start + info.compress_size // 2] ^= 0x01
    path.write_bytes(bytes(data))


def edit_config(old: bytes, new: bytes):
    """A damage: replace ``old`` with ``new`` in the archive's config.json (a class Keras does not know...)."""
    def damage(path) -> None:
        import zipfile

        with zipfile.ZipFile(path) as zf:
            members = {i.filename: zf.read(i) for i in zf.infolist()}
        assert old in members["config.json"]
        members["config.json"] = members["config.json"].replace(old, new, 1)
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)

    return damage


@pytest.mark.parametrize("damage, raised", [
    (lambda p: flip_byte(p, "config.json"), "BadZipFile"),
    (lambda p: flip_byte(p, "model.weights.h5"), "BadZipFile"),
    (edit_config(b'"registered_name": "cnncourse>FastBatchNormalization"', b'"registered_name": "cnncourse>Nope"'),
     "TypeError|ValueError"),
    (edit_config(b'"class_name": "Conv2D"', b'"class_name": "Dense"'), "TypeError|ValueError"),
    (edit_config(b'"class_name": "Conv2D"', b'"class_name": "Conv9D"'), "TypeError|ValueError"),
], ids=["byte-in-config", "byte-in-weights", "unknown-custom-class", "injected-class", "unknown-class"])
def test_a_damaged_model_file_is_the_same_clear_error(data_dir, damage, raised):
    """Whatever Keras or the zip reader raise for a damaged file, the message says what to do."""
    path = models.save(small_model(), "04_finetuned", verbose=False)
    damage(path)
    with pytest.raises(models.ModelNotFoundError) as err:
        models.load("04_finetuned")
    assert re.fullmatch(rf"the saved model {re.escape(str(path))} cannot be read \(({raised})\): delete it and "
                        r"run 04_transfer_learning\.ipynb again", str(err.value)), str(err.value)
