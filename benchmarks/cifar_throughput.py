"""Training throughput of notebook 02's lecture CNN: float32 vs the precision setup() picks.

A thin entry point to ``cnncourse.bench`` (``cnncourse bench --models 02_lecture_cnn`` measures the same
model with the roof and the input pipeline beside it; ``cnncourse bench`` measures every notebook's models).
Both copies of the model are built, compiled and warmed up in this one process on the same batch of
random uint8 pixels; the timed rounds then alternate between them, so a machine that is busy for a moment
slows both alike. The median of the rounds is reported, in images per second, with the ratio to float32.

    python benchmarks/cifar_throughput.py                  # 128 images a batch, 5 rounds of 30 steps
    python benchmarks/cifar_throughput.py --steps 50 --rounds 7 --batch-size 256
    CNNCOURSE_PRECISION=float32 python benchmarks/cifar_throughput.py   # compare float32 with itself

A benchmark, not a test: nothing is asserted and no results are recorded.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys

from cnncourse import argtypes, bench, cli, course_models, runtime


def throughput(args) -> int:
    cfg = runtime.setup(seed=bench.SEED, notebook="02_cifar10_overfitting")
    spec = course_models.MODELS["02_lecture_cnn"]
    plan = dataclasses.replace(bench.Plan.full(rounds=args.rounds), warmup=args.warmup, steps=args.steps)
    policies = list(dict.fromkeys(["float32", cfg.precision]))
    measured = bench.measure_training(spec, policies, plan, batch_size=args.batch_size)
    rates = measured["rates"]
    print(f"lecture CNN, {measured['params']:,} parameters | random uint8 pixels | batch {args.batch_size} | "
          f"{args.rounds} rounds x {args.steps} steps, {args.warmup} warm-up steps excluded")
    print(f"{'precision':<16} {'img/s (median)':>14} {'min':>7} {'max':>7} {'vs float32':>11}")
    base = statistics.median(rates["float32"])
    for policy in policies:
        med = statistics.median(rates[policy])
        chosen = "  <- setup()" if policy == cfg.precision else ""
        print(f"{policy:<16} {med:>14.0f} {min(rates[policy]):>7.0f} {max(rates[policy]):>7.0f} "
              f"{med / base:>10.2f}x{chosen}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=argtypes.positive_int("images"), default=128,
                        help="images a step (default 128)")
    parser.add_argument("--steps", type=argtypes.positive_int("steps"), default=30, help="timed steps a round")
    parser.add_argument("--warmup", type=argtypes.positive_int("steps"), default=10,
                        help="untimed steps per model first")
    parser.add_argument("--rounds", type=argtypes.positive_int("rounds"), default=5,
                        help="timed rounds per precision, alternating")
    args = parser.parse_args(argv)
    return cli.dispatch(throughput, args, debug=cli.split_debug([])[1])


if __name__ == "__main__":
    sys.exit(main())
