"""What students see in the committed notebooks: clean outputs, short logs, no test plumbing in the text.

Reads the committed ``.ipynb`` files (lessons and worked solutions); it never runs them.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted(p for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb") if p.stem.count(".") == 0)
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*.ipynb"))
ALL = LESSONS + SOLUTIONS


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def text_outputs(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append("".join(out["text"]))
        elif "data" in out and "text/plain" in out["data"] and not {"image/png", "text/html"} & set(out["data"]):
            # what Jupyter shows: the plain text only when there is no richer form
            parts.append("".join(out["data"]["text/plain"]))
    return "\n".join(parts)


def test_there_are_lessons_and_solutions():
    assert len(LESSONS) >= 6 and len(SOLUTIONS) == len(LESSONS)


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_nbval_markers_are_cell_tags_not_comments(path):
    for i, cell in enumerate(cells(path)):
        assert "NBVAL_" not in source(cell), f"cell {i}: use the nbval-check-output cell tag, not a comment"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_one_setup_cell_at_the_top(path):
    code = [source(c) for c in cells(path) if c["cell_type"] == "code"]
    assert "cnncourse.setup(" in code[0]
    assert not any("cnncourse.setup(" in s for s in code[1:]), "setup() is called once, at the top"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_outputs_hold_no_object_reprs_and_no_per_epoch_keras_logs(path):
    for i, cell in enumerate(cells(path)):
        if cell["cell_type"] != "code":
            continue
        out = text_outputs(cell)
        assert not re.search(r"<[\w.]+ (object )?at 0x[0-9a-f]+>", out), f"cell {i} shows an object repr"
        assert not re.search(r"\d+/\d+ - \d+m?s - ", out), f"cell {i} keeps Keras' per-epoch log (use EpochLog)"


def words_before_exercises(path: Path) -> int:
    """Words of markdown up to the lesson's "## Exercises" heading (the measure issue #22 sets)."""
    words = 0
    for cell in cells(path):
        if cell["cell_type"] != "markdown":
            continue
        text = source(cell)
        if "## Exercises" in text:
            return words + len(text[: text.index("## Exercises")].split())
        words += len(text.split())
    return words


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_each_lesson_has_at_most_3000_words_of_markdown_before_its_exercises(path):
    assert words_before_exercises(path) <= 3_000, f"{path.name}: {words_before_exercises(path):,} words; trim the text"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_each_lesson_ends_with_a_summary_and_exercises(path):
    headings = [line for c in cells(path) if c["cell_type"] == "markdown"
                for line in source(c).splitlines() if line.startswith("#")]
    assert any("Summary" in h for h in headings[-4:]), headings[-4:]
    assert any("Exercises" in h for h in headings[-4:]), headings[-4:]
