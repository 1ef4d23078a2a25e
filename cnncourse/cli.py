"""The ``cnncourse`` command: ``lab``, ``info``, ``run``, ``bench``, ``slides`` and ``data`` (see ``cnncourse --help``).

A user error or an environment problem (a bad setting, a missing or damaged file, a full or
read-only disk, an unreachable mirror) is one ``error:`` line saying what is wrong and what to do,
exit status 1; usage errors exit with 2. ``--debug`` (or ``CNNCOURSE_DEBUG=1``) shows the traceback.
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

from . import fileio, paths, profiles
from .argtypes import model_names, non_negative_int, positive_int
from .errors import CourseError
from .fileio import check_writable

DEBUG_ENV = "CNNCOURSE_DEBUG"


def cmd_info(args) -> int:
    from . import runtime
    from .data import cli as data_cli

    cfg = runtime.setup(verbose=False)
    print(cfg.banner)
    print(runtime.python_info())
    print(f"data folder: {paths.data_dir()}")
    print(f"mirror ({paths.MIRROR_ENV}): {paths.mirror() or 'not set (downloads from the official sources)'}")
    print(f"results folder: {paths.results_dir(cfg.profile)}")
    data_cli.print_status()
    return 0


# The copies `cnncourse run` writes beside a notebook: a failed run's, a second seed's, and the executed copy of a
# notebook that was edited while it ran. They are never run or opened in its place.
_COPY = re.compile(r"\.(failed|executed|seed[0-9]+)\.ipynb$")


def is_notebook_copy(path: Path) -> bool:
    """True for ``NN_name.failed.ipynb``, ``NN_name.executed.ipynb`` and ``NN_name.seed7.ipynb``."""
    return _COPY.search(Path(path).name) is not None


def default_notebooks() -> list[Path]:
    root = paths.repo_root()
    if root is None:
        raise SystemExit("cnncourse run: name the notebooks to run (no checkout with notebooks/ found)")
    return sorted(p for p in (root / "notebooks").glob("[0-9][0-9]_*.ipynb") if not is_notebook_copy(p))


def notebook_problem(path: Path) -> str | None:
    """Why ``path`` cannot be run as a notebook, or None."""
    import nbformat
    try:
        nbformat.read(path, as_version=4)
    except OSError as e:
        return f"{path} cannot be read ({e.strerror})"
    except UnicodeDecodeError:
        return f"{path} is not a Jupyter notebook (not UTF-8 text)"
    except Exception as e:  # noqa: BLE001 -- NotJSONError, schema and version errors: all mean "not a notebook"
        reason = "not JSON" if "JSON" in type(e).__name__ or "JSON" in str(e)[:40] else \
            (str(e).strip().splitlines() or [type(e).__name__])[0][:100]
        return f"{path} is not a Jupyter notebook ({reason})"
    return None


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def failure_reason(exc: BaseException, timeout: int) -> str:
    """One line saying why nbclient stopped a notebook: the cell's exception, a timeout, a dead kernel."""
    import nbclient.exceptions as nbx

    if isinstance(exc, nbx.CellTimeoutError):
        return f"a cell ran longer than the --timeout of {timeout} s"
    if isinstance(exc, nbx.DeadKernelError):
        return "the kernel died (out of memory?)"
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if isinstance(exc, nbx.CellExecutionError) and ename:  # the cell's own exception, as the notebook shows it
        evalue = _ANSI.sub("", str(evalue or "")).strip().splitlines()
        return f"{ename}: {evalue[0]}" if evalue else ename
    lines = [line.strip() for line in _ANSI.sub("", str(exc)).splitlines()]
    lines = [line for line in lines if line.strip("-= ")]  # not nbclient's ------- rules
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _digest(path: Path) -> str | None:
    """The SHA-256 of ``path``'s bytes, or None when it cannot be read (moved away, deleted)."""
    try:
        return _sha256(path.read_bytes())
    except OSError:
        return None


class _ChangedOnDisk(Exception):
    """The notebook was saved (by JupyterLab, an editor) while it ran: it must not be overwritten."""


