"""The ``cnncourse`` command: ``info``, ``run`` and ``data`` (see ``cnncourse --help``)."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import paths, profiles


def cmd_info(args) -> int:
    from . import runtime
    from .data import cli as data_cli

    cfg = runtime.setup(verbose=False)
    print(cfg.banner)
    print(runtime.python_info())
    print(f"data folder: {paths.data_dir()}")
    print(f"mirror ({'CNNCOURSE_MIRROR'}): {paths.mirror() or 'not set (downloads from the official sources)'}")
    print(f"results folder: {paths.results_dir(cfg.profile)}")
    data_cli.print_status()
    return 0


def default_notebooks() -> list[Path]:
    root = paths.repo_root()
    if root is None:
        raise SystemExit("cnncourse run: name the notebooks to run (no checkout with notebooks/ found)")
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def execute_notebook(path: Path, timeout: int) -> tuple[bool, float, str]:
    """Execute ``path`` in its own folder with nbclient; write it back in place only if it ran clean."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    kernel = nb.metadata.get("kernelspec", {}).get("name", "python3")
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name=kernel,
                                     resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
    except Exception as exc:  # nbclient raises CellExecutionError, timeouts, dead kernels...
        seconds = time.perf_counter() - start
        failed = path.with_name(path.stem + ".failed.ipynb")
        nbformat.write(nb, failed)
        first_line = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        return False, seconds, f"{first_line} (executed copy kept in {failed.name}; {path.name} left untouched)"
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    return True, seconds, "ok"


def cmd_run(args) -> int:
    from . import results

    profile = args.profile or profiles.current_name()
    if profile not in profiles.PROFILES:
        print(f"unknown profile {profile!r}; choose one of {', '.join(profiles.PROFILES)}", file=sys.stderr)
        return 2
    os.environ[profiles.ENV_VAR] = profile  # the kernels inherit it
    notebooks = [Path(p) for p in args.notebooks] or default_notebooks()
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        print(f"no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    timings, ok_all = {}, True
    for nb in notebooks:
        print(f"running {nb} (profile={profile}) ...", flush=True)
        ok, seconds, message = execute_notebook(nb.resolve(), args.timeout)
        timings[nb.stem] = seconds
        ok_all &= ok
        print(f"  {'done' if ok else 'FAILED'} in {seconds:.0f} s: {message}", flush=True)
    summary = paths.results_dir(profile) / "SUMMARY.md"
    summary.parent.mkdir(parents=True, exist_ok=True)
    text = results.summary_markdown(profile, timings)
    summary.write_text(text)
    print(f"\n{'notebook':<40} {'seconds':>8}")
    for stem, seconds in timings.items():
        print(f"{stem:<40} {seconds:>8.0f}")
    print(f"summary: {summary}")
    return 0 if ok_all else 1


def build_parser() -> argparse.ArgumentParser:
    from .data import cli as data_cli

    parser = argparse.ArgumentParser(prog="cnncourse", description="Helpers for the cnncourse notebooks.")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="print the runtime banner and which datasets are present where")
    info.set_defaults(func=cmd_info)
    run = sub.add_parser("run", help="execute notebooks headless, in place, and write results/<profile>/SUMMARY.md")
    run.add_argument("notebooks", nargs="*", help="notebooks to run (default: all of notebooks/)")
    run.add_argument("--profile", choices=sorted(profiles.PROFILES), help="default: $CNNCOURSE_PROFILE or 'class'")
    run.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell (default 3600)")
    run.set_defaults(func=cmd_run)
    data_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
