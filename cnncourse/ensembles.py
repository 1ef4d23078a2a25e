"""Combining the class probabilities of several trained networks: used by notebook 05 (ensembles on CIFAR-10).

Every helper takes the members' predictions as class probabilities (softmax outputs, instances x classes):
a list or tuple of (N, C) arrays, a dict name -> (N, C) array, or one (M, N, C) array.

- :func:`stack`                the members' probabilities as one float64 (M, N, C) array, checked
- :func:`average`              probability averaging: the mean of the members' probabilities, (N, C)
- :func:`weighted_average`     the same with non-negative weights (normalised to sum 1), (N, C)
- :func:`vote_counts`          how many members vote for each class, (N, C) ints
- :func:`majority_vote`        each member votes its top class; ties broken by summed probability, then lowest class
- :func:`accuracy`             accuracy of labels (N,) or probabilities (N, C) against labels (N,) or (N, 1)
- :func:`greedy_weights`       weights by greedy forward selection with replacement on validation data
- :func:`accuracy_vs_members`  accuracy of the first k members, k = 1..M, over random orders: a DataFrame
- :func:`weights_report`       what the ensemble explorer shows for some weights, as a dict
- :func:`report_text`, :func:`report_html`  that report rendered, for the widget and its static snapshot
- :func:`ensemble_snapshot`    the explorer as static ``(text/plain, text/html)``
- :func:`ensemble_explorer`    one weight slider per member and the live validation accuracies

NumPy and pandas only: no TensorFlow import, so the logic is tested without a model. ipywidgets is imported
inside :func:`ensemble_explorer`, whose output, like the explorers of :mod:`cnncourse.widgets`, carries a
static snapshot beside the live widget for un-run (untrusted) notebooks.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .widgets import _SNAPSHOT_NOTE, _explorer_box, _ipywidgets, _pre, _snapshot_html

TITLE = "Ensemble weights explorer"
ZERO_WEIGHTS = "All weights are 0: raise at least one member's weight to see the weighted average."


# --------------------------------------------------------------------------- members' probabilities

def _member_names(probs, names: Sequence[str] | None = None) -> list[str]:
    """The members' names: ``names``, else a dict's keys, else ``member 0``, ``member 1``, ..."""
    if names is not None:
        return [str(n) for n in names]
    if isinstance(probs, Mapping):
        return [str(k) for k in probs]
    count = len(probs) if isinstance(probs, list | tuple) else np.shape(probs)[0]
    return [f"member {i}" for i in range(count)]


def stack(probs) -> np.ndarray:
    """The members' class probabilities as one float64 (M, N, C) array.

    ``probs``: a list or tuple of (N, C) arrays, a dict name -> (N, C) array, or an (M, N, C) array.
    Raises ValueError for no members, a member that is not (N, C), members of different shapes,
    NaN or inf, and negative values (logits instead of probabilities).
    """
    if isinstance(probs, Mapping):
        names, members = [str(k) for k in probs], list(probs.values())
    elif isinstance(probs, list | tuple):
        names, members = [f"member {i}" for i in range(len(probs))], list(probs)
    else:
        array = np.asarray(probs)
        if array.ndim != 3:
            raise ValueError(f"got one array of shape {array.shape}: pass the members as a list of (N, C) arrays, "
                             "a dict name -> (N, C) array, or one (M, N, C) array")
        names, members = [f"member {i}" for i in range(array.shape[0])], list(array)
    if not members:
        raise ValueError("no members: pass at least one (N, C) array of class probabilities")
    arrays = []
    for name, member in zip(names, members):
        try:
            a = np.asarray(member, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} is not an array of numbers ({err}): pass each member's class "
                             "probabilities, e.g. model.predict(x)") from None
        if a.ndim != 2 or 0 in a.shape:
            raise ValueError(f"{name} has shape {a.shape}: each member must be (N, C) class probabilities "
                             "(instances x classes), e.g. model.predict(x)")
        arrays.append(a)
    first = arrays[0].shape
    for name, a in zip(names, arrays):
        if a.shape != first:
            raise ValueError(f"{name} has shape {a.shape} but {names[0]} has {first}: every member must predict "
                             "the same instances over the same classes")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} has NaN or inf probabilities: check that model's predictions "
                             "(did its training diverge?)")
        if a.min() < 0:
            raise ValueError(f"{name} has negative values (min {a.min():.3g}): pass probabilities (softmax "
                             "outputs), not logits")
    return np.stack(arrays)


def average(probs) -> np.ndarray:
    """Probability averaging: the mean of the members' class probabilities, (N, C)."""
    return stack(probs).mean(axis=0)


