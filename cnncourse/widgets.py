"""The two interactive explorers of notebook 01, built on :mod:`cnncourse.convarith`.

- :func:`conv_explorer`: sliders for one ``Conv2D`` layer; shows its output shape, parameters,
  multiplications, activation memory and the out-of-memory remedies' effect.
- :func:`kernel_explorer`: pick or edit a 3x3 kernel and see the filtered photo.

What the widgets show is computed by plain functions (:func:`conv_report`, :func:`remedies_table`,
:func:`kernel_view`, :func:`kernel_png`, :func:`grid_for`, :func:`name_for`) that tests call without
a browser; the widget callbacks only pass the controls' values to them and write the result into
HTML and Image widgets (no Output widget, so no output capture is involved). ipywidgets is imported
inside the explorer functions, so importing this module (or the package) never needs it.

Before the kernel runs: an explorer's notebook output carries, beside the live widget, a static
snapshot of its current state (:func:`conv_snapshot`, :func:`kernel_snapshot`): ``text/html``
(the report, or the filtered photo as an embedded PNG, and the caption) and a readable ``text/plain``.
JupyterLab renders widgets only for trusted outputs, and a notebook fresh from git is untrusted, so
a student scrolling the un-run notebook sees the snapshot instead of ``VBox(children=(...`` text;
once the cell runs, the live widget replaces it. GitHub, nbviewer and Colab show the snapshot too.
"""
from __future__ import annotations

import numpy as np

from . import convarith as ca

CONV_DEFAULTS = {"height": 150, "width": 100, "channels": 3, "filters": 200, "kernel_size": 5,
                 "strides": 1, "padding": "same", "batch_size": 100, "precision": "float32"}
PRECISIONS = ("float32", "float16", "bfloat16", "float64")
CUSTOM = "custom"
DEFAULT_KERNEL = "vertical edges (sobel x)"


# --------------------------------------------------------------------------- conv explorer: logic

def _layer(values: dict) -> ca.ConvLayer:
    return ca.ConvLayer(values["height"], values["width"], values["channels"], values["filters"],
                        values["kernel_size"], values["strides"], values["padding"])


def conv_report(height: int = 150, width: int = 100, channels: int = 3, filters: int = 200, kernel_size: int = 5,
                strides: int = 1, padding: str = "same", batch_size: int = 100, precision: str = "float32",
                devices: int = 2) -> str:
    """The text the conv explorer shows for these slider values."""
    values = {"height": height, "width": width, "channels": channels, "filters": filters,
              "kernel_size": kernel_size, "strides": strides, "padding": padding}
    try:
        layer = _layer(values)
    except ValueError as err:
        return f"No output: {err}. Use padding='same' or a smaller kernel."
    k, s = layer.kernel[0], layer.stride[0]
    oh, ow, of = layer.output_shape
    nbytes = ca.dtype_bytes(precision)
    if layer.padding == "same":
        rule = f"ceil({height}/{s}) = {oh}, ceil({width}/{s}) = {ow}"
    else:
        rule = f"floor(({height}-{k})/{s})+1 = {oh}, floor(({width}-{k})/{s})+1 = {ow}"
    one = layer.activation_bytes(precision)
    train = layer.activation_bytes(precision, batch_size)
    lines = [
        layer.keras_code(),
        f"input            {height} x {width} x {channels}",
        f"output           {oh} x {ow} x {of}   ({padding}: {rule})",
        f"parameters       {layer.params:,} = ({k}x{k}x{channels} + 1) x {filters}",
        f"multiplications  {layer.multiplications:,} per instance = {oh}x{ow}x{of} outputs x {k}x{k}x{channels}",
        (f"activations      {ca.format_bytes(one)} per instance = {layer.output_values:,} values"
         f" x {nbytes} bytes ({precision})"),
        (f"training         {ca.format_bytes(train)} for a batch of {batch_size}: kept until the backward pass,"
         " on top of every other layer's outputs"),
        (f"inference        {ca.format_bytes(layer.inference_bytes(precision, batch_size))} for a batch of"
         f" {batch_size} while this layer runs (its input and output), freed after the next layer"),
        "",
        f"Out of memory? Effect of each remedy on this layer's training activations ({ca.format_bytes(train)}):",
    ]
    for r in ca.oom_remedies(layer, batch_size, precision, devices=devices):
        lines.append(f"  {r.name:<16} {r.change:<45} -> {ca.format_bytes(r.memory_bytes):>9}  (x{r.ratio:.2f})")
    return "\n".join(lines)


