"""The ladder of fixes in notebook 02: one rung = one ``fit`` + ``evaluate`` under the same budget.

- ``Rung``         one rung's history and headline numbers, and the rung it is compared with   (02)
- ``train_rung``   the notebook's ``fit(x, y, validation_split=...)`` + ``evaluate`` for the later rungs (02)

The train-validation gap of a rung is measured in inference mode, with the weights the rung kept:
``model.evaluate`` on the training part of the split minus ``model.evaluate`` on the validation part.
The running training accuracy that ``fit`` logs is not used for it: it averages over an epoch while the
weights change and, with dropout or augmentation, is measured on a handicapped network, so it is not
comparable between a regularised rung and a plain one. The epoch timer and the early-stopping epoch
live in :mod:`cnncourse.training`; the numpy augmentation in :mod:`cnncourse.augment`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from .training import EpochLog, kept_epoch


@dataclass
class Rung:
    """One trained rung of the ladder and its headline numbers (accuracies in inference mode)."""
    name: str
    model: object
    history: dict
    test_accuracy: float
    train_accuracy: float | None      # on the training part of the split, kept weights, inference mode
    val_accuracy: float | None        # on the validation part, same weights, inference mode
    seconds: float
    kept_epoch: int | None = None     # epoch whose weights were kept (early stopping), else None (the last)
    compared_with: str | None = None  # the rung this one differs from in exactly one thing

    @classmethod
    def from_fit(cls, name: str, model, history, test_accuracy: float, seconds: float, *,
                 train_accuracy: float | None = None, val_accuracy: float | None = None, callbacks=(),
                 compared_with: str | None = None) -> Rung:
        """A rung from a ``fit`` you ran yourself: its History (or ``history.history``) and accuracies."""
        history = getattr(history, "history", history)
        history = {k: [float(v) for v in vs] for k, vs in history.items()}
        return cls(name, model, history, float(test_accuracy),
                   None if train_accuracy is None else float(train_accuracy),
                   None if val_accuracy is None else float(val_accuracy), float(seconds),
                   kept_epoch(callbacks), compared_with)

    @property
    def epochs(self) -> int:
        return len(self.history["loss"])

    @property
    def gap(self) -> float | None:
        """Training minus validation accuracy, both in inference mode; None without validation."""
        if self.train_accuracy is None or self.val_accuracy is None:
            return None
        return self.train_accuracy - self.val_accuracy

    @property
    def peak_epoch(self) -> int | None:
        """The epoch with the highest validation accuracy (1-based); None without validation."""
        val = self.history.get("val_accuracy")
        return None if not val else int(max(range(len(val)), key=val.__getitem__)) + 1

    def row(self) -> dict:
        return {"rung": self.name, "compared_with": self.compared_with or "", "test_accuracy": self.test_accuracy,
                "train_accuracy": self.train_accuracy, "val_accuracy": self.val_accuracy, "gap": self.gap,
                "epochs": self.epochs, "kept_epoch": self.kept_epoch or self.epochs, "seconds": self.seconds}

    def __repr__(self) -> str:
        gap = "" if self.gap is None else f", gap {100 * self.gap:.1f} points"
        return (f"Rung({self.name!r}: test accuracy {100 * self.test_accuracy:.2f}%{gap}, "
                f"{self.epochs} epochs in {self.seconds:.0f} s)")


def train_rung(name: str, model, train, test, *, epochs: int, batch_size: int = 128,
               validation_split: float | None = 0.2, validation_data=None, callbacks=(),
               compared_with: str | None = None, log_every: int = 5) -> Rung:
    """Fit ``model`` (compiled) on ``train = (x, y)`` and evaluate it on ``test = (x, y)``.

    This is the notebook's own call, ``model.fit(x, y, validation_split=validation_split, epochs=epochs,
    batch_size=batch_size)``: Keras holds out the last fraction of ``train`` and reshuffles the rest every
    epoch. With ``validation_data = (x, y)`` instead, all of ``train`` is trained on and those images are
    the validation set (``validation_split`` is then ignored). Then, with the weights the run kept,
    ``model.evaluate`` on the training part, the validation part and the test set. ``EpochLog`` prints one
    line every ``log_every`` epochs. Seconds count ``fit`` only.
    """
    x, y = train
    callbacks = [EpochLog(log_every), *callbacks]
    if validation_data is not None:
        fit_validation = {"validation_data": validation_data}
        cut, (x_val, y_val) = len(x), validation_data
    else:
        fit_validation = {"validation_split": validation_split or 0.0}
        cut = int(len(x) * (1 - validation_split)) if validation_split else len(x)
        x_val, y_val = x[cut:], y[cut:]
    start = time.perf_counter()
    hist = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=callbacks, **fit_validation)
    seconds = time.perf_counter() - start
    train_acc = model.evaluate(x[:cut], y[:cut], batch_size=1000, verbose=0)[1]
    val_acc = model.evaluate(x_val, y_val, batch_size=1000, verbose=0)[1] if len(x_val) else None
    test_acc = model.evaluate(*test, batch_size=1000, verbose=0)[1]
    return Rung.from_fit(name, model, hist, test_acc, seconds, train_accuracy=train_acc, val_accuracy=val_acc,
                         callbacks=callbacks, compared_with=compared_with)


__all__ = ["Rung", "train_rung"]
