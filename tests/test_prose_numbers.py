"""Every result-like number in a notebook's prose comes from that notebook's run.

Reads the committed ``.ipynb`` files and ``results/class/`` files; it never runs anything. A number in a
markdown cell counts as a *result* when it is

- a percentage or a difference in points: ``85.7%``, ``+1.3 points``, ``2 percentage points`` (also the
  first number of ``73.1 to 74.2%`` or ``+8.0 and +5.3 points``, and a signed decimal such as ``+1.0``);
- a decimal accuracy between 0 and 1 with 2 to 4 decimals: ``0.857``;
- a duration in seconds: ``890 s``, ``12 seconds``;
- a speed: ``1,250 img/s``, ``900 images/s``, ``300 images a second``.

Such a number must match the same notebook's text outputs (stream text, ``text/plain``, ``text/html``) or
its committed results (``results/class/<stem>.json`` and ``results/class/seed7/<stem>.json``; a solutions
notebook also uses its lesson's files): literally, or as a rounding of a value there to the decimals the
prose writes. A percentage also matches a fraction times 100 (0.8570000052 matches ``85.7%``), and an
accuracy a percentage the outputs print (``85.70%`` matches ``0.857``). A difference in points (or a
signed percentage) may also be the difference of two accuracies of one results file (the same split of
two models, or two splits of one model), of the same result on the two seeds, or of two matched
percentages of the same cell ("76.64% against 76.60% (0.04 points)").

Exempt, visibly: a number equal, after the same rounding, to a ``lecture`` value of the results files, and
the strings listed in ``DECLARED`` below (lecture or paper figures and arithmetic, each with its reason).
Out of scope: inline code spans, fenced code blocks, and everything from a heading containing "Exercises"
to the end of the notebook.
"""
from __future__ import annotations

import html
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CLASS = ROOT / "results" / "class"
LESSONS = sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb") if "." not in p.stem)
SOLUTIONS = sorted(p for p in (NOTEBOOKS / "solutions").glob("*.ipynb") if "." not in p.stem)
ALL = LESSONS + SOLUTIONS

# Exact prose strings (as the failure message quotes them) that are not results of this run, per
# notebook stem, each with the reason. Only lecture or paper figures and arithmetic belong here.
DECLARED: dict[str, dict[str, str]] = {
    "02_cifar10_overfitting": {
        "78.7%": "lecture: VGG16 transfer on 32x32 CIFAR-10 images",
        "85.8%": "lecture: the same VGG16 transfer with augmentation",
        "0.91": "arithmetic: label smoothing 0.1 over 10 classes, 0.9 + 0.1 / 10",
        "0.01": "arithmetic: label smoothing 0.1 over 10 classes, 0.1 / 10",
    },
    "03_cats_vs_dogs": {
        "0.61": "a made-up network output in the worked example on reading probabilities, not a measurement",
    },
    "04_transfer_learning": {
        "89%": "lecture (Scully deck): VGG16 frozen features on cats vs dogs",
        "90%": "lecture (IBM deck): VGG16 frozen features, 'about 90%'",
        "75.1%": "published ImageNet top-1 of EfficientNet-Lite0 (Google's EfficientNet-Lite release)",
        "74.9%": "published ImageNet top-1 of ResNet50 (Keras Applications table)",
        "71.3%": "published ImageNet top-1 of VGG16 (Keras Applications table)",
    },
    "04_transfer_learning_solutions": {
        "78.7%": "lecture: VGG16 transfer on 32x32 CIFAR-10 images",
        "97": "lecture (Scully deck): VGG16 fine-tuned with augmentation, 0.97 to 0.98",
    },
    "08_cifar10_speedrun": {
        # the anchors: published results, sources named in the text
        "94%": "published: airbench94 (Jordan 2024) and Page's ResNet (2018) test accuracy",
        "3.29 seconds": "published: airbench94's time on one A100 (Jordan 2024)",
        "26 seconds": "published: Page's time on one V100 (How to train your ResNet, 2018)",
        "88%": "the lesson's target (issue #24), not a result",
    },
    "07_architectures": {
        # the ILSVRC section: published figures
        "6.67%": "published: GoogLeNet's ILSVRC 2014 top-5 error, an ensemble of 7 networks (Szegedy et al. 2015)",
        "3.57%": "published: ResNet's ILSVRC 2015 top-5 error, an ensemble of 6 networks (He et al. 2016)",
        "63.3%": "published: AlexNet's top-1 accuracy",
        "5.1%": "published: Karpathy's top-5 error as a human labeller (Russakovsky et al. 2015)",
        "6.8%": "published: GoogLeNet's top-5 error on Karpathy's sample (Russakovsky et al. 2015)",
        "50%": "AlexNet's dropout rate (Krizhevsky et al. 2012)",
        # the "After ResNet" pointer table: published ImageNet top-1 accuracies, sources named in the table
        "71.3%": "VGG16 and MobileNetV2 top-1, Keras Applications table",
        "74.9%": "ResNet-50 top-1, Keras Applications table",
        "75.0%": "DenseNet-121 top-1, Keras Applications table",
        "77.1%": "EfficientNet-B0 top-1, Tan and Le (2019)",
        "75.1%": "EfficientNet-Lite0 top-1, Google's EfficientNet-Lite release",
        "82.1%": "ConvNeXt-T top-1 at 224x224, trained on ImageNet-1k, Liu et al. (2022)",
        "77.9%": "ViT-B/16 top-1 at 384x384, trained on ImageNet only, Dosovitskiy et al. (2021)",
    },
    "06_training_deep_networks_solutions": {
        "0.005": "arithmetic: 0.9 ** 50",
    },
}

