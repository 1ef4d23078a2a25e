"""The notebooks' main models, built exactly as the notebooks build them, for ``cnncourse bench``.

Each builder is a copy of a notebook's definition (same layers, arguments and order; the notebook
cell is named in its docstring), and :data:`MODELS` adds what the notebook trains it with: image
size and batch size (the ``class`` profile's, from :mod:`cnncourse.profiles`), input dtype, labels,
optimizer and loss. ``tests/test_bench.py`` checks every parameter count against the number the
notebook prints. Change a model in its notebook, change it here too.

- 02: ``lecture_cnn`` (the baseline rung) and ``modern_cnn`` (the final recipe)
- 03: ``lecture_convnet`` at the class image size (96) and ``cpu_convnet`` at 96
- 04: ``lite0_finetune``: EfficientNet-Lite0 with blocks 6, 7 and the top unfrozen (phase B)
- 05: ``small_cnn``: the ensemble members (3x3, two convolutions a stage) and the 5x5 variant
- 08: ``speedrun_net`` behind ``whitening_kernel``'s frozen layer, ``compile_speedrun`` and ``Lookahead``
  (also used by ``benchmarks/speedrun_ablation.py``)

The convolution, batch norm and ReLU block that 02, 03 and 05 write out is one helper here
(``conv_bn_relu``); notebook 03 writes its ReLU as ``layers.ReLU()``, the same function as
``layers.Activation("relu")``.

Importing this module is cheap; TensorFlow is imported by the first builder called.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import profiles


def _keras():
    from .runtime import import_tensorflow

    import_tensorflow()
    import keras
    return keras


def _settings(notebook: str) -> profiles.Settings:
    return profiles.settings(notebook, "class")  # fixed sizes: figures compare across machines


def conv_bn_relu(x, filters, kernel=3, strides=1, **conv_kwargs):
    """A bias-free convolution, batch norm (its offset replaces the bias) and ReLU: the block of 02's modern
    recipe, 03's CPU convnet and 05's members."""
    keras = _keras()
    from .layers import FastBatchNormalization

    x = keras.layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, **conv_kwargs)(x)
    x = FastBatchNormalization()(x)
    return keras.layers.Activation("relu")(x)


# ---------------------------------------------------------------- 02_cifar10_overfitting

def lecture_cnn(dropout=0.0, batch_norm=False, augmentation=None, name="baseline"):
    """Notebook 02, ``lecture_cnn`` (558,186 parameters with the defaults: the baseline rung; ``batch_norm``: rung 3,
    ``dropout``: rung 2, dropout on the flattened features)."""
    keras = _keras()
    from .layers import FastBatchNormalization

    layers = keras.layers
    inputs = keras.Input(shape=(32, 32, 3), dtype="uint8")
    x = layers.Rescaling(1 / 255)(inputs)
    if augmentation is not None:
        x = augmentation(x)
    for filters in (32, 64, 128):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        if batch_norm:
            x = FastBatchNormalization()(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def modern_cnn(widths=(32, 64, 128, 256), name="modern"):
    """Notebook 02, ``modern_cnn`` (1,177,706 parameters, 1,175,786 trainable)."""
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=(32, 32, 3), dtype="uint8")
    x = layers.Rescaling(1 / 255)(inputs)
    for filters in widths:
        for _ in range(2):
            x = conv_bn_relu(x, filters, kernel_initializer="he_normal")
        x = layers.MaxPooling2D()(x)
    x = layers.GlobalMaxPooling2D()(x)
    outputs = layers.Dense(10, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def compile_lecture_cnn(model, steps: int) -> None:
    """Notebook 02's ``compiled``: Adam, sparse categorical cross-entropy."""
    keras = _keras()
    model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def compile_modern_cnn(model, steps: int) -> None:
    """Notebook 02's final recipe: AdamW with a 20% warm-up and cosine decay, label smoothing 0.1."""
    keras = _keras()
    s = _settings("02_cifar10_overfitting")
    steps = max(steps, 2)
    warmup = max(int(0.2 * steps), 1)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0, warmup_target=s.final_learning_rate, warmup_steps=warmup,
        decay_steps=steps - warmup, alpha=0.0)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=s.final_weight_decay),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1), metrics=["accuracy"])


# ---------------------------------------------------------------- 03_cats_vs_dogs

