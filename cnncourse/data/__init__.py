"""Datasets for the course, online or offline, never half-prepared.

- ``load_cifar10()``: CIFAR-10 exactly as ``keras.datasets.cifar10.load_data()`` returns it.
- ``cats_vs_dogs()``: the lecture's cats-vs-dogs split as batched ``tf.data`` datasets.
- ``demo_images()``: a few cats, dogs and other photos for prediction demos.

Files are looked for in the working data folder (``CNNCOURSE_DATA_DIR``, default ``data/``), then
in ``CNNCOURSE_MIRROR`` (a folder or base URL) when it is set, else downloaded from the official
source; every archive is checked against a pinned SHA-256 (a mirror's ``SHA256SUMS`` vouches only for
names without a pin). ``cnncourse data fetch all`` prepares both before class.
"""
from .cifar10 import CIFAR10_CLASSES, load_cifar10
from .demo import demo_images
from .errors import DataError
from .pets import CLASSES as CATS_VS_DOGS_CLASSES
from .pets import cats_vs_dogs, prepare_cats_vs_dogs

__all__ = ["CIFAR10_CLASSES", "CATS_VS_DOGS_CLASSES", "DataError", "cats_vs_dogs", "demo_images", "load_cifar10",
           "prepare_cats_vs_dogs"]
