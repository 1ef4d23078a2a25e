"""The lessons as slides: every cell of a lesson carries RISE / nbconvert ``slideshow`` metadata.

``cnncourse slides`` (and JupyterLab's presentation tools) cut a lesson into slides by each cell's
``metadata.slideshow.slide_type``: ``slide`` starts a new slide, ``subslide`` a slide below it, ``fragment``
appears on the next key press, ``-`` stays on the current slide, ``skip`` and ``notes`` are not shown.
The lessons have a title slide, a slide per ``##`` section and a summary slide; every slide that starts
with text starts with a title; the setup cell (plumbing) is skipped; and no slide is a wall of
text. Reads the committed ``.ipynb`` files; it never runs them.
"""
from __future__ import annotations

import re

import pytest

from tests.test_notebooks import LESSONS, ROOT, cells, source

SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "notes", "-"}
STARTS = ("slide", "subslide")  # the types that start a slide
HIDDEN = ("skip", "notes")  # the types that are not shown on a slide
# The most markdown a slide may show, in words (whitespace-separated tokens of the cells' source). A slide
# may hold more only when its text cannot be split without editing cells: one run of markdown cells with no
# heading cell after the first and no code cell in between (a long summary, or two long paragraphs in a row).
WORD_LIMIT = 200
LAST_LESSON_WITH_SLIDES = 7  # a later lesson without any slideshow metadata is skipped, not failed
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(\S.*?)(?:\s+#+)?\s*$")


def slide_type(cell: dict) -> str | None:
    slideshow = cell.get("metadata", {}).get("slideshow")
    return slideshow.get("slide_type") if isinstance(slideshow, dict) else None


def heading(cell: dict) -> tuple[int, str] | None:
    """(level, title) of a markdown cell whose first line is a heading (``## Pooling`` -> (2, "Pooling"))."""
    if cell["cell_type"] != "markdown":
        return None
    match = HEADING.match(source(cell).lstrip("\n").split("\n", 1)[0])
    return (len(match.group(1)), match.group(2)) if match else None


def words(cell: dict) -> int:
    return len(source(cell).split())


def slides(lesson: list[dict]) -> list[list[int]]:
    """The indices of the shown cells, one list per slide: a slide starts at a ``slide`` or ``subslide`` cell
    (or at the first shown cell, where nbconvert starts the deck whatever its type)."""
    groups: list[list[int]] = []
    for i, cell in enumerate(lesson):
        if slide_type(cell) in HIDDEN:
            continue
        if slide_type(cell) in STARTS or not groups:
            groups.append([i])
        else:
            groups[-1].append(i)
    return groups


def lesson_cells(path) -> list[dict]:
    lesson = cells(path)
    if int(path.name[:2]) > LAST_LESSON_WITH_SLIDES and not any(slide_type(c) is not None for c in lesson):
        pytest.skip(f"{path.relative_to(ROOT)} has no slide structure yet: give its cells slideshow metadata")
    return lesson


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_cell_has_a_slide_type(path):
    lesson = lesson_cells(path)
    wrong = {i: slide_type(c) for i, c in enumerate(lesson) if slide_type(c) not in SLIDE_TYPES}
    assert not wrong, f"cells without a valid slideshow.slide_type ({sorted(SLIDE_TYPES)}): {wrong}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_the_first_cell_is_the_title_slide(path):
    first = lesson_cells(path)[0]
    assert slide_type(first) == "slide" and heading(first) is not None, "the first cell is a slide with a heading"
    assert heading(first)[0] == 1, f"the title slide starts with a '# ' heading, not {heading(first)}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_there_is_a_summary_slide(path):
    lesson = lesson_cells(path)
    summaries = [i for i, c in enumerate(lesson) if slide_type(c) == "slide" and heading(c)
                 and heading(c)[1].startswith("Summary")]
    assert summaries, "no slide starts with a 'Summary' heading"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_sections_start_slides_and_headings_start_subslides(path):
    """A cell that starts with a ``##`` heading starts a slide, unless its whole section is left out (a bare
    ``## Setup`` above skipped plumbing); one that starts with a deeper heading starts a slide or subslide."""
    lesson = lesson_cells(path)
    for i, cell in enumerate(lesson):
        level = heading(cell)[0] if heading(cell) else None
        if level == 2 and slide_type(cell) == "skip":
            section = []
            for other in lesson[i + 1:]:
                if heading(other) and heading(other)[0] <= 2:
                    break
                section.append(other)
            shown = [c for c in section if slide_type(c) not in HIDDEN]
            assert not shown, f"cell {i} leaves out the section {heading(cell)[1]!r} but not all of its cells"
        elif level == 2:
            assert slide_type(cell) == "slide", f"cell {i} starts a ## section: {heading(cell)[1]!r}"
        elif level:
            assert slide_type(cell) in STARTS, f"cell {i} starts with a heading: {heading(cell)[1]!r}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_slide_that_starts_with_text_has_a_title(path):
    for i, cell in enumerate(lesson_cells(path)):
        if slide_type(cell) in STARTS and cell["cell_type"] == "markdown":
            first = source(cell).lstrip("\n").split("\n", 1)[0]
            assert heading(cell), f"cell {i} starts a slide with text but no heading: {first[:60]!r}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_no_slide_is_a_wall_of_text(path):
    lesson = lesson_cells(path)
    groups = slides(lesson)
    for group in groups:
        text = [i for i in group if lesson[i]["cell_type"] == "markdown"]
        total = sum(words(lesson[i]) for i in text)
        if total <= WORD_LIMIT:
            continue
        splittable = [i for i in group[1:] if heading(lesson[i])] + [
            i for i in group if lesson[i]["cell_type"] == "code" and text[0] < i < text[-1]]
        assert not splittable, (f"the slide of cells {group} shows {total} words of markdown (at most {WORD_LIMIT}): "
                                f"start a slide or subslide at cell {min(splittable)}")
    assert len(groups) >= 10, f"only {len(groups)} slides"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_the_setup_cell_is_skipped(path):
    lesson = lesson_cells(path)
    setup = next(i for i, c in enumerate(lesson) if c["cell_type"] == "code" and "cnncourse.setup(" in source(c))
    assert slide_type(lesson[setup]) == "skip", f"the setup cell ({setup}) is plumbing: slide type skip"
