"""End to end: notebook 01 in JupyterLab, driven in headless Chromium through Playwright (marker ``e2e``).

What a student does: `cnncourse lab` starts JupyterLab (here on 127.0.0.1, a free port, a random
token, from this environment, on a copy of the notebooks: the committed files are never touched);
the un-run notebook shows both explorers as static snapshots; Run > Run All Cells runs it without
an error or a stderr line; the conv explorer's kernel-size slider, dragged from 5 to 7, reports
29,600 parameters; a kernel typed into explorer 2 redraws the photo and its caption.

The browser is Debian's ``/usr/bin/chromium`` (``.ci/run`` installs it with apt-get; Playwright's own
browser download does not work offline), launched with a fresh profile and the flags a closed network
needs. Screenshots land in pytest's tmp folder; their paths are printed, and named in every failure.
Run only this test with ``python -m pytest -m e2e``, everything else with ``-m "not e2e"``.
"""
from __future__ import annotations

import contextlib
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

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("CNNCOURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
NOTEBOOK = "01_conv_basics.ipynb"
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'  # stderr and tracebacks
START_S, RUN_ALL_S, STEP_S = 60, 120, 20  # bounds of the waits: JupyterLab up, notebook run, one UI step


def skip_loudly(reason: str):
    warnings.warn(f"end-to-end browser test skipped: {reason}", UserWarning, stacklevel=2)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> Path:
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


def write_settings(folder: Path) -> None:
    """JupyterLab user settings: every cell in the DOM (no windowing), no news or update checks (offline)."""
    settings = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": '{"windowingMode": "none"}',
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
            '{"fetchNews": "false", "checkForUpdates": false, "doNotDisturbMode": true}',
    }
    for name, text in settings.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


def tail(path: Path, lines: int = 25) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"


@contextlib.contextmanager
def jupyterlab(work: Path):
    """`cnncourse lab NOTEBOOK` on a copy of notebooks/; yields (base URL, token, log file); always stopped."""
    notebooks = work / "notebooks"
    notebooks.mkdir()
    for nb in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        shutil.copy2(nb, notebooks / nb.name)
    write_settings(work / "lab-settings")
    port, token = free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "CNNCOURSE_RECORD_RESULTS")}
    env.update(CNNCOURSE_PROFILE="quick", CNNCOURSE_RESULTS_DIR=str(work / "results"), PYTHONUNBUFFERED="1",
               JUPYTER_CONFIG_DIR=str(work / "jupyter-config"), JUPYTER_DATA_DIR=str(work / "jupyter-data"),
               JUPYTER_RUNTIME_DIR=str(work / "jupyter-runtime"), IPYTHONDIR=str(work / "ipython"),
               JUPYTERLAB_SETTINGS_DIR=str(work / "lab-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(work / "lab-workspaces"))
    log = work / "jupyterlab.log"
    command = [sys.executable, "-m", "cnncourse", "lab", str(notebooks / NOTEBOOK), "--no-browser",
               "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}"]
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


class Shots:
    """Numbered screenshots under pytest's tmp folder; every failure message names them."""

    def __init__(self, folder: Path):
        self.folder, self.page, self.paths = folder, None, []
        folder.mkdir()

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


CELL_STATE_JS = """() => {
  const cells = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell')];
  const prompts = cells.map(c => (c.querySelector('.jp-InputPrompt') || {}).textContent || '');
  const indicator = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
  return {prompts, status: indicator ? indicator.getAttribute('data-status') : null};
}"""


def kernel_status(page) -> str | None:
    return page.evaluate(CELL_STATE_JS)["status"]


def code_cell(page, source: str):
    """The code cell whose source is ``source`` (JupyterLab's DOM: .jp-CodeCell, CodeMirror's .cm-content)."""
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").filter(
        has=page.locator(".jp-InputArea .cm-content", has_text=source))


def test_notebook_01_in_jupyterlab_in_headless_chromium(chromium, tmp_path, capsys):
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    shots = Shots(tmp_path / "screenshots")
    with jupyterlab(tmp_path) as (base, token, log), sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(chromium), headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000}, timeout=30_000)
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(STEP_S * 1000)
            console = []
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            shots.page = page
            try:
                run_the_course(page, shots, f"{base}/lab/tree/{NOTEBOOK}?token={token}")
            except (PlaywrightError, AssertionError) as e:
                shots.fail(f"{type(e).__name__}: {e}\nbrowser console errors: {console[-10:]}\n"
                           f"JupyterLab log ({log}):\n{tail(log, 15)}")
        finally:
            context.close()
    seconds = time.monotonic() - started
    with capsys.disabled():
        print(f"\ne2e: notebook 01 in JupyterLab + headless Chromium: {seconds:.0f} s; screenshots:")
        for path in shots.paths:
            print(f"  {path}")


