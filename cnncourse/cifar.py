"""Plumbing for notebook 02 (CIFAR-10, overfitting and its fixes); the models stay in the notebook.

- ``random_crop_flip``   pad-and-crop shifts plus horizontal flips of a whole uint8 array, in numpy
- ``AugmentedImages``    a ``keras.utils.PyDataset`` that reshuffles (and re-augments) every epoch
- ``EpochTimer``, ``last_gap``  from :mod:`cnncourse.training` (shared with 03)
- ``train_rung``         fit one rung of the ladder, evaluate it on the test set, return a ``Rung``
- ``flip_tta_predict``   test-time augmentation: average the predictions for an image and its mirror
- ``FastBatchNormalization``  from :mod:`cnncourse.layers` (shared with 03)

Augmenting in numpy once per epoch costs about a second for 50,000 images on two CPU cores, far
less than Keras' random-transform layers running inside every training step on the same cores.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .runtime import import_tensorflow

import_tensorflow()
import keras  # noqa: E402

from .layers import FastBatchNormalization  # noqa: E402  (moved; re-exported for notebook 02)
from .training import EpochTimer, last_gap  # noqa: E402  (moved; re-exported for notebook 02)


def random_crop_flip(x: np.ndarray, rng: np.random.Generator, pad: int = 4, flip: bool = True) -> np.ndarray:
    """Each image shifted by up to ``pad`` pixels each way (zero fill) and mirrored with probability 1/2.

    ``x`` is (N, H, W, C); the result has the same shape and dtype. Equivalent to padding every
    image by ``pad`` zeros and cropping a random H x W window, as in most CIFAR-10 training recipes.
    """
    x = np.asarray(x)
    n, h, w = x.shape[:3]
    padded = np.zeros((n, h + 2 * pad, w + 2 * pad) + x.shape[3:], x.dtype)
    padded[:, pad:pad + h, pad:pad + w] = x
    if flip:
        mirrored = rng.random(n) < 0.5
        padded[mirrored] = padded[mirrored, :, ::-1]
    side = 2 * pad + 1
    offsets = rng.integers(0, side * side, n)
    out = np.empty_like(x)
    for k in range(side * side):  # one slice per offset: 81 vectorised copies instead of N small ones
        idx = np.flatnonzero(offsets == k)
        dy, dx = divmod(k, side)
        out[idx] = padded[idx, dy:dy + h, dx:dx + w]
    return out


class AugmentedImages(keras.utils.PyDataset):
    """Batches of ``(x, y)`` in a new random order every epoch, randomly shifted and flipped if ``augment``.

    Pass it to ``model.fit`` in place of arrays. ``len()`` is the number of full batches per epoch
    (the remainder is dropped, so every step has ``batch_size`` images).
    """

    def __init__(self, x, y, batch_size: int = 128, augment: bool = True, pad: int = 4, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if len(x) != len(y):
            raise ValueError(f"x and y differ in length: {len(x)} vs {len(y)}")
        if len(x) < batch_size:
            raise ValueError(f"{len(x)} images make no full batch of {batch_size}")
        self.x, self.y = np.asarray(x), np.asarray(y)
        self.batch_size, self.augment, self.pad = batch_size, augment, pad
        self.rng = np.random.default_rng(seed)
        self._epoch_x = self._epoch_y = None
        self.on_epoch_end()

    def __len__(self) -> int:
        return len(self.x) // self.batch_size

    def on_epoch_end(self) -> None:
        order = self.rng.permutation(len(self.x))
        x = self.x[order]
        self._epoch_x = random_crop_flip(x, self.rng, self.pad) if self.augment else x
        self._epoch_y = self.y[order]

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(i)
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self._epoch_x[s], self._epoch_y[s]


@dataclass
class Rung:
    """One trained rung of the ladder and its headline numbers."""
    name: str
    model: object
    history: dict
    test_accuracy: float
    epochs: int
    seconds: float
    gap: float | None = None          # train minus validation accuracy at the last epoch (best, if restored)
    best_epoch: int | None = None     # epoch whose weights were kept (early stopping)
    extra: dict = field(default_factory=dict)

    def row(self) -> dict:
        return {"rung": self.name, "test_accuracy": self.test_accuracy, "train_val_gap": self.gap,
                "epochs": self.epochs, "seconds": self.seconds}

    def __repr__(self) -> str:
        gap = "" if self.gap is None else f", train-val gap {100 * self.gap:.1f} points"
        return (f"Rung({self.name!r}: test accuracy {100 * self.test_accuracy:.2f}%{gap}, "
                f"{self.epochs} epochs in {self.seconds:.0f} s)")


def train_rung(name: str, model, train, test, *, epochs: int, batch_size: int = 128,
               validation_split: float | None = 0.2, augment: bool = False, callbacks=(),
               seed: int = 0, verbose: int = 2) -> Rung:
    """Fit ``model`` (compiled) on ``train = (x, y)`` and evaluate it on ``test = (x, y)``.

    With ``validation_split`` the last fraction of ``train`` is held out (as Keras'
    ``validation_split`` does) and the gap is train minus validation accuracy at the last epoch.
    ``augment`` trains on randomly shifted and flipped copies (:class:`AugmentedImages`); the
    validation images are never augmented. Seconds count ``fit`` only, not the test evaluation.
    """
    x, y = train
    val = None
    if validation_split:
        cut = int(round(len(x) * (1 - validation_split)))
        (x, y), val = (x[:cut], y[:cut]), (x[cut:], y[cut:])
    data = AugmentedImages(x, y, batch_size, augment=augment, seed=seed)
    start = time.perf_counter()
    hist = model.fit(data, epochs=epochs, validation_data=val, verbose=verbose,
                     callbacks=[EpochTimer(), *callbacks])
    seconds = time.perf_counter() - start
    history = {k: [float(v) for v in vs] for k, vs in hist.history.items()}
    best = None
    for cb in callbacks:
        if isinstance(cb, keras.callbacks.EarlyStopping) and cb.restore_best_weights and cb.best_epoch is not None:
            best = int(cb.best_epoch) + 1
    test_loss, test_acc = model.evaluate(*test, batch_size=1000, verbose=0)[:2]
    # with restored best weights, the gap of the model we keep is the one at its best epoch
    return Rung(name, model, history, float(test_acc), len(history["loss"]), seconds,
                last_gap(history, epoch=best), best)


def flip_tta_predict(model, x, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities averaged over each image and its horizontal mirror."""
    x = np.asarray(x)
    p = model.predict(x, batch_size=batch_size, verbose=0)
    p_mirror = model.predict(x[:, :, ::-1], batch_size=batch_size, verbose=0)
    return (p + p_mirror) / 2


__all__ = ["FastBatchNormalization", "random_crop_flip", "AugmentedImages", "EpochTimer", "Rung", "last_gap",
           "train_rung", "flip_tta_predict"]
