"""cnncourse: helpers for a course on convolutional neural networks.

Every notebook's first code cell calls :func:`setup`. Helpers, and the chapters that use them:

- ``cnncourse.setup``           all notebooks: seeds, device, precision, profile, banner
- ``cnncourse.profiles``        all notebooks: quick / class / full sizes, as data
- ``cnncourse.summary``         01, 02: per-layer parameters, multiplications, memory
- ``cnncourse.convarith``       01: conv arithmetic and kernels behind the widgets
- ``cnncourse.plots``           02 onwards: learning curves, image grids, confusion matrices
- ``cnncourse.data``            02 onwards: CIFAR-10 and cats vs dogs, online or from a mirror
- ``cnncourse.cifar``           02: epoch-wise augmentation, rung runner, fused batch norm, flip TTA
- ``cnncourse.results``         all notebooks: record headline numbers beside the lecture's

Importing the package is cheap: TensorFlow is imported by ``setup()`` and the modules that need it.
"""
__version__ = "0.1.0"

from .runtime import Config, setup  # noqa: E402

__all__ = ["Config", "setup", "__version__"]
