"""Every lesson notebook has instructor notes beside the solutions, with the sections instructors rely on.

The notes (``notebooks/instructor/NN_notes.md``) hold what does not belong in the student text: a plan
for a 50-minute class, each training cell's class-profile time, the lecture slides' misprints, where the
course's numbers differ from the decks' and why, common questions, and how hard each exercise is. At the end,
``## Speaker notes`` holds one ``### <title>`` per slide, titled exactly as the slide's heading: ``cnncourse slides``
turns each into the speaker notes of that slide.
"""
from __future__ import annotations

import re

import pytest

from cnncourse import slides
from tests.test_notebooks import LESSONS, ROOT, cells

SECTIONS = ("## Plan for a 50-minute class", "## Training cells and their class-profile times", "## Lecture misprints",
            "## Where our numbers differ from the lectures", "## Common student questions",
            "## Exercises: expected difficulty")


@pytest.mark.parametrize("notebook", LESSONS, ids=lambda p: p.stem)
def test_each_lesson_has_instructor_notes_with_every_section(notebook):
    notes = ROOT / "notebooks" / "instructor" / f"{notebook.stem[:2]}_notes.md"
    assert notes.is_file(), f"{notes.relative_to(ROOT)} is missing"
    text = notes.read_text(encoding="utf-8")
    headings = [line.strip() for line in text.splitlines() if line.startswith("## ")]
    assert [h for h in headings if h in SECTIONS] == list(SECTIONS), headings
    # each section has content, not just its heading
    for heading, body in zip(SECTIONS, re.split(r"^## .*$", text, flags=re.M)[1:]):
        assert len(body.split()) >= 15, f"{notes.name}: {heading} is nearly empty"


@pytest.mark.parametrize("notebook", LESSONS, ids=lambda p: p.stem)
def test_the_plan_fills_50_minutes(notebook):
    notes = ROOT / "notebooks" / "instructor" / f"{notebook.stem[:2]}_notes.md"
    if not notes.is_file():
        pytest.fail(f"{notes.name} is missing")
    plan = notes.read_text(encoding="utf-8").split("## Plan for a 50-minute class", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"\b50\b", plan), "the plan should say where its 50 minutes go"


def slide_titles(notebook) -> dict[str, str]:
    """Heading title -> slide type, for the cells that start a slide (``slide`` or ``subslide``) with a heading."""
    titles = {}
    for cell in cells(notebook):
        kind = (cell.get("metadata", {}).get("slideshow") or {}).get("slide_type")
        title = slides.heading_title(cell)
        if kind in ("slide", "subslide") and title is not None:
            titles.setdefault(title, kind)
    return titles


def speaker_notes(notebook) -> dict[str, str]:
    notes = ROOT / "notebooks" / "instructor" / f"{notebook.stem[:2]}_notes.md"
    return slides.speaker_notes(notes.read_text(encoding="utf-8")) if notes.is_file() else {}


@pytest.mark.parametrize("notebook", LESSONS, ids=lambda p: p.stem)
def test_every_speaker_note_names_a_slide(notebook):
    titles = slide_titles(notebook)
    unknown = [title for title in speaker_notes(notebook) if title not in titles]
    assert not unknown, (f"'### ' titles under '## Speaker notes' that are no slide's or subslide's heading in "
                         f"{notebook.name}: {unknown}")


@pytest.mark.parametrize("notebook", LESSONS, ids=lambda p: p.stem)
def test_every_slide_has_speaker_notes(notebook):
    """The title slide, each section's slide and the summary slide (every ``slide``, not each ``subslide``)."""
    notes = speaker_notes(notebook)
    silent = [title for title, kind in slide_titles(notebook).items() if kind == "slide" and title not in notes]
    assert not silent, f"slides of {notebook.name} without speaker notes: {silent}"
    for title, text in notes.items():
        assert text.split(), f"the speaker notes '### {title}' are empty"
