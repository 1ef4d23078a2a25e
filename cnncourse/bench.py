"""``cnncourse bench``: how fast this machine trains the course's models, and what holds each one back.

Measured in one process, one run (``run_bench``):

- **the roof**: dense matrix multiplication (a square ``tf.matmul``) in float32 and in every 16-bit type the
  hardware runs natively (bfloat16 on CPUs with ``avx512_bf16``/``amx_bf16``, float16 on GPUs with tensor
  cores, bfloat16 too from compute capability 8.0); FLOP/s = 2 n^3 / t, best of a few runs. On GPUs
  TensorFlow runs float32 matmuls as TF32, as it does when training, so that is the float32 roof there.
- **training images/s** of each notebook's main models (:mod:`cnncourse.course_models`), in float32 and in
  the precision ``setup()`` picks: both copies of a model are built (the global policy set before building,
  the previous one restored after), compiled and warmed up, then timed in alternating rounds so a moment of
  background load hits both alike; the median round is reported. A round is timed from the end of its first
  step to the end of its last: ``fit``'s own set-up and tear-down are left out of the speed (on the 2-core
  development machine some ``fit`` calls waited over a second after their last step, others none) and kept in
  the JSON as ``*_fit_rounds``. Random pixels and labels of the shapes and
  dtypes the notebook feeds (one batch, repeated: the speed does not depend on the values).
- **achieved FLOP/s and the fraction of the roof**: training FLOPs per image from
  :func:`cnncourse.summary.layer_table`'s multiply-accumulates, 2 FLOPs each: the forward pass, the gradient
  for every trainable layer's weights and the gradient for every layer's input wherever a trainable layer
  lies before it. A network trained from scratch costs about 3 x 2 x MACs; fine-tuning the top of a frozen
  base (04) costs less, and so does 08's frozen whitening layer (its forward pass only, and no input gradient
  for the convolution after it). Convolutions and dense layers only: a model far below its roof spends its time
  elsewhere (depthwise convolutions, batch norm, activations, augmentation layers, per-step overhead).
- **the input pipelines** as the notebooks build them, alone: 02's arrays and 05's random crops and flips
  (``AugmentedImages``), 08's ``tf.data`` pipeline over float32 arrays (shuffle, batches of 512, random flips
  and reflected 2-pixel translations by Keras layers in ``map``, ``prefetch(2)``), and 03's and 04's JPEG
  decoding and resizing by ``image_dataset_from_directory`` (the first epoch; the notebooks ``cache()`` the
  pixels, so later epochs read memory), plus 03's augmentation layers. A model whose pipeline delivers fewer
  images/s than it trains is input-bound (``input_bound``). The JPEGs are the prepared cats-vs-dogs training
  folder when ``prepare_cats_vs_dogs()`` has built it, else photo-sized JPEGs the bench writes to a temporary
  folder.

Results: a table on stdout and ``results/bench/<machine>.json`` (``<machine>-quick.json`` for ``--quick``),
written atomically; ``machine`` is a slug of the GPU's or CPU's name and the number of CPU cores.
``--quick`` (CI) uses batches of 2, a few steps run eagerly (tracing each model's training step would take
most of its time) and small roofs: it checks that everything runs and every figure is positive and finite,
not how fast the machine is.

``precision_parity`` (``benchmarks/precision_parity.py``) trains notebook 02's modern recipe in both
precisions for a few seeds and compares test accuracy.
"""
from __future__ import annotations

import contextlib
import datetime
import gc
import io
import math
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import course_models, fileio, paths, profiles, runtime
from .errors import CourseError
from .fileio import check_writable

FORMAT = 1
SEED = 42
POLICY_DTYPE = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}
JPEG_BATCH = 32  # notebooks 03 and 04 batch 32 images


@dataclass(frozen=True)
class Plan:
    """How long to measure: ``full()`` for a machine's figures, ``quick()`` for CI."""
    quick: bool
    rounds: int                  # timed rounds per precision, alternating
    warmup: int                  # untimed steps per model copy first (tracing, oneDNN and cuDNN set-up)
    steps: int | None            # timed steps a round; None: calibrated to about seconds_per_round
    seconds_per_round: float
    batch_size: int | None       # None: each notebook's batch size
    roof_n: int | None           # matmul size; None: 2048 on CPUs, 8192 on GPUs
    roof_runs: int
    cifar_images: int            # images through the CIFAR pipelines (08's: the whole batches of 512 they fill)
    jpeg_images: int             # JPEGs decoded per image size
    run_eagerly: bool = False    # quick: no tf.function tracing (seconds per model), figures meaningless

    @classmethod
    def full(cls, rounds: int = 5) -> Plan:
        return cls(False, rounds, 5, None, 3.0, None, None, 5, 10_000, 1_000)

    @classmethod
    def quick_plan(cls) -> Plan:
        return cls(True, 1, 1, 2, 0.0, 2, 256, 2, 512, 16, run_eagerly=True)


