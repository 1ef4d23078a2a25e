"""Lecture slides: one static reveal.js deck per lesson notebook, with the instructor's speaker notes.

Used by no notebook: ``cnncourse slides [NN ...] [--out DIR]`` turns the lessons (``notebooks/NN_*.ipynb``,
01 to 07) into ``slides/NN_name.html`` (git-ignored), from their committed outputs: nothing is executed.

- **Slides** follow each cell's ``slideshow`` metadata (JupyterLab's Property Inspector, "Slide Type"):
  ``slide`` and ``subslide`` start one, ``fragment`` appears on the next key press, ``skip`` is left out,
  ``notes`` goes into the speaker notes. Reveal.js shows them at 1280 x 720, figures scaled to fit the slide.
- **Speaker notes** come from ``notebooks/instructor/NN_notes.md``: its section ``## Speaker notes`` holds one
  ``### <title>`` subsection per slide; the text goes into the speaker notes of the slide whose first cell is a
  markdown cell whose first line is a heading with exactly that title (``S`` opens reveal.js' speaker view).
  A title that matches no slide is reported.
- **Offline**: every file a deck loads sits beside it: reveal.js 5 (its core, the white theme and its fonts,
  the notes plugin) from the installed ``sphinx-revealjs`` package, and MathJax 3 (one SVG build, no
  fonts to fetch) from the installed ``sphinx-mathjax-offline`` package. nbconvert's reveal template would
  load require.js, jQuery, MathJax and the widgets' html-manager from CDNs: the template here loads none of
  them, and the explorers of notebooks 01 and 05 show their static snapshots (their widget state is dropped).
  A deck opened from ``file://`` on a machine without network works, speaker view included.

Each deck is written through a temporary file and a rename (:mod:`cnncourse.fileio`).
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import fileio, paths
from .errors import CourseError

WIDTH, HEIGHT = 1280, 720  # the slide size reveal.js scales to the window: a 720p projector shows it 1:1
THEME = "white"
REVEAL_DIR = "reveal.js"  # beside the decks: the reveal.js files they load
MATHJAX_DIR = "mathjax"
MATHJAX_FILE = "tex-svg-full.js"  # MathJax 3, TeX input, SVG output: one file, no web fonts
NOTES_SECTION = "Speaker notes"
STARTS = ("slide", "subslide")  # the slide types that start a slide (a subslide is a slide below the previous)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
INSTALL = "pip install -e . -c .ci/constraints.txt (in the checkout)"

# The reveal.js files a deck needs, relative to the package's reveal.js folder (the one holding dist/reveal.js).
REVEAL_FILES = ("dist/reveal.js", "dist/reveal.css", f"dist/theme/{THEME}.css", "plugin/notes/notes.js", "LICENSE")
REVEAL_FOLDERS = ("dist/theme/fonts/source-sans-pro",)  # the white theme's font, @import-ed by its CSS

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")

# nbconvert's reveal template (reveal/index.html.j2) less everything it fetches from the network: its
# html_head_js block (jQuery, require.js, mermaid), the widgets' html-manager, MathJax 2 from cdnjs, and the
# require.js call that loads reveal.js. What takes their place is all local, and relative to the deck.
TEMPLATE_NAME = "cnncourse_slides.html.j2"
TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}
<script>
window.MathJax = {
  tex: {inlineMath: [['$', '$'], ['\\(', '\\)']], displayMath: [['$$', '$$'], ['\\[', '\\]']],
        processEscapes: true, processEnvironments: true},
  svg: {fontCache: 'global'},
  options: {ignoreHtmlClass: 'jp-CodeCell|jp-OutputArea', processHtmlClass: 'jp-MarkdownCell|notes'}
};
</script>
<script src="{{ resources.cnncourse.mathjax }}" async></script>
{%- endblock html_head_js_mathjax -%}
{%- block html_head_css -%}
<style type="text/css">
{{ resources.cnncourse.css }}
</style>
{%- endblock html_head_css -%}
{% block footer_js %}
<script src="{{ resources.reveal.url_prefix }}/dist/reveal.js"></script>
<script src="{{ resources.reveal.url_prefix }}/plugin/notes/notes.js"></script>
<script>
Reveal.initialize({{ resources.cnncourse.config }});
</script>
{% endblock footer_js %}
"""