def lecture_convnet(image_size, augmentation=None, dropout=None, name="convnet"):
    """Notebook 03, ``lecture_convnet`` (506,593 parameters at 96x96, 2,603,745 at 224x224)."""
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=(image_size, image_size, 3))
    x = augmentation(inputs) if augmentation is not None else inputs
    x = layers.Rescaling(1 / 255)(x)
    for filters in (128, 128, 64, 32):
        x = layers.Conv2D(filters, kernel_size=3, activation="relu")(x)
        x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Flatten()(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    x = layers.Dense(512, activation="relu")(x)
    outputs = layers.Dense(1, activation="sigmoid", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def cats_dogs_augmentation():
    """Notebook 03's ``augmentation`` (for the augmented convnet; the input pipeline figure uses it)."""
    keras = _keras()
    layers = keras.layers
    return keras.Sequential([
        layers.RandomFlip("horizontal"),
        layers.RandomRotation(0.1),                # up to ±10% of a full turn (±36 degrees)
        layers.RandomZoom(0.2),                    # zoom in or out by up to 20%
        layers.RandomTranslation(0.2, 0.2),        # shift by up to 20% of the height and width
    ], name="augmentation")


def cpu_convnet(image_size, widths=(32, 64, 128, 256), name="cpu_convnet"):
    """Notebook 03, ``cpu_convnet`` (1,184,737 parameters; 140,009,728 multiply-accumulates at 96x96)."""
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=(image_size, image_size, 3))
    x = layers.RandomFlip("horizontal")(inputs)
    x = layers.RandomTranslation(0.1, 0.1)(x)
    x = layers.RandomZoom(0.1)(x)
    x = layers.Rescaling(1 / 127.5, offset=-1)(x)          # pixels to [-1, 1]
    x = conv_bn_relu(x, widths[0], strides=2)               # the strided stem
    for i, filters in enumerate(widths):
        x = conv_bn_relu(x, filters)
        x = conv_bn_relu(x, filters)
        if i < len(widths) - 1:
            x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(1, activation="sigmoid", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def compile_lecture_convnet(model, steps: int) -> None:
    """Notebook 03: RMSprop at the profile's learning rate (the lecture's 1e-4), binary cross-entropy."""
    keras = _keras()
    s = _settings("03_cats_vs_dogs")
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=s.learning_rate),
                  loss="binary_crossentropy", metrics=["accuracy"])


def compile_cpu_convnet(model, steps: int) -> None:
    """Notebook 03's CPU convnet: Adam with a 10% warm-up and cosine decay."""
    keras = _keras()
    s = _settings("03_cats_vs_dogs")
    steps = max(steps, 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0, decay_steps=steps - steps // 10, warmup_target=s.cpu_learning_rate,
        warmup_steps=steps // 10)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule),
                  loss="binary_crossentropy", metrics=["accuracy"])


# ---------------------------------------------------------------- 04_transfer_learning

def lite0_finetune(image_size, unfreeze_blocks=None, weights=None, name="lite0_transfer"):
    """Notebook 04's fine-tuned model in phase B (3,414,305 parameters, 2,645,665 trainable).

    The base as in notebook 04 (``backbone("efficientnet_lite0", include_top=False, pooling="avg")``), light
    augmentation, the base called with ``training=False``, dropout and a sigmoid unit; then the top blocks
    (the profile's ``unfreeze_blocks``) trainable except their BatchNormalization layers. ``weights=None``
    (random) by default: the speed does not depend on them, and no file is read.
    """
    keras = _keras()
    from . import pretrained

    layers = keras.layers
    if unfreeze_blocks is None:
        unfreeze_blocks = _settings("04_transfer_learning").unfreeze_blocks
    base = pretrained.backbone("efficientnet_lite0", include_top=False, pooling="avg",
                               input_shape=(image_size, image_size, 3), weights=weights)
    base.trainable = False

    inputs = keras.Input(shape=(image_size, image_size, 3))
    x = layers.RandomFlip("horizontal")(inputs)         # light augmentation: the base already generalises
    x = layers.RandomRotation(0.05)(x)
    x = layers.RandomZoom(0.1)(x)
    x = base(x, training=False)                        # preprocessing is inside: 0..255 pixels in
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="sigmoid", dtype="float32")(x)
    model = keras.Model(inputs, outputs, name=name)

    base.trainable = True
    for layer in base.layers:   # every layer's flag set explicitly: the top blocks train, BN layers never
        in_top_blocks = layer.name.startswith(tuple(unfreeze_blocks))
        layer.trainable = in_top_blocks and not isinstance(layer, layers.BatchNormalization)
    return model


def compile_lite0_finetune(model, steps: int) -> None:
    """Notebook 04, phase B: RMSprop at the fine-tuning learning rate, binary cross-entropy."""
    keras = _keras()
    s = _settings("04_transfer_learning")
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=s.finetune_learning_rate),
                  loss="binary_crossentropy", metrics=["accuracy"])


# ---------------------------------------------------------------- 05_ensembles

