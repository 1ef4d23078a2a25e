"""cnncourse: helpers for a course on convolutional neural networks.

Every notebook's first code cell calls :func:`setup`. Helpers, and the chapters that use them:

- ``cnncourse.setup``           all notebooks: seeds, device, precision, profile, banner
- ``cnncourse.profiles``        all notebooks: quick / class / full sizes, as data
- ``cnncourse.summary``         01, 02, 03, 04: per-layer parameters, multiplications, memory
- ``cnncourse.convarith``       01: conv arithmetic and kernels behind the widgets
- ``cnncourse.plots``           02 onwards: learning curves (overlaid or one panel per run), image grids, confusion
- ``cnncourse.data``            02 onwards: CIFAR-10 and cats vs dogs, online or from a mirror
- ``cnncourse.cifar``           02: epoch-wise augmentation, rung runner, flip TTA
- ``cnncourse.training``        02, 03: epoch timer, train-validation gap, the epoch early stopping kept
- ``cnncourse.layers``          02, 03: ``FastBatchNormalization`` (batch norm through the fused kernel)
- ``cnncourse.models``          03, 04 (and 05): save trained models to the data folder and load them back
- ``cnncourse.pretrained``      04, 05, 06: ImageNet backbones offline (EfficientNet-Lite0 from a wheel), labels
- ``cnncourse.results``         all notebooks: record headline numbers beside the lecture's

Importing the package is cheap: TensorFlow is imported by ``setup()`` and the modules that need it.
"""
__version__ = "0.1.0"

from .runtime import Config, setup  # noqa: E402

__all__ = ["Config", "setup", "__version__"]
