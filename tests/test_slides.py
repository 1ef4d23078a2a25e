"""`cnncourse slides`: reveal.js decks from the lessons' outputs, with speaker notes, that load nothing remote.

A small fixture lesson (``91_fixture.ipynb`` and its ``instructor/91_notes.md``) shows where the speaker notes
land; the real lessons are turned into decks too (in a temporary folder), to check that none loads a remote
file, that every local file a deck names is there, and that the seven take well under a minute.
The decks in a browser: tests/test_slides_browser.py.
"""
from __future__ import annotations

import base64
import io
import os
import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from cnncourse import slides
from tests import faults
from tests.test_cli import run_cli
from tests.test_notebooks import LESSONS

FIXTURE = "91_fixture"
NOTES = """# 91: instructor notes

## Plan for a 50-minute class

### Padding

Not speaker notes: this subsection belongs to another section.

## Speaker notes

Text before the first title belongs to no slide.

### Padding

Draw the **padded** grid on the board.

```python
# a comment in a code block is no heading
```

### Stride

Ask: what does stride 2 do to the output size?

### Pooling inside a slide

Never placed: this heading does not start a slide.

### Missing slide

Never placed: no slide has this title.

## Common student questions

### Stride

Not speaker notes either.
"""


def png(width=64, height=32) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def md(source: str, slide_type: str | None = None):
    cell = nbformat.v4.new_markdown_cell(source)
    if slide_type:
        cell.metadata["slideshow"] = {"slide_type": slide_type}
    return cell


def code(source: str, outputs=(), slide_type: str | None = None):
    cell = nbformat.v4.new_code_cell(source, outputs=list(outputs))
    if slide_type:
        cell.metadata["slideshow"] = {"slide_type": slide_type}
    return cell


def make_lesson(folder: Path) -> Path:
    """``folder/91_fixture.ipynb`` (4 slides: a title, Padding with a figure and math, Stride below it, Summary)
    and ``folder/instructor/91_notes.md``."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {}, "version_major": 2, "version_minor": 0}}
    widget = nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0},
        "text/html": "<b>explorer snapshot</b>", "text/plain": "explorer snapshot"})
    figure = nbformat.v4.new_output("display_data", data={"image/png": png(), "text/plain": "<Figure>"})
    nb.cells = [
        md("# Fixture deck\n\nThe title slide.", "slide"),
        code("import cnncourse", [nbformat.v4.new_output("stream", name="stdout", text="banner\n")], "skip"),
        md("## Padding\n\nThe output size: $n_\\text{out} = n + 2p - k + 1$.", "slide"),
        code("plot()", [figure]),
        md("## Stride\n\nA stride of 2 halves the output.", "subslide"),
        md("## Pooling inside a slide\n\nNo slide starts here."),
        md("### A fragment\n\nShown on the next key press.", "fragment"),
        code("explorer()", [widget]),
        md("## Summary\n\nThe end.", "slide"),
        md("Notes written in the notebook itself.", "notes"),
    ]
    path = folder / f"{FIXTURE}.ipynb"
    nbformat.write(nb, path)
    (folder / "instructor").mkdir(exist_ok=True)
    (folder / "instructor" / "91_notes.md").write_text(NOTES, encoding="utf-8")
    return path


class Slides(HTMLParser):
    """The leaf ``<section>``s of a deck (the slides reveal.js shows), each with its text and its notes' text."""

    def __init__(self, html: str):
        super().__init__()
        self.stack, self.slides, self.in_notes = [], [], 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            if self.stack:
                self.stack[-1]["children"] += 1
            self.stack.append({"text": "", "notes": "", "children": 0, "imgs": 0})
        elif tag == "aside" and "notes" in (dict(attrs).get("class") or "").split():
            self.in_notes += 1
        elif tag == "img" and self.stack:
            self.stack[-1]["imgs"] += 1

    def handle_endtag(self, tag):
        if tag == "section":
            section = self.stack.pop()
            if not section["children"]:
                self.slides.append(section)
        elif tag == "aside" and self.in_notes:
            self.in_notes -= 1

    def handle_data(self, data):
        if self.stack:
            self.stack[-1]["notes" if self.in_notes else "text"] += data


REMOTE = [
    re.compile(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.I),  # a script, a style sheet, an image
    re.compile(r"""url\(\s*["']?\s*(?:https?:)?//""", re.I),  # CSS url(...)
    re.compile(r"""@import\s+["']\s*(?:https?:)?//""", re.I),
    re.compile(r"""\bimport\b[^;\n]*?["']https?://""", re.I),  # an ES module import
    re.compile(r"""\brequire\s*\(\s*[\[{]"""),  # require.js loading anything
]


def remote_references(text: str) -> list[str]:
    return [m.group(0) for pattern in REMOTE for m in pattern.finditer(text)]


