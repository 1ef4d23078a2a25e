"""Run profiles as data: how big each notebook's experiments are.

- ``quick``: CI and smoke tests; every notebook in seconds to a few minutes on a CPU.
- ``class``: live in class on a 2-core CPU; minutes per notebook, full data where the lesson needs it.
- ``full``: the lecture slides' original protocols (epochs, data sizes), meant for a GPU.

Selected by ``CNNCOURSE_PROFILE`` (default ``class``). Notebooks read their section through
``cnncourse.setup(...).settings`` and never branch on the profile name.
"""
from __future__ import annotations

import os

ENV_VAR = "CNNCOURSE_PROFILE"
DEFAULT = "class"

# Section "data" is read by cnncourse.data; the others by the notebook of that stem.
PROFILES: dict[str, dict[str, dict]] = {
    "quick": {
        "data": {"cats_vs_dogs_split": (100, 50, 50)},
        "01_conv_basics": {"photo_size": 128},
        "02_cifar10_overfitting": {
            "rung_train_images": 2_000, "rung_epochs": 2, "early_stop_epochs": 3, "patience": 1,
            "final_train_images": 2_000, "final_epochs": 1, "batch_size": 128,
        },
    },
    "class": {
        "data": {"cats_vs_dogs_split": (1_000, 500, 500)},
        "01_conv_basics": {"photo_size": 512},
        "02_cifar10_overfitting": {
            "rung_train_images": 10_000, "rung_epochs": 12, "early_stop_epochs": 30, "patience": 4,
            "final_train_images": 50_000, "final_epochs": 12, "batch_size": 128,
        },
    },
    "full": {
        "data": {"cats_vs_dogs_split": (1_000, 500, 500)},
        "01_conv_basics": {"photo_size": 512},
        "02_cifar10_overfitting": {
            # the lecture notebook: 10 epochs baseline, 40 with dropout, 100 with augmentation
            "rung_train_images": 50_000, "rung_epochs": 40, "early_stop_epochs": 100, "patience": 10,
            "final_train_images": 50_000, "final_epochs": 30, "batch_size": 128,
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
        raise ValueError(f"{ENV_VAR}={name!r} is not a profile; choose one of {', '.join(PROFILES)}")
    return name


def settings(section: str, profile: str | None = None) -> Settings:
    """The settings of one notebook (its file stem) or of ``"data"`` in a profile."""
    profile = profile or current_name()
    table = PROFILES[profile]
    if section not in table:
        return Settings()
    return Settings(table[section])


__all__ = ["PROFILES", "ENV_VAR", "DEFAULT", "Settings", "current_name", "settings"]
