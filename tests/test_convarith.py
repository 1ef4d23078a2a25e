"""cnncourse.convarith: output sizes, costs and the numpy cross-correlation, checked against Keras."""
import math

import numpy as np
import pytest

from cnncourse import convarith as ca

# (height, width, channels, filters, kernel_size, strides, padding)
CONFIGS = [
    (7, 7, 1, 1, 3, 1, "valid"),
    (7, 7, 1, 2, 3, 1, "same"),
    (8, 9, 3, 4, 3, 2, "same"),
    (8, 9, 3, 4, 3, 2, "valid"),
    (10, 7, 2, 3, (3, 2), (2, 3), "same"),
    (11, 11, 3, 2, 5, 3, "valid"),
    (6, 6, 1, 1, 4, 2, "same"),
    (15, 10, 3, 5, 5, 1, "same"),
    (27, 27, 3, 6, 11, 4, "valid"),
]


def keras_conv(filters, kernel_size, strides, padding, input_shape, kernel=None):
    import keras

    layer = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=False,
                                dtype="float32")
    layer.build((None, *input_shape))
    if kernel is not None:
        layer.set_weights([np.asarray(kernel, dtype="float32")])
    return layer


@pytest.mark.parametrize("h, w, c, f, k, s, p", CONFIGS)
def test_output_shape_and_params_match_keras(h, w, c, f, k, s, p):
    import keras

    layer = keras.layers.Conv2D(f, k, strides=s, padding=p, dtype="float32")
    outputs = layer(keras.Input((h, w, c)))
    ours = ca.ConvLayer(h, w, c, f, k, s, p)
    assert ours.output_shape == tuple(outputs.shape[1:])
    assert ours.params == layer.count_params()


@pytest.mark.parametrize("h, w, c, f, k, s, p", CONFIGS)
def test_correlate2d_equals_keras_conv2d(h, w, c, f, k, s, p):
    rng = np.random.default_rng(0)
    kh, kw = (k, k) if isinstance(k, int) else k
    x = rng.normal(size=(h, w, c)).astype("float32")
    kernel = rng.normal(size=(kh, kw, c, f)).astype("float32")
    expected = np.asarray(keras_conv(f, k, s, p, (h, w, c), kernel)(x[None]))[0]
    got = ca.correlate2d(x, kernel, strides=s, padding=p)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_correlate2d_by_hand():
    image = np.arange(16).reshape(4, 4)
    k = np.array([[1, 0], [0, -1]])  # top-left minus bottom-right
    out = ca.correlate2d(image, k)
    assert out.shape == (3, 3)
    assert np.all(out == -5)  # x[i, j] - x[i+1, j+1] = -(4 + 1) everywhere
    # not flipped: a true convolution would give +5
    assert ca.correlate2d(image, k[::-1, ::-1])[0, 0] == 5


def test_correlate2d_same_padding_and_stride_on_a_photo_sized_input():
    image = np.ones((9, 9))
    out = ca.correlate2d(image, np.ones((3, 3)), padding="same")
    assert out.shape == (9, 9)
    assert out[4, 4] == 9 and out[0, 0] == 4 and out[0, 4] == 6  # zeros padded at the border
    assert ca.correlate2d(image, np.ones((3, 3)), strides=2, padding="same").shape == (5, 5)


def test_correlate2d_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        ca.correlate2d(np.zeros((5, 5, 3)), np.zeros((3, 3, 2, 1)))
    with pytest.raises(ValueError):
        ca.correlate2d(np.zeros((2, 2)), np.zeros((3, 3)))


@pytest.mark.parametrize("n, k, s, p, expected", [
    (150, 5, 1, "same", 150), (150, 5, 1, "valid", 146), (150, 5, 2, "same", 75), (151, 5, 2, "same", 76),
    (227, 11, 4, "valid", 55), (32, 3, 1, "same", 32), (7, 7, 1, "valid", 1), (5, 1, 3, "valid", 2),
])
def test_output_length_formula(n, k, s, p, expected):
    assert ca.conv_output_length(n, k, s, p) == expected
    if p == "valid":
        assert expected == math.floor((n - k) / s) + 1
    else:
        assert expected == math.ceil(n / s)


def test_output_length_errors():
    with pytest.raises(ValueError, match="does not fit"):
        ca.conv_output_length(4, 5, 1, "valid")
    with pytest.raises(ValueError, match="padding"):
        ca.conv_output_length(4, 3, 1, "full")
    with pytest.raises(ValueError):
        ca.ConvLayer(4, 4, 3, 8, 5, 1, "valid")
    assert ca.ConvLayer(4, 4, 3, 8, 5, 1, "SAME").padding == "same"  # legacy spelling accepted


