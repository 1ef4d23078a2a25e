"""`cnncourse lab` in headless Chromium (marker ``e2e``): what a class sees before anything runs.

- every lesson opens in JupyterLab without an error dialog, and every figure stored in its outputs is drawn
  (each output ``<img>`` loaded, with a width); no cell is run, and no kernel started
  (``--LabApp.notebook_starts_kernel=False``; JupyterLab 4.0 ignores it and starts one per lesson);
- no pop-up asks about Jupyter news, with fresh JupyterLab settings: the course's default answers it; and the
  check would see one (the user setting "ask", which wins over the course's default, brings it back);
- `cnncourse lab --present 01` opens notebook 01 in JupyterLab's presentation mode, with the large fonts,
  the simple interface and the side panels closed.

One JupyterLab serves the lessons and the news check; `--present` starts its own. All on copies of the
notebooks (tests/browser_helpers.py). Screenshots land in pytest's tmp folder and are named in every failure.
"""
from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest

from cnncourse import lab as course_lab
from tests.browser_helpers import (
    CHROMIUM_FLAGS,
    NO_WINDOWING,
    START_S,
    Shots,
    copy_notebooks,
    find_chromium,
    get_json,
    jupyterlab,
    tail,
    wait_for,
)
from tests.test_notebooks import LESSONS

pytestmark = pytest.mark.e2e

NO_KERNELS = ["--LabApp.notebook_starts_kernel=False"]
NEWS_QUESTION = "official Jupyter news"  # "Would you like to get notified about" (4.6), "to receive" (4.0)
NOTIFICATION = course_lab.NOTIFICATION_PLUGIN
NEWS_WAIT_S = 4  # after JupyterLab is up, the time the news question gets to appear (it comes within a second)
LOAD_S = 60  # a lesson drawn, figures included

PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
DRAWN_JS = """(panel) => {
  const root = document.querySelector(panel);
  if (!root) return null;
  const images = [...root.querySelectorAll('.jp-OutputArea-output img')];
  return {cells: root.querySelectorAll('.jp-Notebook .jp-Cell').length,
          images: images.length,
          broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => (i.src || '').slice(0, 60))};
}"""
SEEN_JS = """(question) => ({
  dialogs: [...document.querySelectorAll('.jp-Dialog')].map(d => d.innerText.trim().slice(0, 300)),
  news: [...document.querySelectorAll('.Toastify__toast, .jp-Notification-Toast')]
        .map(t => t.innerText).filter(t => t.includes(question)),
})"""


def drawn_outputs(path: Path) -> tuple[int, int]:
    """(cells, output images) of a notebook as stored: the images JupyterLab draws from its outputs.

    JupyterLab draws an output's HTML over its PNG when it has both (its renderers' order), so an output
    with HTML counts the ``<img>`` tags in it, and one without counts 1 for an image.
    """
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    images = 0
    for cell in cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/html" in data:
                html = data["text/html"]
                images += len(re.findall(r"<img\b", html if isinstance(html, str) else "".join(html)))
            elif any(kind in data for kind in ("image/png", "image/jpeg", "image/gif")):
                images += 1
    return len(cells), images


@pytest.fixture(scope="module")
def browser():
    chromium = find_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_FLAGS,
                                      timeout=30_000)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    """`cnncourse lab` on a copy of notebooks/, fresh user settings but for windowing off (all cells in the DOM)."""
    work = tmp_path_factory.mktemp("lab")
    folder = copy_notebooks(work / "notebooks")
    with jupyterlab(work, folder, jupyterlab_args=NO_KERNELS, settings=NO_WINDOWING) as (base, token, log):
        yield SimpleNamespace(base=base, token=token, log=log, work=work)


def open_page(browser, shots: Shots, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(20_000)
    shots.page = page
    errors = []
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.goto(url, wait_until="domcontentloaded", timeout=START_S * 1000)
    return page, errors


def wait_until_up(page, shots: Shots) -> None:
    """JupyterLab restored: the splash screen gone, the shell there."""
    wait_for(lambda: page.evaluate("() => !!document.querySelector('.jp-LabShell') && "
                                   "!document.querySelector('#jupyterlab-splash')"),
             START_S, shots, "JupyterLab to start (its splash screen gone)")


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_the_lesson_opens_without_an_error_and_draws_its_figures(lab, browser, lesson, tmp_path):
    cells, images = drawn_outputs(lesson)
    shots = Shots(tmp_path / "screenshots")
    # a workspace of its own: only this notebook open, none of the previous tests'
    url = f"{lab.base}/lab/workspaces/t{lesson.stem[:2]}/tree/{quote(lesson.name)}?token={lab.token}"
    page, errors = open_page(browser, shots, url)
    try:
        def drawn():  # every cell and figure drawn, or a dialog up (a file load error comes instead of the cells)
            state, seen = page.evaluate(DRAWN_JS, PANEL), page.evaluate(SEEN_JS, NEWS_QUESTION)
            done = state and state["cells"] == cells and state["images"] >= images and not state["broken"]
            return (state, seen) if done or seen["dialogs"] else False

        state, seen = wait_for(drawn, LOAD_S, shots, f"{lesson.name}: {cells} cells and {images} figures drawn")
        if seen["dialogs"] or seen["news"] or state["images"] != images or state["broken"]:
            shots.fail(f"{lesson.name}: dialogs {seen['dialogs']}, news pop-ups {seen['news']}, "
                       f"{state['images']} output images drawn where the notebook stores {images}, "
                       f"not loaded: {state['broken']}\n"
                       f"browser errors: {errors[-10:]}\nJupyterLab log ({lab.log}):\n{tail(lab.log, 15)}")
    finally:
        page.close()


def put_user_setting(lab, values: dict) -> None:
    """Replace the user's settings of JupyterLab's notification plugin, through JupyterLab's settings API."""
    body = json.dumps({"raw": json.dumps(values)}).encode()
    request = urllib.request.Request(f"{lab.base}/lab/api/settings/{NOTIFICATION}", data=body, method="PUT",
                                     headers={"Authorization": f"token {lab.token}"})
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10) as response:
        assert response.status in (200, 204), response.status


