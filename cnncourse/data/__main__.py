"""``python -m cnncourse.data fetch all`` works like ``cnncourse data fetch all``."""
import argparse
import sys

from ..cli import dispatch, split_debug
from .cli import register


def main(argv=None) -> int:
    argv, debug = split_debug(argv)
    parser = argparse.ArgumentParser(prog="python -m cnncourse.data")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["data", *argv])
    return dispatch(args.func, args, debug=debug)


if __name__ == "__main__":
    sys.exit(main())