def executed_copy(path: Path) -> Path:
    """Where the executed copy goes when ``path`` was edited while it ran: ``NN_name.executed.ipynb``."""
    return path.with_name(path.stem + ".executed.ipynb")


def execute_notebook(path: Path, timeout: int, out: Path | None = None) -> tuple[bool, float, str]:
    """Execute ``path`` in its own folder with nbclient; write it to ``out`` (default: back in place) only if it
    ran clean.

    Both the executed notebook and a failed run's copy are written to a temporary file and renamed:
    a full disk leaves the notebook as it was. A notebook that changed on disk while it ran (an edit saved
    in JupyterLab) is never overwritten: the executed copy goes to ``NN_name.executed.ipynb`` beside it.
    A failed run's copy that cannot be written (a full disk) is reported in the same line, and the
    cell's own error is still the one shown.
    """
    import nbclient
    import nbformat

    source = path.read_bytes()  # what this run executes, and what may be replaced at the end
    read_digest = _sha256(source)
    nb = nbformat.reads(source.decode("utf-8"), as_version=4)
    kernel = nb.metadata.get("kernelspec", {}).get("name", "python3")
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name=kernel, store_widget_state=True,
                                     resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    with _KernelStderr() as kernel_stderr:
        exc = _execute_in_thread(client, stderr=kernel_stderr)
    if exc is not None:  # nbclient raises CellExecutionError, timeouts, dead kernels...
        if _TERMINATED.is_set():  # the kernel died because the whole run was stopped: not a notebook failure
            raise _Terminated() from exc
        seconds = time.perf_counter() - start
        reason = failure_reason(exc, timeout)
        failed = path.with_name(path.stem + ".failed.ipynb")
        try:
            write_notebook(nb, failed)
        except OSError as e:  # a full disk: the cell's error still matters more, and the next notebook may run
            return False, seconds, (f"{reason} (no executed copy: {e.strerror or type(e).__name__} writing "
                                    f"{failed.name}; {path.name} left untouched)")
        return False, seconds, f"{reason} (executed copy kept in {failed.name}; {path.name} left untouched)"
    seconds = time.perf_counter() - start
    if out is not None:
        write_notebook(nb, out)
        return True, seconds, f"ok (executed copy in {out.name}; {path.name} left untouched)"
    try:
        write_notebook(nb, path, unless_changed_from=read_digest)
    except _ChangedOnDisk:
        copy = executed_copy(path)
        write_notebook(nb, copy)
        return True, seconds, (f"ok, but {path.name} changed on disk while it ran: your edits are kept, "
                               f"the executed copy is in {copy.name}")
    return True, seconds, "ok"


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


class _KernelStderr:
    """A pipe for the kernel's stderr, passed on to ours line by line as it comes, less the tracebacks of
    ZMQError that a kernel prints when it is shut down in the middle of a cell (a cell over --timeout)
    and ipykernel's warning that its loopback connection is not encrypted.

    ``with _KernelStderr() as fd:`` gives the pipe's writing end for the kernel; at the end of the block
    (the kernel has gone) it is closed and the rest is passed on.
    """

    _START = "[IPKernelApp] ERROR | Exception in message handler:"
    # the kernel runs on this machine, reached over loopback: ipykernel's warning about unencrypted TCP
    # says nothing a student can act on, so it is dropped (its other warnings pass)
    _TCP_WARNING = b"[IPKernelApp] WARNING | Kernel is running over TCP without encryption"

    def __enter__(self) -> int:
        self._read, self._write = os.pipe()
        self._thread = threading.Thread(target=self._pump, name="cnncourse-kernel-stderr", daemon=True)
        self._thread.start()
        return self._write

    def __exit__(self, *exc) -> None:
        os.close(self._write)
        self._thread.join(5)

    @staticmethod
    def _emit(lines: list[bytes]) -> None:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(b"".join(lines).decode("utf-8", "replace"))
            sys.stderr.flush()

    def _pump(self) -> None:
        held: list[bytes] = []  # a message handler's traceback, held until its last line says which error
        with open(self._read, "rb") as pipe:
            for line in pipe:
                if held:
                    held.append(line)
                    if not line.startswith((b" ", b"\t", b"Traceback")):  # the exception's line ends it
                        if not line.startswith(b"zmq.error.ZMQError"):
                            self._emit(held)
                        held = []
                elif line.startswith(self._START.encode()):
                    held = [line]
                elif line.startswith(self._TCP_WARNING):
                    continue
                else:
                    self._emit([line])
        if held:
            self._emit(held)


