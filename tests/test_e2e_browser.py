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

import time
from pathlib import Path

import pytest

from tests.browser_helpers import (
    CHROMIUM_FLAGS,
    NO_WINDOWING,
    START_S,
    Shots,
    copy_notebooks,
    find_chromium,
    jupyterlab,
    tail,
    wait_for,
)

pytestmark = pytest.mark.e2e

NOTEBOOK = "01_conv_basics.ipynb"
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'  # stderr and tracebacks
RUN_ALL_S, STEP_S = 120, 20  # bounds of the waits: notebook run, one UI step


@pytest.fixture(scope="module")
def chromium() -> Path:
    return find_chromium()


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
    target = copy_notebooks(tmp_path / "notebooks") / NOTEBOOK
    with jupyterlab(tmp_path, target, settings=NO_WINDOWING) as (base, token, log), sync_playwright() as pw:
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