def _weights(weights, count: int, names: Sequence[str], allow_zero: bool = False) -> np.ndarray | None:
    """``weights`` checked and normalised to sum 1; None if they are all 0 and ``allow_zero``."""
    if isinstance(weights, Mapping):
        missing = [n for n in names if n not in weights]
        extra = [str(k) for k in weights if k not in names]
        if missing or extra:
            raise ValueError(f"the weights' names must be the members' names {list(names)}: "
                             f"missing {missing}, unknown {extra}")
        weights = [weights[n] for n in names]
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"weights must be {count} numbers, one per member ({err})") from None
    if w.shape != (count,):
        raise ValueError(f"got weights of shape {w.shape} for {count} members: pass one weight per member")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"weights must be finite numbers, got {w.tolist()}")
    if w.min() < 0:
        raise ValueError(f"weights must be >= 0, got {w.tolist()}: a member you do not want gets weight 0")
    total = w.sum()
    if total == 0:
        if allow_zero:
            return None
        raise ValueError("all weights are 0: give at least one member a weight above 0")
    return w / total


def weighted_average(probs, weights) -> np.ndarray:
    """The members' class probabilities averaged with ``weights``, (N, C).

    ``weights``: one non-negative number per member, not all 0 (or a dict name -> weight when ``probs`` is a
    dict); they are normalised to sum 1, so ``(2, 2)`` is the plain average and ``(1, 0)`` is member 0 alone.
    """
    p = stack(probs)
    w = _weights(weights, p.shape[0], _member_names(probs))
    return np.tensordot(w, p, axes=1)


# --------------------------------------------------------------------------- voting

def _onehot_votes(p: np.ndarray) -> np.ndarray:
    """Each member's vote (its argmax; a tie within a member goes to its lowest class) as (M, N, C) ints."""
    return (p.argmax(axis=2)[..., None] == np.arange(p.shape[2])).astype(np.int64)


def _elect(counts: np.ndarray, summed: np.ndarray) -> np.ndarray:
    """The winner per instance: most votes, then largest summed probability, then lowest class index."""
    top = counts == counts.max(axis=-1, keepdims=True)
    return np.where(top, summed, -np.inf).argmax(axis=-1)  # argmax keeps the first (lowest) of exact ties


def vote_counts(probs) -> np.ndarray:
    """How many members vote for each class (a member votes its most probable class), (N, C) ints."""
    return _onehot_votes(stack(probs)).sum(axis=0)


def majority_vote(probs) -> np.ndarray:
    """Majority voting: each member votes its most probable class; the labels with the most votes, (N,) ints.

    Tie rule: among the classes with the most votes, the one with the largest probability summed over all
    members wins; if that ties exactly too, the lowest class index wins. (A member whose own top
    probabilities tie votes for the lowest of those classes.) The result is deterministic.
    """
    p = stack(probs)
    return _elect(_onehot_votes(p).sum(axis=0), p.sum(axis=0)).astype(np.int64)


# --------------------------------------------------------------------------- accuracy

def _labels(y, what: str = "y") -> np.ndarray:
    """Integer labels (N,) from (N,) or (N, 1) integers (integer-valued floats are accepted)."""
    a = np.asarray(y)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise ValueError(f"{what} has shape {a.shape}: pass integer labels of shape (N,) or (N, 1) "
                         "(for one-hot labels, pass y.argmax(axis=1))")
    if a.dtype.kind not in "iub":
        try:
            f = a.astype(np.float64)
        except (TypeError, ValueError):
            f = None
        if f is None or not np.all(np.isfinite(f)) or not np.all(f == np.round(f)):
            raise ValueError(f"{what} must be integer class labels, got dtype {a.dtype}")
        a = f
    return a.astype(np.int64)


def accuracy(pred, y) -> float:
    """The fraction of instances predicted right.

    ``pred``: labels (N,) or class probabilities (N, C) (their argmax is the prediction);
    ``y``: integer labels (N,) or (N, 1), as Keras' CIFAR-10 loader gives them.
    """
    p = np.asarray(pred)
    labels = _labels(y)
    if p.ndim == 2 and p.shape[1] > 1:
        classes = p.shape[1]
        p = p.argmax(axis=1)
        if labels.size and (labels.min() < 0 or labels.max() >= classes):
            raise ValueError(f"y has labels from {labels.min()} to {labels.max()} but pred has {classes} classes "
                             f"(labels 0..{classes - 1}): are pred and y from the same data set?")
    else:
        p = _labels(p, "pred")
    if p.shape != labels.shape:
        raise ValueError(f"pred has {p.shape[0]} instances but y has {labels.shape[0]}: pass the labels of the "
                         "instances that were predicted")
    if labels.size == 0:
        raise ValueError("no instances: pred and y are empty")
    return float(np.mean(p == labels))


