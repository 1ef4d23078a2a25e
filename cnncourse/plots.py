"""Static matplotlib figures: learning curves, image grids, confusion matrices.

Used from 02 onwards. Each function draws one figure and shows it once (``show=True``, the
notebook default, returns None so Jupyter does not draw it a second time); with ``show=False`` it
returns the Figure instead, for tests or further edits.
"""
from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np


def _history_dict(h) -> dict[str, list[float]]:
    """Accept a Keras ``History``, its ``.history`` dict, or a pandas DataFrame of the same."""
    if hasattr(h, "history") and isinstance(h.history, Mapping):
        h = h.history
    if hasattr(h, "to_dict") and not isinstance(h, Mapping):
        h = h.to_dict(orient="list")
    if not isinstance(h, Mapping) or not h:
        raise TypeError(f"expected a Keras History or a dict of metric lists, got {type(h).__name__}")
    return {k: list(map(float, v)) for k, v in h.items()}


def _named_histories(histories) -> dict[str, dict]:
    # One History (or one metrics dict, whose values are lists) vs {run name: History}
    if isinstance(histories, Mapping) and histories and not all(
            isinstance(v, (list, tuple, np.ndarray)) for v in histories.values()):
        return {str(name): _history_dict(h) for name, h in histories.items()}
    return {"": _history_dict(histories)}


def logged_epochs(history, key: str) -> np.ndarray:
    """The 1-based epochs at which ``key`` was logged.

    Training metrics are logged every epoch. With ``fit(..., validation_freq=k)`` the validation
    metrics are logged only after epochs k, 2k, ...: their lists are shorter, and this maps them back.
    """
    h = _history_dict(history)
    values = h[key]
    base = key[4:] if key.startswith("val_") and key[4:] in h else None
    epochs = len(h[base]) if base is not None else len(values)
    if len(values) in (0, epochs):
        return np.arange(1, len(values) + 1)
    every = epochs // len(values)
    return np.arange(every, epochs + 1, every)[:len(values)]


def best_epoch(history, monitor: str = "val_accuracy") -> int:
    """1-based epoch with the best ``monitor`` value (lowest loss, highest anything else).

    The course's one definition of a run's *best epoch* is the default: the highest validation accuracy,
    the number the lessons report. (Early stopping keeps the epoch its own ``monitor`` picked: the lessons
    call that one the *kept* epoch.)
    """
    values = _history_dict(history)[monitor]
    pick = np.argmin if "loss" in monitor else np.argmax
    return int(logged_epochs(history, monitor)[int(pick(values))])


def _plot_validation(ax, h: dict, key: str, color: str, label: str) -> list[int]:
    """The dashed validation curve of ``key`` at the epochs it was measured (dots when not every epoch)."""
    val_epochs = list(logged_epochs(h, f"val_{key}"))
    ax.plot(val_epochs, h[f"val_{key}"], color=color, ls="--", marker="." if len(val_epochs) < len(h[key]) else None,
            label=label)
    return val_epochs


def _integer_epochs(ax) -> None:
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _finish(fig, show: bool):
    fig.tight_layout()
    if show:
        plt.show()
        return None
    return fig


def learning_curves(histories, metric: str = "accuracy", title: str | None = None, show: bool = True,
                    marks: dict[float, str] | None = None):
    """Accuracy and loss per epoch, training (solid) vs validation (dashed), in two panels.

    ``histories`` is one History or ``{name: History}`` to overlay several runs, one colour each.
    ``marks`` draws a labelled vertical line at each ``{epoch: label}`` (e.g. where fine-tuning starts).
    The best epoch of each run (highest validation ``metric``, see :func:`best_epoch`) is marked with a dot.
    """
    runs = _named_histories(histories)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for i, (name, h) in enumerate(runs.items()):
        color = f"C{i % 10}"
        label = f"{name} " if name else ""
        best = best_epoch(h, f"val_{metric}") if f"val_{metric}" in h else None
        for ax, key in zip(axes, (metric, "loss")):
            if key not in h:
                continue
            epochs = np.arange(1, len(h[key]) + 1)
            ax.plot(epochs, h[key], color=color, label=f"{label}train")
            if f"val_{key}" in h:
                val_epochs = _plot_validation(ax, h, key, color, f"{label}validation")
                if best is not None:
                    ax.plot(best, h[f"val_{key}"][list(val_epochs).index(best)], "o", color=color, ms=7,
                            label=f"{label}best epoch ({best})")
    for ax, key in zip(axes, (metric, "loss")):
        for x, text in (marks or {}).items():
            ax.axvline(x, color="0.4", ls=":", lw=1.5, label=text)
        ax.set(xlabel="epoch", ylabel=key, title=key)
        _integer_epochs(ax)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return _finish(fig, show)