def remedies_table(layer: ca.ConvLayer, batch_size: int, dtype: str = "float32", devices: int = 2):
    """The out-of-memory remedies for ``layer`` as a DataFrame (one row per remedy)."""
    import pandas as pd

    rows = [{"remedy": r.name, "change": r.change, "training activations": ca.format_bytes(r.memory_bytes),
             "vs now": f"x{r.ratio:.2f}", "note": r.note}
            for r in ca.oom_remedies(layer, batch_size, dtype, devices=devices)]
    return pd.DataFrame(rows).set_index("remedy")


# --------------------------------------------------------------------------- kernel explorer: logic

def grid_for(name: str) -> list[list[float]]:
    """The 3x3 values the kernel explorer's grid shows for a named kernel (rounded for display)."""
    return [[round(float(v), 6) for v in row] for row in ca.kernel(name)]


def name_for(values) -> str:
    """The named kernel these 3x3 values are (to 4 decimals), or ``"custom"``."""
    k = np.asarray(values, dtype=np.float64)
    for name in ca.KERNELS:
        if k.shape == (3, 3) and np.allclose(k, ca.kernel(name), atol=1e-4):
            return name
    return CUSTOM


def kernel_caption(values) -> str:
    """The kernel explorer's caption: the kernel's name (or ``custom``) and what it does (``kernel_kind``)."""
    return f"{name_for(values)}: {ca.kernel_kind(values)}"