def test_same_padding_splits_the_odd_pixel_after():
    assert ca.same_padding(5, 3, 1) == (1, 1)
    assert ca.same_padding(6, 4, 2) == (1, 1)
    assert ca.same_padding(6, 4, 1) == (1, 2)
    assert ca.same_padding(8, 1, 2) == (0, 0)


def test_slide_worked_example():
    layer = ca.SLIDE_EXAMPLE
    assert layer.output_shape == (150, 100, 200)
    assert layer.params == (5 * 5 * 3 + 1) * 200 == ca.SLIDE_FIGURES["params"] == 15_200
    assert layer.multiplications == 200 * 150 * 100 * 5 * 5 * 3 == ca.SLIDE_FIGURES["multiplications"]
    assert layer.activation_bytes("float32") * 8 == 96_000_000  # 96 million bits
    assert ca.megabytes(layer.activation_bytes("float32")) == ca.SLIDE_FIGURES["activation_MB_per_instance"]
    batch = layer.activation_bytes("float32", ca.SLIDE_BATCH_SIZE)
    assert ca.gigabytes(batch) == pytest.approx(ca.SLIDE_FIGURES["activation_GB_batch_100"])
    assert layer.activation_bytes("mixed_float16") == 6_000_000
    assert layer.inference_bytes("float32") == (150 * 100 * 3 + 150 * 100 * 200) * 4
    assert layer.keras_code() == ('keras.layers.Conv2D(filters=200, kernel_size=5, strides=1, padding="same", '
                                  'activation="relu")')


def test_slide_example_matches_cnncourse_summary():
    import keras

    from cnncourse import summary

    model = keras.Sequential([keras.Input((150, 100, 3)), keras.layers.Conv2D(200, 5, padding="same")])
    row = summary.layer_table(model, dtype="float32").iloc[0]
    layer = ca.SLIDE_EXAMPLE
    assert row["trainable"] == layer.params
    assert row["macs"] == layer.multiplications
    assert row["activation_bytes"] == layer.activation_bytes("float32")


def test_conv_params_without_bias_and_rectangular_kernel():
    assert ca.conv_params(3, 1, 1, use_bias=False) == 9
    assert ca.conv_params((3, 5), 4, 2) == (15 * 4 + 1) * 2


def test_dtype_bytes():
    names = ("float64", "float32", "float16", "bfloat16", "mixed_bfloat16")
    assert [ca.dtype_bytes(d) for d in names] == [8, 4, 2, 2, 2]
    with pytest.raises(ValueError):
        ca.dtype_bytes("int3")


def test_oom_remedies_effects():
    remedies = {r.name: r for r in ca.oom_remedies(ca.SLIDE_EXAMPLE, 100, "float32", layers=4, devices=4)}
    assert set(remedies) == {"smaller batch", "stride", "fewer layers", "16-bit floats", "several devices"}
    base = 4 * 1_200_000_000
    assert all(r.baseline_bytes == base for r in remedies.values())
    assert remedies["smaller batch"].ratio == 0.5
    assert remedies["stride"].ratio == 0.25  # 75 x 50 instead of 150 x 100
    assert remedies["fewer layers"].ratio == 0.75
    assert remedies["16-bit floats"].ratio == 0.5
    assert remedies["several devices"].ratio == 0.25
    assert remedies["several devices"].saving_bytes == base * 3 // 4
    already = {r.name: r for r in ca.oom_remedies(ca.SLIDE_EXAMPLE, 100, "bfloat16")}
    assert already["16-bit floats"].ratio == 1.0 and already["16-bit floats"].change == "already 16-bit"
    with pytest.raises(ValueError):
        ca.oom_remedies(ca.SLIDE_EXAMPLE, 0)


def test_format_bytes():
    assert ca.format_bytes(12_000_000) == "12.0 MB"
    assert ca.format_bytes(1_200_000_000) == "1.20 GB"
    assert ca.format_bytes(225_000_000) == "225 MB"
    assert ca.format_bytes(512) == "512 B"
    assert ca.format_bytes(999_600) == "1.00 MB"


def test_named_kernels():
    assert all(ca.kernel(name).shape == (3, 3) for name in ca.KERNELS)
    assert ca.kernel("box blur").sum() == pytest.approx(1)
    assert ca.kernel("gaussian blur").sum() == pytest.approx(1)
    assert ca.kernel("edges (laplacian)").sum() == 0
    k = ca.kernel("identity")
    k[1, 1] = 7  # a fresh copy each time
    assert ca.kernel("identity")[1, 1] == 1
    with pytest.raises(ValueError, match="unknown kernel"):
        ca.kernel("nope")
    assert "edge" in ca.kernel_kind(ca.kernel("vertical edges (sobel x)"))
    assert "blur" in ca.kernel_kind(ca.kernel("box blur"))


