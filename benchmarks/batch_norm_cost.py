"""What the course's fused batch norm saves: each course model trained with ``FastBatchNormalization`` and with
``keras.layers.BatchNormalization(momentum=0.9)`` in its place, model by model (issue #22).

The two layers compute the same thing (``tests/test_augment_ladder.py`` checks it); this measures only the
speed. For every model that uses batch norm (02's batch-norm rung and modern recipe, 03's CPU convnet, 05's
member, 08's speedrun) it builds both copies from the same seed in the notebook's precision, feeds the same
random batches of the notebook's size, and alternates timed rounds between them (``cnncourse bench``'s
method: steps timed from the end of the first to the end of the last). What a lesson saves in ``class``
follows from the ratio and the lesson's training time.

The table goes to ``results/<profile>/tables/batch_norm_cost.json`` (notebook 02 quotes it where batch norm
is taught). About four minutes on the 2-core CPU.

    python benchmarks/batch_norm_cost.py                 # every model, 3 rounds of about 3 s each
    python benchmarks/batch_norm_cost.py --quick         # tiny rounds: checks that it runs (numbers meaningless)
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import statistics
import sys
import time

MODELS = ("02_batchnorm_rung", "02_modern_cnn", "03_cpu_convnet", "05_member", "08_speedrun")


@contextlib.contextmanager
def keras_batch_norm():
    """Inside the block, the course's model builders get Keras' layer where they ask for the fused one."""
    import keras

    from cnncourse import layers

    fused = layers.FastBatchNormalization
    layers.FastBatchNormalization = lambda momentum=0.9, **kwargs: keras.layers.BatchNormalization(
        momentum=momentum, **kwargs)
    try:
        yield
    finally:
        layers.FastBatchNormalization = fused


def spec_for(name: str):
    from cnncourse import course_models

    if name == "02_batchnorm_rung":   # notebook 02's rung 3: the lecture's CNN with three batch norms
        return dataclasses.replace(course_models.MODELS["02_lecture_cnn"], name=name,
                                   description="the lecture's CNN with batch norm (rung 3)",
                                   build=lambda size: course_models.lecture_cnn(batch_norm=True))
    return course_models.MODELS[name]


def measure(name: str, rounds: int, seconds: float, quick: bool, mixed_policy: str) -> dict:
    import keras

    from cnncourse import bench

    spec = spec_for(name)
    policy = mixed_policy if spec.cpu_bfloat16 else "float32"
    batch_size = 2 if quick else spec.batch_size
    data = bench.random_batches(spec, batch_size, spec.image_size)
    models = {}
    for layer, context in (("fused", contextlib.nullcontext), ("keras", keras_batch_norm)):
        with bench.precision(policy), context():
            keras.utils.set_random_seed(bench.SEED)
            model = spec.build(spec.image_size)
            spec.compile(model, 1_000)
        model.run_eagerly = quick
        bench._fit(model, data, 1 if quick else 5)
        models[layer] = model
    kinds = {layer: sorted({type(x).__name__ for x in m.layers if "Normalization" in type(x).__name__})
             for layer, m in models.items()}
    steps = 2 if quick else max(bench._steps_for(m, data, seconds) for m in models.values())
    rates = {layer: [] for layer in models}
    for _ in range(rounds):
        for layer, model in models.items():
            per_step, _ = bench._timed_round(model, data, steps)
            rates[layer].append(batch_size / per_step)
    fused, plain = statistics.median(rates["fused"]), statistics.median(rates["keras"])
    del models
    keras.backend.clear_session()
    return {"model": name, "notebook": spec.notebook, "description": spec.description, "precision": policy,
            "batch_size": batch_size, "steps": steps, "layers": kinds, "rates": rates,
            "fused_images_per_second": round(fused, 1), "keras_images_per_second": round(plain, 1),
            "speedup": round(fused / plain, 3)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, from: {', '.join(MODELS)}")
    parser.add_argument("--quick", action="store_true", help="tiny rounds: checks that the script runs")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        print(f"batch_norm_cost: unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}",
              file=sys.stderr)
        return 2
    from cnncourse import results, runtime
    from cnncourse.fileio import write_json_atomic

    cfg = runtime.setup(seed=42, verbose=False)
    print(cfg.banner, flush=True)
    profile = "quick" if args.quick else "class"
    out = results.table_path("batch_norm_cost", profile)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name in names:
        rows[name] = measure(name, 1 if args.quick else args.rounds, 3.0, args.quick, cfg.precision)
        r = rows[name]
        print(f"{name:<18} fused {r['fused_images_per_second']:>7,.0f} img/s, "
              f"Keras {r['keras_images_per_second']:>7,.0f} img/s: {r['speedup']:.2f}x "
              f"({r['precision']}, batch {r['batch_size']})", flush=True)
    write_json_atomic(out, {"script": "benchmarks/batch_norm_cost.py", "banner": cfg.banner,
                            "device": cfg.device.describe(), "quick": args.quick,
                            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "rows": rows},
                      indent=1, sort_keys=False)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
