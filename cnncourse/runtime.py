"""``cnncourse.setup()``: the one call at the top of every notebook.

It seeds, finds the device, picks a precision policy, quiets TensorFlow's C++ logs, reads the
profile, and prints a one-line banner. Device and policy choice are pure functions of what was
detected, so tests can feed them fake CPU flags and GPU lists.
"""
from __future__ import annotations

import contextlib
import os
import platform
import random
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from . import profiles
from .errors import SettingError

PRECISION_ENV = "CNNCOURSE_PRECISION"
SEED_ENV = "CNNCOURSE_SEED"  # set by ``cnncourse run --seed N``: the notebook's own seed is replaced by N
POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
# CPU flags (as /proc/cpuinfo spells them) that mean native bfloat16 matrix instructions.
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


@dataclass(frozen=True)
class Device:
    kind: str                      # "GPU" or "CPU"
    name: str                      # e.g. "NVIDIA H100" or "CPU x2"
    count: int = 1
    compute_capability: tuple[int, int] | None = None
    cpu_flags: frozenset = field(default_factory=frozenset)

    def describe(self) -> str:
        if self.kind == "GPU":
            cc = f", cc {self.compute_capability[0]}.{self.compute_capability[1]}" if self.compute_capability else ""
            return f"GPU x{self.count} ({self.name}{cc})"
        extras = [f.upper().replace("_", "-") for f in BF16_CPU_FLAGS if f in self.cpu_flags]
        return f"{self.name}" + (f" ({', '.join(extras)})" if extras else "")


@dataclass(frozen=True)
class Config:
    """What ``setup()`` decided; notebooks read ``settings`` for their experiment sizes."""
    seed: int
    profile: str
    precision: str
    device: Device
    notebook: str | None
    settings: profiles.Settings
    banner: str
    started: float
    seed_overridden: bool = False   # True when CNNCOURSE_SEED replaced the notebook's seed


def seed_override(value: str | None = None) -> int | None:
    """``CNNCOURSE_SEED`` as an int (``cnncourse run --seed 7``), None when unset; a clear error otherwise."""
    raw = os.environ.get(SEED_ENV, "") if value is None else value
    raw = raw.strip()
    if not raw:
        return None
    try:
        seed = int(raw)
    except ValueError:
        raise SettingError(f"{SEED_ENV}={raw!r} is not a seed; give a whole number such as 7") from None
    if seed < 0:
        raise SettingError(f"{SEED_ENV}={raw!r} is not a seed; give a whole number of 0 or more")
    return seed


def read_cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset:
    """CPU feature flags from the OS (Linux); empty where the file does not exist."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def check_precision(value: str, where: str, remedy: str) -> str:
    """``value`` when it names a Keras policy; else one SettingError that says ``where`` it came from."""
    if value not in POLICIES:
        raise SettingError(f"{where} is not a precision; choose one of {', '.join(POLICIES)} ({remedy})")
    return value


def precision_override(value: str | None = None) -> str | None:
    """The policy ``CNNCOURSE_PRECISION`` asks for (None when unset); SettingError for an unknown name."""
    value = os.environ.get(PRECISION_ENV) if value is None else value
    value = (value or "").strip().lower()
    if not value:
        return None
    return check_precision(value, f"{PRECISION_ENV}={value!r}", "or unset it to let setup() choose")


def native_precisions(device: Device) -> set[str]:
    """The policies the hardware runs natively: float16 needs tensor cores (cc >= 7.0), bfloat16
    needs cc >= 8.0 on GPUs or the bf16 instructions on CPUs."""
    native = {"float32"}
    if device.kind == "GPU":
        cc = device.compute_capability or (0, 0)
        native |= {"mixed_float16"} if cc >= (7, 0) else set()
        native |= {"mixed_bfloat16"} if cc >= (8, 0) else set()
    elif any(flag in device.cpu_flags for flag in BF16_CPU_FLAGS):
        native.add("mixed_bfloat16")
    return native


def precision_warning(device: Device, precision: str) -> str | None:
    """One line when ``precision`` (an override) is not native on ``device``, in the banner's terms."""
    if precision in native_precisions(device):
        return None
    default = choose_precision(device)
    return (f"warning: precision={precision} (from {PRECISION_ENV}) is not native on {device.describe()}: it runs, "
            f"but slower than precision={default}, which setup() picks here; unset {PRECISION_ENV} to use it")


def choose_precision(device: Device, override: str | None = None, *, cpu_bfloat16: bool = True) -> str:
    """mixed_float16 on GPUs with tensor cores (cc >= 7.0), mixed_bfloat16 on CPUs with native
    bf16 (unless ``cpu_bfloat16=False``), float32 otherwise. ``override`` (from ``CNNCOURSE_PRECISION``)
    wins when valid."""
    if override:
        return precision_override(override)
    if device.kind == "GPU":
        cc = device.compute_capability
        return "mixed_float16" if cc is not None and cc >= (7, 0) else "float32"
    if cpu_bfloat16 and any(flag in device.cpu_flags for flag in BF16_CPU_FLAGS):
        return "mixed_bfloat16"
    return "float32"


def _quiet_tensorflow() -> None:
    # Must happen before TensorFlow is imported: its C++ logging reads these once.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@contextlib.contextmanager