COMBINES = ("average", "vote")


def greedy_weights(probs, y, rounds: int = 20) -> np.ndarray:
    """Ensemble weights chosen by greedy forward selection with replacement (Caruana et al., 2004).

    Start from no member; in each of ``rounds`` rounds add the member (a member may be added again)
    whose addition gives the averaged probabilities the lowest cross-entropy on ``y``; the weights
    are how often each member was picked, divided by ``rounds``. Cross-entropy rather than accuracy
    is the criterion because it changes smoothly, so a few thousand validation images rank the
    candidates reliably. Ties go to the lowest member index. Call it on validation data only: the
    weights are fitted to ``y``.
    """
    p = stack(probs)
    labels = _labels(y)
    if len(labels) != p.shape[1]:
        raise ValueError(f"y has {len(labels)} labels but the members predict {p.shape[1]} instances")
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    true = p[:, np.arange(p.shape[1]), labels]          # (M, N): each member's probability of the true class
    counts = np.zeros(len(p), dtype=np.int64)
    total = np.zeros(p.shape[1])
    for r in range(rounds):
        candidates = (total + true) / (r + 1)           # the average after adding each member
        loss = -np.log(np.clip(candidates, 1e-12, None)).mean(axis=1)
        best = int(np.argmin(loss))
        counts[best] += 1
        total += true[best]
    return counts / rounds


def accuracy_vs_members(probs, y, orders: int = 20, seed: int = 0, combine: str = "average") -> pd.DataFrame:
    """Accuracy of the combination of the first k members, for k = 1..M, over ``orders`` orders of the members.

    The first order is the given one; the other ``orders - 1`` are random permutations drawn with ``seed``.
    ``combine``: ``"average"`` (probability averaging) or ``"vote"`` (:func:`majority_vote`).
    Returns a DataFrame indexed by k with columns mean, min, max and std (population std, over the orders).
    """
    if combine not in COMBINES:
        raise ValueError(f"combine must be one of {COMBINES}, got {combine!r}")
    if int(orders) != orders or orders < 1:
        raise ValueError(f"orders must be a whole number >= 1, got {orders!r}")
    p = stack(probs)
    labels = _labels(y)
    accuracy(p[0], labels)  # checks the labels against the probabilities
    m = p.shape[0]
    rng = np.random.default_rng(seed)
    perms = [np.arange(m)] + [rng.permutation(m) for _ in range(int(orders) - 1)]
    votes = _onehot_votes(p) if combine == "vote" else None
    scores = np.empty((len(perms), m))
    for i, perm in enumerate(perms):
        summed = np.cumsum(p[perm], axis=0)  # summed[k - 1]: the first k members' probabilities, summed
        if combine == "average":
            pred = (summed / np.arange(1, m + 1)[:, None, None]).argmax(axis=2)
        else:
            pred = _elect(np.cumsum(votes[perm], axis=0), summed)
        scores[i] = np.mean(pred == labels, axis=1)
    table = pd.DataFrame({"mean": scores.mean(axis=0), "min": scores.min(axis=0), "max": scores.max(axis=0),
                          "std": scores.std(axis=0)}, index=pd.RangeIndex(1, m + 1, name="k"))
    return table


# --------------------------------------------------------------------------- the explorer: logic

def weights_report(probs, y, weights, names: Sequence[str] | None = None) -> dict:
    """What the ensemble explorer shows for these weights, as a dict.

    Keys: ``names``, ``raw_weights``, ``weights`` (normalised; None when all are 0), ``weighted_accuracy``
    (None when all weights are 0), ``vote_accuracy`` (majority vote of all members; weights not used),
    ``member_accuracy`` (name -> accuracy), ``best_member``, ``best_accuracy`` and ``message`` (a sentence
    when all weights are 0, else None). Negative or non-finite weights raise ValueError.
    """
    p = stack(probs)
    names = _member_names(probs, names)
    if len(names) != p.shape[0]:
        raise ValueError(f"got {len(names)} names for {p.shape[0]} members: pass one name per member")
    if len(set(names)) != len(names):
        raise ValueError(f"the members' names must differ, got {names}")
    labels = _labels(y)
    w = _weights(weights, p.shape[0], names, allow_zero=True)
    raw = [float(weights[n]) for n in names] if isinstance(weights, Mapping) else np.ravel(weights).astype(float)
    members = {name: accuracy(member, labels) for name, member in zip(names, p)}
    best = max(members, key=members.get)
    return {
        "names": names,
        "raw_weights": [float(x) for x in raw],
        "weights": None if w is None else [float(x) for x in w],
        "weighted_accuracy": None if w is None else accuracy(np.tensordot(w, p, axes=1), labels),
        "vote_accuracy": accuracy(_elect(_onehot_votes(p).sum(axis=0), p.sum(axis=0)), labels),
        "member_accuracy": members,
        "best_member": best,
        "best_accuracy": members[best],
        "message": ZERO_WEIGHTS if w is None else None,
    }


