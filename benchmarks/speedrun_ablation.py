"""The ablation table of notebook 08 (the CIFAR-10 speedrun): each idea removed in turn from the final recipe.

Every row trains notebook 08's network with the profile's data, epochs, batch and seed, and changes exactly
one thing (the recipe's copies live in ``cnncourse.course_models``: ``speedrun_net``, ``compile_speedrun``,
``whitening_kernel``, ``lookahead_callback``). One more row trains notebook 02's modern recipe (its
``class`` settings) with the same clock, for the time-to-accuracy figure. Each row records its training
time (validation passes left out), its validation curve, and its test accuracy, plain and with the
notebook's four-view test-time augmentation, each measured once at the end of the row's run.

Rows are added to ``results/<profile>/tables/08_cifar10_speedrun_ablation.json`` as they finish (a row run again
replaces the old one), so the table can be built over several sessions. A row takes about as long as the
notebook's training (10 minutes in ``class`` on the 2-core CPU; float32 about twice that).

    python benchmarks/speedrun_ablation.py                              # every row, class profile, seed 42
    python benchmarks/speedrun_ablation.py --rows final,no_whitening    # some rows
    python benchmarks/speedrun_ablation.py --profile quick              # tiny sizes: checks that it runs
    python benchmarks/speedrun_ablation.py --seed 7 --rows final,no_label_smoothing   # into results/class/seed7/
"""
from __future__ import annotations

import argparse
import json
import sys
import time

ROWS = {
    "final": "the final recipe",
    "no_whitening": "the 2x2 layer trained from random weights instead of frozen whitening filters",
    "no_label_smoothing": "one-hot targets (label smoothing 0)",
    "no_augmentation": "no flips or shifts",
    "constant_learning_rate": "a constant learning rate (the peak) instead of warm-up and cosine decay",
    "weak_weight_decay": "weight decay 5e-3, ten times weaker",
    "plus_lookahead": "weight averaging added: Lookahead, every 5 steps half-way",
    "keras_batch_norm": "keras.layers.BatchNormalization(momentum=0.9) instead of the fused layer",
    "float32": "float32 instead of mixed bfloat16",
    "02_modern_recipe": "notebook 02's modern recipe (its network, AdamW schedule, crops and flips)",
}


WEAK_WEIGHT_DECAY = 5e-3
# The settings a row of the final recipe was trained with: a row whose recipe differs from the profile's is stale
# (tests/test_lessons.py checks the committed table).
RECIPE_KEYS = ("train_images", "val_images", "whitening_images", "widths", "epochs", "batch_size", "learning_rate",
               "weight_decay", "label_smoothing", "shift")


def recipe(settings) -> dict:
    return {k: list(settings[k]) if isinstance(settings[k], tuple) else settings[k] for k in RECIPE_KEYS}


def tta_logits(model, x):
    """Notebook 08's ``tta_logits``: the image, its mirror, and the mirror shifted one pixel each way."""
    import numpy as np

    mirrored = x[:, :, ::-1]
    views = [x, mirrored, np.roll(mirrored, 1, axis=2), np.roll(mirrored, -1, axis=2)]
    return np.mean([model.predict(v, batch_size=1000, verbose=0) for v in views], axis=0)


