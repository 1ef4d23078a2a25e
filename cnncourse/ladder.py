"""The ladder of fixes in notebook 02: one rung = one ``fit`` + ``evaluate`` under the same budget.

- ``Rung``         one rung's history and headline numbers; ``Rung.from_fit`` wraps a ``fit`` written
                   out in the notebook                                                     (02)
- ``train_rung``   the same ``fit(x, y, validation_split=...)`` + ``evaluate`` for the later rungs (02)
- ``GAP_EPOCHS``   the train-validation gap is averaged over this many epochs (3)           (02)

The gap itself (:func:`cnncourse.training.mean_gap`) and the epoch timer live in :mod:`cnncourse.training`;
the numpy augmentation in :mod:`cnncourse.augment`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from .augment import AugmentedImages
from .training import EpochTimer, best_epoch, mean_gap

GAP_EPOCHS = 3  # the ladder reads the train-validation gap as the mean of the last three epochs


@dataclass
class Rung:
    """One trained rung of the ladder and its headline numbers."""
    name: str
    model: object
    history: dict
    test_accuracy: float
    epochs: int
    seconds: float
    gap: float | None = None          # train minus validation accuracy, mean of the 3 epochs ending at the kept one
    best_epoch: int | None = None     # epoch whose weights were kept (early stopping), else None (the last)
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_fit(cls, name: str, model, history, test_accuracy: float, seconds: float, callbacks=(),
                 gap_epochs: int = GAP_EPOCHS) -> Rung:
        """A rung from a ``fit`` you ran yourself: its History (or ``history.history``) and test accuracy."""
        history = getattr(history, "history", history)
        history = {k: [float(v) for v in vs] for k, vs in history.items()}
        kept = best_epoch(callbacks)
        return cls(name, model, history, float(test_accuracy), len(history["loss"]), float(seconds),
                   mean_gap(history, last=gap_epochs, epoch=kept), kept)

    @property
    def peak_epoch(self) -> int | None:
        """The epoch with the highest validation accuracy (1-based); None without validation."""
        val = self.history.get("val_accuracy")
        return None if not val else int(max(range(len(val)), key=val.__getitem__)) + 1

    def row(self) -> dict:
        val = self.history.get("val_accuracy")
        return {"rung": self.name, "test_accuracy": self.test_accuracy, "train_val_gap": self.gap,
                "peak_val_accuracy": max(val) if val else None, "peak_epoch": self.peak_epoch,
                "epochs": self.epochs, "seconds": self.seconds}

    def __repr__(self) -> str:
        gap = "" if self.gap is None else f", train-val gap {100 * self.gap:.1f} points"
        return (f"Rung({self.name!r}: test accuracy {100 * self.test_accuracy:.2f}%{gap}, "
                f"{self.epochs} epochs in {self.seconds:.0f} s)")


def train_rung(name: str, model, train, test, *, epochs: int, batch_size: int = 128,
               validation_split: float | None = 0.2, augment: bool = False, callbacks=(),
               seed: int = 0, verbose: int = 2, gap_epochs: int = GAP_EPOCHS) -> Rung:
    """Fit ``model`` (compiled) on ``train = (x, y)`` and evaluate it on ``test = (x, y)``.

    Without ``augment`` this is the notebook's own call, ``model.fit(x, y,
    validation_split=validation_split, epochs=epochs, batch_size=batch_size)`` followed by
    ``model.evaluate(*test)``: Keras holds out the last fraction of ``train`` and reshuffles the rest
    every epoch. With ``augment`` the same split is made by hand and the training part is fed as
    randomly shifted and flipped copies (:class:`AugmentedImages`); validation images are never
    augmented. The gap is train minus validation accuracy averaged over the ``gap_epochs`` epochs
    ending at the kept one (the restored one under early stopping). Seconds count ``fit`` only.
    """
    x, y = train
    callbacks = [EpochTimer(), *callbacks]
    start = time.perf_counter()
    if augment:
        val = None
        if validation_split:
            cut = int(len(x) * (1 - validation_split))
            (x, y), val = (x[:cut], y[:cut]), (x[cut:], y[cut:])
        data = AugmentedImages(x, y, batch_size, augment=True, seed=seed)
        hist = model.fit(data, epochs=epochs, validation_data=val, verbose=verbose, callbacks=callbacks)
    else:
        hist = model.fit(x, y, validation_split=validation_split or 0.0, epochs=epochs, batch_size=batch_size,
                         verbose=verbose, callbacks=callbacks)
    seconds = time.perf_counter() - start
    test_acc = model.evaluate(*test, batch_size=1000, verbose=0)[1]
    return Rung.from_fit(name, model, hist, test_acc, seconds, callbacks, gap_epochs)


__all__ = ["GAP_EPOCHS", "Rung", "train_rung"]