def run_the_course(page, shots: Shots, url: str) -> None:
    page.goto(url, wait_until="domcontentloaded", timeout=60_000)
    page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for(timeout=START_S * 1000)
    conv = code_cell(page, "widgets.conv_explorer()")
    kern = code_cell(page, "widgets.kernel_explorer(photo)")

    # 1. Before the kernel runs: the explorers' snapshots, not "VBox(children=(...)" text.
    for name, cell, expect in [("conv", conv, "Conv2D arithmetic explorer"), ("kernel", kern, "3x3 kernel explorer")]:
        out = cell.locator(".jp-OutputArea-output").first
        out.wait_for()
        text = out.inner_text()
        shots.take(f"before-run-{name}-explorer", cell)
        assert "VBox(children" not in text, f"un-run notebook shows the widget's repr text: {text[:200]!r}"
        assert expect in text and "snapshot" in text, f"no {name} explorer snapshot before the run: {text[:200]!r}"
    assert kern.locator(".jp-OutputArea-output img").count() == 1, "the kernel explorer snapshot has no picture"
    assert "15,200 = (5x5x3 + 1) x 200" in conv.locator(".jp-OutputArea-output").first.inner_text()

    # 2. Run > Run All Cells, once the kernel is up; wait until every cell ran and the kernel is idle.
    wait_for(lambda: kernel_status(page) == "idle", START_S, shots, "the kernel to start (status idle)")
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"], '
                 '.lm-Menu-item[data-command="notebook:run-all-cells"]').first.click()
    # the stored outputs carry execution counts already: first see the run start ([*] prompts, kernel busy)
    wait_for(lambda: any("*" in p for p in page.evaluate(CELL_STATE_JS)["prompts"]) or kernel_status(page) == "busy",
             STEP_S, shots, "Run All Cells to start", interval=0.1)

    def finished():
        state = page.evaluate(CELL_STATE_JS)
        prompts = state["prompts"]
        done = state["status"] == "idle" and prompts and all(p.strip("[]: ").isdigit() for p in prompts)
        return done or (page.locator(STDERR).count() > 0 and state["status"] == "idle" and "error output")

    wait_for(finished, RUN_ALL_S, shots, "Run All Cells to finish (every prompt [n], kernel idle)", interval=0.5)
    shots.take("after-run-all")
    bad = page.locator(STDERR)
    if bad.count():
        first = bad.first
        first.scroll_into_view_if_needed()
        shots.take("stderr-output")
        texts = [bad.nth(i).inner_text()[:400] for i in range(min(bad.count(), 3))]
        raise AssertionError(f"{bad.count()} output(s) show an error or stderr text: {texts}")

    # 3. Explorer 1: drag the kernel-size slider from 5 to 7.
    conv.scroll_into_view_if_needed()
    slider = conv.locator(".widget-slider").filter(has=page.locator(".widget-label", has_text="kernel size"))
    readout = slider.locator(".widget-readout")
    report = conv.locator(".widget-html pre").last
    wait_for(lambda: readout.inner_text().strip() == "5", STEP_S, shots, "the live kernel-size slider at 5")
    assert "15,200 = (5x5x3 + 1) x 200" in report.inner_text()
    handle = slider.locator(".noUi-handle")
    track = slider.locator(".noUi-target").bounding_box()
    grip = handle.bounding_box()
    y = grip["y"] + grip["height"] / 2
    page.mouse.move(grip["x"] + grip["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(track["x"] + track["width"] * (7 - 1) / (11 - 1), y, steps=12)
    page.mouse.up()
    value = wait_for(lambda: readout.inner_text().strip(), STEP_S, shots, "the slider's readout")
    for _ in range(4):  # a pixel off lands on 6 or 8: the arrow keys finish the job
        if value == "7":
            break
        handle.press("ArrowRight" if int(value) < 7 else "ArrowLeft")
        time.sleep(0.3)
        value = readout.inner_text().strip()
    assert value == "7", f"the kernel-size slider shows {value}, not 7"
    wait_for(lambda: "29,600" in report.inner_text(), STEP_S, shots, "the report to show 29,600 parameters")
    text = report.inner_text()
    assert "kernel_size=7" in text and "parameters       29,600 = (7x7x3 + 1) x 200" in text, text
    assert "multiplications  441,000,000 per instance" in text, text
    shots.take("conv-explorer-kernel-7", conv)

    # 4. Explorer 2: type a custom kernel; the picture and the caption follow.
    kern.scroll_into_view_if_needed()
    picture = kern.locator(".widget-image").first
    caption = kern.locator(".widget-html pre").last
    wait_for(lambda: "vertical edges (sobel x): sum 0" in caption.inner_text(), STEP_S, shots, "explorer 2's caption")
    kern.locator("select").first.select_option("identity")
    wait_for(lambda: caption.inner_text().startswith("identity: "), STEP_S, shots, "the identity kernel's caption")
    before = picture.get_attribute("src")
    centre = kern.locator(".widget-gridbox input").nth(4)
    centre.fill("4")
    centre.press("Tab")  # FloatText sends its value on change (Tab, Enter or a click elsewhere)
    wait_for(lambda: caption.inner_text().startswith("custom: sum 4"), STEP_S, shots, "the custom kernel's caption")
    text = caption.inner_text()
    assert "brightens 4x" in text and "keeps the brightness" not in text, text
    wait_for(lambda: picture.get_attribute("src") != before, STEP_S, shots, "the filtered photo to be redrawn")
    assert kern.locator("select").first.input_value() == "custom"
    shots.take("kernel-explorer-custom-sum-4", kern)