def test_no_pop_up_asks_about_jupyter_news(lab, browser, tmp_path):
    served = get_json(f"{lab.base}/lab/api/settings/{NOTIFICATION}?token={lab.token}")
    assert served["schema"]["properties"]["fetchNews"]["default"] == "false", "the course's default, served"
    assert "fetchNews" not in served["settings"], "fresh user settings: the default decides"
    shots = Shots(tmp_path / "screenshots")
    page, errors = open_page(browser, shots, f"{lab.base}/lab?token={lab.token}")
    try:
        wait_until_up(page, shots)
        time.sleep(NEWS_WAIT_S)
        seen = page.evaluate(SEEN_JS, NEWS_QUESTION)
        if seen["news"] or seen["dialogs"]:
            shots.fail(f"JupyterLab asks about Jupyter news: {seen}\nbrowser errors: {errors[-10:]}")
        shots.take("no-news-question")
        # The check sees the question when it is asked: the user's own "ask" (which wins over the course's default)
        put_user_setting(lab, {"fetchNews": "none"})
        started = time.monotonic()
        page.reload(wait_until="domcontentloaded")
        wait_for(lambda: page.evaluate(SEEN_JS, NEWS_QUESTION)["news"], START_S, shots,
                 "the news question, with the user setting fetchNews 'none'")
        print(f"\nthe news question came {time.monotonic() - started:.1f} s after the reload (setting 'none')")
    finally:
        page.close()
        put_user_setting(lab, {})


def test_present_opens_the_notebook_in_presentation_mode_with_large_fonts(browser, tmp_path):
    notebook = copy_notebooks(tmp_path / "notebooks") / "01_conv_basics.ipynb"
    shots = Shots(tmp_path / "screenshots")
    with jupyterlab(tmp_path, notebook, lab_args=["--present"], jupyterlab_args=NO_KERNELS,
                    name="present") as (base, token, log):
        page, errors = open_page(browser, shots, f"{base}/lab/tree/{notebook.name}?token={token}")
        try:
            wait_for(lambda: page.evaluate("() => document.body.dataset.cnncoursePresent === 'ready'"), START_S,
                     shots, "the presenting set-up (body[data-cnncourse-present=ready])")
            for drawn in (".jp-RenderedMarkdown p", ".jp-CodeCell .cm-content"):  # JupyterLab 4.0 draws cells late
                page.locator(f"{PANEL} .jp-Notebook {drawn}").first.wait_for()
            state = page.evaluate("""() => {
              const size = (selector) => {
                const el = document.querySelector(selector);
                return el ? getComputedStyle(el).fontSize : null;
              };
              const left = document.querySelector('#jp-left-stack');
              return {
                presentation: document.querySelector('.jp-LabShell').classList.contains('jp-mod-presentationMode'),
                mode: document.querySelector('#jp-main-dock-panel').dataset.mode,
                leftOpen: !!left && !left.classList.contains('lm-mod-hidden'),
                code: size('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .cm-content'),
                text: size('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedMarkdown p'),
                wrapped: !!document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .cm-lineWrapping'),
              };
            }""")
            shots.take("presenting")
            seen = page.evaluate(SEEN_JS, NEWS_QUESTION)
            fonts = course_lab.PRESENT_FONTS
            expected = {"presentation": True, "mode": "single-document", "leftOpen": False,
                        "code": fonts["code"], "text": fonts["content"], "wrapped": True}
            if any(state[key] != value for key, value in expected.items()) or seen["dialogs"] or seen["news"]:
                shots.fail(f"not ready to present: {state} (expected {expected}); {seen}\n"
                           f"browser errors: {errors[-10:]}\nJupyterLab log ({log}):\n{tail(log, 15)}")
        finally:
            page.close()
    text = log.read_text(errors="replace")
    assert "cnncourse lab: presenting:" in text and "--LabApp.extra_labextensions_path=" in text
    folder = re.search(r"settings for this launch in (\S+)", text)
    assert folder and not Path(folder.group(1)).exists(), "the folder of this launch's settings is removed at the end"
