"""Every lesson notebook has instructor notes beside the solutions, with the sections instructors rely on.

The notes (``notebooks/instructor/NN_notes.md``) hold what does not belong in the student text: a plan
for a 50-minute class, each training cell's class-profile time, the lecture slides' misprints, where the
course's numbers differ from the decks' and why, common questions, and how hard each exercise is.
"""
from __future__ import annotations

import re

import pytest

from tests.test_notebooks import LESSONS, ROOT

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