# ---------------------------------------------------------------- names, machine, progress

def resolve_models(names) -> list[str]:
    """The models to measure, in the fixed order; ``names`` may be None (all), a list, or comma-separated."""
    if not names:
        return list(course_models.MODEL_NAMES)
    wanted = [n.strip() for item in names for n in str(item).split(",") if n.strip()]
    if not wanted:  # --models "": a mistake, not a request for the whole bench
        raise CourseError(f"no model named in {list(names)!r}; choose from {', '.join(course_models.MODEL_NAMES)}")
    unknown = [n for n in wanted if n not in course_models.MODELS]
    if unknown:
        raise CourseError(f"unknown model{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                          f"choose from {', '.join(course_models.MODEL_NAMES)}")
    return [n for n in course_models.MODEL_NAMES if n in wanted]


def cpu_model(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else what ``platform`` says."""
    with contextlib.suppress(OSError):
        for line in Path(cpuinfo).read_text(errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")) and ":" in line:
                name = line.split(":", 1)[1].strip()
                if name:
                    return name
    return platform.processor() or platform.machine() or "cpu"


def slug(text: str) -> str:
    """``'Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz'`` -> ``'intel-xeon-platinum-8481c'``."""
    text = re.sub(r"\((r|tm|c)\)|\bcpu\b|\bprocessor\b|@.*$|\d+-core", " ", text.lower())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "machine"


def machine_slug(device: runtime.Device, cores: int | None = None, cpu: str | None = None) -> str:
    """A short file-name-safe name for this machine: the GPU (or CPU) model and the number of CPU cores."""
    cores = cores or os.cpu_count() or 1
    if device.kind == "GPU":
        name = slug(device.name) + (f"-x{device.count}" if device.count > 1 else "")
    else:
        name = slug(cpu or cpu_model())
    return f"{name}-{cores}c"


class _Progress:
    """Progress on stderr: a tqdm bar in a terminal, else one line per task (logs, CI); nothing if disabled.

    ``doing(what)`` names the task under way, ``step()`` counts it done.
    """

    def __init__(self, total: int, enabled: bool = True, desc: str = "bench"):
        self.total, self.done, self.enabled, self.desc, self.what = total, 0, enabled, desc, ""
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=total, desc=desc, unit="task", file=sys.stderr, dynamic_ncols=True, leave=False)

    def doing(self, what: str) -> None:
        self.what = what
        if self.bar is not None:
            self.bar.set_postfix_str(what, refresh=True)

    def step(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
        elif self.enabled:
            print(f"{self.desc} {self.done}/{self.total}: {self.what}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@contextlib.contextmanager
def precision(policy: str):
    """Keras' global dtype policy set to ``policy`` for the block, the previous one restored after."""
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


# ---------------------------------------------------------------- (a) the roof

def roof_dtypes(device: runtime.Device, mixed_policy: str) -> list[str]:
    """float32, the 16-bit types ``device`` runs natively, and the mixed policy's (even if emulated)."""
    native = runtime.native_precisions(device)
    wanted = ["float32"] + [POLICY_DTYPE[p] for p in ("mixed_float16", "mixed_bfloat16") if p in native]
    wanted.append(POLICY_DTYPE[mixed_policy])
    return list(dict.fromkeys(wanted))


def matmul_flops(dtype: str, n: int, runs: int = 5, *, gpu: bool = False, target_seconds: float = 0.25) -> dict:
    """FLOP/s of an n x n by n x n ``tf.matmul`` in ``dtype``: 2 n^3 / t, best of ``runs`` timed runs."""
    tf = runtime.import_tensorflow()
    with tf.device("/GPU:0" if gpu else "/CPU:0"):
        a = tf.cast(tf.random.uniform((n, n), -1, 1, seed=1), dtype)
        b = tf.cast(tf.random.uniform((n, n), -1, 1, seed=2), dtype)

        def timed(reps: int) -> float:
            start = time.perf_counter()
            for _ in range(reps):
                c = tf.matmul(a, b)
            float(c[0, 0])  # waits for the device
            return (time.perf_counter() - start) / reps

        first = timed(1)  # kernel selection, thread pools
        reps = max(1, min(200, int(target_seconds / max(timed(1), first * 0.01, 1e-6))))
        best = min(timed(reps) for _ in range(runs))
    return {"dtype": dtype, "n": n, "seconds": best, "flops": 2 * n ** 3 / best, "tflops": 2 * n ** 3 / best / 1e12}


# ---------------------------------------------------------------- (b, c) training throughput

def train_flops_per_image(table) -> int:
    """Training FLOPs per image from a :func:`summary.layer_table`: 2 per multiply-accumulate for the
    forward pass, again for the weight gradient of each trainable layer, and again for the input gradient
    of each layer that has a trainable layer before it (backprop stops at the first trainable layer)."""
    rows = table[table["layer"] != "total"]
    flops, trainable_before = 0, False
    for macs, trainable in zip(rows["macs"], rows["trainable"]):
        flops += 2 * int(macs) * (1 + int(trainable_before) + int(trainable > 0))
        trainable_before |= trainable > 0
    return flops


def _labels(kind: str, n: int, rng) -> np.ndarray:
    if kind == "binary":
        return rng.integers(0, 2, (n, 1)).astype("float32")
    classes = rng.integers(0, 10, n)
    if kind == "onehot10":
        return np.eye(10, dtype="float32")[classes]
    return classes.astype("uint8")[:, None]


def random_batches(spec: course_models.CourseModel, batch_size: int, image_size: int, seed: int = SEED):
    """One batch of random pixels and labels, of the dtypes the notebook feeds, repeated forever."""
    tf = runtime.import_tensorflow()
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (batch_size, image_size, image_size, 3), dtype=np.uint8).astype(spec.input_dtype)
    y = _labels(spec.labels, batch_size, rng)
    return tf.data.Dataset.from_tensors((x, y)).repeat().prefetch(tf.data.AUTOTUNE)


def _fit(model, data, steps: int) -> float:
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)
    return time.perf_counter() - start