def _silenced_stderr_fd():
    """Send the process's file descriptor 2 to /dev/null for a moment.

    TensorFlow's C++ start-up messages ("oneDNN custom operations are on", "could not find cuda
    drivers", cuInit errors) are written by abseil before any log level applies, and ipykernel
    forwards fd 2 into notebook outputs. Python-level errors still surface as exceptions.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (some embedded interpreters): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow():
    """Import TensorFlow (and list its devices once) without its C++ start-up noise."""
    _quiet_tensorflow()
    with _silenced_stderr_fd():
        import tensorflow as tf
        tf.config.list_physical_devices("GPU")  # triggers the CUDA probe while fd 2 is silenced
    return tf


def detect_device(tf=None) -> Device:
    """The GPUs TensorFlow sees, else the CPU with its flags."""
    if tf is None:
        tf = import_tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0]) or {}
        return Device("GPU", details.get("device_name", "GPU"), len(gpus), details.get("compute_capability"))
    return Device("CPU", f"CPU x{os.cpu_count() or 1}", 1, None, read_cpu_flags())


def enable_memory_growth(tf) -> None:
    """Let TensorFlow take GPU memory as needed, so several notebooks can share one GPU."""
    for gpu in tf.config.list_physical_devices("GPU"):
        # RuntimeError: the GPU is already initialised and the setting can no longer change
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(gpu, True)


def make_banner(versions: dict, device: Device, precision: str, profile: str) -> str:
    return (f"cnncourse {versions['cnncourse']} | TensorFlow {versions['tensorflow']}, Keras {versions['keras']}"
            f" | {device.describe()} | precision={precision} | profile={profile}")


_CURRENT: Config | None = None
_WARNED: set = set()  # (precision, device) pairs already warned about in this process


def setup(seed: int = 42, notebook: str | None = None, *, precision: str | None = None, cpu_bfloat16: bool = True,
          verbose: bool = True) -> Config:
    """Seed Python, numpy and Keras; pick device and precision; read the profile; print a banner.

    ``notebook`` names the notebook's section in the profile and where its results are recorded
    (e.g. ``"02_cifar10_overfitting"``); ``CNNCOURSE_NOTEBOOK`` sets it for scripts.
    ``precision`` (``"float32"``, ``"mixed_float16"`` or ``"mixed_bfloat16"``) fixes the Keras policy for a
    notebook that needs the same numbers on every machine (01 uses float32); ``CNNCOURSE_PRECISION`` still wins.
    ``cpu_bfloat16=False`` keeps float32 on CPUs even where they have bfloat16 instructions: for
    notebooks whose networks are mostly depthwise convolutions (EfficientNet, MobileNet), which
    TensorFlow's CPU kernels run slower in bfloat16 than in float32. GPUs are unaffected.
    ``CNNCOURSE_SEED`` (set by ``cnncourse run --seed N``) replaces ``seed``, so the same notebook runs
    with a second seed; the banner then says so, and results are recorded under ``seed<N>/``.
    """
    global _CURRENT
    profile = profiles.current_name()  # bad settings fail before the slow TensorFlow import
    forced_seed = seed_override()
    seed_overridden = forced_seed is not None and forced_seed != seed
    seed = seed if forced_seed is None else forced_seed
    override = precision_override()
    if precision is not None:  # a bad name fails here, before the TensorFlow import
        check_precision(precision, f"setup(precision={precision!r})", "or leave it out")
    chosen = precision
    import numpy as np
    tf = import_tensorflow()
    import keras

    from .version import __version__

    tf.get_logger().setLevel("ERROR")
    try:
        import absl.logging
        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass

    device = detect_device(tf)
    if device.kind == "GPU":
        enable_memory_growth(tf)
    precision = choose_precision(device, override or chosen, cpu_bfloat16=cpu_bfloat16)
    keras.mixed_precision.set_global_policy(precision)
    # Keras 3.15 warns on every fit(dataset) that its default shuffle=True is ignored for a tf.data
    # pipeline: true and harmless (the notebooks shuffle in the pipeline), but a red box in class
    warnings.filterwarnings("ignore", message=r"`shuffle=True` was passed, but will be ignored", category=UserWarning)

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)  # seeds Python, numpy and the backend together

    notebook = notebook or os.environ.get("CNNCOURSE_NOTEBOOK") or None
    versions = {"cnncourse": __version__, "tensorflow": tf.__version__, "keras": keras.__version__}
    banner = make_banner(versions, device, precision, profile)
    if seed_overridden:
        banner += f" | seed={seed} ({SEED_ENV})"
    if verbose:
        print(banner)
    warning = precision_warning(device, precision) if override else None
    if warning and (precision, device) not in _WARNED:  # honoured, but said once per process
        _WARNED.add((precision, device))
        print(warning, file=sys.stderr)
    _CURRENT = Config(seed, profile, precision, device, notebook,
                      profiles.settings(notebook, profile) if notebook else profiles.Settings(),
                      banner, time.time(), seed_overridden)
    return _CURRENT


def current() -> Config | None:
    """The config of the last ``setup()`` call in this process, if any."""
    return _CURRENT


def python_info() -> str:
    return f"Python {platform.python_version()} on {platform.system()} {platform.machine()}"