def curves_grid(histories, metric: str = "accuracy", ncols: int = 4, size: float = 3.2, title: str | None = None,
                show: bool = True, monitor: str = "val_accuracy"):
    """Small multiples: one panel per run (``{name: History}``), training solid, validation dashed.

    All panels share both axes, so runs compare at a glance without a crowded legend; each panel's
    title gives the best validation epoch by ``monitor`` (lowest loss, highest anything else) and the
    validation ``metric`` there.
    """
    runs = _named_histories(histories)
    n = len(runs)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 0.8), sharex=True, sharey=True,
                             squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for k, (ax, (name, h)) in enumerate(zip(axes.flat, runs.items())):
        epochs = np.arange(1, len(h[metric]) + 1)
        ax.plot(epochs, h[metric], color="C0", label="train")
        heading = name
        if f"val_{metric}" in h:
            val_epochs = _plot_validation(ax, h, metric, "C1", "validation")
            if monitor in h:
                best = best_epoch(h, monitor)
                value = h[f"val_{metric}"][val_epochs.index(best)]
                ax.plot(best, value, "o", color="C1", ms=6)
                heading = f"{name}\nbest epoch {best}: val {metric} {value:.3f}"
        ax.set_title(heading, fontsize=9)
        _integer_epochs(ax)
        ax.grid(alpha=0.3)
        if k % ncols == 0:
            ax.set_ylabel(metric)
        if k >= n - ncols:
            ax.set_xlabel("epoch")
        if k == 0:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return _finish(fig, show)


def image_grid(images, labels=None, class_names=None, predictions=None, ncols: int = 8,
               size: float = 1.6, show: bool = True):
    """Images with their labels; with ``predictions``, wrong ones get a red title "pred (true)".

    ``labels`` are class indices (named through ``class_names``) or ready-made title strings."""
    images = np.asarray(images)
    n = len(images)
    nrows = max(1, int(np.ceil(n / ncols)))

    def name(i):
        if isinstance(i, str):  # a ready-made title
            return i
        i = int(np.ravel(i)[0]) if np.ndim(i) else int(i)
        return class_names[i] if class_names is not None else str(i)

    # room above each image for its title, however many lines it has (one line of 8-point text ~ 0.17 in)
    lines = max(name(label).count("\n") + 1 for label in labels[:n]) if labels is not None and n else 0
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * (size + 0.17 * max(lines, 1))),
                             squeeze=False)

    for ax in axes.flat:
        ax.axis("off")
    for k, ax in enumerate(axes.flat[:n]):
        img = images[k]
        if img.dtype != np.uint8 and img.max() > 1.0:
            img = np.clip(img, 0, 255).astype(np.uint8)
        ax.imshow(img.squeeze(), cmap="gray" if img.ndim == 2 or img.shape[-1] == 1 else None)
        if labels is None:
            continue
        title, color = name(labels[k]), "black"
        if predictions is not None:
            pred = name(predictions[k])
            if pred != title:
                title, color = f"{pred} ({title})", "red"
        ax.set_title(title, fontsize=8, color=color)
    return _finish(fig, show)


def confusion_counts(y_true, y_pred, n_classes: int | None = None) -> np.ndarray:
    """Counts ``[true, predicted]``; labels may be sparse ints or one-hot / probability rows."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == 2 and y_true.shape[1] > 1:
        y_true = y_true.argmax(1)
    if y_pred.ndim == 2 and y_pred.shape[1] > 1:
        y_pred = y_pred.argmax(1)
    y_true, y_pred = y_true.ravel().astype(int), y_pred.ravel().astype(int)
    n = n_classes or int(max(y_true.max(), y_pred.max())) + 1
    counts = np.zeros((n, n), dtype=int)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


def confusion_matrix(y_true, y_pred, class_names=None, normalize: bool = True, show: bool = True):
    """A confusion matrix; rows are true classes. ``normalize`` shows each row as fractions."""
    counts = confusion_counts(y_true, y_pred, len(class_names) if class_names is not None else None)
    values = counts / np.maximum(counts.sum(1, keepdims=True), 1) if normalize else counts
    n = len(counts)
    names = class_names if class_names is not None else [str(i) for i in range(n)]
    # at least 4.5 x 3.8 inches: a two-class matrix is as readable as a ten-class one
    fig, ax = plt.subplots(figsize=(max(0.6 * n + 2, 4.5), max(0.6 * n + 1.5, 3.8)))
    im = ax.imshow(values, cmap="Blues", vmin=0)
    ax.set(xticks=range(n), yticks=range(n), xticklabels=names, yticklabels=names,
           xlabel="predicted", ylabel="true", title="confusion matrix" + (" (row-normalised)" if normalize else ""))
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
    threshold = values.max() / 2
    for i in range(n):
        for j in range(n):
            text = f"{values[i, j]:.2f}" if normalize else str(values[i, j])
            ax.text(j, i, text, ha="center", va="center", fontsize=7 if n > 4 else 11,
                    color="white" if values[i, j] > threshold else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    return _finish(fig, show)