def _timed_round(model, data, steps: int) -> tuple[float, float]:
    """(seconds per step from the end of the first step to the end of the last, seconds of the whole ``fit``
    per step): the first is the training speed (:class:`cnncourse.training.StepClock`); the second adds
    ``fit``'s set-up and tear-down, which on the 2-core development machine sometimes waited well over a
    second after the last step (in some calls, not others)."""
    from .training import StepClock

    clock = StepClock()
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0, callbacks=[clock])
    wall = time.perf_counter() - start
    per_step = clock.seconds_per_step() if len(clock.marks) > 1 else wall / steps
    return per_step, wall / steps


def _steps_for(model, data, seconds: float, max_steps: int = 5_000) -> int:
    """Steps that take about ``seconds``: fit calls of 2, 8, 32... steps until one lasts a third of it."""
    steps = 2
    while True:
        elapsed = _fit(model, data, steps)
        if elapsed >= seconds / 3 or steps >= max_steps:
            return max(3, min(max_steps, math.ceil(steps * seconds / elapsed)))
        steps *= 4


def measure_training(spec: course_models.CourseModel, policies: list[str], plan: Plan, *, batch_size: int | None = None,
                     image_size: int | None = None, progress: _Progress | None = None) -> dict:
    """Training images/s of ``spec`` under each policy: alternating timed rounds, one copy per policy.

    Returns ``{"rates": {policy: [img/s per round, steps only]}, "fit_rates": {policy: [img/s per round, whole
    fit calls]}, "steps": steps a round, "table": layer_table,
    "params": ..., "trainable": ...}``.
    """
    import keras

    from . import summary

    batch_size = batch_size or plan.batch_size or spec.batch_size
    image_size = image_size or spec.image_size
    data = random_batches(spec, batch_size, image_size)
    models = {}
    for policy in policies:
        if progress:
            progress.doing(f"{spec.name} {policy}: build, compile, warm up")
        with precision(policy):
            keras.utils.set_random_seed(SEED)  # the same initial weights in every copy
            model = spec.build(image_size)
            spec.compile(model, 1_000)
        model.run_eagerly = plan.run_eagerly
        _fit(model, data, plan.warmup)
        models[policy] = model
        if progress:
            progress.step()
    steps = plan.steps
    if steps is None:  # about seconds_per_round for the slower copy
        if progress:
            progress.doing(f"{spec.name}: steps for {plan.seconds_per_round:g} s rounds")
        steps = max(_steps_for(m, data, plan.seconds_per_round) for m in models.values())
    rates = {policy: [] for policy in policies}
    fit_rates = {policy: [] for policy in policies}
    for r in range(plan.rounds):
        for policy, model in models.items():
            if progress:
                progress.doing(f"{spec.name} {policy}: round {r + 1}/{plan.rounds} of {steps} steps")
            per_step, per_step_fit = _timed_round(model, data, steps)
            rates[policy].append(batch_size / per_step)
            fit_rates[policy].append(batch_size / per_step_fit)
            if progress:
                progress.step()
    reference = models[policies[0]]
    table = summary.layer_table(reference)
    result = {"rates": rates, "fit_rates": fit_rates, "steps": steps, "batch_size": batch_size,
              "image_size": image_size, "table": table,
              "params": int(reference.count_params()),
              "trainable": int(sum(math.prod(w.shape) for w in reference.trainable_weights))}
    del models, model, reference
    keras.backend.clear_session()
    gc.collect()
    return result


