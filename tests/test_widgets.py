"""cnncourse.widgets: what the explorers show, computed and driven without a browser."""
import subprocess
import sys

import numpy as np
import pytest

from cnncourse import convarith as ca
from cnncourse import widgets


def test_module_does_not_import_ipywidgets():
    code = "import cnncourse, cnncourse.widgets, sys; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_conv_report_defaults_show_the_slide_figures():
    text = widgets.conv_report(**widgets.CONV_DEFAULTS)
    assert text == widgets.conv_report()
    assert 'Conv2D(filters=200, kernel_size=5, strides=1, padding="same"' in text
    assert "output           150 x 100 x 200" in text
    assert "parameters       15,200 = (5x5x3 + 1) x 200" in text
    assert "multiplications  225,000,000 per instance" in text
    assert "12.0 MB per instance" in text
    assert "training         1.20 GB for a batch of 100" in text
    for name in ("smaller batch", "stride", "fewer layers", "16-bit floats", "several devices"):
        assert name in text


def test_conv_report_follows_the_sliders():
    text = widgets.conv_report(height=32, width=32, channels=3, filters=32, kernel_size=3, strides=2,
                               padding="valid", batch_size=10, precision="bfloat16")
    assert "output           15 x 15 x 32   (valid: floor((32-3)/2)+1 = 15" in text
    assert f"parameters       {(3 * 3 * 3 + 1) * 32:,}" in text
    assert f"multiplications  {15 * 15 * 32 * 27:,}" in text
    assert "x 2 bytes (bfloat16)" in text
    assert ca.format_bytes(15 * 15 * 32 * 2 * 10) in text
    assert "already 16-bit" in text


def test_conv_report_when_the_kernel_does_not_fit():
    text = widgets.conv_report(height=4, width=4, kernel_size=5, padding="valid")
    assert text.startswith("No output:") and "does not fit" in text


def test_remedies_table():
    table = widgets.remedies_table(ca.SLIDE_EXAMPLE, 100, "float32")
    assert list(table.index) == ["smaller batch", "stride", "fewer layers", "16-bit floats", "several devices"]
    assert table.loc["stride", "training activations"] == "300 MB"
    assert table.loc["smaller batch", "vs now"] == "x0.50"


@pytest.mark.parametrize("name", list(ca.KERNELS))
def test_kernel_grid_round_trip(name):
    grid = widgets.grid_for(name)
    assert np.asarray(grid).shape == (3, 3)
    assert widgets.name_for(grid) == name


def test_edited_kernel_is_custom():
    grid = widgets.grid_for("sharpen")
    grid[0][0] = 0.5
    assert widgets.name_for(grid) == widgets.CUSTOM


def test_kernel_view_edges_and_blur():
    flat = np.full((16, 16), 0.5, dtype=np.float32)
    edges = widgets.kernel_view(flat, widgets.grid_for("edges (laplacian)"))
    assert edges["filtered"].shape == (16, 16)
    assert np.allclose(edges["filtered"][1:-1, 1:-1], 0)  # flat region: no response
    assert edges["vmin"] == -edges["vmax"]
    blur = widgets.kernel_view(flat, widgets.grid_for("box blur"))
    assert (blur["vmin"], blur["vmax"]) == (0.0, 1.0)
    assert np.allclose(blur["shown"][1:-1, 1:-1], 0.5)
    assert blur["caption"].startswith("box blur: ")
    with pytest.raises(ValueError):
        widgets.kernel_view(flat, [[1, 2], [3, 4]])


def test_filter_image_colour_channels_separately():
    rng = np.random.default_rng(0)
    image = rng.random((10, 12, 3)).astype("float32")
    out = widgets.filter_image(image, ca.kernel("identity"))
    assert out.shape == image.shape
    np.testing.assert_allclose(out, image, atol=1e-6)


def test_conv_explorer_callbacks():
    pytest.importorskip("ipywidgets")
    box = widgets.conv_explorer()
    assert "150 x 100 x 200" in box.report.value
    box.controls["strides"].value = 2
    assert "output           75 x 50 x 200" in box.report.value
    box.controls["padding"].value = "valid"
    assert "output           73 x 48 x 200" in box.report.value
    box.controls["precision"].value = "float16"
    assert "x 2 bytes (float16)" in box.report.value
    box.controls["kernel_size"].value = 11
    box.controls["height"].value = 8
    assert "No output:" in box.report.value


def test_conv_explorer_starts_from_given_values():
    pytest.importorskip("ipywidgets")
    box = widgets.conv_explorer(height=32, width=32, filters=8, kernel_size=3)
    assert "output           32 x 32 x 8" in box.report.value


