"""Augmentation in numpy and test-time augmentation for small images held in memory as arrays.

- ``random_crop_flip``   pad-and-crop shifts plus horizontal flips of a whole uint8 array     (05; written out in 02)
- ``AugmentedImages``    a ``keras.utils.PyDataset`` that reshuffles (and re-augments) every epoch (05, the bench,
                         08's ablation script; 02 writes it out as ``CropFlipBatches``, and a test checks that
                         the two give the same batches)
- ``flip_tta_predict``   test-time augmentation: average the predictions for an image and its mirror (02)

Augmenting in numpy once per epoch costs about a second for 50,000 CIFAR-10 images on two CPU cores,
far less than Keras' random-transform layers running inside every training step on the same cores.
"""
from __future__ import annotations

import numpy as np

from .runtime import import_tensorflow

import_tensorflow()
import keras  # noqa: E402


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


def flip_tta_predict(model, x, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities averaged over each image and its horizontal mirror."""
    x = np.asarray(x)
    p = model.predict(x, batch_size=batch_size, verbose=0)
    p_mirror = model.predict(x[:, :, ::-1], batch_size=batch_size, verbose=0)
    return (p + p_mirror) / 2


__all__ = ["AugmentedImages", "flip_tta_predict", "random_crop_flip"]