# --------------------------------------------------------------------------------------------------------
# extraction

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_UNITS = (
    r"(?P<percent>\s?\\?%)"
    r"|(?P<points>\s+(?:percentage\s+)?points?\b)"
    r"|(?P<speed>\s?(?:img|images)/s\b|\s+images\s+(?:a|per)\s+second\b)"
    r"|(?P<seconds>\s+s\b(?!')|\s*seconds?\b)"
    # the first number of "73.1 to 74.2%", "+8.0 and +5.3 points": same unit as the second
    rf"|(?P<percent_range>(?=\s*(?:-|\u2013|to|and|or)\s*[+\-\u2212]?(?:{_NUM})\s?\\?%))"
    rf"|(?P<points_range>(?=\s*(?:,|-|\u2013|to|and|or)\s*[+\-\u2212]?(?:{_NUM})\s+(?:percentage\s+)?points?\b))"
)
# a number not glued to a word or to another number, with an optional sign, then one of the units (or none)
PROSE_NUMBER = re.compile(
    rf"(?<![\w.,/])(?P<sign>[+\-\u2212\u00b1](?=\d))?(?P<num>{_NUM})(?![\d])(?!\.\d)(?:{_UNITS})?"
)
ACCURACY = re.compile(r"0\.\d{2,4}")
OUTPUT_NUMBER = re.compile(r"(?<![\w.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?")
EXERCISES = re.compile(r"^\s{0,3}#{1,6}\s.*\bExercises\b", re.MULTILINE)
FENCE = re.compile(r"^\s*(```|~~~).*?^\s*\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.DOTALL)


@dataclass(frozen=True)
class ProseNumber:
    cell: int
    text: str  # as the prose writes it, e.g. "+1.3 points"
    kind: str  # percent, points, accuracy, seconds or speed
    value: float  # the magnitude, e.g. 1.3
    decimals: int
    signed: bool
    context: str


def source(cell: dict) -> str:
    src = cell.get("source", "")
    return src if isinstance(src, str) else "".join(src)


def prose_cells(nb: dict) -> list[tuple[int, str]]:
    """(cell index, markdown text) in scope: code removed, nothing from the Exercises heading on."""
    cells = []
    for i, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") != "markdown":
            continue
        text = FENCE.sub(" ", source(cell))
        text = INLINE_CODE.sub("`…`", text)
        cut = EXERCISES.search(text)
        if cut:
            cells.append((i, text[: cut.start()]))
            break
        cells.append((i, text))
    return cells


def _context(text: str, start: int, end: int, width: int = 80) -> str:
    side = max(10, (width - (end - start)) // 2)
    a, b = max(0, start - side), min(len(text), end + side)
    snippet = " ".join(text[a:b].split())
    return ("…" if a > 0 else "") + snippet + ("…" if b < len(text) else "")


def prose_numbers(nb: dict) -> list[ProseNumber]:
    found = []
    for i, text in prose_cells(nb):
        for m in PROSE_NUMBER.finditer(text):
            num = m["num"]
            kind = next((k for k in ("percent", "points", "speed", "seconds") if m[k] is not None), None)
            kind = kind or ("percent" if m["percent_range"] is not None else None)
            kind = kind or ("points" if m["points_range"] is not None else None)
            if kind is None and m["sign"] in ("+", "-", "\u2212") and "." in num:
                kind = "points"  # "+1.0 on test": a signed decimal is a difference
            if kind is None:
                if not ACCURACY.fullmatch(num):
                    continue
                kind = "accuracy"
            value = float(num.replace(",", ""))
            if kind == "points" and value > 100:  # "200 points y = 2x + 1": data points, not a difference
                continue
            found.append(ProseNumber(
                cell=i,
                text=" ".join(m.group(0).replace("\\%", "%").split()),
                kind=kind,
                value=value,
                decimals=len(num.split(".")[1]) if "." in num else 0,
                signed=m["sign"] is not None,
                context=_context(text, m.start(), m.end()),
            ))
    return found


# --------------------------------------------------------------------------------------------------------
# what the run produced

def output_text(nb: dict) -> str:
    parts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if out.get("output_type") == "stream":
                parts.append(source({"source": out.get("text", "")}))
            data = out.get("data", {})
            if "text/plain" in data:
                parts.append(source({"source": data["text/plain"]}))
            if "text/html" in data:
                parts.append(html.unescape(re.sub(r"<[^>]+>", " ", source({"source": data["text/html"]}))))
    return "\n".join(parts)


def output_numbers(text: str) -> set[float]:
    return {abs(float(m.group(0).replace(",", ""))) for m in OUTPUT_NUMBER.finditer(text)}


def output_percentages(text: str) -> set[float]:
    """The numbers an output prints as percentages or points: "85.70%", "gap 16.9 points"."""
    return {abs(float(m.group(0).replace(",", ""))) for m in OUTPUT_NUMBER.finditer(text)
            if re.match(r"\s?%|\s+(?:percentage\s+)?points?\b", text[m.end():])}


def _numbers(value) -> list[float]:
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, (int, float)):
        return [abs(float(value))]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _numbers(v)]
    return []


