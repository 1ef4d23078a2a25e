"""What the browser tests share (tests/test_e2e_browser.py, tests/test_lab_browser.py): `cnncourse lab` started
on a copy of the notebooks, on 127.0.0.1, a free port and a random token, with fresh Jupyter folders (no setting
of this machine's user leaks in); Debian's Chromium found, or the test skipped loudly; screenshots; polling.

The browser is Debian's ``/usr/bin/chromium`` (``.ci/run`` installs it with apt-get; Playwright's own
browser download does not work offline), launched with the flags a closed network needs.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("CNNCOURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
START_S = 60  # bound of the wait for JupyterLab to answer
# Every cell in the DOM (JupyterLab 4 draws only the cells in view by default): the tests look at all of them.
NO_WINDOWING = {"@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"}}


def skip_loudly(reason: str):
    warnings.warn(f"browser test skipped: {reason}", UserWarning, stacklevel=2)
    pytest.skip(reason)


def find_chromium() -> Path:
    """Debian's Chromium, with Python's playwright to drive it; else the test is skipped, with a warning."""
    if not CHROMIUM.is_file():
        how = ("apt-get is not available here to install it" if shutil.which("apt-get") is None
               else "install it with `apt-get install -y chromium` (.ci/run does)")
        skip_loudly(f"Debian's chromium is not at {CHROMIUM}: {how}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_loudly('Python playwright is not installed: pip install -e ".[dev]" -c .ci/constraints.txt')
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_settings(folder: Path, settings: dict[str, dict]) -> None:
    """JupyterLab user settings, by plugin id (``@jupyterlab/notebook-extension:tracker``)."""
    for plugin, values in settings.items():
        package, name = plugin.split(":")
        path = folder / package / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def tail(path: Path, lines: int = 25) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"


def copy_notebooks(folder: Path) -> Path:
    """The checkout's notebooks, copied to ``folder``: the committed files are never touched."""
    folder.mkdir()
    for nb in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        shutil.copy2(nb, folder / nb.name)
    return folder


@contextlib.contextmanager
def jupyterlab(work: Path, target: Path, *, lab_args=(), jupyterlab_args=(), settings=None, name="jupyterlab"):
    """`cnncourse lab [LAB_ARGS] TARGET [JUPYTERLAB_ARGS]` with fresh Jupyter folders under ``work`` and the user
    ``settings`` given (by plugin id); yields (base URL, token, log file); always stopped, kernels included."""
    write_settings(work / f"{name}-settings", settings or {})
    port, token = free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items()
           if k not in ("MPLBACKEND", "CNNCOURSE_RECORD_RESULTS", "JUPYTER_CONFIG_PATH", "JUPYTER_PATH")}
    env.update(CNNCOURSE_PROFILE="quick", CNNCOURSE_RESULTS_DIR=str(work / "results"), PYTHONUNBUFFERED="1",
               JUPYTER_CONFIG_DIR=str(work / f"{name}-config"), JUPYTER_DATA_DIR=str(work / f"{name}-data"),
               JUPYTER_RUNTIME_DIR=str(work / f"{name}-runtime"), IPYTHONDIR=str(work / "ipython"),
               JUPYTERLAB_SETTINGS_DIR=str(work / f"{name}-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(work / f"{name}-workspaces"))
    log = work / f"{name}.log"
    command = [sys.executable, "-m", "cnncourse", "lab", *lab_args, str(target), "--no-browser",
               "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", *jupyterlab_args]
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=work,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with status {proc.returncode} before it answered; "
                            f"its log ({log}):\n{tail(log)}")
            try:
                with opener.open(f"{base}/api/status?token={token}", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer on {base} within {START_S} s; its log ({log}):\n{tail(log)}")
            time.sleep(0.25)
        yield base, token, log
    finally:
        # cnncourse lab passes SIGTERM on to JupyterLab, which shuts its kernels down; then nothing may be left
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # the group: cnncourse, JupyterLab, kernels
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def get_json(url: str):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as response:
        return json.load(response)


class Shots:
    """Numbered screenshots under pytest's tmp folder; every failure message names them."""

    def __init__(self, folder: Path):
        self.folder, self.page, self.paths = folder, None, []
        folder.mkdir(parents=True, exist_ok=True)

    def take(self, name: str, locator=None) -> Path:
        path = self.folder / f"{len(self.paths) + 1:02d}-{name}.png"
        with contextlib.suppress(Exception):  # a screenshot must never hide the real failure
            (locator or self.page).screenshot(path=str(path), timeout=10_000)
            self.paths.append(path)
        return path

    def fail(self, message: str):
        shot = self.take("failure")
        pytest.fail(f"{message}\nscreenshot: {shot}\nall screenshots: {self.folder}")


def wait_for(condition, timeout: float, shots: Shots, what: str, interval: float = 0.25):
    """Poll ``condition()`` until it returns something truthy (returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    shots.fail(f"{what}: not within {timeout:.0f} s (last seen: {last!r})")