def _execute_in_thread(client, **kwargs) -> BaseException | None:
    """``client.execute(**kwargs)`` in a worker thread; the exception it raised, or None.

    nbclient replaces the process's SIGTERM and SIGINT handlers with its own while it runs in the
    main thread (they shut the kernel down and let the notebook fail, so a stopped run would carry on
    with the next notebook). In a worker thread it cannot install them: the main thread keeps ours,
    waits, and on SIGTERM or Ctrl-C kills the kernel and stops the whole run.
    """
    outcome: list[BaseException] = []

    def work():
        try:
            client.execute(**kwargs)
        except BaseException as e:  # noqa: BLE001 -- handed to the main thread
            outcome.append(e)

    worker = threading.Thread(target=work, name="cnncourse-run", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.25)
    except (_Terminated, KeyboardInterrupt):
        _kill_kernel(client)
        worker.join(30)
        raise
    return outcome[0] if outcome else None


def _kill_kernel(client) -> None:
    """Kill the notebook's kernel process, if it has one (its manager's provisioner holds the process)."""
    process = getattr(getattr(getattr(client, "km", None), "provisioner", None), "process", None)
    if process is not None and process.poll() is None:
        process.kill()


def write_notebook(nb, path: Path, *, unless_changed_from: str | None = None) -> None:
    """Write ``nb`` to ``path`` through a temporary file and a rename.

    ``unless_changed_from``: the SHA-256 ``path`` had when it was read; if its content differs now, just
    before the rename, nothing is replaced and :class:`_ChangedOnDisk` is raised.
    """
    import nbformat
    text = nbformat.writes(nb)
    text = text if text.endswith("\n") else text + "\n"
    if unless_changed_from is None:
        fileio.write_text_atomic(path, text)
        return
    with fileio.atomic_write(path, "w") as f:  # the check comes last, after the slow part (the write)
        f.write(text)
        f.flush()
        if _digest(path) != unless_changed_from:
            raise _ChangedOnDisk(str(path))  # the temporary file is removed, the notebook left as it is


@contextlib.contextmanager
def recording_results():
    """``CNNCOURSE_RECORD_RESULTS=1`` while ``cnncourse run`` executes notebooks: its kernels inherit it and
    record into ``results/<profile>/`` (an interactive run records into ``results/interactive/<profile>/``).
    Restored afterwards, so a caller in the same process keeps its environment."""
    previous = os.environ.get(paths.RECORD_ENV)
    os.environ[paths.RECORD_ENV] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(paths.RECORD_ENV, None)
        else:
            os.environ[paths.RECORD_ENV] = previous


def check_results_folder(folder: Path) -> None:
    """Create ``folder`` and make sure files can be written in it; the error names the folder."""
    from .errors import SettingError

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise SettingError(f"the results folder {folder} cannot be created: a file is in its way; set "
                           f"{paths.RESULTS_ENV} to a folder you can write to") from None
    try:
        check_writable(folder / "SUMMARY.md")
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(folder)) from e