# Readable at 1280 x 720: no prompts (the width goes to the code), code at 18 px that wraps rather than being
# cut at the slide's edge, figures scaled down to fit the slide, and a slide taller than the screen scrolls.
CSS = f"""
:root {{
  --jp-content-font-size1: 24px;
  --jp-ui-font-size1: 20px;
  --jp-code-font-size: 18px;
  --jp-code-line-height: 1.3;
}}
.reveal {{ font-size: 24px; }}
.reveal .slides {{ text-align: left; }}
.reveal .slides > section > section {{ max-height: 100%; overflow-y: auto; overflow-x: hidden; }}
.reveal .slides :is(h1, h2, h3, h4, h5, h6) {{ text-transform: none; }}  /* the theme's CSS comes later */
.reveal .slides h1 {{ font-size: 2.0em; }}
.reveal .slides h2 {{ font-size: 1.6em; }}
.reveal .slides h3 {{ font-size: 1.3em; }}
.reveal .slides :is(h4, h5, h6) {{ font-size: 1.1em; }}
.reveal p, .reveal li {{ line-height: 1.35; }}
.jp-InputPrompt, .jp-OutputPrompt {{ display: none; }}
.reveal pre, .reveal div.highlight > pre, .reveal div.jp-OutputArea-output > pre {{
  white-space: pre-wrap; word-break: break-word; width: 100%; font-size: var(--jp-code-font-size);
}}
.reveal section img, .reveal .jp-RenderedImage img {{
  max-width: 100%; max-height: {HEIGHT - 160}px; width: auto; height: auto; object-fit: contain;
}}
.reveal .jp-RenderedHTMLCommon table {{ font-size: 18px; }}
"""

REVEAL_CONFIG = {
    "width": WIDTH, "height": HEIGHT, "margin": 0.03, "center": False, "hash": True, "controls": True,
    "progress": True, "slideNumber": "c/t", "transition": "none", "backgroundTransition": "none",
}


@dataclass
class Deck:
    """One written deck: where, how many slides, which speaker notes found their slide and which did not."""

    notebook: Path
    path: Path
    slides: int
    notes: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    seconds: float = 0.0


# ---------------------------------------------------------------- the installed assets