def results_docs(stem: str) -> list[dict]:
    stems = [stem]
    if stem.endswith("_solutions"):
        stems.append(stem[: -len("_solutions")])
    paths = [CLASS / f"{s}.json" for s in stems] + [CLASS / "seed7" / f"{s}.json" for s in stems]
    return [json.loads(p.read_text(encoding="utf-8")) for p in paths if p.is_file()]


_SPLITS = {"test", "val", "train"}


def _differences(docs: list[dict]) -> set[float]:
    """|V1 - V2| of accuracy-like fractions: within a file, the same split of two models or two splits of
    one model; across the seed files, the same result."""
    diffs = set()
    by_key: dict[str, list[float]] = {}
    for doc in docs:
        fractions = []
        for key, rec in doc.get("results", {}).items():
            v = rec.get("value") if isinstance(rec, dict) else None
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
                continue
            if not any(w in key for w in ("accuracy", "gap", "gain")):
                continue
            tokens = key.split("_")
            split = frozenset(t for t in tokens if t in _SPLITS)
            subject = tuple(t for t in tokens if t not in _SPLITS and t != "accuracy")
            fractions.append((split, subject, float(v)))
            by_key.setdefault(key, []).append(float(v))
        for (s1, m1, v1), (s2, m2, v2) in itertools.combinations(fractions, 2):
            if s1 == s2 or m1 == m2:
                diffs.add(abs(v1 - v2))
    for values in by_key.values():
        diffs.update(abs(a - b) for a, b in itertools.combinations(values, 2))
    return diffs