def filter_image(image: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Cross-correlate a grey (H, W) or colour (H, W, C) image with a 2-D kernel, same-size output."""
    image = np.asarray(image, dtype=np.float32)
    k = np.asarray(k, dtype=np.float32)
    if image.ndim == 2:
        return ca.correlate2d(image, k, padding="same").astype(np.float32)
    return np.stack([ca.correlate2d(image[..., c], k, padding="same") for c in range(image.shape[-1])],
                    axis=-1).astype(np.float32)


def kernel_view(image: np.ndarray, values) -> dict:
    """What the kernel explorer draws: the filtered image, its colour range and a caption.

    Kernels whose weights sum to 0 (edge detectors) give positive and negative responses around
    0, drawn with a symmetric range; the others are drawn on the photo's 0..1 scale.
    """
    k = np.asarray(values, dtype=np.float32)
    if k.shape != (3, 3) or not np.all(np.isfinite(k)):
        raise ValueError(f"a kernel must be 3x3 finite numbers, got {np.asarray(values).tolist()!r}")
    filtered = filter_image(image, k)
    edge = ca.is_difference_kernel(k)
    if edge:
        limit = float(np.percentile(np.abs(filtered), 99.5)) or 1.0
        shown = np.clip(filtered.mean(axis=-1) if filtered.ndim == 3 else filtered, -limit, limit)
        vmin, vmax, cmap = -limit, limit, "gray"
    else:
        shown = np.clip(filtered, 0, 1)
        vmin, vmax, cmap = 0.0, 1.0, "gray"
    return {"kernel": k, "name": name_for(k), "filtered": filtered, "shown": shown, "vmin": vmin, "vmax": vmax,
            "cmap": cmap, "caption": kernel_caption(k)}


def plot_kernel_view(ax, view: dict, title: str | None = None) -> None:
    """Draw one :func:`kernel_view` on a matplotlib axis."""
    ax.imshow(view["shown"], cmap=view["cmap"], vmin=view["vmin"], vmax=view["vmax"])
    ax.set_title(title or view["name"], fontsize=10)
    ax.axis("off")


def kernel_gallery(image: np.ndarray, names=None, cols: int = 4, size: float = 2.8, show: bool = True):
    """Every named kernel applied to ``image``: the kernel explorer's static version.

    Shows the figure once and returns None (``show=True``), or returns it (``show=False``).
    """
    import matplotlib.pyplot as plt

    names = list(names or ca.KERNELS)
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        plot_kernel_view(ax, kernel_view(image, ca.kernel(name)))
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    if show:
        plt.show()
        return None
    return fig


# --------------------------------------------------------------------------- the widgets

def _ipywidgets():
    try:
        import ipywidgets
    except ImportError as err:  # the explorers need it; the rest of the course does not
        raise ImportError("the interactive explorers need ipywidgets: pip install ipywidgets") from err
    return ipywidgets


def _pre(text: str) -> str:
    """Monospaced HTML for a report."""
    import html

    return f"<pre style='margin: 0; font-size: 12px'>{html.escape(text)}</pre>"


_SNAPSHOT_NOTE = "a static snapshot: run the notebook (Run > Run All Cells) to use it"


def _snapshot_html(title: str, body: str) -> str:
    import html

    return (f"<div class='cnncourse-snapshot' style='border: 1px dashed #999; padding: 6px; max-width: 900px'>"
            f"<p style='margin: 0 0 4px 0'><b>{html.escape(title)}</b> <i>({html.escape(_SNAPSHOT_NOTE)})</i></p>"
            f"{body}</div>")


def conv_snapshot(values: dict | None = None) -> tuple[str, str]:
    """The conv explorer as static ``(text/plain, text/html)``: its slider values and :func:`conv_report`."""
    import html

    v = {**CONV_DEFAULTS, **(values or {})}
    report = conv_report(**v)
    settings = ", ".join(f"{key}={value}" for key, value in v.items())
    text = f"Conv2D arithmetic explorer ({_SNAPSHOT_NOTE})\n{settings}\n\n{report}"
    body = f"<p style='margin: 0 0 4px 0'><code>{html.escape(settings)}</code></p>{_pre(report)}"
    return text, _snapshot_html("Conv2D arithmetic explorer", body)


def kernel_snapshot(image: np.ndarray, values, png: bytes | None = None) -> tuple[str, str]:
    """The kernel explorer as static ``(text/plain, text/html)``: the kernel, the picture and the caption.

    ``png`` is the picture already drawn by :func:`kernel_png` for these values (drawn here if None).
    """
    import base64
    import html

    caption = kernel_caption(values)
    if png is None:
        png, caption = kernel_png(image, values)
    rows = [[float(x) for x in row] for row in np.asarray(values, dtype=np.float64)]
    grid = "\n".join("  ".join(f"{x:>8.4g}" for x in row) for row in rows)
    text = f"3x3 kernel explorer ({_SNAPSHOT_NOTE})\nkernel {name_for(rows)}:\n{grid}\n{caption}"
    body = (f"<pre style='margin: 0; font-size: 12px'>kernel {html.escape(name_for(rows))}:\n{html.escape(grid)}</pre>"
            f"<img src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}' alt='the photo and the "
            f"filtered photo'>{_pre(caption)}")
    return text, _snapshot_html("3x3 kernel explorer", body)


_BOX_CLASS = None


def _explorer_box(children, snapshot):
    """A VBox whose notebook output adds ``snapshot()``'s static text/plain and text/html to the widget view."""
    global _BOX_CLASS
    w = _ipywidgets()
    if _BOX_CLASS is None:
        class ExplorerBox(w.VBox):
            """An explorer: the live widget, plus a static snapshot for frontends that cannot show it."""

            def _repr_mimebundle_(self, **kwargs):
                data = super()._repr_mimebundle_(**kwargs)
                if data and getattr(self, "snapshot", None) is not None:
                    data["text/plain"], data["text/html"] = self.snapshot()
                return data

        _BOX_CLASS = ExplorerBox
    box = _BOX_CLASS(children)
    box.snapshot = snapshot
    return box


def conv_explorer(**defaults):
    """Sliders for one Conv2D layer and a live report (:func:`conv_report`). Returns the widget box.

    The report is an HTML widget (``box.report``) rewritten by the callbacks, not an Output widget:
    it needs no output capture, so the explorer behaves the same live, in tests and in headless runs.
    """
    w = _ipywidgets()
    v = {**CONV_DEFAULTS, **defaults}
    style = {"description_width": "120px"}
    layout = w.Layout(width="420px")

    def slider(key, lo, hi, label, step=1):
        return w.IntSlider(value=v[key], min=lo, max=hi, step=step, description=label, style=style,
                           layout=layout, continuous_update=False)

    controls = {
        "height": slider("height", 1, 1024, "input height"),
        "width": slider("width", 1, 1024, "input width"),
        "channels": slider("channels", 1, 512, "input channels"),
        "filters": slider("filters", 1, 1024, "filters"),
        "kernel_size": slider("kernel_size", 1, 11, "kernel size"),
        "strides": slider("strides", 1, 8, "stride"),
        "padding": w.ToggleButtons(options=list(ca.PADDINGS), value=v["padding"], description="padding",
                                   style=style),
        "batch_size": slider("batch_size", 1, 512, "batch size"),
        "precision": w.Dropdown(options=list(PRECISIONS), value=v["precision"], description="precision",
                                style=style, layout=layout),
    }
    report = w.HTML(layout=w.Layout(border="1px solid #ccc", padding="4px"))

    def refresh(_change=None):
        report.value = _pre(conv_report(**{key: c.value for key, c in controls.items()}))

    for c in controls.values():
        c.observe(refresh, names="value")
    refresh()
    box = _explorer_box([w.HTML("<b>Conv2D arithmetic explorer</b>"), *controls.values(), report],
                        lambda: conv_snapshot({key: c.value for key, c in controls.items()}))
    box.controls, box.report = controls, report
    return box


def kernel_png(image: np.ndarray, values, figsize=(6, 3), dpi: int = 80) -> tuple[bytes, str]:
    """The kernel explorer's picture (photo and filtered photo, side by side) as PNG bytes, and its caption.

    Drawn on a standalone matplotlib Figure, so nothing is displayed by pyplot.
    """
    import io

    from matplotlib.figure import Figure

    view = kernel_view(image, values)
    fig = Figure(figsize=figsize, dpi=dpi)
    ax0, ax1 = fig.subplots(1, 2)
    ax0.imshow(image, cmap="gray" if np.ndim(image) == 2 else None, vmin=0, vmax=1)
    ax0.set_title("photo", fontsize=10)
    ax0.axis("off")
    plot_kernel_view(ax1, view)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue(), view["caption"]


def kernel_explorer(image: np.ndarray, initial: str = DEFAULT_KERNEL):
    """Pick a named 3x3 kernel or edit its nine weights; shows the photo and the filtered photo.

    The picture is an Image widget (``box.image``) and the caption an HTML widget (``box.caption``),
    both rewritten by the callbacks from :func:`kernel_png`.
    """
    w = _ipywidgets()
    names = [*ca.KERNELS, CUSTOM]
    picker = w.Dropdown(options=names, value=initial, description="kernel")
    cells = [w.FloatText(value=val, layout=w.Layout(width="80px"), step=0.1)
             for row in grid_for(initial) for val in row]
    grid = w.GridBox(cells, layout=w.Layout(grid_template_columns="repeat(3, 84px)"))
    picture = w.Image(format="png")
    caption = w.HTML()
    busy = {"filling": False}
    drawn = {}  # the values and PNG of the last picture drawn, for the static snapshot

    def values():
        return [[cells[3 * i + j].value for j in range(3)] for i in range(3)]

    def draw(_change=None):
        try:
            png, text = kernel_png(image, values())
        except ValueError as err:
            caption.value = _pre(str(err))
            return
        drawn.update(values=values(), png=png)
        picture.value = png
        caption.value = _pre(text)

    def pick(change):
        if busy["filling"] or change["new"] == CUSTOM:
            return
        busy["filling"] = True
        for cell, val in zip(cells, [x for row in grid_for(change["new"]) for x in row], strict=True):
            cell.value = val
        busy["filling"] = False
        draw()

    def edit(_change):
        if busy["filling"]:
            return
        busy["filling"] = True  # naming the edited kernel must not refill the grid
        picker.value = name_for(values())
        busy["filling"] = False
        draw()

    picker.observe(pick, names="value")
    for cell in cells:
        cell.observe(edit, names="value")
    draw()
    box = _explorer_box([w.HTML("<b>3x3 kernel explorer</b>"), picker, grid, picture, caption],
                        lambda: kernel_snapshot(image, drawn["values"], drawn["png"]))
    box.picker, box.cells, box.image, box.caption = picker, cells, picture, caption
    return box


__all__ = [
    "CONV_DEFAULTS",
    "CUSTOM",
    "DEFAULT_KERNEL",
    "PRECISIONS",
    "conv_explorer",
    "conv_report",
    "conv_snapshot",
    "filter_image",
    "grid_for",
    "kernel_explorer",
    "kernel_gallery",
    "kernel_caption",
    "kernel_png",
    "kernel_snapshot",
    "kernel_view",
    "name_for",
    "plot_kernel_view",
    "remedies_table",
]
