"""``cnncourse data fetch {cifar10,cats_vs_dogs,all}``, ``cnncourse data status`` and ``cnncourse data clean``."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .. import paths, profiles
from ..argtypes import positive_int
from . import cifar10, download
from . import pets as cvd
from .errors import DataError

DATASETS = ("cifar10", "cats_vs_dogs")


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``data`` command (with ``fetch`` and ``status``) to an argparse sub-parser set."""
    data = subparsers.add_parser("data", help="download, prepare and inspect the course datasets",
                                 description="Datasets live in the working data folder (CNNCOURSE_DATA_DIR, default "
                                             "data/); CNNCOURSE_MIRROR names a folder or URL consulted first.")
    sub = data.add_subparsers(dest="data_command", required=True)
    fetch = sub.add_parser("fetch", help="download and prepare datasets before class")
    fetch.add_argument("dataset", choices=[*DATASETS, "all"])
    fetch.add_argument("--seed", type=int, default=cvd.DEFAULT_SEED, help="seed of the cats-vs-dogs split")
    fetch.add_argument("--split", type=positive_int("images"), nargs=3, metavar=("TRAIN", "VAL", "TEST"),
                       help="cats-vs-dogs images per class (default: the profile's)")
    fetch.set_defaults(func=fetch_command)
    status = sub.add_parser("status", help="show what is where, with sizes and verified checksums")
    status.set_defaults(func=status_command)
    clean = sub.add_parser("clean", help="remove what interrupted downloads and preparations left behind")
    clean.set_defaults(func=clean_command)
    return data


def fetch_command(args) -> int:
    names = DATASETS if args.dataset == "all" else (args.dataset,)
    try:
        for name in names:
            if name == "cifar10":
                (x_train, _), (x_test, _) = cifar10.load_cifar10(progress=True)
                print(f"CIFAR-10 ready: {len(x_train)} training and {len(x_test)} test images "
                      f"cached in {cifar10.cache_path()}")
            else:
                report = cvd.prepare_cats_vs_dogs(args.split, seed=args.seed, progress=True)
                if report.reused:
                    print(report.summary())
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def _size(path: Path) -> str:
    return f"{download.size_of(path) / 1e6:.1f} MB"


def _archive_line(path: Path, cand, where: str, sums: dict) -> str:
    """One source with its hash as it is now (hashed again whenever size, mtime or inode changed)."""
    if cand is None:
        return f"  source  {where:11s} {path}/  (extracted folder; images are checked when prepared)"
    expected, why = download.expected_hash(cand, sums if where == "mirror" else {})
    digest = download.sha256_of(path)
    if expected is None and where == "data folder" and download.trusted_hash(path):
        verdict = f"ok (the hash a mirror's {download.SUMS_FILE} listed when it was downloaded)"
    elif expected is None:
        verdict = f"NOT USED: no known hash (add it to the mirror's {download.SUMS_FILE})"
    elif digest == expected:
        verdict = f"ok ({why})"
    else:
        verdict = f"MISMATCH: {why} expects {expected}" + ("" if where == "mirror" else "; delete it")
    listed = sums.get(cand.name) if where == "mirror" else None
    if cand.sha256 and listed and listed != cand.sha256:
        verdict += f"; the mirror's {download.SUMS_FILE} lists another hash, ignored (a pin wins)"
    return f"  source  {where:11s} {path}  {_size(path)}\n          sha256 {digest}  {verdict}"


def status_command(args=None) -> int:
    print_status(header=True)
    return 0


def clean_command(args=None) -> int:
    removed = download.clean_leftovers()
    for path, size in removed:
        print(f"removed  {path}  {size / 1e6:.1f} MB")
    total = sum(size for _, size in removed)
    print(f"Removed {len(removed)} leftover(s) of interrupted runs, {total / 1e6:.1f} MB." if removed else
          f"Nothing to clean in {paths.data_dir()}.")
    return 0


def print_status(header: bool = False) -> None:
    """Print each dataset's sources, cache and splits (with the data folder and mirror when ``header``)."""
    m = download.mirror()
    if header:
        print(f"Data folder  {paths.data_dir()}" + ("" if os.environ.get("CNNCOURSE_DATA_DIR") else
                                                       "  (set CNNCOURSE_DATA_DIR to move it)"))
        if m is None:
            print(f"Mirror       none ({download.MIRROR_ENV} not set)")
        elif m.folder is not None:
            print(f"Mirror       {m.describe()}" + ("" if m.folder.is_dir() else "  NOT A FOLDER"))
        else:
            print(f"Mirror       {m.describe()} (web)")
        split = cvd.split_sizes()
        print(f"Profile      {profiles.current_name()} (cats vs dogs: {'/'.join(map(str, split))} images per class)")
    sums = {}
    if m is not None and m.folder is not None and m.folder.is_dir():
        try:
            sums = download.mirror_sums(m)
        except DataError as e:
            print(f"Mirror       {e}")

    print("\nCIFAR-10 (cifar10)")
    for path, cand, where in download.present_sources("cifar10"):
        print(_archive_line(path, cand, where, sums))
    info, problem = cifar10.cache_status()
    if info:
        print(f"  cache   {cifar10.cache_path()}  {_size(cifar10.cache_path())}  {info['train']} train + "
              f"{info['test']} test images, from {info['source']} (sha256 {info['sha256']})")
    elif problem:
        print(f"  cache   {cifar10.cache_path()}  DAMAGED ({problem}); rebuilt by: cnncourse data fetch cifar10")
    else:
        print("  cache   none yet (cnncourse data fetch cifar10)")

    print("\nCats vs dogs (cats_vs_dogs)")
    for path, cand, where in download.present_sources("cats_vs_dogs"):
        print(_archive_line(path, cand, where, sums))
    base = cvd.split_root().parent
    found = False
    for root in sorted(base.iterdir()) if base.is_dir() else []:
        if root.name.startswith("."):
            continue
        marker = cvd.read_marker(root)
        if marker is None:
            print(f"  split   {root}  INCOMPLETE (rebuilt when next used)")
            continue
        found = True
        sizes = "/".join(str(marker["split"][s]) for s in cvd.SPLITS)
        current = "  [current profile]" if root == cvd.split_root() else ""
        print(f"  split   {root}  {_size(root)}  {sizes} per class, seed {marker['seed']}, from "
              f"{marker['source']['name']}; {len(marker['dropped'])} dropped, {len(marker['converted'])} re-encoded"
              f"{current}\n          source sha256 {marker['source']['sha256'] or marker['source']['id']}")
    if not found:
        print("  split   none yet (cnncourse data fetch cats_vs_dogs)")

    left = download.leftovers()
    if left:
        total = sum(download.size_of(p) for p in left)
        print(f"\nLeftovers of interrupted runs ({total / 1e6:.1f} MB; never used; cnncourse data clean removes them)")
        for path in left:
            print(f"  leftover {path}  {_size(path)}")