@dataclass
class Evidence:
    literal: str  # output text, for literal matches
    values: set[float]  # output numbers and results values
    percentages: set[float]  # output numbers printed with "%" or "points"
    lecture: set[float]
    differences: set[float]


def evidence(nb: dict, docs: list[dict]) -> Evidence:
    text = output_text(nb)
    values = output_numbers(text)
    lecture = set()
    for doc in docs:
        values.update(x for k, v in doc.items() if k != "results" for x in _numbers(v))
        for rec in doc.get("results", {}).values():
            if isinstance(rec, dict):
                values.update(_numbers(rec.get("value")))
                lecture.update(_numbers(rec.get("lecture")))
    return Evidence(text, values, output_percentages(text), lecture, _differences(docs))


# --------------------------------------------------------------------------------------------------------
# matching

def rounds_to(value: float, number: float, decimals: int) -> bool:
    """True when ``value`` written with ``decimals`` decimals reads ``number`` (either rounding of a tie)."""
    return abs(value - number) <= 0.5 * 10.0 ** -decimals + 1e-9 * max(1.0, abs(number))


def _scaled(n: ProseNumber, values: set[float], percentages: set[float] = frozenset()) -> list[float]:
    """The values as the prose may write them: as printed, a fraction as a percentage, and a printed
    percentage as a fraction (never a bare number, so a log's "1.2" does not back a prose "0.012")."""
    if n.kind in ("percent", "points"):
        return [*values, *(v * 100 for v in values if v <= 1)]
    if n.kind == "accuracy":
        return [*values, *(p / 100 for p in percentages)]
    return list(values)


def _literal(n: ProseNumber, text: str) -> bool:
    token = n.text.lstrip("+-\u2212\u00b1")
    return re.search(rf"(?<![\w.]){re.escape(token)}(?![\d])", text) is not None


def _is_difference(n: ProseNumber) -> bool:
    return n.kind == "points" or (n.kind == "percent" and n.signed)


def is_matched(n: ProseNumber, ev: Evidence) -> bool:
    if _literal(n, ev.literal):
        return True
    if any(rounds_to(v, n.value, n.decimals) for v in _scaled(n, ev.values, ev.percentages)):
        return True
    return _is_difference(n) and any(rounds_to(d * 100, n.value, n.decimals) for d in ev.differences)


def _arithmetic(n: ProseNumber, matched: list[ProseNumber]) -> bool:
    """A difference in points between two matched percentages of the same cell: "76.64% against 76.60%
    (0.04 points)"."""
    pcts = [m.value for m in matched if m.cell == n.cell and m.kind == "percent" and m is not n]
    return _is_difference(n) and any(rounds_to(abs(a - b), n.value, n.decimals)
                                     for a, b in itertools.combinations(pcts, 2))


def is_lecture(n: ProseNumber, ev: Evidence) -> bool:
    return any(rounds_to(v, n.value, n.decimals) for v in _scaled(n, ev.lecture))


def unmatched(nb: dict, docs: list[dict], declared: dict[str, str]) -> list[ProseNumber]:
    ev = evidence(nb, docs)
    numbers = [n for n in prose_numbers(nb) if n.text not in declared and not is_lecture(n, ev)]
    matched = [n for n in numbers if is_matched(n, ev)]
    return [n for n in numbers if n not in matched and not _arithmetic(n, matched)]