def cmd_run(args) -> int:
    from . import results, runtime

    profile = args.profile or profiles.current_name()
    os.environ[profiles.ENV_VAR] = profile  # the kernels inherit it (and the absolute data folder)
    seed = getattr(args, "seed", None)
    if seed is None:
        os.environ.pop(runtime.SEED_ENV, None)
    else:
        os.environ[runtime.SEED_ENV] = str(seed)  # setup() in the kernels replaces the notebook's seed
    folder = course_notebooks_dir()
    notebooks, missing = [], []
    for name in args.notebooks:
        try:
            notebooks.append(Path(name) if Path(name).is_file() else find_notebook(name, folder))
        except CourseError:
            missing.append(name)
    notebooks = notebooks or ([] if missing else default_notebooks())
    if missing:
        print(f"error: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    problems = [problem for nb in notebooks if (problem := notebook_problem(nb))]
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    for nb in notebooks:
        check_writable(nb.resolve())
    timings, ok_all = {}, True
    with recording_results():
        folder = paths.results_dir(profile) if seed is None else results.seed_dir(profile, seed)
        check_results_folder(folder)  # now, not when a notebook records its numbers after hours of training
        for nb in notebooks:
            print(f"running {nb} (profile={profile}) ...", flush=True)
            out = None if seed is None else nb.resolve().with_name(f"{nb.stem}.seed{seed}.ipynb")
            ok, seconds, message = execute_notebook(nb.resolve(), args.timeout, out)
            if _TERMINATED.is_set():  # stopped while this notebook ran: run no other
                raise _Terminated()
            timings[nb.stem] = seconds
            ok_all &= ok
            print(f"  {'done' if ok else 'FAILED'} in {seconds:.0f} s: {message}", flush=True)
        summary = folder / "SUMMARY.md"
        fileio.write_text_atomic(summary, results.summary_markdown(profile, timings, seed=seed))
    print(f"\n{'notebook':<40} {'seconds':>8}")
    for stem, seconds in timings.items():
        print(f"{stem:<40} {seconds:>8.0f}")
    print(f"summary: {summary}")
    return 0 if ok_all else 1


# ---------------------------------------------------------------- cnncourse bench

BENCH_DESCRIPTION = """\
Measure this machine with the course's models, in one process, and write
results/bench/<machine>.json (results/bench/<machine>-quick.json with --quick):

- the roof: dense matmul FLOP/s in float32 and in each 16-bit type the hardware runs natively;
- training images/s of each notebook's main models in float32 and in the precision setup() picks,
  timed in alternating rounds (median), with the ratio;
- achieved FLOP/s (from the models' multiply-accumulates) as a fraction of the roof;
- the input pipelines' images/s against the training images/s: which notebook is input-bound.

--quick (CI) checks that everything runs, with batches of 2 and a few steps: its figures say
nothing about the machine. The full run takes a few minutes on a GPU and about ten minutes on a 2-core
CPU; leave the machine otherwise idle.
"""


def cmd_bench(args) -> int:
    from . import bench

    names = bench.resolve_models(args.models)  # an unknown name fails before TensorFlow is imported
    plan = bench.Plan.quick_plan() if args.quick else bench.Plan.full(rounds=args.rounds)
    bench.run_bench(names, plan, progress=not args.no_progress)
    return 0


# ---------------------------------------------------------------- cnncourse slides

SLIDES_DESCRIPTION = """\
Write one reveal.js deck per lesson notebook (default: every lesson of notebooks/) into DIR
(default: slides/ in the checkout, git-ignored), from the committed outputs: nothing is executed.
NOTEBOOK is a path, or a notebook of notebooks/ named by its start: `cnncourse slides 01 03`.

The cells' slide types (JupyterLab: Property Inspector > Slide Type) make the slides; the speaker
notes come from notebooks/instructor/NN_notes.md, section "## Speaker notes", one "### <title>" per
slide titled so. Every file a deck loads is copied beside it: open DIR/NN_name.html in a browser,
offline too; S opens the speaker view, Esc the overview.
"""


def cmd_slides(args) -> int:
    from . import slides

    folder = course_notebooks_dir()
    if not args.notebooks and folder is None:
        raise CourseError("cnncourse slides: name the notebooks (no checkout with notebooks/ found)")
    notebooks = [find_notebook(name, folder) for name in args.notebooks] or default_notebooks()
    for nb in notebooks:  # every name checked before the first deck is written
        problem = f"{nb} is a folder, not a notebook" if nb.is_dir() else notebook_problem(nb)
        if problem:
            raise CourseError(problem)
    decks = slides.build_decks(notebooks, args.out, progress=slides.announce)
    print(f"open {decks[0].path} in a browser (no network needed); S: speaker view, Esc: overview")
    return 0


# ---------------------------------------------------------------- cnncourse lab

LAB_DESCRIPTION = """\
Start JupyterLab on the course's notebooks and print the address to open.

The kernel: the notebooks ask for the kernel `python3`. cnncourse lab runs JupyterLab as
`python -m jupyterlab` with the very Python that runs cnncourse, and JupyterLab's built-in
`python3` kernel is the Python that runs JupyterLab: so the notebooks run in this environment
(with TensorFlow and cnncourse), whichever `jupyter` comes first on PATH. A `python3` kernel
installed elsewhere that points at another Python is reported.

The folder: the checkout's notebooks/ (or NOTEBOOK's folder); NOTEBOOK is opened in it. It may be a
path, or a notebook of notebooks/ named by its start: `cnncourse lab 01`.

As root (containers, many cloud notebooks) it adds --allow-root, which JupyterLab demands, and
says so. Every argument after NOTEBOOK (but --present) goes to JupyterLab unchanged, e.g.
  cnncourse lab 01 --no-browser --port=8890
Relative CNNCOURSE_DATA_DIR / CNNCOURSE_RESULTS_DIR are made absolute first, so the kernels
(which run in the notebooks' folder) use the same folders. Ctrl-C stops JupyterLab.

--present NOTEBOOK opens NOTEBOOK ready to present: JupyterLab's presentation mode with large
fonts, the simple interface (one document), side panels closed, long code lines wrapped; View >
Presentation Mode turns it off and on. The layout is kept in a workspace of its own, not yours.
JupyterLab's pop-up asking about Jupyter news (which cannot be fetched offline) is answered "no"
for every launch; the settings you chose yourself in JupyterLab still win.
"""

_LOCAL_URL = re.compile(r"https?://(?:127\.0\.0\.1|localhost|\[::1\])(?::\d+)?/\S*")


def course_notebooks_dir() -> Path | None:
    """The checkout's notebooks/ folder, or None when cnncourse is installed as a wheel."""
    root = paths.repo_root()
    return (root / "notebooks").resolve() if root is not None else None


def find_notebook(name: str, folder: Path | None) -> Path:
    """NOTEBOOK as given: a path, else a notebook of ``folder`` named by its file name or its start (``01``)."""
    import glob

    given = Path(name).expanduser()
    if given.exists():
        return given.resolve()
    if folder is not None:
        for candidate in (folder / name, folder / f"{name}.ipynb"):
            if candidate.is_file():
                return candidate.resolve()
        relative = not given.is_absolute() and given.anchor == ""  # glob() takes no absolute pattern
        matches = sorted(p for p in folder.glob(f"{glob.escape(name)}*.ipynb") if not is_notebook_copy(p)) \
            if relative else []
        if len(matches) == 1:
            return matches[0].resolve()
        if matches:
            raise CourseError(f"{name!r} could be any of {', '.join(m.name for m in matches)}: give more of the name")
        known = ", ".join(p.name for p in sorted(folder.glob("[0-9][0-9]_*.ipynb")) if not is_notebook_copy(p))
        raise CourseError(f"no notebook {name!r} here or in {folder} (there: {known or 'none'})")
    raise CourseError(f"no notebook {name!r}: give the path of a notebook")


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _kernel_note() -> str | None:
    """A warning when the ``python3`` kernel JupyterLab will find is another Python than this one."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

        spec = KernelSpecManager().get_kernel_spec("python3")
    except (ImportError, NoSuchKernel, OSError, ValueError):
        return None
    exe = spec.argv[0] if spec.argv else ""
    if exe in {"python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}"}:
        return None  # JupyterLab runs it with its own interpreter: this one
    try:
        same = Path(exe).resolve() == Path(sys.executable).resolve()
    except OSError:
        same = False
    if same:
        return None
    return (f"warning: the python3 kernel installed in {spec.resource_dir} runs {exe}, not this environment's "
            f"{sys.executable}: the notebooks may miss TensorFlow or cnncourse. Remove it with "
            f"`jupyter kernelspec remove python3` (JupyterLab's built-in python3 kernel is then this Python).")


def lab_command(notebook: str | None, jupyterlab_args: list[str], *, root: bool | None = None,
                present: Path | None = None) -> tuple[list[str], list[str], str | None]:
    """The JupyterLab command line, the lines to print first, and the URL path of NOTEBOOK (or None).

    ``present``: the folder of ``--present``'s settings for this launch (see :mod:`cnncourse.lab`).
    """
    from urllib.parse import quote

    folder = course_notebooks_dir()
    target = find_notebook(notebook, folder) if notebook else None
    if target is not None and target.is_dir():
        root_dir, target = target, None
    elif target is not None:
        inside = folder is not None and target.is_relative_to(folder)
        root_dir = folder if inside else target.parent
    else:
        root_dir = folder or Path.cwd().resolve()
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root_dir}"]
    notes = [f"JupyterLab on {root_dir}; the notebooks' python3 kernel is {sys.executable} (this environment)"]
    allowed = any(a.split("=")[0] in ("--allow-root", "--ServerApp.allow_root") for a in jupyterlab_args)
    if (_is_root() if root is None else root) and not allowed:
        command.append("--allow-root")
        notes.append("running as root: adding --allow-root (JupyterLab refuses to start as root without it)")
    if present is not None:
        from . import lab

        command += lab.present_args(present)
        notes.append("presenting: presentation mode with large fonts, simple interface, side panels closed "
                     "(View > Presentation Mode turns it off)")
    command += jupyterlab_args
    open_path = None
    if target is not None:
        command.append(str(target))
        open_path = "lab/tree/" + quote(target.relative_to(root_dir).as_posix())
    notes.append(" ".join(command))
    return command, notes, open_path


def _open_url(line: str, open_path: str | None) -> str | None:
    """The address to open, from a JupyterLab log line that shows its local URL (None if the line has none)."""
    from urllib.parse import urlsplit, urlunsplit

    match = _LOCAL_URL.search(line)
    if match is None:
        return None
    url = match.group(0)
    parts = urlsplit(url)
    if open_path and parts.path.rstrip("/").endswith("/lab"):
        url = urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + open_path.removeprefix("lab/")))
    return url


def run_lab(command: list[str], open_path: str | None) -> int:
    """Run JupyterLab, pass its log through, print the address to open once it is up; JupyterLab's exit status.

    Ctrl-C in a terminal reaches JupyterLab directly (it asks for confirmation); SIGTERM, or SIGINT
    without a terminal, is passed on to it. JupyterLab is stopped if this process fails.
    """
    import select
    import subprocess

    proc = subprocess.Popen(command, stderr=subprocess.PIPE)

    def forward(signum, _frame):
        if proc.poll() is not None:
            return
        if signum == signal.SIGINT and sys.stdin is not None and sys.stdin.isatty():
            return  # the terminal sent it to JupyterLab too
        proc.send_signal(signum)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        fd, pending, url, announced = proc.stderr.fileno(), b"", None, False
        while True:
            # print the address once JupyterLab's start-up messages are through (1 s of quiet)
            if url and not announced and (os.name == "nt" or not select.select([fd], [], [], 1.0)[0]):
                print(f"\ncnncourse lab: open {url}\ncnncourse lab: Ctrl-C stops JupyterLab\n", flush=True)
                announced = True
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            sys.stderr.buffer.write(chunk)
            sys.stderr.buffer.flush()
            if url is None:
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    url = url or _open_url(line.decode("utf-8", "replace"), open_path)
        return proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def cmd_lab(args) -> int:
    import importlib.util

    if importlib.util.find_spec("jupyterlab") is None:
        raise CourseError(f"JupyterLab is not installed for {sys.executable}: "
                          "pip install -e . -c .ci/constraints.txt (in the checkout)")
    from . import lab

    present = getattr(args, "present", False)
    if present and not args.notebook:
        print("error: cnncourse lab --present: name the notebook to present, e.g. cnncourse lab --present 01",
              file=sys.stderr)
        return 2
    with lab.course_settings(present) as settings:
        command, notes, open_path = lab_command(args.notebook, args.jupyterlab_args,
                                                present=settings if present else None)
        kernel = _kernel_note()
        notes.insert(-1, f"no pop-up about Jupyter news (it cannot be fetched offline): settings for this launch in "
                         f"{settings} ({lab.CONFIG_PATH_ENV}); your own JupyterLab settings still win")
        for note in [*notes, *([kernel] if kernel else [])]:
            print(f"cnncourse lab: {note}", flush=True)
        return run_lab(command, open_path)


LAB_OPTIONS = ("--present",)  # cnncourse lab's own options; JupyterLab has none of these names


def split_lab_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """``lab [--present] [NOTEBOOK] ARGS...``: everything after NOTEBOOK is JupyterLab's, options included,
    except ``--present`` (allowed after NOTEBOOK too)."""
    if not argv or argv[0] != "lab":
        return argv, []
    ours = argv[:1]
    rest = argv[1:]
    ours += [a for a in rest if a in LAB_OPTIONS]
    rest = [a for a in rest if a not in LAB_OPTIONS]
    if rest and (not rest[0].startswith("-") or rest[0] in ("-h", "--help")):
        ours.append(rest.pop(0))
    return ours, rest


def build_parser() -> argparse.ArgumentParser:
    from .data import cli as data_cli

    parser = argparse.ArgumentParser(prog="cnncourse", description="Helpers for the cnncourse notebooks.")
    parser.add_argument("--debug", action="store_true",
                        help=f"show the traceback of an error (also: {DEBUG_ENV}=1; allowed anywhere on the line)")
    sub = parser.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("lab", help="start JupyterLab on the course's notebooks, with this environment as the kernel",
                         description=LAB_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    lab.add_argument("notebook", nargs="?", metavar="NOTEBOOK",
                     help="a notebook to open: a path, or the start of a name in notebooks/ (e.g. 01)")
    lab.add_argument("jupyterlab_args", nargs="*", metavar="JUPYTERLAB_ARG",
                     help="passed to JupyterLab unchanged (e.g. --no-browser --port=8890)")
    lab.add_argument("--present", action="store_true",
                     help="open NOTEBOOK ready to present: presentation mode, large fonts, simple interface")
    lab.set_defaults(func=cmd_lab)
    info = sub.add_parser("info", help="print the runtime banner and which datasets are present where")
    info.set_defaults(func=cmd_info)
    run = sub.add_parser("run", help="execute notebooks headless, in place, and write results/<profile>/SUMMARY.md")
    run.add_argument("notebooks", nargs="*", help="notebooks to run (default: all of notebooks/)")
    run.add_argument("--profile", choices=sorted(profiles.PROFILES), help="default: $CNNCOURSE_PROFILE or 'class'")
    run.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell (default 3600)")
    run.add_argument("--seed", type=non_negative_int("seed"), default=None,
                     help="run with this seed instead of the notebook's own (42): results go to "
                          "results/<profile>/seed<N>/, the executed copy to NN_name.seed<N>.ipynb, "
                          "and the notebook itself is left untouched (e.g. --seed 7 02 03 05)")
    run.set_defaults(func=cmd_run)
    from .course_models import MODEL_NAMES

    bench = sub.add_parser("bench", help="measure training and input speed of the notebooks' models on this machine",
                           description=BENCH_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_argument("--quick", action="store_true", help="tiny batches and a few steps: checks that it runs (CI)")
    bench.add_argument("--models", nargs="+", metavar="MODEL", type=model_names(MODEL_NAMES),
                       help=f"only these (space- or comma-separated): {', '.join(MODEL_NAMES)}")
    bench.add_argument("--rounds", type=positive_int("rounds"), default=5,
                       help="timed rounds per precision, alternating (default 5; --quick: 1)")
    bench.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    bench.set_defaults(func=cmd_bench)
    slides = sub.add_parser("slides", help="write a reveal.js deck per lesson, with speaker notes, that works offline",
                            description=SLIDES_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    slides.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                        help="lessons to turn into decks: paths, or starts of names in notebooks/ (default: all)")
    slides.add_argument("--out", type=Path, metavar="DIR", help="where the decks go (default: slides/ in the checkout)")
    slides.set_defaults(func=cmd_slides)
    data_cli.register(sub)
    return parser


# ---------------------------------------------------------------- errors as messages

def _under(path: Path, base: Path | None) -> bool:
    if base is None:
        return False
    try:
        path.resolve().relative_to(base.resolve())
    except (ValueError, OSError):
        return False
    return True


def _fix_for(path: Path | None) -> str:
    if path is not None and _under(path, paths.data_dir_path()):
        return f"set {paths.DATA_ENV} to a folder you can write to"
    if path is not None and _under(path, paths.results_base()):
        return f"set {paths.RESULTS_ENV} to a folder you can write to"
    if path is not None and path.suffix == ".ipynb":
        return "copy the notebooks to a folder you can write to and run them there"
    return "use a folder you can write to"


def describe_os_error(e: OSError) -> str:
    """One line for a failed file operation: what, where, and what to do."""
    name = os.fsdecode(e.filename) if isinstance(e.filename, (str, bytes)) else None
    path = Path(name) if name else None
    where = f" {path}" if path else ""
    if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        clean = " (cnncourse data clean removes leftovers of interrupted runs)" \
            if path and _under(path, paths.data_dir_path()) else ""
        return (f"no space left on the device writing{where}; it was left as it was. "
                f"Free some space{clean} and try again.")
    if e.errno == errno.EROFS:
        return f"{path or 'the folder'} is on a read-only file system: {_fix_for(path)}."
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied:{where}: {_fix_for(path)}."
    return f"{e.strerror or type(e).__name__}:{where}"


def user_message(e: BaseException) -> str | None:
    """The one-line message for an error the user can fix, or None for a bug (shown as a traceback)."""
    if isinstance(e, CourseError):
        return str(e)
    if isinstance(e, OSError) and e.errno is not None:
        return describe_os_error(e)
    return None


class _Terminated(BaseException):
    """SIGTERM, raised where the process is, so that ``finally`` blocks remove temporary files."""


# Set by the SIGTERM handler as well: code that swallows the exception (a notebook's kernel dying in
# the same process group, nbclient's own error handling) cannot hide that the run was asked to stop.
_TERMINATED = threading.Event()


@contextlib.contextmanager
def _sigterm_unwinds():
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        _TERMINATED.set()
        raise _Terminated()

    _TERMINATED.clear()
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def prepare_environment() -> None:
    """Check the settings every command depends on, and make relative folders absolute once."""
    from . import runtime
    from .data import download

    paths.absolutize_env()
    profiles.current_name()
    runtime.precision_override()
    m = download.mirror()
    if m is not None and m.folder is not None and not Path(os.path.expanduser(m.setting)).is_absolute() \
            and not m.setting.startswith("file://"):
        os.environ[paths.MIRROR_ENV] = str(m.folder)  # kernels run elsewhere: give them the folder found here


def split_debug(argv: list[str] | None) -> tuple[list[str], bool]:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes")
    return [a for a in argv if a != "--debug"], debug


def dispatch(func, args, *, debug: bool = False) -> int:
    """Run a command: a user error or environment problem becomes one ``error:`` line and exit status 1."""
    try:
        with _sigterm_unwinds():
            prepare_environment()
            return func(args)
    except _Terminated:
        print("cnncourse: stopped (SIGTERM)", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("cnncourse: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        message = None if debug else user_message(e)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    argv, debug = split_debug(argv)
    argv, jupyterlab_args = split_lab_args(argv)
    args = build_parser().parse_args(argv)
    if args.command == "lab":
        args.jupyterlab_args = jupyterlab_args
    return dispatch(args.func, args, debug=debug)


if __name__ == "__main__":
    sys.exit(main())
