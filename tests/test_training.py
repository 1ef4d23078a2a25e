"""cnncourse.training: the short log, the step clock, snapshots and the epoch early stopping kept."""
import time

import keras
import numpy as np
import pytest

from cnncourse.training import EpochLog, Snapshots, StepClock, kept_epoch


@pytest.fixture
def tiny():
    """A logistic regression on 64 points whose label is the sign of the first feature: (model, x, y)."""
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy")
    return model, x, y


def test_kept_epoch_is_the_one_early_stopping_restored(tiny):
    model, x, y = tiny
    # an unreachable min_delta: no epoch after the first counts as an improvement
    stop = keras.callbacks.EarlyStopping(patience=2, min_delta=10.0, restore_best_weights=True)
    history = model.fit(x, y, validation_split=0.25, epochs=20, callbacks=[stop], verbose=0)
    assert len(history.history["loss"]) == 3
    assert kept_epoch([stop]) == 1
    assert kept_epoch([EpochLog()]) is None


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


def test_epoch_log_prints_every_fifth_epoch_and_the_last(tiny, capsys):
    model, x, y = tiny
    model.fit(x, y, validation_split=0.25, epochs=12, verbose=0, callbacks=[EpochLog()])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 5/12", "epoch 10/12", "epoch 12/12"]
    assert "val_loss" in lines[-1] and "seconds" not in lines[-1]


def test_epoch_log_says_where_early_stopping_ended(tiny, capsys):
    model, x, y = tiny
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)  # stops after epoch 2
    model.fit(x, y, epochs=50, verbose=0, callbacks=[stop, EpochLog()])
    lines = capsys.readouterr().out.splitlines()
    assert lines == [lines[-1]] and lines[-1].startswith("epoch 2/50") and lines[-1].endswith("(stopped)")
