"""cnncourse.training: the epoch timer, the train-validation gap and the epoch early stopping kept."""
import time

import keras
import numpy as np
import pytest

from cnncourse.training import EpochTimer, Snapshots, StepClock, best_epoch, last_gap, mean_gap


def test_gap_is_read_at_the_kept_epoch():
    history = {"accuracy": [0.6, 0.8, 0.95], "val_accuracy": [0.55, 0.7, 0.65]}
    assert last_gap(history) == 0.95 - 0.65
    assert last_gap(history, epoch=2) == 0.8 - 0.7
    assert last_gap({"accuracy": [0.5]}) is None


def test_mean_gap_averages_the_last_epochs_up_to_the_kept_one():
    history = {"accuracy": [0.5, 0.6, 0.8, 0.9, 1.0], "val_accuracy": [0.5, 0.5, 0.6, 0.6, 0.5]}
    assert mean_gap(history) == pytest.approx((0.2 + 0.3 + 0.5) / 3)
    assert mean_gap(history, epoch=3) == pytest.approx((0.0 + 0.1 + 0.2) / 3)
    assert mean_gap(history, epoch=1) == pytest.approx(0.0)  # fewer epochs than `last`: those that exist
    assert mean_gap(history, last=1) == pytest.approx(last_gap(history))
    assert mean_gap({"accuracy": [0.5]}) is None
    with pytest.raises(ValueError, match="outside"):
        mean_gap(history, epoch=6)


@pytest.fixture
def tiny():
    """A logistic regression on 64 points whose label is the sign of the first feature: (model, x, y)."""
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy")
    return model, x, y


def test_best_epoch_is_the_one_early_stopping_restored(tiny):
    model, x, y = tiny
    # an unreachable min_delta: no epoch after the first counts as an improvement
    stop = keras.callbacks.EarlyStopping(patience=2, min_delta=10.0, restore_best_weights=True)
    history = model.fit(x, y, validation_split=0.25, epochs=20, callbacks=[stop, EpochTimer()], verbose=0)
    assert len(history.history["loss"]) == 3
    assert best_epoch([stop]) == 1
    assert best_epoch([EpochTimer()]) is None
    assert all(s > 0 for s in history.history["seconds"])


def test_snapshots_keep_copies_of_the_weights_every_few_epochs(tiny):
    model, x, y = tiny
    snaps = Snapshots(every=2)
    model.fit(x, y, epochs=5, batch_size=16, callbacks=[snaps], verbose=0)
    assert snaps.epochs == [2, 4] and len(snaps.weights) == 2
    assert not np.allclose(snaps.weights[0][0], snaps.weights[1][0])  # copies, not views of the live weights
    assert not np.allclose(snaps.weights[1][0], model.get_weights()[0])  # epoch 5 trained on
    with pytest.raises(ValueError, match="at least 1"):
        Snapshots(every=0)


def test_step_clock_times_the_steps_after_the_first(tiny):
    model, x, y = tiny

    class SlowFirstStep(keras.callbacks.Callback):   # stands in for tracing: the first step takes 0.5 s longer
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 0:
                time.sleep(0.5)

    clock = StepClock()
    start = time.perf_counter()
    model.fit(x, y, batch_size=8, epochs=1, callbacks=[SlowFirstStep(), clock], verbose=0)
    wall = time.perf_counter() - start
    assert len(clock.marks) == 8
    assert clock.seconds_per_step() * 8 < wall - 0.4       # the slow first step is left out
    assert clock.images_per_second(8) == pytest.approx(8 / clock.seconds_per_step())
    with pytest.raises(ValueError, match="at least two steps"):
        StepClock().seconds_per_step()
