"""`cnncourse slides`' decks in headless Chromium, opened from ``file://`` with the network cut (marker ``e2e``).

For every lesson's deck (and the fixture lesson of tests/test_slides.py, which has a vertical slide and speaker
notes): reveal.js starts, with at least as many slides as the notebook's slide metadata implies; ArrowRight and
ArrowDown move between slides; no request leaves the machine (any request that is not ``file:`` is aborted and
fails the test), none fails, and the console shows no error. Screenshots at 1280 x 720 of each title slide and
of a slide with a figure land in ``test-artifacts/slides/`` (git-ignored); the fixture's speaker view (``S``)
shows its notes, offline.

The decks are built once for the module, in pytest's tmp folder. The browser is Debian's ``/usr/bin/chromium``
(tests/browser_helpers.py); without it the module is skipped, with a warning.
"""
from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest

from cnncourse import slides
from tests.browser_helpers import CHROMIUM_FLAGS, ROOT, find_chromium
from tests.test_notebooks import LESSONS
from tests.test_slides import FIXTURE, make_lesson

pytestmark = pytest.mark.e2e

ARTIFACTS = ROOT / "test-artifacts" / "slides"
WAIT_MS = 20_000
STARTED = "() => window.Reveal !== undefined && Reveal.isReady()"
FIGURE_SLIDES = """() => [...document.querySelectorAll('.reveal .slides section:not(.stack)')]
  .filter(s => s.querySelector('.jp-OutputArea-output img')).map(s => Reveal.getIndices(s))"""
STACKS = """() => [...document.querySelectorAll('.reveal .slides > section')]
  .filter(s => s.querySelectorAll(':scope > section').length > 1)
  .map(s => Reveal.getIndices(s.querySelector('section')))"""


@pytest.fixture(scope="module")
def decks(tmp_path_factory) -> dict[str, Path]:
    """Every lesson's deck and the fixture's, in one folder (as `cnncourse slides` writes them)."""
    folder = tmp_path_factory.mktemp("slides-browser")
    notebooks = [*LESSONS, make_lesson(folder / "notebooks")]
    start = time.perf_counter()
    built = slides.build_decks(notebooks, folder / "out")
    print(f"\nslides: {len(built)} decks in {time.perf_counter() - start:.1f} s")
    return {deck.notebook.stem: deck.path for deck in built}


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


class OfflinePage:
    """A page at 1280 x 720 in a fresh context whose requests other than ``file:`` are aborted and recorded,
    as are failed requests, console errors and uncaught exceptions."""

    def __init__(self, browser):
        self.problems: list[str] = []
        self.context = browser.new_context(viewport={"width": slides.WIDTH, "height": slides.HEIGHT})
        self.context.route("**/*", self._route)
        self.context.on("page", self._watch)
        self.page = self.context.new_page()
        self.page.set_default_timeout(WAIT_MS)

    def _route(self, route):
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            route.continue_()
        else:
            self.problems.append(f"network request (blocked): {url}")
            route.abort()

    def _watch(self, page):
        page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"failed request: {r.url} ({r.failure})"))

    def open(self, deck: Path, fragment: str = ""):
        self.page.goto(deck.as_uri() + fragment)
        self.page.wait_for_function(STARTED)
        return self.page

    def indices(self) -> dict:
        return self.page.evaluate("() => Reveal.getIndices()")

    def close(self):
        self.context.close()


def expected_slides(notebook: Path) -> int:
    return len(slides.slide_starts(nbformat.read(notebook, as_version=4)))


def has_figures(notebook: Path) -> bool:
    nb = nbformat.read(notebook, as_version=4)
    return any(slides.slide_type(cell) not in ("skip", "notes") and "image/png" in output.get("data", {})
               for cell in nb.cells for output in cell.get("outputs", []))


def shoot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


@pytest.mark.parametrize("stem", [nb.stem for nb in LESSONS] + [FIXTURE])
def test_a_deck_works_offline_from_file(stem, decks, browser, capsys):
    notebook = next((nb for nb in LESSONS if nb.stem == stem), None) or decks[stem].parent.parent / "notebooks" / \
        f"{stem}.ipynb"
    offline = OfflinePage(browser)
    try:
        page = offline.open(decks[stem])
        total = page.evaluate("() => Reveal.getTotalSlides()")
        assert total >= expected_slides(notebook) >= 1, f"{total} slides shown"
        assert offline.indices()["h"] == 0 and offline.indices()["v"] == 0
        shots = [shoot(page, f"{stem}-title")]

        horizontal = page.evaluate("() => Reveal.getHorizontalSlides().length")
        if horizontal > 1:
            page.keyboard.press("ArrowRight")
            page.wait_for_function("() => Reveal.getIndices().h === 1")
        stacks = page.evaluate(STACKS)  # the first slide of each horizontal slide that has slides below it
        if stacks:
            page.evaluate(f"() => Reveal.slide({stacks[0]['h']}, 0)")
            page.keyboard.press("ArrowDown")
            page.wait_for_function(f"() => Reveal.getIndices().h === {stacks[0]['h']} && Reveal.getIndices().v === 1")

        figures = page.evaluate(FIGURE_SLIDES)
        if has_figures(notebook):
            assert figures, "the notebook has figures, the deck shows none"
        if figures:
            page.evaluate(f"() => Reveal.slide({figures[0]['h']}, {figures[0]['v'] or 0})")
            page.wait_for_function("() => { const img = Reveal.getCurrentSlide().querySelector('.jp-OutputArea-output "
                                   "img'); return img && img.complete && img.naturalWidth > 0; }")
            page.evaluate("() => Reveal.getCurrentSlide().querySelector('.jp-OutputArea-output img')"
                          ".scrollIntoView({block: 'center'})")
            box = page.locator(".reveal .slides section.present:not(.stack) .jp-OutputArea-output img").first \
                .bounding_box()
            assert box and box["width"] <= slides.WIDTH and box["height"] <= slides.HEIGHT, f"figure box {box}"
            shots.append(shoot(page, f"{stem}-figure"))
        assert offline.problems == [], offline.problems
    finally:
        offline.close()
    with capsys.disabled():
        print(f"\n{stem}: {total} slides; {', '.join(str(p.relative_to(ROOT)) for p in shots)}")


def test_the_speaker_view_shows_the_notes_offline(decks, browser):
    offline = OfflinePage(browser)
    try:
        page = offline.open(decks[FIXTURE], "#/1")  # the Padding slide
        assert "grid on the board" in page.evaluate("() => Reveal.getSlideNotes()")
        with offline.context.expect_page() as popup:
            page.keyboard.press("s")
        speaker = popup.value
        speaker.wait_for_function("() => { const n = document.querySelector('.speaker-controls-notes .value'); "
                                  "return n && n.innerText.includes('Draw the padded grid on the board'); }",
                                  timeout=WAIT_MS)
        page.keyboard.press("ArrowDown")  # the Stride slide: the speaker view follows
        speaker.wait_for_function("() => document.querySelector('.speaker-controls-notes .value')"
                                  ".innerText.includes('what does stride 2 do')", timeout=WAIT_MS)
        shoot(speaker, f"{FIXTURE}-speaker-view")
        assert offline.problems == [], offline.problems
    finally:
        offline.close()