def model_row(spec: course_models.CourseModel, measured: dict, mixed_policy: str, notebook_policy: str,
              roofs: dict) -> dict:
    """One model's figures for the table and the JSON."""
    table = measured["table"]
    flops = train_flops_per_image(table)
    rates = measured["rates"]
    f32 = rates["float32"]
    mixed = rates.get(mixed_policy, f32)
    row = {
        "name": spec.name, "notebook": spec.notebook, "description": spec.description,
        "image_size": measured["image_size"], "batch_size": measured["batch_size"], "input_dtype": spec.input_dtype,
        "params": measured["params"], "trainable_params": measured["trainable"],
        "macs_per_image": int(table["macs"].iloc[-1]), "train_flops_per_image": flops,
        "policy_mixed": mixed_policy, "notebook_policy": notebook_policy, "steps_per_round": measured["steps"],
        "img_s_float32_rounds": f32, "img_s_mixed_rounds": mixed,
        "img_s_float32_fit_rounds": measured["fit_rates"]["float32"],
        "img_s_mixed_fit_rounds": measured["fit_rates"].get(mixed_policy, measured["fit_rates"]["float32"]),
        "img_s_float32": statistics.median(f32), "img_s_mixed": statistics.median(mixed),
    }
    row["ratio"] = row["img_s_mixed"] / row["img_s_float32"]
    for key, policy in (("float32", "float32"), ("mixed", mixed_policy)):
        tflops = row[f"img_s_{key}"] * flops / 1e12
        row[f"tflops_{key}"] = tflops
        row[f"fraction_of_roof_{key}"] = tflops / roofs[POLICY_DTYPE[policy]]["tflops"]
    return row


# ---------------------------------------------------------------- (d) input pipelines

