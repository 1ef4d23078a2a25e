"""Training plumbing shared by the notebooks; the models and their ``fit`` calls stay in the notebooks.

- ``EpochLog``     a short training log: one line every few epochs and one for the last     (02 to 05)
- ``StepClock``    a callback that times training steps, for speed measurements           (03, ``cnncourse bench``)
- ``TrainingClock`` a callback that adds up the seconds spent training, validation left out (08)
- ``Snapshots``    a callback that keeps a copy of the weights every few epochs (snapshot ensembles) (05)
- ``kept_epoch``   the 1-based epoch whose weights ``EarlyStopping(restore_best_weights=True)`` kept (03)
"""
from __future__ import annotations

import time

from .runtime import import_tensorflow

import_tensorflow()
import keras  # noqa: E402


class EpochLog(keras.callbacks.Callback):
    """Prints one line every ``every`` epochs and one for the last: a training log short enough to keep.

    Use with ``fit(..., verbose=0)``. Each line gives the epoch and the logged metrics (loss and
    accuracy, with their validation values when there are any), rounded to 3 decimals.
    """

    def __init__(self, every: int = 5, keys=("loss", "accuracy", "val_loss", "val_accuracy")):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be at least 1 epoch, got {every}")
        self.every, self.keys = every, tuple(keys)

    def on_train_begin(self, logs=None):
        self._total = self.params.get("epochs")
        self._printed = None

    def _line(self, epoch: int, logs: dict) -> str:
        parts = [f"{k} {float(logs[k]):.3f}" for k in self.keys if k in logs]
        return f"epoch {epoch}/{self._total}: " + ", ".join(parts)

    def on_epoch_end(self, epoch, logs=None):
        self._last = (epoch + 1, dict(logs or {}))
        if (epoch + 1) % self.every == 0 or epoch + 1 == self._total:
            print(self._line(*self._last), flush=True)
            self._printed = epoch + 1

    def on_train_end(self, logs=None):
        last = getattr(self, "_last", None)
        if last is not None and self._printed != last[0]:   # stopped early: say where
            print(self._line(*last) + " (stopped)", flush=True)


class StepClock(keras.callbacks.Callback):
    """Notes the time at the end of every training step, to measure training speed.

    ``images_per_second(batch_size)`` counts from the end of the first step to the end of the last: the
    first step (which traces the model) and ``fit``'s own set-up and tear-down are left out. Timing a whole
    short ``fit`` call instead can mislead: on the 2-core development machine some calls waited over a
    second after their last step and others did not, so two different networks timed that way came out at
    the same speed.
    """

    def on_train_begin(self, logs=None):
        self.marks = []

    def on_train_batch_end(self, batch, logs=None):
        self.marks.append(time.perf_counter())

    def seconds_per_step(self) -> float:
        if len(getattr(self, "marks", ())) < 2:
            raise ValueError("StepClock needs a fit of at least two steps")
        return (self.marks[-1] - self.marks[0]) / (len(self.marks) - 1)

    def images_per_second(self, batch_size: int) -> float:
        return batch_size / self.seconds_per_step()


class TrainingClock(keras.callbacks.Callback):
    """Adds up the wall-clock seconds of the training epochs, leaving out ``fit``'s validation passes.

    ``seconds[i]`` is the training time up to the end of epoch ``i + 1``: from the start of the first
    epoch (model tracing included, as a speedrun counts it) through every training step, without the
    time spent evaluating the validation data. ``curve(history)`` pairs each logged validation accuracy
    with its epoch and training time.
    """

    def on_train_begin(self, logs=None):
        self.seconds: list[float] = []
        self._validating = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._validating = time.perf_counter(), 0.0

    def on_test_begin(self, logs=None):
        self._test_start = time.perf_counter()

    def on_test_end(self, logs=None):
        self._validating += time.perf_counter() - self._test_start

    def on_epoch_end(self, epoch, logs=None):
        spent = time.perf_counter() - self._start - self._validating
        self.seconds.append((self.seconds[-1] if self.seconds else 0.0) + spent)

    def curve(self, history, key: str = "val_accuracy") -> list[list]:
        """``[[epoch, training seconds, value], ...]`` for every epoch at which ``key`` was logged."""
        values = history.history[key]
        every = len(self.seconds) // max(len(values), 1)
        epochs = [every * (i + 1) for i in range(len(values))]
        return [[e, round(self.seconds[e - 1], 1), round(float(v), 4)] for e, v in zip(epochs, values)]


class Snapshots(keras.callbacks.Callback):
    """Keeps a copy of the model's weights at the end of every ``every``-th epoch (1-based: every, 2*every, ...).

    With a learning rate that restarts every ``every`` epochs (a cyclic schedule), each copy is
    taken where the rate has decayed to its minimum: one training run yields several models, the
    members of a snapshot ensemble. ``weights`` is the list of copies, oldest first; load one with
    ``model.set_weights(snapshots.weights[i])``.
    """

    def __init__(self, every: int):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be at least 1 epoch, got {every}")
        self.every = every
        self.weights: list = []
        self.epochs: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self.weights.append([w.copy() for w in self.model.get_weights()])
            self.epochs.append(epoch + 1)


def kept_epoch(callbacks) -> int | None:
    """The 1-based epoch an ``EarlyStopping(restore_best_weights=True)`` among ``callbacks`` restored, else None."""
    for cb in callbacks:
        if isinstance(cb, keras.callbacks.EarlyStopping) and cb.restore_best_weights and cb.best_epoch is not None:
            return int(cb.best_epoch) + 1
    return None


__all__ = ["EpochLog", "StepClock", "Snapshots", "TrainingClock", "kept_epoch"]
