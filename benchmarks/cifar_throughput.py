"""Training throughput of notebook 02's baseline CIFAR-10 CNN: float32 vs the precision setup() picks.

Both models are built, compiled and warmed up in this one process on the same images; the timed
rounds then alternate between them, so a machine that is busy for a moment slows both alike. The
median of the rounds is reported, in images per second, with the ratio to float32.

    python benchmarks/cifar_throughput.py                  # 128 images a batch, 5 rounds of 30 steps
    python benchmarks/cifar_throughput.py --steps 50 --rounds 7 --batch-size 256
    CNNCOURSE_PRECISION=float32 python benchmarks/cifar_throughput.py   # compare float32 with itself

A benchmark, not a test: nothing is asserted and no results are recorded.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import cnncourse


def baseline_cnn(keras):
    """The lecture's CNN (558,186 parameters), with ReLU on the convolutions as in notebook 02."""
    layers = keras.layers
    inputs = keras.Input(shape=(32, 32, 3))
    x = inputs
    for filters in (32, 64, 128):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs)


def images(n: int, seed: int):
    """``n`` CIFAR-10 training images scaled to [0, 1] with their labels; random pixels without the data."""
    try:
        from cnncourse.data import load_cifar10
        (x, y), _ = load_cifar10()
        x, y, source = x[:n], y[:n], "CIFAR-10"
    except Exception as exc:  # no data at hand: throughput does not depend on the pixel values
        rng = np.random.default_rng(seed)
        x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        y = rng.integers(0, 10, (n, 1), dtype=np.uint8)
        source = f"random pixels ({type(exc).__name__})"
    return x.astype("float32") / 255.0, y, source


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=128, help="images a step (the lecture's 128)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps a round")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps per model first")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per precision, alternating")
    args = parser.parse_args(argv)

    cfg = cnncourse.setup(seed=42, notebook="02_cifar10_overfitting")
    import keras
    import tensorflow as tf

    x, y, source = images(args.batch_size * args.steps, cfg.seed)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(args.batch_size, drop_remainder=True)
    data = data.cache().repeat().prefetch(tf.data.AUTOTUNE)

    policies = list(dict.fromkeys(["float32", cfg.precision]))
    models = {}
    for policy in policies:
        keras.mixed_precision.set_global_policy(policy)
        keras.utils.set_random_seed(cfg.seed)
        model = baseline_cnn(keras)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(data, steps_per_epoch=args.warmup, epochs=1, shuffle=False, verbose=0)  # tracing and oneDNN set-up
        models[policy] = model
    keras.mixed_precision.set_global_policy(cfg.precision)

    rates = {policy: [] for policy in policies}
    for _ in range(args.rounds):
        for policy, model in models.items():
            start = time.perf_counter()
            model.fit(data, steps_per_epoch=args.steps, epochs=1, shuffle=False, verbose=0)
            rates[policy].append(args.steps * args.batch_size / (time.perf_counter() - start))

    params = models[policies[0]].count_params()
    print(f"baseline CNN, {params:,} parameters | {source} | batch {args.batch_size} | "
          f"{args.rounds} rounds x {args.steps} steps, {args.warmup} warm-up steps excluded")
    print(f"{'precision':<16} {'img/s (median)':>14} {'min':>7} {'max':>7} {'vs float32':>11}")
    base = statistics.median(rates["float32"])
    for policy in policies:
        med = statistics.median(rates[policy])
        chosen = "  <- setup()" if policy == cfg.precision else ""
        print(f"{policy:<16} {med:>14.0f} {min(rates[policy]):>7.0f} {max(rates[policy]):>7.0f} "
              f"{med / base:>10.2f}x{chosen}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
