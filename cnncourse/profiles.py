"""Run profiles as data: how big each notebook's experiments are.

- ``quick``: CI and smoke tests; every notebook in seconds to a few minutes on a CPU.
- ``class``: live in class on a 2-core CPU; minutes per notebook, full data where the lesson needs it.
- ``full``: the lecture slides' original protocols (epochs, data sizes), meant for a GPU.

Selected by ``CNNCOURSE_PROFILE`` (default ``class``). Notebooks read their section through
``cnncourse.setup(...).settings`` and never branch on the profile name.
"""
from __future__ import annotations

import os

from .errors import SettingError

ENV_VAR = "CNNCOURSE_PROFILE"
DEFAULT = "class"

# Section "data" is read by cnncourse.data; the others by the notebook of that stem.
PROFILES: dict[str, dict[str, dict]] = {
    "quick": {
        "data": {"cats_vs_dogs_split": (100, 50, 50)},
        "01_conv_basics": {"photo_size": 128},
        "03_cats_vs_dogs": {
            "image_size": 96, "batch_size": 32, "learning_rate": 1e-4, "epochs": 2, "augmented_epochs": 2,
            "patience": 4, "cpu_image_size": 96, "cpu_epochs": 2, "cpu_learning_rate": 1e-3,
        },
        "04_transfer_learning": {
            "image_size": 224, "batch_size": 32, "head_epochs": 5, "frozen_epochs": 1, "finetune_epochs": 1,
            "unfreeze_blocks": ("block6", "block7", "top_"), "finetune_learning_rate": 5e-5,
            "cifar_train_images": 500, "cifar_test_images": 200,
        },
        "02_cifar10_overfitting": {
            "rung_images": 1_000, "batch_size": 32, "rung_epochs": 2, "patience": 1,
            "label_noise": 0.3, "es_epochs": 2, "es_val_images": 500,
            "final_train_images": 2_048, "final_val_images": 512, "final_epochs": 1, "final_batch_size": 256,
            "final_learning_rate": 2e-3, "final_weight_decay": 0.05,
        },
        "05_ensembles": {
            "train_images": 2_048, "val_images": 512, "batch_size": 128, "widths": (8, 16, 32),
            "members": 2, "member_epochs": 1, "learning_rate": 3e-3, "snapshot_cycles": 2, "cycle_epochs": 1,
            "orderings": 5, "timing_images": 256, "timing_repeats": 3,
        },
        "06_training_deep_networks": {"init_depth": 20, "init_width": 128, "init_batch": 256, "clip_steps": 120},
        "07_architectures": {"epsilon_min": 0.1, "epsilon_max": 8.0, "epsilon_steps": 12, "fgsm_iterations": 5},
        "08_cifar10_speedrun": {
            "train_images": 2_048, "val_images": 512, "whitening_images": 512, "widths": (16, 32, 32),
            "epochs": 2, "batch_size": 256, "learning_rate": 0.2, "weight_decay": 0.05, "label_smoothing": 0.2,
            "validation_every": 1, "exercise_epochs": 1, "exercise_images": 1_024, "shift": 2,
        },
    },
    "class": {
        "data": {"cats_vs_dogs_split": (1_000, 500, 500)},
        "01_conv_basics": {"photo_size": 512},
        "03_cats_vs_dogs": {
            # the lecture's convnet and learning rate on 96x96 photos (a sixth of the cost at 224) for at
            # most 20 epochs; the CPU-designed net on the same 96x96 photos for 60, without and with augmentation
            "image_size": 96, "batch_size": 32, "learning_rate": 1e-4, "epochs": 20, "augmented_epochs": 20,
            "patience": 4, "cpu_image_size": 96, "cpu_epochs": 60, "cpu_learning_rate": 1e-3,
        },
        "04_transfer_learning": {
            # EfficientNet-Lite0 at its native 224x224: features once, 2 frozen + 5 fine-tuning epochs
            "image_size": 224, "batch_size": 32, "head_epochs": 20, "frozen_epochs": 2, "finetune_epochs": 5,
            "unfreeze_blocks": ("block6", "block7", "top_"), "finetune_learning_rate": 5e-5,
            "cifar_train_images": 5_000, "cifar_test_images": 1_000,
        },
        "02_cifar10_overfitting": {
            # rungs: 3,125 images split 2,500 / 625 by validation_split=0.2, 30 epochs of batches of 32
            # each, Adam from 1e-3 with a cosine decay, about a minute a rung; early stopping: the
            # baseline on 30% random labels for 60 epochs with and without it, validated on the last
            # 5,000 training images; the final model: 45,000 training and 5,000 validation images,
            # 9 epochs, about 6 minutes
            "rung_images": 3_125, "batch_size": 32, "rung_epochs": 30, "patience": 6,
            "label_noise": 0.3, "es_epochs": 60, "es_val_images": 5_000,
            "final_train_images": 45_000, "final_val_images": 5_000, "final_epochs": 9, "final_batch_size": 256,
            "final_learning_rate": 2e-3, "final_weight_decay": 0.05,
        },
        "05_ensembles": {
            # members: small CNNs on 40,000 images for 6 epochs each (about a minute apiece); validation:
            # the last 10,000; the snapshot run and its control: 3 cycles of 6 epochs, the training cost
            # of 3 members
            "train_images": 40_000, "val_images": 10_000, "batch_size": 128, "widths": (16, 32, 64),
            "members": 5, "member_epochs": 6, "learning_rate": 3e-3, "snapshot_cycles": 3, "cycle_epochs": 6,
            "orderings": 50, "timing_images": 2_000, "timing_repeats": 7,
        },
        "06_training_deep_networks": {
            # init demo: a 50-layer stack of 256 units; 300 full-batch steps for the clipping demo
            "init_depth": 50, "init_width": 256, "init_batch": 512, "clip_steps": 300,
        },
        "07_architectures": {
            # the adversarial search: epsilon 0 (the photo itself), then 30 epsilons from 0.1 to 8 pixel units
            "epsilon_min": 0.1, "epsilon_max": 8.0, "epsilon_steps": 30, "fgsm_iterations": 10,
        },
        "08_cifar10_speedrun": {
            # the speedrun: 45,000 / 5,000 images, batch 512, one cosine cycle, at most 10 minutes of training
            # (18 epochs: about 7 minutes when the 2-core CPU runs at full speed; this host has slow spells of
            # up to 1.7x per epoch, and 20 epochs took 662 s in one of them)
            "train_images": 45_000, "val_images": 5_000, "whitening_images": 5_000, "widths": (48, 192, 192),
            "epochs": 18, "batch_size": 512, "learning_rate": 0.2, "weight_decay": 0.05, "label_smoothing": 0.2,
            "validation_every": 3, "exercise_epochs": 4, "exercise_images": 15_000, "shift": 2,
        },
    },
    "full": {
        "data": {"cats_vs_dogs_split": (1_000, 500, 500)},
        "01_conv_basics": {"photo_size": 512},
        "03_cats_vs_dogs": {
            # the lecture's protocol: 224x224, RMSprop 1e-4, up to 30 / 60 epochs with patience 4
            "image_size": 224, "batch_size": 32, "learning_rate": 1e-4, "epochs": 30, "augmented_epochs": 60,
            "patience": 4, "cpu_image_size": 180, "cpu_epochs": 40, "cpu_learning_rate": 1e-3,
        },
        "04_transfer_learning": {
            "image_size": 224, "batch_size": 32, "head_epochs": 30, "frozen_epochs": 10, "finetune_epochs": 10,
            "unfreeze_blocks": ("block6", "block7", "top_"), "finetune_learning_rate": 5e-5,
            "cifar_train_images": 50_000, "cifar_test_images": 10_000,
        },
        "02_cifar10_overfitting": {
            # the lecture's data: all 50,000 images split 40,000 / 10,000; one budget for every rung
            # (the lecture gave its rungs 10 to 100 epochs; 60 here, early stopping at most 60)
            "rung_images": 50_000, "batch_size": 128, "rung_epochs": 60, "patience": 10,
            "label_noise": 0.3, "es_epochs": 60, "es_val_images": 5_000,
            "final_train_images": 45_000, "final_val_images": 5_000, "final_epochs": 30, "final_batch_size": 256,
            "final_learning_rate": 2e-3, "final_weight_decay": 0.05,
        },
        "05_ensembles": {
            "train_images": 45_000, "val_images": 5_000, "batch_size": 128, "widths": (32, 64, 128),
            "members": 5, "member_epochs": 20, "learning_rate": 3e-3, "snapshot_cycles": 5, "cycle_epochs": 20,
            "orderings": 100, "timing_images": 10_000, "timing_repeats": 11,
        },
        "06_training_deep_networks": {"init_depth": 100, "init_width": 512, "init_batch": 1_024, "clip_steps": 1_000},
        "07_architectures": {"epsilon_min": 0.1, "epsilon_max": 8.0, "epsilon_steps": 60, "fgsm_iterations": 20},
        "08_cifar10_speedrun": {
            # airbench94's widths for the same time on a GPU
            "train_images": 45_000, "val_images": 5_000, "whitening_images": 5_000, "widths": (64, 256, 256),
            "epochs": 24, "batch_size": 512, "learning_rate": 0.2, "weight_decay": 0.05, "label_smoothing": 0.2,
            "validation_every": 4, "exercise_epochs": 12, "exercise_images": 45_000, "shift": 2,
        },
    },
}


class Settings(dict):
    """A read-only dict whose keys are also attributes: ``cfg.settings.epochs``."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"profile setting {name!r} is not defined; known: {sorted(self)}") from None

    def _readonly(self, *args, **kwargs):
        raise TypeError("profile settings are read-only; edit cnncourse/profiles.py instead")

    __setitem__ = __delitem__ = __setattr__ = update = pop = popitem = setdefault = clear = _readonly


def current_name() -> str:
    """The profile selected by ``CNNCOURSE_PROFILE``; a clear error for an unknown name."""
    name = os.environ.get(ENV_VAR, DEFAULT).strip().lower() or DEFAULT
    if name not in PROFILES:
        raise SettingError(f"{ENV_VAR}={name!r} is not a profile; choose one of {', '.join(PROFILES)}")
    return name


def settings(section: str, profile: str | None = None) -> Settings:
    """The settings of one notebook (its file stem) or of ``"data"`` in a profile."""
    profile = profile or current_name()
    table = PROFILES[profile]
    if section not in table:
        return Settings()
    return Settings(table[section])


__all__ = ["PROFILES", "ENV_VAR", "DEFAULT", "Settings", "current_name", "settings"]