def local_references(html: str) -> list[str]:
    """The relative paths a deck loads (scripts, style sheets), less anchors and data: URLs."""
    refs = re.findall(r"""<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']""", html, re.I)
    return [r for r in refs if not r.startswith(("#", "data:"))]


@pytest.fixture(scope="module")
def fixture_deck(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slides")
    notebook = make_lesson(folder / "notebooks")
    out = folder / "out"
    proc = run_cli("slides", str(notebook), "--out", str(out), timeout=300)
    return notebook, out, proc


def test_the_cli_writes_a_deck_and_the_files_it_loads(fixture_deck):
    notebook, out, proc = fixture_deck
    assert proc.returncode == 0, proc.stdout + proc.stderr
    deck = out / f"{FIXTURE}.html"
    assert f"{deck}: 4 slides, speaker notes on 2" in proc.stdout, proc.stdout
    assert "S: speaker view" in proc.stdout
    html = deck.read_text(encoding="utf-8")
    for ref in local_references(html):
        assert (out / ref).is_file(), f"{deck.name} loads {ref}, which is not beside it"
    assert {"reveal.js/dist/reveal.js", "reveal.js/plugin/notes/notes.js", "reveal.js/dist/reveal.css",
            "reveal.js/dist/theme/white.css", "mathjax/tex-svg-full.js"} <= set(local_references(html))
    assert '"width": 1280, "height": 720' in html and "plugins\": [RevealNotes]" in html
    assert not list(out.rglob(".*.tmp")) and not [p for p in out.rglob(".*") if ".pid" in p.name], "no temp files"


def test_each_speaker_note_lands_in_the_slide_with_its_title(fixture_deck):
    _, out, proc = fixture_deck
    shown = Slides((out / f"{FIXTURE}.html").read_text(encoding="utf-8")).slides
    assert [s["text"].split("\N{PILCROW SIGN}")[0].strip() for s in shown] == ["Fixture deck", "Padding", "Stride",
                                                                             "Summary"], shown
    title, padding, stride, summary = shown
    assert "Draw the padded grid on the board." in " ".join(padding["notes"].split())
    assert "# a comment in a code block is no heading" in padding["notes"], "a code block's # line is no title"
    assert "Ask: what does stride 2 do to the output size?" in stride["notes"]
    assert "Draw the" not in stride["notes"] and "stride 2" not in padding["notes"]
    assert title["notes"].strip() == "" and "Notes written in the notebook itself." in summary["notes"]
    everything = " ".join(s["text"] + s["notes"] for s in shown)
    for text in ("Never placed", "Not speaker notes", "belongs to no slide"):
        assert text not in everything, text
    assert "No slide starts here." in stride["text"]  # a heading inside a slide is shown, not split off
    assert padding["imgs"] == 1, "the figure is in the Padding slide"
    # the titles that found no slide: one warning each, on stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, proc.stderr
    assert "'### Pooling inside a slide' match no slide" in warnings[0] and "'### Missing slide'" in warnings[1]
    assert "91_notes.md" in warnings[0] and "Traceback" not in proc.stderr


def test_widgets_show_their_snapshot_and_load_no_widget_manager(fixture_deck):
    _, out, _ = fixture_deck
    html = (out / f"{FIXTURE}.html").read_text(encoding="utf-8")
    assert "<b>explorer snapshot</b>" in html
    assert "widget-state+json" not in html and "widget-view+json" not in html and "html-manager" not in html


def test_speaker_notes_are_read_from_their_section_only():
    notes = slides.speaker_notes(NOTES)
    assert list(notes) == ["Padding", "Stride", "Pooling inside a slide", "Missing slide"]
    assert notes["Padding"].startswith("Draw the **padded** grid") and "# a comment" in notes["Padding"]
    assert notes["Stride"] == "Ask: what does stride 2 do to the output size?"
    assert slides.speaker_notes("# notes\n\n## Plan\n\n### Padding\n\ntext\n") == {}


def test_slides_start_where_the_metadata_says():
    nb = nbformat.v4.new_notebook()
    nb.cells = [md("skipped", "skip"), md("# first"), md("x"), md("## b", "subslide"), md("n", "notes"),
                md("## c", "slide"), md("f", "fragment")]
    assert slides.slide_starts(nb) == [1, 3, 5]
    placed, unmatched = slides.add_speaker_notes(nb, {"b": "about b", "first": "about first", "zzz": "?"})
    assert (placed, unmatched) == (["b", "first"], ["zzz"])
    assert [c.source for c in nb.cells] == ["skipped", "# first", "about first", "x", "## b", "about b", "n", "## c",
                                            "f"]
    assert slides.slide_starts(nb) == [1, 4, 7], "notes cells start no slide"


@pytest.mark.parametrize("args, message", [
    (["99"], "error: no notebook '99' here or in "),
    (["{text}"], "is not a Jupyter notebook (not JSON)"),
    (["{folder}"], "is a folder, not a notebook"),
], ids=["unknown", "not-a-notebook", "a-folder"])
def test_a_missing_or_unknown_notebook_is_one_message(tmp_path, args, message):
    (tmp_path / "notes.txt").write_text("remember the milk\n")
    names = {"text": str(tmp_path / "notes.txt"), "folder": str(tmp_path)}
    out = tmp_path / "out"
    proc = run_cli("slides", *[a.format(**names) for a in args], "--out", str(out), timeout=120)
    assert (proc.returncode, proc.stdout) == (1, ""), proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert not out.exists(), "nothing is written before every notebook is found"


def test_an_out_folder_that_is_a_file_is_one_message(tmp_path):
    notebook = make_lesson(tmp_path / "notebooks")
    (tmp_path / "out").write_text("a file\n")
    proc = run_cli("slides", str(notebook), "--out", str(tmp_path / "out"), timeout=120)
    assert proc.returncode == 1 and "is a file, not a folder" in proc.stderr and "Traceback" not in proc.stderr


def test_a_deck_is_written_whole_or_not_at_all_on_a_full_disk(tmp_path):
    notebook = make_lesson(tmp_path / "notebooks")
    out = tmp_path / "out"
    slides.build_decks([notebook], out)  # the assets and a first deck
    deck = out / f"{FIXTURE}.html"
    deck.write_text("the deck of yesterday\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNNCOURSE_")}
    proc = faults.run_with_disk([sys.executable, "-m", "cnncourse", "slides", str(notebook), "--out", str(out)],
                                folder=out, fault="full", env=env, size="16m", free=64 * 1024)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr.strip() == f"error: no space left on the device writing {deck}; it was left as it was. " \
                                  "Free some space and try again.", proc.stderr
    assert deck.read_text() == "the deck of yesterday\n"
    assert sorted(p.name for p in out.iterdir()) == [f"{FIXTURE}.html", "mathjax", "reveal.js"], "no temp file left"