def report(name: str, missing: list[ProseNumber]) -> str:
    lines = [f"{name}: {len(missing)} number(s) in the prose match neither the outputs nor "
             f"results/class/ (fix the prose, or declare a lecture figure in DECLARED):"]
    lines += [f"  cell {n.cell}: {n.text!r} in: {n.context}" for n in missing]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------
# tests

def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_there_are_notebooks_to_check():
    assert len(LESSONS) >= 6 and len(SOLUTIONS) >= 6


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_prose_numbers_come_from_the_run(path):
    missing = unmatched(load(path), results_docs(path.stem), DECLARED.get(path.stem, {}))
    if missing:
        pytest.fail(report(path.name, missing), pytrace=False)


@pytest.mark.parametrize("stem", sorted(DECLARED))
def test_declared_exemptions_are_still_in_the_prose(stem):
    paths = [p for p in ALL if p.stem == stem]
    assert paths, f"DECLARED names {stem}, which is no notebook"
    written = {n.text for n in prose_numbers(load(paths[0]))}
    stale = sorted(set(DECLARED[stem]) - written)
    assert not stale, f"{stem}: DECLARED lists {stale}, no longer in its prose; remove them"


def _fake_notebook(markdown: list[str], stdout: str) -> dict:
    cells = [{"cell_type": "markdown", "source": md} for md in markdown]
    cells.insert(1, {"cell_type": "code", "source": "print(acc)", "outputs": [
        {"output_type": "stream", "name": "stdout", "text": stdout},
        {"output_type": "execute_result", "data": {"text/html": "<td>1,234</td>"}},
    ]})
    return {"cells": cells}


def test_the_checker_flags_only_stale_numbers():
    nb = _fake_notebook(
        [
            "The model reaches **85.7%** on test (0.8570 printed), up 4.1 points on the baseline; an old "
            "run gave 0.812 in 640 s at 1,234 images/s.",
            "The lecture got 73%. The deck says 61.5%. Seeds: 76.64% against 76.60% (0.04 points), "
            "+4.1 and +9.9 points. Code is out of scope: `0.999`, and\n```python\nprint(0.555)\n```\n",
            "## Exercises\n\nTry to beat 99.9% accuracy.",
        ],
        stdout="test accuracy 0.8570000052\nepochs 12, 641.2 s\nmeans: 76.64%, 76.60%\n",
    )
    docs = [{"wall_time_s": 10.0, "results": {
        "final_test_accuracy": {"value": 0.857, "lecture": 0.73},
        "baseline_test_accuracy": {"value": 0.816, "lecture": None},
        "final_seconds": {"value": 59.0, "lecture": None},
    }}]
    found = {n.text: n.kind for n in prose_numbers(nb)}
    assert found == {"85.7%": "percent", "0.8570": "accuracy", "4.1 points": "points", "0.812": "accuracy",
                     "640 s": "seconds", "1,234 images/s": "speed", "73%": "percent", "61.5%": "percent",
                     "76.64%": "percent", "76.60%": "percent", "0.04 points": "points", "+4.1": "points",
                     "+9.9 points": "points"}, found
    missing = unmatched(nb, docs, {"61.5%": "the deck's figure"})
    # 0.812 and 640 s are stale; 4.1 points is the difference of the two accuracies, +9.9 matches nothing
    assert [n.text for n in missing] == ["0.812", "640 s", "+9.9 points"], [n.text for n in missing]
    assert "0.812 in 640 s" in missing[0].context
    # without the results files, only what the outputs back is left; the lecture's 73% is no longer exempt
    assert [n.text for n in unmatched(nb, [], {"61.5%": "x"})] == [
        "4.1 points", "0.812", "640 s", "73%", "+4.1", "+9.9 points"]
    assert not rounds_to(85.76, 85.7, 1) and rounds_to(85.74, 85.7, 1) and rounds_to(0.8565, 0.857, 3)
