import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest  # noqa: E402


@pytest.fixture
def isolated_results(tmp_path, monkeypatch):
    """Results land in a temporary folder, never in the checkout's results/."""
    monkeypatch.setenv("CNNCOURSE_RESULTS_DIR", str(tmp_path / "results"))
    return tmp_path / "results"


@pytest.fixture
def float32_after():
    """setup() changes Keras' global precision policy: put float32 back after the test."""
    yield
    import keras
    keras.mixed_precision.set_global_policy("float32")
