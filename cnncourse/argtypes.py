"""argparse ``type`` functions shared by the ``cnncourse`` command, ``cnncourse data`` and ``benchmarks/``.

No notebook uses this module. It imports nothing from the package, so every command line can use it
without an import cycle.
"""
from __future__ import annotations

import argparse


def positive_int(noun: str):
    """An argparse ``type``: a whole number of at least 1; the message names what it counts (``noun``).

    Used by ``cnncourse bench --rounds``, ``cnncourse data fetch --split`` and the scripts in ``benchmarks/``.
    """
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of {noun}")
        return value

    return parse


def model_names(known):
    """An argparse ``type`` for ``cnncourse bench --models``: one or more names, comma-separated; never none."""
    def parse(text: str) -> str:
        if not [n for n in text.split(",") if n.strip()]:
            raise argparse.ArgumentTypeError(f"{text!r} names no model; give one or more of {', '.join(known)}")
        return text

    return parse


def non_negative_int(noun: str):
    """An argparse ``type``: a whole number of 0 or more (``cnncourse run --seed``)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = -1
        if value < 0:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {noun}: give a whole number of 0 or more")
        return value

    return parse