def test_the_lessons_make_decks_that_load_nothing_remote_in_well_under_a_minute(tmp_path):
    start = time.perf_counter()
    decks = slides.build_decks(LESSONS, tmp_path)
    seconds = time.perf_counter() - start
    assert [d.path.name for d in decks] == [f"{nb.stem}.html" for nb in LESSONS]
    assert seconds < 60, f"{len(decks)} decks took {seconds:.0f} s"
    for deck in decks:
        html = deck.path.read_text(encoding="utf-8")
        assert remote_references(html) == [], deck.path.name
        for ref in local_references(html):
            assert (tmp_path / ref).is_file(), f"{deck.path.name} loads {ref}, which is not beside it"
        assert len(Slides(html).slides) == deck.slides, deck.path.name
    for asset in [*tmp_path.glob("reveal.js/**/*.css"), *tmp_path.glob("reveal.js/**/*.js")]:
        text = asset.read_text(encoding="utf-8", errors="replace")
        assert remote_references(text) == [], asset
    for css in tmp_path.glob("reveal.js/**/*.css"):  # the theme's @import and its fonts
        for ref in re.findall(r"""url\(\s*["']?([^"')?#]+)""", css.read_text(encoding="utf-8")):
            if not ref.startswith("data:"):
                assert (css.parent / ref).is_file(), f"{css.name} loads {ref}, which is missing"


def test_the_lessons_speaker_notes_all_find_their_slide():
    """Every ``### title`` of a lesson's ``## Speaker notes`` names a slide of that lesson."""
    checked = 0
    for notebook in LESSONS:
        notes_path = slides.notes_file(notebook)
        notes = slides.speaker_notes(notes_path.read_text(encoding="utf-8")) if notes_path.is_file() else {}
        if not notes:
            continue
        _, unmatched = slides.add_speaker_notes(nbformat.read(notebook, as_version=4), notes)
        assert unmatched == [], f"{notes_path.name}: no slide of {notebook.name} has the title(s) {unmatched}"
        checked += 1
    if not checked:
        pytest.skip("no lesson's instructor notes have a '## Speaker notes' section yet")


def test_the_reveal_js_files_come_from_the_installed_package():
    root = slides.reveal_root()
    assert (root / "dist" / "reveal.js").is_file() and (root / "plugin" / "notes" / "notes.js").is_file()
    assert re.fullmatch(r"[45]\.\d+\.\d+", slides.reveal_version(root)), slides.reveal_version(root)
    assert slides.mathjax_file().stat().st_size > 100_000


def test_slides_help_says_what_it_does():
    proc = subprocess.run([sys.executable, "-m", "cnncourse", "slides", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and "reveal.js" in proc.stdout and "--out DIR" in proc.stdout, proc.stdout