def run_row(row: str, profile: str, seed: int) -> dict:
    import numpy as np

    from cnncourse import course_models, profiles, runtime
    from cnncourse.data import load_cifar10
    from cnncourse.training import TrainingClock

    runtime.setup(seed=seed, precision="float32" if row == "float32" else None)
    import keras
    import tensorflow as tf
    from keras import layers

    (x_train, y_train), (x_test, y_test) = load_cifar10()
    if row == "02_modern_recipe":
        s = profiles.settings("02_cifar10_overfitting", profile)
        from cnncourse.augment import AugmentedImages
        x_fit, y_fit = x_train[:s.final_train_images], y_train[:s.final_train_images]
        x_val, y_val = x_train[-s.final_val_images:], y_train[-s.final_val_images:]
        model = course_models.modern_cnn()
        data = AugmentedImages(x_fit, keras.utils.to_categorical(y_fit, 10), batch_size=s.final_batch_size,
                               augment=True, seed=seed)
        course_models.compile_modern_cnn(model, s.final_epochs * len(data))
        clock = TrainingClock()
        history = model.fit(data, validation_data=(x_val, keras.utils.to_categorical(y_val, 10)),
                            epochs=s.final_epochs, verbose=0, callbacks=[clock])
        plain = float(np.mean(model.predict(x_test, batch_size=1000, verbose=0).argmax(1) == y_test[:, 0]))
        return {"row": row, "what": ROWS[row], "epochs": s.final_epochs, "train_seconds": round(clock.seconds[-1], 1),
                "test_plain": plain, "test_tta": None, "val_accuracy": float(history.history["val_accuracy"][-1]),
                "curve": clock.curve(history)}

    s = profiles.settings("08_cifar10_speedrun", profile)
    x_fit, y_fit = x_train[:s.train_images], y_train[:s.train_images]
    x_val, y_val = x_train[-s.val_images:], y_train[-s.val_images:]
    mean, std = x_fit.mean(axis=(0, 1, 2)) / 255, x_fit.std(axis=(0, 1, 2)) / 255

    def standardise(x):
        return ((x / 255 - mean) / std).astype("float32")

    x_fit, x_val, x_test = standardise(x_fit), standardise(x_val), standardise(x_test)
    kernel = None if row == "no_whitening" else course_models.whitening_kernel(x_fit[:s.whitening_images])
    batch_norm = (lambda: layers.BatchNormalization(momentum=0.9)) if row == "keras_batch_norm" else None
    model = course_models.speedrun_net(kernel, widths=s.widths, batch_norm=batch_norm)
    steps = s.epochs * (len(x_fit) // s.batch_size)
    course_models.compile_speedrun(model, steps, learning_rate=s.learning_rate,
                                   label_smoothing=0.0 if row == "no_label_smoothing" else s.label_smoothing,
                                   schedule=row != "constant_learning_rate",
                                   weight_decay=WEAK_WEIGHT_DECAY if row == "weak_weight_decay" else s.weight_decay)
    data = (tf.data.Dataset.from_tensor_slices((x_fit, keras.utils.to_categorical(y_fit, 10)))
            .shuffle(len(x_fit), seed=seed).batch(s.batch_size, drop_remainder=True))
    if row != "no_augmentation":
        shift = s.shift / 32
        augment = keras.Sequential([layers.RandomFlip("horizontal", seed=seed),
                                    layers.RandomTranslation(shift, shift, fill_mode="reflect",
                                                             interpolation="nearest", seed=seed)])
        data = data.map(lambda x, y: (augment(x, training=True), y))
    clock = TrainingClock()
    callbacks = [clock] + ([course_models.lookahead_callback()] if row == "plus_lookahead" else [])
    history = model.fit(data.prefetch(2), epochs=s.epochs, verbose=0, callbacks=callbacks,
                        validation_data=(x_val, keras.utils.to_categorical(y_val, 10)),
                        validation_freq=s.validation_every)
    plain = float(np.mean(model.predict(x_test, batch_size=1000, verbose=0).argmax(1) == y_test[:, 0]))
    tta = float(np.mean(tta_logits(model, x_test).argmax(1) == y_test[:, 0]))
    return {"row": row, "what": ROWS[row], "epochs": s.epochs, "train_seconds": round(clock.seconds[-1], 1),
            "test_plain": plain, "test_tta": tta, "val_accuracy": float(history.history["val_accuracy"][-1]),
            "curve": clock.curve(history), "recipe": recipe(s)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, from: {', '.join(ROWS)}")
    parser.add_argument("--profile", default="class", choices=("quick", "class", "full"))
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        print(f"speedrun_ablation: unknown row(s) {', '.join(unknown)}; choose from {', '.join(ROWS)}", file=sys.stderr)
        return 2
    import os

    os.environ["CNNCOURSE_PROFILE"] = args.profile
    from cnncourse import results, runtime
    from cnncourse.fileio import write_json_atomic

    # Seed 42 is the notebook's table; another seed goes beside that seed's notebook results (``seed7/``).
    out = results.table_path("08_cifar10_speedrun_ablation", args.profile, args.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    for row in rows:
        start = time.perf_counter()
        result = run_row(row, args.profile, args.seed)
        cfg = runtime.current()
        doc = json.loads(out.read_text()) if out.is_file() else {}
        if doc.get("seed") != args.seed:
            doc = {"script": "benchmarks/speedrun_ablation.py", "profile": args.profile, "seed": args.seed, "rows": {}}
        doc["rows"][row] = result | {"banner": cfg.banner, "device": cfg.device.describe(),
                                     "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        doc["rows"] = {r: doc["rows"][r] for r in ROWS if r in doc["rows"]}   # table order
        write_json_atomic(out, doc, indent=1, sort_keys=False)
        print(f"{row}: {result['test_plain']:.2%} plain"
              + (f", {result['test_tta']:.2%} TTA" if result["test_tta"] is not None else "")
              + f", {result['train_seconds']:.0f} s of training ({time.perf_counter() - start:.0f} s in all)",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
