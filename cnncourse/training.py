"""Training plumbing shared by the notebooks; the models and their ``fit`` calls stay in the notebooks.

- ``EpochTimer``   a callback that adds ``seconds`` (wall time per epoch) to the History   (02, 03)
- ``last_gap``     training minus validation accuracy at an epoch: the overfitting gap      (02, 03)
- ``best_epoch``   the 1-based epoch whose weights ``EarlyStopping(restore_best_weights=True)`` kept (03)
"""
from __future__ import annotations

import time

from .runtime import import_tensorflow

import_tensorflow()
import keras  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    """Adds ``seconds`` (wall time of the epoch's training and validation) to each epoch's logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["seconds"] = time.perf_counter() - self._start


def last_gap(history: dict, metric: str = "accuracy", epoch: int | None = None) -> float | None:
    """Training minus validation ``metric`` at ``epoch`` (1-based; default the last); None without validation."""
    if f"val_{metric}" not in history:
        return None
    i = -1 if epoch is None else epoch - 1
    return float(history[metric][i] - history[f"val_{metric}"][i])


def best_epoch(callbacks) -> int | None:
    """The 1-based epoch an ``EarlyStopping(restore_best_weights=True)`` among ``callbacks`` restored, else None."""
    for cb in callbacks:
        if isinstance(cb, keras.callbacks.EarlyStopping) and cb.restore_best_weights and cb.best_epoch is not None:
            return int(cb.best_epoch) + 1
    return None


__all__ = ["EpochTimer", "best_epoch", "last_gap"]