def _package_file(distribution: str, suffix: str) -> Path:
    """The installed file of ``distribution`` whose path ends with ``suffix``; CourseError if there is none."""
    import importlib.metadata

    try:
        files = importlib.metadata.files(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        raise CourseError(f"{distribution} (the reveal.js and MathJax files the slides load) is not installed for "
                          f"this Python: {INSTALL}") from None
    for entry in files:
        if entry.as_posix().endswith(suffix):
            path = Path(entry.locate())
            if path.is_file():
                return path
    raise CourseError(f"{distribution} is installed without {suffix}: reinstall it, {INSTALL}")


def reveal_root() -> Path:
    """reveal.js' folder in the installed sphinx-revealjs (the folder that holds ``dist/reveal.js``)."""
    return _package_file("sphinx-revealjs", "/dist/reveal.js").parents[1]


def mathjax_file() -> Path:
    return _package_file("sphinx-mathjax-offline", f"/{MATHJAX_FILE}")


def reveal_version(root: Path | None = None) -> str:
    """The version of the reveal.js that the decks load, from its header comment (``5.2.0``), or ``5.x``."""
    head = ((root or reveal_root()) / "dist" / "reveal.js").read_text(encoding="utf-8", errors="replace")[:400]
    match = re.search(r"reveal\.js (\d+\.\d+\.\d+)", head)
    return match.group(1) if match else "5.x"


def _copy(source: Path, target: Path) -> None:
    """``source`` to ``target`` through a temporary file and a rename, unless ``target`` holds the same bytes."""
    data = source.read_bytes()
    try:
        if target.stat().st_size == len(data) and target.read_bytes() == data:
            return
    except OSError:
        pass
    fileio.write_bytes_atomic(target, data)


def copy_assets(out: Path) -> None:
    """The reveal.js and MathJax files the decks load, into ``out/reveal.js/`` and ``out/mathjax/``."""
    root = reveal_root()
    for name in REVEAL_FILES:
        if (root / name).is_file():
            _copy(root / name, out / REVEAL_DIR / name)
        elif name != "LICENSE":  # the only one a deck can do without
            raise CourseError(f"sphinx-revealjs is installed without reveal.js' {name}: reinstall it, {INSTALL}")
    for folder in REVEAL_FOLDERS:
        for source in sorted((root / folder).glob("*")):
            if source.is_file():
                _copy(source, out / REVEAL_DIR / folder / source.name)
    _copy(mathjax_file(), out / MATHJAX_DIR / MATHJAX_FILE)


# ---------------------------------------------------------------- speaker notes

def speaker_notes(text: str) -> dict[str, str]:
    """The ``### <title>`` subsections of the ``## Speaker notes`` section of an instructor-notes file:
    title -> the subsection's text (markdown), in the file's order. No such section: an empty dict."""
    notes: dict[str, list[str]] = {}
    inside, title, fence = False, None, False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        heading = None if fence else _HEADING.match(line)
        level = len(heading.group(1)) if heading else 0
        if level and level <= 2:
            inside, title = heading.group(2).strip() == NOTES_SECTION and level == 2, None
            continue
        if not inside:
            continue
        if level == 3:
            title = heading.group(2).strip()
            notes.setdefault(title, [])
        elif title is not None:
            notes[title].append(line)
    return {title: "\n".join(lines).strip() for title, lines in notes.items()}


def notes_file(notebook: Path) -> Path | None:
    """``instructor/NN_notes.md`` beside ``notebook`` (``NN_name.ipynb``), or None for a notebook without a number."""
    match = re.match(r"(\d\d)_", notebook.name)
    return notebook.parent / "instructor" / f"{match.group(1)}_notes.md" if match else None


def slide_type(cell) -> str:
    slideshow = cell.get("metadata", {}).get("slideshow") or {}
    return slideshow.get("slide_type", "-") if isinstance(slideshow, dict) else "-"


def slide_starts(nb) -> list[int]:
    """The indices of the cells that start a slide: ``slide``/``subslide`` cells, and the first visible cell
    (nbconvert starts the deck there whatever its type)."""
    first = next((i for i, cell in enumerate(nb.cells) if slide_type(cell) not in ("notes", "skip")), None)
    starts = {i for i, cell in enumerate(nb.cells) if slide_type(cell) in STARTS}
    return sorted(starts | ({first} if first is not None else set()))


def heading_title(cell) -> str | None:
    """The title of a markdown cell whose first line is a heading (``## Padding`` -> ``Padding``), else None."""
    if cell.get("cell_type") != "markdown":
        return None
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    match = _HEADING.match(source.lstrip("\n").split("\n", 1)[0])
    return match.group(2).strip() if match else None


def add_speaker_notes(nb, notes: dict[str, str]) -> tuple[list[str], list[str]]:
    """Insert, after the first cell of each slide titled like a subsection of ``notes``, a markdown cell of
    slide type ``notes`` with its text. The titles placed, and those that match no slide's title."""
    import nbformat

    titled = {}
    for index in slide_starts(nb):
        title = heading_title(nb.cells[index])
        if title is not None:
            titled.setdefault(title, index)  # the first slide of that title
    placed = [title for title in notes if title in titled]
    for title in sorted(placed, key=lambda t: titled[t], reverse=True):  # from the end: indices stay valid
        cell = nbformat.v4.new_markdown_cell(notes[title], metadata={"slideshow": {"slide_type": "notes"}})
        if nb.get("nbformat_minor", 0) < 5:  # cell ids came with nbformat 4.5; new_markdown_cell gives one
            cell.pop("id", None)
        nb.cells.insert(titled[title] + 1, cell)
    return placed, [title for title in notes if title not in titled]


def drop_widget_state(nb) -> None:
    """Widgets as their static snapshots: no widget state (it would load the html-manager from a CDN), and
    outputs without their widget view where they have another representation (the snapshot's HTML)."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if not data:
                continue
            data.pop(WIDGET_STATE, None)
            if WIDGET_VIEW in data:
                data.pop(WIDGET_VIEW)
                if not data:
                    data["text/plain"] = "(an interactive widget: open the notebook in JupyterLab to use it)"


# ---------------------------------------------------------------- decks

class _Exporter:
    """One nbconvert SlidesExporter with the template above, made once for every deck of a run."""

    def __init__(self):
        import json

        from jinja2 import DictLoader
        from nbconvert.exporters import SlidesExporter

        self.exporter = SlidesExporter(extra_loaders=[DictLoader({TEMPLATE_NAME: TEMPLATE})],
                                       template_file=TEMPLATE_NAME, reveal_url_prefix=REVEAL_DIR,
                                       reveal_theme=THEME)
        self.config = json.dumps(REVEAL_CONFIG)[:-1] + ', "plugins": [RevealNotes]}'

    def html(self, nb, name: str) -> str:
        resources = {"metadata": {"name": name},
                     "cnncourse": {"css": CSS, "config": self.config, "mathjax": f"{MATHJAX_DIR}/{MATHJAX_FILE}"}}
        body, _ = self.exporter.from_notebook_node(nb, resources=resources)
        return body


def build_deck(notebook: Path, out: Path, exporter: _Exporter | None = None) -> Deck:
    """Write ``out/<notebook's stem>.html`` from ``notebook`` and its speaker notes (assets: :func:`copy_assets`)."""
    import nbformat

    start = time.perf_counter()
    notebook = Path(notebook)
    try:
        nb = nbformat.read(notebook, as_version=4)
    except OSError as e:
        raise CourseError(f"{notebook} cannot be read ({e.strerror})") from None
    except Exception as e:  # noqa: BLE001 -- NotJSONError, schema and version errors: all mean "not a notebook"
        raise CourseError(f"{notebook} is not a Jupyter notebook ({type(e).__name__})") from None
    if not slide_starts(nb):
        raise CourseError(f"{notebook} has no cell to show: every cell is of slide type skip or notes")
    notes_path = notes_file(notebook)
    notes = speaker_notes(notes_path.read_text(encoding="utf-8")) if notes_path and notes_path.is_file() else {}
    slides = len(slide_starts(nb))  # before the notes cells go in (they start no slide)
    drop_widget_state(nb)
    placed, unmatched = add_speaker_notes(nb, notes)
    html = (exporter or _Exporter()).html(nb, notebook.stem)
    path = fileio.write_text_atomic(out / f"{notebook.stem}.html", html)
    return Deck(notebook, path, slides, placed, unmatched, time.perf_counter() - start)


def default_out() -> Path:
    """``slides/`` at the root of the checkout (git-ignored), else in the working directory."""
    root = paths.repo_root()
    return (root if root is not None else Path.cwd()) / "slides"


def build_decks(notebooks: Iterable[Path], out: Path | None = None,
                progress: Callable[[Deck], None] | None = None) -> list[Deck]:
    """A deck for each notebook in ``out`` (default :func:`default_out`), with the reveal.js and MathJax files."""
    out = Path(out) if out is not None else default_out()
    if out.exists() and not out.is_dir():
        raise CourseError(f"{out} is a file, not a folder: give --out a folder for the slides")
    out.mkdir(parents=True, exist_ok=True)
    copy_assets(out)
    exporter = _Exporter()
    decks = []
    for notebook in notebooks:
        deck = build_deck(notebook, out, exporter)
        decks.append(deck)
        if progress is not None:
            progress(deck)
    return decks


def report(deck: Deck) -> tuple[str, list[str]]:
    """The line that says what was written, and a warning for each speaker-notes title that found no slide."""
    notes = f", speaker notes on {len(deck.notes)}" if deck.notes or deck.unmatched else ""
    line = f"{deck.path}: {deck.slides} slides{notes} ({deck.seconds:.1f} s)"
    source = notes_file(deck.notebook)
    where = source.name if source else "the instructor notes"
    return line, [f"warning: {where}: the speaker notes '### {title}' match no slide (no slide of "
                  f"{deck.notebook.name} starts with a markdown heading '{title}')" for title in deck.unmatched]


def announce(deck: Deck) -> None:
    """Print :func:`report`'s line on stdout, its warnings on stderr."""
    import sys

    line, warnings = report(deck)
    print(line, flush=True)
    for warning in warnings:
        print(warning, file=sys.stderr, flush=True)


__all__ = ["Deck", "announce", "build_deck", "build_decks", "copy_assets", "default_out", "report", "speaker_notes",
           "add_speaker_notes", "slide_starts", "reveal_root", "reveal_version", "mathjax_file"]
