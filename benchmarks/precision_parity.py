"""Does training in 16 bits cost accuracy? Notebook 02's modern recipe in float32 and in setup()'s precision.

Trains notebook 02's final model (``modern_cnn``: AdamW with warm-up and cosine decay, label smoothing,
random crops and flips, batch 256, the class profile's 45,000 training images) for a short schedule in
float32 and in the precision ``setup()`` picks on this machine (mixed_bfloat16 on CPUs with bf16
instructions, mixed_float16 on GPUs with tensor cores), with several seeds each; a seed gives both
precisions the same initial weights, batches and augmentations. Reports the test accuracy's mean and
spread (standard deviation over seeds) per precision, plain and with flip test-time augmentation, and
writes ``results/bench/precision_parity_<machine>.json``.

The verdict: if the 16-bit policy's mean test accuracy is lower than float32's by more than the seed
spread (the larger of the two standard deviations), setup() should change its default (this script
only says so; the decision is the maintainer's).

    python benchmarks/precision_parity.py                   # 4 epochs, 3 seeds (tens of minutes on a CPU)
    python benchmarks/precision_parity.py --epochs 9 --seeds 5
    python benchmarks/precision_parity.py --quick           # 512 images, 1 epoch, 1 seed: checks that it runs
"""
from __future__ import annotations

import argparse
import sys

from cnncourse import argtypes, bench, cli


def parity(args) -> int:
    bench.precision_parity(epochs=args.epochs, seeds=args.seeds, quick=args.quick, train_images=args.train_images,
                           test_images=args.test_images, progress=not args.no_progress)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=argtypes.positive_int("epochs"), default=4, help="epochs per run (default 4)")
    parser.add_argument("--seeds", type=argtypes.positive_int("seeds"), default=3,
                        help="seeds per precision (default 3)")
    parser.add_argument("--train-images", type=argtypes.positive_int("images"),
                        help="training images (default: the class profile's 45,000)")
    parser.add_argument("--test-images", type=argtypes.positive_int("images"), help="test images (default: all 10,000)")
    parser.add_argument("--quick", action="store_true", help="512 images, 1 epoch, 1 seed, 500 test images")
    parser.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    return cli.dispatch(parity, args, debug=cli.split_debug([])[1])


if __name__ == "__main__":
    sys.exit(main())