def _pct(x: float) -> str:
    return f"{100 * x:6.2f}%"


def report_text(report: dict) -> str:
    """A :func:`weights_report` as the lines the explorer and its snapshot show."""
    count = len(report["names"])
    if report["weighted_accuracy"] is None:
        lines = [report["message"] or ZERO_WEIGHTS]
    else:
        lines = [f"weighted average    {_pct(report['weighted_accuracy'])}  (the weights below)"]
    lines += [f"majority vote       {_pct(report['vote_accuracy'])}  (all {count} members, weights not used)",
              f"best single member  {_pct(report['best_accuracy'])}  ({report['best_member']})",
              ""]
    width = max(len("member"), *(len(n) for n in report["names"]))
    lines.append(f"{'member':<{width}}  weight  normalised  accuracy")
    normalised = report["weights"] or [None] * count
    for name, raw, w in zip(report["names"], report["raw_weights"], normalised):
        shown = "-" if w is None else f"{w:.3f}"
        lines.append(f"{name:<{width}}  {raw:6.2f}  {shown:>10}  {_pct(report['member_accuracy'][name])}")
    return "\n".join(lines)


def report_html(report: dict) -> str:
    """A :func:`weights_report` as monospaced HTML (the text of :func:`report_text`)."""
    return _pre(report_text(report))


def ensemble_snapshot(report: dict) -> tuple[str, str]:
    """The ensemble explorer as static ``(text/plain, text/html)`` for a :func:`weights_report`."""
    return f"{TITLE} ({_SNAPSHOT_NOTE})\n{report_text(report)}", _snapshot_html(TITLE, report_html(report))


# --------------------------------------------------------------------------- the widget

def ensemble_explorer(probs: Mapping[str, np.ndarray], y, step: float = 0.05):
    """One weight slider (0..1, starting at 1) per member and the live validation accuracies. Returns the widget.

    The report is an HTML widget (``box.report``) rewritten from :func:`weights_report` whenever a slider
    (``box.sliders[name]``) moves; with every weight at 0 it shows a sentence, not an error. The members'
    probabilities and the labels are checked once, when the explorer is built.
    """
    w = _ipywidgets()
    names = _member_names(probs)
    p = stack(probs)
    accuracy(p[0], y)  # the labels fit the probabilities: fail now, not in a callback
    width = f"{min(max(len(n) for n in names), 30) * 8 + 16}px"
    sliders = {name: w.FloatSlider(value=1.0, min=0.0, max=1.0, step=step, description=name,
                                   style={"description_width": width}, layout=w.Layout(width="480px"),
                                   readout_format=".2f")
               for name in names}
    report = w.HTML(layout=w.Layout(border="1px solid #ccc", padding="4px"))
    shown = {}

    def refresh(_change=None):
        shown["report"] = weights_report(p, y, [s.value for s in sliders.values()], names)
        report.value = report_html(shown["report"])

    for s in sliders.values():
        s.observe(refresh, names="value")
    refresh()
    box = _explorer_box([w.HTML(f"<b>{TITLE}</b>: each member's weight in the average of probabilities "
                                "(choose weights on validation data, never on the test set)"),
                         *sliders.values(), report],
                        lambda: ensemble_snapshot(shown["report"]))
    box.sliders, box.report = sliders, report
    return box


__all__ = [
    "greedy_weights",
    "COMBINES",
    "TITLE",
    "ZERO_WEIGHTS",
    "accuracy",
    "accuracy_vs_members",
    "average",
    "ensemble_explorer",
    "ensemble_snapshot",
    "majority_vote",
    "report_html",
    "report_text",
    "stack",
    "vote_counts",
    "weighted_average",
    "weights_report",
]