@pytest.mark.parametrize("name, expected", [
    ("identity", "sum 1, all the weight on the centre pixel: the photo unchanged"),
    ("box blur", "sum 1, all weights >= 0: a weighted average"),
    ("gaussian blur", "sum 1, all weights >= 0: a weighted average"),
    ("sharpen", "sum 1 with weights < 0: sharpening"),
    ("emboss", "sum 1 with weights < 0: sharpening"),
    ("edges (laplacian)", "sum 0: an edge / difference detector"),
    ("vertical edges (sobel x)", "sum 0: an edge / difference detector"),
    ("horizontal edges (sobel y)", "sum 0: an edge / difference detector"),
])
def test_kernel_kind_of_every_named_kernel(name, expected):
    assert ca.kernel_kind(ca.kernel(name)).startswith(expected)


@pytest.mark.parametrize("weights, starts, contains, absent", [
    # sum 4, all >= 0: the photo washes out to white; not "keeps the brightness"
    ([[0, 1, 0], [1, 0, 1], [0, 1, 0]], "sum 4: brightens 4x", ["white", "blurs"], ["keeps", "average of the"]),
    # sum 2: brightens 2x, not "a weighted average"
    ([[2 / 9] * 3] * 3, "sum 2: brightens 2x", ["blurs"], ["weighted average of the", "keeps"]),
    ([[0, 0, 0], [0, 2, 0], [0, 0, 0]], "sum 2: brightens 2x", [], ["blurs", "sharpens", "average"]),
    # sum 0.5: darkens
    ([[1 / 18] * 3] * 3, "sum 0.5: darkens to 0.5x", ["blurs"], ["brightens"]),
    # sum 4 with negative weights: brightens and sharpens
    ([[0, -1, 0], [-1, 8, -1], [0, -1, 0]], "sum 4: brightens 4x", ["sharpens"], ["blurs"]),
    # negative sums invert
    ([[0, 0, 0], [0, -1, 0], [0, 0, 0]], "sum -1: inverts the brightness", ["black"], ["sharpens", "blurs"]),
    ([[-1 / 9] * 3] * 3, "sum -1: inverts the brightness", ["blurs"], ["sharpens"]),
    # sum 0 whatever the pattern
    ([[1, 0, 0], [0, 0, 0], [0, 0, -1]], "sum 0: an edge / difference detector", [], []),
    # sum 1, one weight off the centre: a shift
    ([[0, 0, 0], [1, 0, 0], [0, 0, 0]], "sum 1, all the weight on one pixel off the centre", ["shifted"], []),
    # weights typed rounded to 3 decimals still count as sum 1
    ([[0.111] * 3] * 3, "sum 1, all weights >= 0: a weighted average", [], []),
    # sum 1 with a negative weight: sharpening
    ([[0, -0.5, 0], [0, 2, 0], [0, -0.5, 0]], "sum 1 with weights < 0: sharpening", [], []),
])
def test_kernel_kind_follows_the_sum_and_the_signs(weights, starts, contains, absent):
    text = ca.kernel_kind(np.array(weights, dtype=np.float32))
    assert text.startswith(starts), text
    for word in contains:
        assert word in text, (word, text)
    for word in absent:
        assert word not in text, (word, text)
    assert ca.is_difference_kernel(weights) == starts.startswith("sum 0:")


def test_sobel_kernels_find_the_right_edges():
    step = np.zeros((6, 6))
    step[:, 3:] = 1  # a vertical edge between columns 2 and 3
    vertical = ca.correlate2d(step, ca.kernel("vertical edges (sobel x)"))
    horizontal = ca.correlate2d(step, ca.kernel("horizontal edges (sobel y)"))
    assert vertical.max() == 4 and np.all(horizontal == 0)
    assert np.allclose(ca.correlate2d(step, ca.kernel("identity")), step[1:-1, 1:-1])


def test_sample_photo_is_bundled_and_resized():
    photo = ca.sample_photo("camera", size=64)
    assert photo.shape == (64, 64) and photo.dtype == np.float32
    assert 0 <= photo.min() < photo.max() <= 1
    color = ca.sample_photo("astronaut", size=32)
    assert color.shape == (32, 32, 3)
    assert ca.sample_photo("astronaut", size=32, gray=True).shape == (32, 32)