def small_cnn(name, widths=None, kernel=3, convs=2):
    """Notebook 05, ``small_cnn``: the ensemble members (widths: the profile's, (16, 32, 64) in class: 73,402
    parameters; ``kernel=5, convs=1``: 66,298)."""
    keras = _keras()
    layers = keras.layers
    widths = _settings("05_ensembles").widths if widths is None else widths
    inputs = keras.Input(shape=(32, 32, 3), dtype="uint8")
    x = layers.Rescaling(1 / 255)(inputs)
    for filters in widths:
        for _ in range(convs):
            x = conv_bn_relu(x, filters, kernel)
        x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(10, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def compile_small_cnn(model, steps: int) -> None:
    """Notebook 05's ``train``: AdamW (weight decay 0.05) with a 10% warm-up and cosine decay."""
    keras = _keras()
    s = _settings("05_ensembles")
    steps = max(steps, 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=steps - steps // 10, warmup_target=s.learning_rate, warmup_steps=steps // 10)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.05),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])


# ---------------------------------------------------------------- 08_cifar10_speedrun

def whitening_kernel(images, eps=5e-4):
    """Notebook 08, ``whitening_kernel``: the 2x2 patch-whitening filters and their negatives, (2, 2, 3, 24)."""
    import numpy as np

    patches = np.lib.stride_tricks.sliding_window_view(images, (2, 2), axis=(1, 2))
    patches = patches.transpose(0, 1, 2, 4, 5, 3).reshape(-1, 12)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(patches, rowvar=False))
    filters = (eigenvectors / np.sqrt(eigenvalues + eps)).T.reshape(12, 2, 2, 3).transpose(1, 2, 3, 0)
    return np.concatenate([filters, -filters], axis=-1).astype("float32")


def _speedrun_conv_bn(x, filters, pool=False, batch_norm=None):
    keras = _keras()
    from .layers import FastBatchNormalization

    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    if pool:
        x = keras.layers.MaxPooling2D()(x)
    x = (batch_norm or (lambda: FastBatchNormalization(momentum=0.9)))()(x)
    return keras.layers.Activation("relu")(x)


def speedrun_net(kernel=None, widths=None, batch_norm=None):
    """Notebook 08, ``speedrun_net`` (widths: the profile's, (48, 192, 192) in class: 1,115,050 parameters).

    ``kernel=None`` gives the ablation without whitening: the same 2x2 layer of 24 filters, trainable and
    randomly initialised. ``batch_norm``: a zero-argument layer factory replacing the fused batch norm."""
    keras = _keras()
    layers = keras.layers
    widths = _settings("08_cifar10_speedrun").widths if widths is None else widths
    inputs = keras.Input(shape=(32, 32, 3))
    whiten = layers.Conv2D(24, 2, use_bias=False, trainable=kernel is None, name="whiten")
    x = layers.Activation("relu")(whiten(inputs))
    if kernel is not None:
        whiten.set_weights([kernel])
    for filters in widths:
        x = _speedrun_conv_bn(x, filters, pool=True, batch_norm=batch_norm)
        x = _speedrun_conv_bn(x, filters, batch_norm=batch_norm)
    x = layers.GlobalMaxPooling2D()(x)
    outputs = layers.Dense(10, dtype="float32")(x)
    return keras.Model(inputs, outputs, name="speedrun")


def compile_speedrun(model, steps: int, learning_rate=None, label_smoothing=None, schedule=True,
                     weight_decay=None) -> None:
    """Notebook 08: Nesterov SGD, a 25% warm-up and cosine decay to zero, decoupled weight decay, label
    smoothing, logits in. ``schedule=False``: the ablation with a constant learning rate."""
    keras = _keras()
    s = _settings("08_cifar10_speedrun")
    peak = s.learning_rate if learning_rate is None else learning_rate
    steps = max(steps, 4)
    rate = peak if not schedule else keras.optimizers.schedules.CosineDecay(
        0.0, warmup_target=peak, warmup_steps=steps // 4, decay_steps=steps - steps // 4, alpha=0.0)
    smoothing = s.label_smoothing if label_smoothing is None else label_smoothing
    decay = s.weight_decay if weight_decay is None else weight_decay
    model.compile(optimizer=keras.optimizers.SGD(rate, momentum=0.9, nesterov=True, weight_decay=decay),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=smoothing),
                  metrics=["accuracy"])


def lookahead_callback(every=5, alpha=0.5):
    """Notebook 08's ``Lookahead``: every ``every`` steps the slow weights (batch-norm statistics included)
    move ``alpha`` of the way to the fast ones, and the fast ones restart from them."""
    keras = _keras()

    class Lookahead(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.slow = [w.numpy() for w in self.model.weights]
            self.step = 0

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if self.step % every == 0:
                for slow, w in zip(self.slow, self.model.weights):
                    slow += alpha * (w.numpy() - slow)
                    w.assign(slow)

    return Lookahead()


# ---------------------------------------------------------------- the list the bench measures

@dataclass(frozen=True)
class CourseModel:
    """One notebook model as the bench trains it."""
    name: str
    notebook: str
    description: str
    build: Callable           # image_size -> an uncompiled keras.Model
    compile: Callable         # (model, steps) -> None: the notebook's optimizer, loss and metrics
    image_size: int
    batch_size: int
    input_dtype: str          # what the notebook feeds: uint8 arrays (02, 05) or float32 from tf.data (03, 04, 08)
    labels: str               # "sparse10" (integer class, shape (n, 1)), "onehot10" or "binary"
    pipeline: str             # how the notebook feeds it: "cifar_arrays", "cifar_crop_flip", "jpeg",
    #                           or "cifar_tfdata_flip_translate" (08); see bench
    cpu_bfloat16: bool = True  # the notebook's setup(cpu_bfloat16=...)


def _class(notebook: str, key: str):
    return _settings(notebook)[key]


def _speedrun_random_whitening(image_size):
    """Notebook 08's model behind its frozen whitening layer, the filters computed from random standardised
    images (the speed does not depend on them; no data set is read)."""
    import numpy as np

    images = np.random.default_rng(0).normal(size=(256, 32, 32, 3)).astype("float32")
    return speedrun_net(whitening_kernel(images))


MODELS: dict[str, CourseModel] = {m.name: m for m in (
    CourseModel("02_lecture_cnn", "02_cifar10_overfitting", "the lecture's CNN (baseline rung)",
                lambda size: lecture_cnn(), compile_lecture_cnn, 32,
                _class("02_cifar10_overfitting", "batch_size"), "uint8", "sparse10", "cifar_arrays"),
    CourseModel("02_modern_cnn", "02_cifar10_overfitting", "the modern recipe (final model)",
                lambda size: modern_cnn(), compile_modern_cnn, 32,
                _class("02_cifar10_overfitting", "final_batch_size"), "uint8", "onehot10", "cifar_crop_flip"),
    CourseModel("03_lecture_convnet", "03_cats_vs_dogs", "the lecture's convnet",
                lambda size: lecture_convnet(size), compile_lecture_convnet,
                _class("03_cats_vs_dogs", "image_size"), _class("03_cats_vs_dogs", "batch_size"),
                "float32", "binary", "jpeg"),
    CourseModel("03_cpu_convnet", "03_cats_vs_dogs", "the CPU-designed convnet",
                lambda size: cpu_convnet(size), compile_cpu_convnet,
                _class("03_cats_vs_dogs", "cpu_image_size"), _class("03_cats_vs_dogs", "batch_size"),
                "float32", "binary", "jpeg"),
    CourseModel("04_lite0_finetune", "04_transfer_learning", "EfficientNet-Lite0 fine-tuning (phase B)",
                lambda size: lite0_finetune(size), compile_lite0_finetune,
                _class("04_transfer_learning", "image_size"), _class("04_transfer_learning", "batch_size"),
                "float32", "binary", "jpeg", cpu_bfloat16=False),
    CourseModel("05_member", "05_ensembles", "ensemble member (3x3, two convolutions a stage)",
                lambda size: small_cnn("member_1"), compile_small_cnn, 32,
                _class("05_ensembles", "batch_size"), "uint8", "sparse10", "cifar_crop_flip"),
    CourseModel("05_member_5x5", "05_ensembles", "ensemble member (5x5, one convolution a stage)",
                lambda size: small_cnn("five_by_five", kernel=5, convs=1), compile_small_cnn, 32,
                _class("05_ensembles", "batch_size"), "uint8", "sparse10", "cifar_crop_flip"),
    CourseModel("08_speedrun", "08_cifar10_speedrun", "the CIFAR-10 speedrun (whitening + 3 conv groups)",
                _speedrun_random_whitening, compile_speedrun, 32,
                _class("08_cifar10_speedrun", "batch_size"), "float32", "onehot10", "cifar_tfdata_flip_translate"),
)}

MODEL_NAMES = tuple(MODELS)

__all__ = ["MODELS", "MODEL_NAMES", "CourseModel", "lecture_cnn", "modern_cnn", "lecture_convnet", "cpu_convnet",
           "cats_dogs_augmentation", "lite0_finetune", "small_cnn", "conv_bn_relu", "whitening_kernel", "speedrun_net",
           "compile_speedrun", "lookahead_callback"]