def test_kernel_png():
    photo = ca.sample_photo("camera", size=32)
    png, caption = widgets.kernel_png(photo, widgets.grid_for("sharpen"))
    assert png.startswith(b"\x89PNG")
    assert caption.startswith("sharpen: ")


def test_kernel_explorer_callbacks():
    pytest.importorskip("ipywidgets")
    photo = ca.sample_photo("camera", size=32)
    box = widgets.kernel_explorer(photo)
    assert box.picker.value == widgets.DEFAULT_KERNEL
    assert bytes(box.image.value).startswith(b"\x89PNG")
    box.picker.value = "box blur"
    assert [c.value for c in box.cells] == [v for row in widgets.grid_for("box blur") for v in row]
    assert "box blur: " in box.caption.value
    first = bytes(box.image.value)
    box.cells[4].value = 2.0
    assert box.picker.value == widgets.CUSTOM
    assert "custom: " in box.caption.value
    assert bytes(box.image.value) != first
    box.cells[4].value = widgets.grid_for("box blur")[1][1]
    assert box.picker.value == "box blur"  # back to a named kernel
    box.cells[0].value = float("nan")
    assert "finite" in box.caption.value


def test_kernel_gallery_draws_every_kernel():
    import matplotlib.pyplot as plt

    fig = widgets.kernel_gallery(ca.sample_photo("camera", size=32), show=False)
    assert len([ax for ax in fig.axes if ax.images]) == len(ca.KERNELS)
    plt.close(fig)


def test_kernel_caption_follows_the_weights():
    assert widgets.kernel_caption(widgets.grid_for("box blur")).startswith("box blur: sum 1, all weights >= 0")
    four = [[0, 1, 0], [1, 0, 1], [0, 1, 0]]
    caption = widgets.kernel_caption(four)
    assert caption.startswith("custom: sum 4: brightens 4x") and "keeps the brightness" not in caption
    flat = np.full((8, 8), 0.5, dtype=np.float32)
    view = widgets.kernel_view(flat, four)
    assert view["caption"] == caption and np.allclose(view["shown"][2:-2, 2:-2], 1.0)  # washed out to white


VIEW = "application/vnd.jupyter.widget-view+json"


def test_conv_explorer_output_has_a_static_snapshot():
    """Un-run (untrusted) notebooks show text/html, not the widget: it must be the explorer, not VBox(...) text."""
    pytest.importorskip("ipywidgets")
    box = widgets.conv_explorer()
    data = box._repr_mimebundle_()
    assert data[VIEW]["model_id"] == box.model_id
    assert "VBox(" not in data["text/plain"] and "VBox(" not in data["text/html"]
    assert "Conv2D arithmetic explorer" in data["text/plain"]
    assert "parameters       15,200 = (5x5x3 + 1) x 200" in data["text/plain"]
    assert "15,200 = (5x5x3 + 1) x 200" in data["text/html"] and "Run All Cells" in data["text/html"]
    box.controls["kernel_size"].value = 7
    assert "29,600 = (7x7x3 + 1) x 200" in box._repr_mimebundle_()["text/html"]  # the state when displayed


def test_kernel_explorer_output_has_a_static_snapshot():
    pytest.importorskip("ipywidgets")
    import base64

    photo = ca.sample_photo("camera", size=32)
    box = widgets.kernel_explorer(photo)
    data = box._repr_mimebundle_()
    assert data[VIEW]["model_id"] == box.model_id
    assert "VBox(" not in data["text/plain"]
    assert "3x3 kernel explorer" in data["text/plain"] and "vertical edges (sobel x): sum 0" in data["text/plain"]
    png = base64.b64encode(bytes(box.image.value)).decode("ascii")
    assert f"src='data:image/png;base64,{png}'" in data["text/html"]
    box.cells[4].value = 4.0
    data = box._repr_mimebundle_()
    assert "custom: sum 4: brightens 4x" in data["text/html"]
    assert base64.b64encode(bytes(box.image.value)).decode("ascii") in data["text/html"]


def test_kernel_snapshot_without_a_widget():
    photo = ca.sample_photo("camera", size=16)
    text, html = widgets.kernel_snapshot(photo, widgets.grid_for("sharpen"))
    assert "sharpen: sum 1 with weights < 0: sharpening" in text and "data:image/png;base64," in html
    text, html = widgets.conv_snapshot({"kernel_size": 7})
    assert "kernel_size=7" in text and "29,600" in html