def _write_jpegs(folder: Path, count: int, seed: int = SEED) -> Path:
    """``count`` photo-like JPEGs (smooth colour fields with noise, 150 to 180 pixels a side) in cat/ and dog/."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for i in range(count):
        h, w = (int(v) for v in rng.integers(150, 181, 2))
        coarse = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        img = Image.fromarray(coarse).resize((w, h), Image.BILINEAR)
        pixels = np.asarray(img, dtype=np.int16) + rng.integers(-12, 13, (h, w, 3))
        cls = ("cat", "dog")[i % 2]
        (folder / cls).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(folder / cls / f"{i:05d}.jpg", quality=90)
    return folder


@contextlib.contextmanager
def jpeg_folder(count: int):
    """(folder, description): the prepared cats-vs-dogs training folder if it is there, else written JPEGs."""
    from .data import pets

    root = None
    with contextlib.suppress(CourseError, OSError):
        if pets.read_marker(pets.split_root()) is not None:
            root = pets.prepare_cats_vs_dogs(progress=False).root / "train"  # built already: nothing downloaded
    if root is not None:
        yield root, f"prepared cats vs dogs, split {root.parent.name}, its train folder"  # no local paths in the JSON
        return
    with tempfile.TemporaryDirectory(prefix="cnncourse-bench-") as tmp:
        yield _write_jpegs(Path(tmp), count), f"{count} JPEGs written by the bench (no prepared cats vs dogs)"


def _drain(ds) -> tuple[int, float]:
    start, n = time.perf_counter(), 0
    for x, _ in ds:
        n += int(x.shape[0])
    return n, time.perf_counter() - start


def measure_jpeg(folder: Path, image_size: int, images: int, augment: bool = False) -> dict:
    """images/s of notebook 03's and 04's loading (decode + resize, first epoch), of its cached epochs, and with
    03's augmentation layers applied to the batches."""
    tf = runtime.import_tensorflow()
    import keras

    with contextlib.redirect_stdout(io.StringIO()):  # "Found 2000 files belonging to 2 classes."
        images_ds = keras.utils.image_dataset_from_directory(
            folder, label_mode="binary", image_size=(image_size, image_size), batch_size=None, shuffle=True, seed=42)
    files = len(images_ds.file_paths)
    uncached = images_ds.repeat().take(images)
    n, seconds = _drain(uncached.batch(JPEG_BATCH).prefetch(tf.data.AUTOTUNE))
    out = {"decode": n / seconds}
    cached = uncached.cache().batch(JPEG_BATCH).prefetch(tf.data.AUTOTUNE)
    _drain(cached)  # fills the cache
    n, seconds = _drain(cached)
    out["cached"] = n / seconds
    if augment:
        layers = course_models.cats_dogs_augmentation()
        augmented = uncached.batch(JPEG_BATCH).map(lambda x, y: (layers(x, training=True), y),
                                                   num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
        _drain(augmented.take(1))  # traces the map function
        n, seconds = _drain(augmented)
        out["augment"] = n / seconds
    out["files"] = files
    return out


def measure_cifar_pipeline(augment: bool, images: int, batch_size: int = 128) -> float:
    """images/s of ``AugmentedImages`` (02's final model and 05 with ``augment``; 02's rungs without): one epoch
    of shuffling (and random crops and flips) and slicing batches, from uint8 arrays."""
    from .augment import AugmentedImages

    rng = np.random.default_rng(SEED)
    x = rng.integers(0, 256, (images, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, (images, 1)).astype("uint8")
    data = AugmentedImages(x, y, batch_size=min(batch_size, images), augment=augment, seed=SEED)
    start = time.perf_counter()
    data.on_epoch_end()
    n = sum(len(data[i][0]) for i in range(len(data)))
    return n / (time.perf_counter() - start)


def measure_speedrun_pipeline(images: int, batch_size: int = 512, shift: int = 2) -> float:
    """images/s of notebook 08's ``tf.data`` pipeline: one epoch of shuffling float32 arrays (standardised
    pixels, one-hot labels), whole batches (``drop_remainder``), random horizontal flips and translations by up
    to ``shift`` pixels (reflected at the edges) by Keras layers in ``map``, ``prefetch(2)``."""
    tf = runtime.import_tensorflow()
    import keras

    layers = keras.layers
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(images, 32, 32, 3)).astype("float32")
    y = _labels("onehot10", images, rng)
    augment = keras.Sequential([layers.RandomFlip("horizontal", seed=SEED),
                                layers.RandomTranslation(shift / 32, shift / 32, fill_mode="reflect",
                                                         interpolation="nearest", seed=SEED)])
    data = (tf.data.Dataset.from_tensor_slices((x, y))
            .shuffle(images, seed=SEED)
            .batch(min(batch_size, images), drop_remainder=True)
            .map(lambda x, y: (augment(x, training=True), y))
            .prefetch(2))
    _drain(data.take(1))  # thread pools and the augmentation layers' first call
    n, seconds = _drain(data)
    return n / seconds


PIPELINE_WHAT = {
    "cifar_arrays": "uint8 arrays shuffled and sliced into batches (02's rungs pass arrays to fit)",
    "cifar_crop_flip": "AugmentedImages: shuffled, random crops and flips in numpy (02's final model, 05)",
    "cifar_tfdata_flip_translate": "tf.data over float32 arrays: shuffled, whole batches, random flips and "
                                   "reflected 2-pixel translations by Keras layers in map, prefetch(2) (08)",
    "jpeg": "JPEG decode + resize by image_dataset_from_directory, batches of 32: the first epoch "
            "(03 and 04 cache() the pixels, later epochs read memory)",
    "jpeg_cached": "the same from the cache (epochs after the first)",
    "jpeg_augment": "decode + resize, then 03's augmentation layers on the batches (in 03 they run inside the "
                    "augmented convnet)",
}


def pipeline_key(spec: course_models.CourseModel, image_size: int) -> str:
    return f"jpeg_{image_size}" if spec.pipeline == "jpeg" else spec.pipeline


def measure_pipelines(specs: list[course_models.CourseModel], sizes: dict[str, int], plan: Plan,
                      progress: _Progress | None = None) -> tuple[list[dict], str | None]:
    """One row per pipeline the selected models use (and 03's augmentation at its image size)."""
    rows, source = [], None
    users: dict[str, list[str]] = {}
    for spec in specs:
        users.setdefault(pipeline_key(spec, sizes[spec.name]), []).append(spec.name)
    for key in ("cifar_arrays", "cifar_crop_flip"):
        if key in users:
            if progress:
                progress.doing(f"pipeline {key}")
            rate = measure_cifar_pipeline(key == "cifar_crop_flip", plan.cifar_images)
            rows.append({"name": key, "what": PIPELINE_WHAT[key], "used_by": users[key], "images": plan.cifar_images,
                         "img_s": rate})
            if progress:
                progress.step()
    key = "cifar_tfdata_flip_translate"
    if key in users:
        if progress:
            progress.doing(f"pipeline {key}")
        speedrun = profiles.settings("08_cifar10_speedrun", "class")
        batch_size = next(s.batch_size for s in specs if s.pipeline == key)
        rate = measure_speedrun_pipeline(plan.cifar_images, batch_size=batch_size, shift=speedrun.shift)
        rows.append({"name": key, "what": PIPELINE_WHAT[key], "used_by": users[key], "images": plan.cifar_images,
                     "img_s": rate})
        if progress:
            progress.step()
    jpeg_sizes = sorted({sizes[s.name] for s in specs if s.pipeline == "jpeg"})
    if jpeg_sizes:
        augment_size = sizes.get("03_lecture_convnet")
        with jpeg_folder(max(plan.jpeg_images, 2)) as (folder, source):
            for size in jpeg_sizes:
                if progress:
                    progress.doing(f"pipeline JPEG {size}x{size}")
                r = measure_jpeg(folder, size, plan.jpeg_images, augment=size == augment_size)
                key = f"jpeg_{size}"
                rows.append({"name": key, "what": PIPELINE_WHAT["jpeg"], "used_by": users.get(key, []),
                             "images": plan.jpeg_images, "img_s": r["decode"]})
                rows.append({"name": f"{key}_cached", "what": PIPELINE_WHAT["jpeg_cached"], "used_by": [],
                             "images": plan.jpeg_images, "img_s": r["cached"]})
                if "augment" in r:
                    rows.append({"name": f"{key}_augment", "what": PIPELINE_WHAT["jpeg_augment"], "used_by": [],
                                 "images": plan.jpeg_images, "img_s": r["augment"]})
                if progress:
                    progress.step()
    return rows, source


# ---------------------------------------------------------------- the run

def versions() -> dict:
    import keras
    import tensorflow as tf

    from .version import __version__
    return {"cnncourse": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "python": platform.python_version()}


def describe_device(device: runtime.Device) -> dict:
    return {"kind": device.kind, "name": device.name, "count": device.count,
            "compute_capability": list(device.compute_capability) if device.compute_capability else None,
            "cpu_model": cpu_model(), "cpu_cores": os.cpu_count() or 1,
            "cpu_bf16_flags": sorted(f for f in runtime.BF16_CPU_FLAGS if f in device.cpu_flags),
            "native_policies": sorted(runtime.native_precisions(device)),
            "platform": f"{platform.system()} {platform.machine()}"}


def output_path(machine: str, quick: bool, stem: str = "") -> Path:
    return paths.results_base() / "bench" / f"{stem}{machine}{'-quick' if quick else ''}.json"


def _check_folder(out: Path | None) -> None:
    """The OSError naming the file now if the results folder cannot be written, not after minutes of measuring."""
    folder = out.parent if out is not None else paths.results_base() / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    check_writable(out or folder / "bench.json")


def run_bench(names: list[str] | None = None, plan: Plan | None = None, *, progress: bool = True,
              out: Path | None = None) -> tuple[dict, Path]:
    """Measure, print the table, write the JSON; returns (result, path)."""
    plan = plan or Plan.full()
    names = resolve_models(names)
    specs = [course_models.MODELS[n] for n in names]
    _check_folder(out)
    runtime.import_tensorflow()  # before Keras imports it: without TensorFlow's C++ start-up messages
    import keras

    previous_policy = keras.mixed_precision.global_policy()
    try:
        cfg = runtime.setup(seed=SEED, verbose=False)
        device = cfg.device
        machine = machine_slug(device)
        out = out or output_path(machine, plan.quick)
        print(cfg.banner, flush=True)
        mixed_policy = cfg.precision
        policies = list(dict.fromkeys(["float32", mixed_policy]))
        dtypes = roof_dtypes(device, mixed_policy)
        gpu = device.kind == "GPU"
        roof_n = plan.roof_n or (8192 if gpu else 2048)
        sizes = {s.name: s.image_size for s in specs}
        pipelines = {pipeline_key(s, sizes[s.name]) for s in specs}
        tasks = len(dtypes) + len(specs) * len(policies) * (1 + plan.rounds) + len(pipelines)
        bar = _Progress(tasks, enabled=progress)
        try:
            roofs = {}
            for dtype in dtypes:
                bar.doing(f"roof: {roof_n}x{roof_n} matmul in {dtype}")
                roofs[dtype] = matmul_flops(dtype, roof_n, plan.roof_runs, gpu=gpu,
                                            target_seconds=0.05 if plan.quick else 0.25)
                bar.step()
            rows = []
            for spec in specs:
                measured = measure_training(spec, policies, plan, progress=bar)
                notebook_policy = runtime.choose_precision(device, runtime.precision_override(),
                                                           cpu_bfloat16=spec.cpu_bfloat16)
                rows.append(model_row(spec, measured, mixed_policy, notebook_policy, roofs))
            pipelines, jpeg_source = measure_pipelines(specs, sizes, plan, progress=bar)
        finally:
            bar.close()
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    by_name = {p["name"]: p for p in pipelines}
    for row in rows:
        key = pipeline_key(course_models.MODELS[row["name"]], row["image_size"])
        rate = row["img_s_mixed"] if row["notebook_policy"] == mixed_policy else row["img_s_float32"]
        row["pipeline"] = key
        row["pipeline_img_s"] = by_name[key]["img_s"]
        row["input_bound"] = bool(by_name[key]["img_s"] < rate)
    result = {
        "format": FORMAT, "machine": machine, "quick": plan.quick,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "banner": cfg.banner, "device": describe_device(device), "versions": versions(),
        "precision": {"float32": "float32", "mixed": mixed_policy, "override": runtime.precision_override()},
        "plan": asdict(plan) | {"roof_n": roof_n},
        "roof": roofs, "models": rows, "pipelines": pipelines, "jpeg_source": jpeg_source,
    }
    print(format_table(result))
    fileio.write_json_atomic(out, result)
    print(f"written: {out}")
    return result, out


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%" if x >= 0.01 else f"{100 * x:.1f}%"


def format_table(result: dict) -> str:
    """The models, the roof and the pipelines as plain-text tables."""
    mixed = result["precision"]["mixed"]
    short = {"float32": "f32", "mixed_bfloat16": "bf16", "mixed_float16": "f16"}[mixed]
    roof = result["roof"]
    lines = ["", "roof (dense matmul): " + ", ".join(
        f"{d} {r['tflops']:.3g} TFLOP/s (n={r['n']})" for d, r in roof.items())]
    head = (f"{'model':<20} {'size':>4} {'batch':>5} {'params':>9} {'MMAC/img':>8} {'f32 img/s':>9} "
            f"{short + ' img/s':>10} {'ratio':>5} {'f32 TFLOP/s':>11} {'roof':>5} {short + ' TFLOP/s':>12} "
            f"{'roof':>5} {'input img/s':>11}  bound")
    lines += ["", head, "-" * len(head)]
    for r in result["models"]:
        mark = "*" if r["notebook_policy"] != mixed and mixed != "float32" else " "
        lines.append(
            f"{r['name']:<20} {r['image_size']:>4} {r['batch_size']:>5} {r['params']:>9,} "
            f"{r['macs_per_image'] / 1e6:>8.1f} {r['img_s_float32']:>9.1f} {r['img_s_mixed']:>10.1f} "
            f"{r['ratio']:>4.2f}x{mark}{r['tflops_float32']:>10.3g} {_pct(r['fraction_of_roof_float32']):>5} "
            f"{r['tflops_mixed']:>12.3g} {_pct(r['fraction_of_roof_mixed']):>5} {r['pipeline_img_s']:>11.0f}  "
            f"{'INPUT' if r['input_bound'] else 'no'}")
    if any(r["notebook_policy"] != mixed and mixed != "float32" for r in result["models"]):
        lines.append(f"* the notebook trains it in float32 here (setup(cpu_bfloat16=False)), not {mixed}")
    lines += ["", f"{'input pipeline':<28} {'img/s':>9}  used by", "-" * 66]
    for p in result["pipelines"]:
        lines.append(f"{p['name']:<28} {p['img_s']:>9.0f}  {', '.join(p['used_by']) or '-'}")
    if result.get("jpeg_source"):
        lines.append(f"JPEGs: {result['jpeg_source']}")
    if result["quick"]:
        lines.append("--quick: batches of 2, two eager steps, tiny roofs: these figures say nothing about the machine")
    lines.append("training FLOPs = 2 x multiply-accumulates for the forward pass, each trainable layer's weight "
                 "gradient and each input gradient backprop needs; 'bound': INPUT when the pipeline alone "
                 "delivers fewer images/s than the model trains at the notebook's precision")
    return "\n".join(lines)


# ---------------------------------------------------------------- precision parity (benchmarks/precision_parity.py)

def _spread(values: list[float]) -> dict:
    return {"values": values, "mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0, "min": min(values), "max": max(values)}


def parity_verdict(summary: dict, policies: list[str], seeds: int) -> str:
    """Whether the 16-bit policy loses more test accuracy than the seeds' spread."""
    if len(policies) == 1:
        return f"setup() picks {policies[0]} here: nothing to compare"
    f32, mixed = summary[policies[0]]["test_accuracy"], summary[policies[1]]["test_accuracy"]
    loss = f32["mean"] - mixed["mean"]
    spread = max(f32["std"], mixed["std"])
    if seeds < 2:
        return f"{policies[1]} vs float32: {-100 * loss:+.2f} points with one seed; no spread to judge it by"
    if loss > spread:
        return (f"{policies[1]} loses {100 * loss:.2f} points of test accuracy to float32, more than the seed "
                f"spread ({100 * spread:.2f} points): setup() should change its default here (float32 for this "
                f"recipe), or the recipe should be fixed for 16-bit training")
    return (f"{policies[1]} vs float32: {-100 * loss:+.2f} points, within the seed spread "
            f"({100 * spread:.2f} points): setup()'s default can stay")


def precision_parity(*, epochs: int = 4, seeds: int = 3, quick: bool = False, train_images: int | None = None,
                     test_images: int | None = None, progress: bool = True, out: Path | None = None
                     ) -> tuple[dict, Path]:
    """Train notebook 02's modern recipe for ``epochs`` in float32 and in the policy ``setup()`` picks, ``seeds``
    seeds each (the same seed gives both the same initial weights and batches); test accuracy's mean and spread.

    ``quick``: 512 training and 500 test images, 1 epoch, 1 seed (a test of the plumbing).
    """
    if quick:
        epochs, seeds, train_images, test_images = 1, 1, train_images or 512, test_images or 500
    if epochs < 1 or seeds < 1:
        raise CourseError(f"epochs and seeds must be at least 1, not {epochs} and {seeds}")
    s = profiles.settings("02_cifar10_overfitting", "class")
    _check_folder(out)
    runtime.import_tensorflow()
    import keras

    from .augment import AugmentedImages, flip_tta_predict
    from .data import load_cifar10

    previous_policy = keras.mixed_precision.global_policy()
    try:
        cfg = runtime.setup(seed=SEED, notebook="02_cifar10_overfitting", verbose=False)
        machine = machine_slug(cfg.device)
        out = out or output_path(machine, quick, stem="precision_parity_")
        print(cfg.banner, flush=True)
        (x_train, y_train), (x_test, y_test) = load_cifar10()
        n_train = min(train_images or s.final_train_images, len(x_train))
        x_fit, y_fit = x_train[:n_train], keras.utils.to_categorical(y_train[:n_train], 10)
        x_test, y_test = x_test[:test_images or len(x_test)], y_test[:test_images or len(y_test)]
        policies = list(dict.fromkeys(["float32", cfg.precision]))
        batch_size = min(s.final_batch_size, n_train)
        steps_per_epoch = n_train // batch_size
        runs = []
        bar = _Progress(seeds * len(policies) * epochs, enabled=progress, desc="precision parity")

        class _Tick(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                bar.step()

        try:
            for seed in range(seeds):
                for policy in policies:
                    bar.doing(f"seed {seed} {policy}")
                    with precision(policy):
                        keras.utils.set_random_seed(seed)
                        model = course_models.modern_cnn()
                        course_models.compile_modern_cnn(model, epochs * steps_per_epoch)
                    data = AugmentedImages(x_fit, y_fit, batch_size=batch_size, augment=True, seed=seed)
                    start = time.perf_counter()
                    model.fit(data, epochs=epochs, verbose=0, callbacks=[_Tick()])
                    seconds = time.perf_counter() - start
                    plain = model.evaluate(x_test, keras.utils.to_categorical(y_test, 10), batch_size=1000,
                                           verbose=0)[1]
                    tta = float(np.mean(flip_tta_predict(model, x_test).argmax(axis=1) == y_test[:, 0]))
                    runs.append({"seed": seed, "policy": policy, "test_accuracy": float(plain),
                                 "test_accuracy_tta": tta, "seconds": seconds})
                    del model
                    keras.backend.clear_session()
                    gc.collect()
        finally:
            bar.close()
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    summary = {p: {k: _spread([r[k] for r in runs if r["policy"] == p])
                   for k in ("test_accuracy", "test_accuracy_tta", "seconds")} for p in policies}
    verdict = parity_verdict(summary, policies, seeds)
    result = {"format": FORMAT, "machine": machine, "quick": quick,
              "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
              "banner": cfg.banner, "device": describe_device(cfg.device), "versions": versions(),
              "recipe": {"model": "02_modern_cnn", "epochs": epochs, "seeds": seeds, "train_images": n_train,
                         "test_images": len(x_test), "batch_size": batch_size,
                         "learning_rate": s.final_learning_rate, "weight_decay": s.final_weight_decay},
              "policies": policies, "runs": runs, "summary": summary, "verdict": verdict}
    print(format_parity(result))
    fileio.write_json_atomic(out, result)
    print(f"written: {out}")
    return result, out


def format_parity(result: dict) -> str:
    rec = result["recipe"]
    lines = ["", f"notebook 02's modern recipe: {rec['epochs']} epochs on {rec['train_images']:,} images, "
                 f"{rec['seeds']} seed(s), test on {rec['test_images']:,} images",
             f"{'policy':<16} {'test acc (mean)':>15} {'std':>6} {'min':>6} {'max':>6} {'with flip TTA':>13} "
             f"{'s/run':>6}"]
    for policy in result["policies"]:
        acc, tta = result["summary"][policy]["test_accuracy"], result["summary"][policy]["test_accuracy_tta"]
        lines.append(f"{policy:<16} {100 * acc['mean']:>14.2f}% {100 * acc['std']:>6.2f} {100 * acc['min']:>6.2f} "
                     f"{100 * acc['max']:>6.2f} {100 * tta['mean']:>12.2f}% "
                     f"{result['summary'][policy]['seconds']['mean']:>6.0f}")
    lines.append(f"verdict: {result['verdict']}")
    return "\n".join(lines)


__all__ = ["Plan", "resolve_models", "machine_slug", "matmul_flops", "measure_training", "train_flops_per_image",
           "measure_pipelines", "run_bench", "format_table", "precision_parity", "parity_verdict"]
