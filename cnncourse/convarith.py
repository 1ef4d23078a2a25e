"""Arithmetic of one convolution layer, a numpy cross-correlation, and named 3x3 kernels.

Used by notebook 01 and by :mod:`cnncourse.widgets`. Everything here is plain Python and numpy:
it works on numbers that describe *one* ``Conv2D`` layer (the widgets' sliders), while
:mod:`cnncourse.summary` reads the same figures off real Keras models. Notebook 01 computes the
slides' worked example both ways and checks that they agree.

Conventions follow Keras and the slides:

- ``padding="valid"``: no padding, ``out = floor((n - k) / s) + 1``;
  ``padding="same"``: zero padding so that ``out = ceil(n / s)`` (TensorFlow puts the odd pixel
  at the bottom / right).
- "multiplications" are multiply-accumulates for one instance (one image), the slides' count.
- memory units are decimal, as on the slides: 1 MB = 10**6 bytes, 1 GB = 10**9 bytes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

PADDINGS = ("valid", "same")
# Bytes per stored value. Keras mixed-precision policies compute (and keep activations) in 16 bits.
DTYPE_BYTES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2,
               "mixed_float16": 2, "mixed_bfloat16": 2}


# --------------------------------------------------------------------------- output size

def _pair(value, name: str) -> tuple[int, int]:
    """An int or a pair of ints, as Keras accepts for kernel_size and strides."""
    if isinstance(value, (int, np.integer)):
        pair = (int(value), int(value))
    else:
        pair = tuple(int(v) for v in value)
        if len(pair) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return pair


def _padding(padding: str) -> str:
    p = str(padding).lower()
    if p not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    return p


def conv_output_length(n: int, kernel: int, stride: int = 1, padding: str = "valid") -> int:
    """Output length along one axis of a convolution (or pooling) window sliding over ``n`` values.

    >>> conv_output_length(150, 5, 1, "same"), conv_output_length(227, 11, 4, "valid")
    (150, 55)
    """
    padding = _padding(padding)
    if n < 1 or kernel < 1 or stride < 1:
        raise ValueError(f"sizes must be >= 1, got n={n}, kernel={kernel}, stride={stride}")
    if padding == "same":
        return -(-n // stride)  # ceil(n / stride)
    if n < kernel:
        raise ValueError(f"a {kernel}-wide kernel does not fit in {n} values without padding")
    return (n - kernel) // stride + 1


def same_padding(n: int, kernel: int, stride: int = 1) -> tuple[int, int]:
    """Zeros added before and after along one axis by ``padding="same"`` (TensorFlow's rule)."""
    out = conv_output_length(n, kernel, stride, "same")
    total = max((out - 1) * stride + kernel - n, 0)
    return total // 2, total - total // 2


def conv_output_shape(height: int, width: int, filters: int, kernel_size=3, strides=1,
                      padding: str = "valid") -> tuple[int, int, int]:
    """``(height, width, filters)`` of a Conv2D's output for one instance."""
    (kh, kw), (sh, sw) = _pair(kernel_size, "kernel_size"), _pair(strides, "strides")
    return (conv_output_length(height, kh, sh, padding), conv_output_length(width, kw, sw, padding), int(filters))


# --------------------------------------------------------------------------- costs

def dtype_bytes(dtype: str) -> int:
    """Bytes per value for a dtype or a Keras precision policy name."""
    try:
        return DTYPE_BYTES[str(dtype)]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; known: {', '.join(DTYPE_BYTES)}") from None


def conv_params(kernel_size, in_channels: int, filters: int, use_bias: bool = True) -> int:
    """Trainable parameters: one kh x kw x in_channels kernel (plus one bias) per filter."""
    kh, kw = _pair(kernel_size, "kernel_size")
    return (kh * kw * in_channels + int(use_bias)) * filters


@dataclass(frozen=True)
class ConvLayer:
    """One ``Conv2D(filters, kernel_size, strides, padding)`` applied to a height x width x channels input."""
    height: int
    width: int
    channels: int
    filters: int
    kernel_size: int | tuple = 3
    strides: int | tuple = 1
    padding: str = "valid"
    use_bias: bool = True

    def __post_init__(self):
        for name in ("height", "width", "channels", "filters"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        object.__setattr__(self, "padding", _padding(self.padding))
        self.output_shape  # noqa: B018 -- validates that the kernel fits

    @property
    def kernel(self) -> tuple[int, int]:
        return _pair(self.kernel_size, "kernel_size")

    @property
    def stride(self) -> tuple[int, int]:
        return _pair(self.strides, "strides")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.channels)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        return conv_output_shape(self.height, self.width, self.filters, self.kernel, self.stride, self.padding)

    @property
    def params(self) -> int:
        return conv_params(self.kernel, self.channels, self.filters, self.use_bias)

    @property
    def input_values(self) -> int:
        return math.prod(self.input_shape)

    @property
    def output_values(self) -> int:
        """Number of values in the output feature maps (one instance)."""
        return math.prod(self.output_shape)

    @property
    def multiplications(self) -> int:
        """Multiply-accumulates for one instance: every output value sums kh x kw x channels products."""
        kh, kw = self.kernel
        return self.output_values * kh * kw * self.channels

    def activation_bytes(self, dtype: str = "float32", batch_size: int = 1) -> int:
        """Memory of the layer's output feature maps for ``batch_size`` instances."""
        return self.output_values * dtype_bytes(dtype) * int(batch_size)

    def inference_bytes(self, dtype: str = "float32", batch_size: int = 1) -> int:
        """At inference only two consecutive layers are alive: here, this layer's input and output."""
        return (self.input_values + self.output_values) * dtype_bytes(dtype) * int(batch_size)

    def with_(self, **changes) -> ConvLayer:
        """A copy with some fields changed (e.g. ``layer.with_(strides=2)``)."""
        return replace(self, **changes)

    def keras_code(self, activation: str | None = "relu") -> str:
        """The Keras 3 line that builds this layer."""
        k = self.kernel[0] if self.kernel[0] == self.kernel[1] else self.kernel
        s = self.stride[0] if self.stride[0] == self.stride[1] else self.stride
        act = f", activation={activation!r}" if activation else ""
        return (f"keras.layers.Conv2D(filters={self.filters}, kernel_size={k}, strides={s}, "
                f"padding={self.padding!r}{act})").replace("'", '"')


# The slides' worked example: 200 filters of 5x5, stride 1, same padding, on a 150 x 100 RGB image.
SLIDE_EXAMPLE = ConvLayer(height=150, width=100, channels=3, filters=200, kernel_size=5, strides=1, padding="same")
SLIDE_BATCH_SIZE = 100
SLIDE_FIGURES = {"params": 15_200, "multiplications": 225_000_000,
                 "activation_MB_per_instance": 12.0, "activation_GB_batch_100": 1.2}


def megabytes(n_bytes: float) -> float:
    return n_bytes / 1e6


def gigabytes(n_bytes: float) -> float:
    return n_bytes / 1e9


def format_bytes(n_bytes: float) -> str:
    """Decimal units, three significant digits: 12_000_000 -> '12.0 MB', 1.2e9 -> '1.20 GB'."""
    value = float(n_bytes)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 999.5 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:#.3g}".rstrip(".") + f" {unit}"
        value /= 1000
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- out-of-memory remedies

@dataclass(frozen=True)
class Remedy:
    name: str
    change: str
    memory_bytes: int       # training activation memory per device after the change
    baseline_bytes: int
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.memory_bytes / self.baseline_bytes if self.baseline_bytes else float("nan")

    @property
    def saving_bytes(self) -> int:
        return self.baseline_bytes - self.memory_bytes


def oom_remedies(layer: ConvLayer, batch_size: int, dtype: str = "float32", *, layers: int = 1,
                 devices: int = 2) -> list[Remedy]:
    """How the slides' out-of-memory remedies change the training activation memory.

    The model is ``layers`` layers shaped like ``layer`` (their outputs are all kept for the
    backward pass), trained with ``batch_size`` instances in ``dtype``. Each remedy is applied on
    its own; ``memory_bytes`` is what one device then holds.
    """
    layers, batch_size, devices = int(layers), int(batch_size), int(devices)
    if layers < 1 or batch_size < 1 or devices < 1:
        raise ValueError("layers, batch_size and devices must be >= 1")
    bytes_per = dtype_bytes(dtype)

    def train(lay: ConvLayer, batch: int, n_layers: int = layers, nbytes: int = bytes_per) -> int:
        return lay.output_values * nbytes * batch * n_layers

    base = train(layer, batch_size)
    sh, sw = layer.stride
    strided = layer.with_(strides=(2 * sh, 2 * sw))
    half_batch = max(batch_size // 2, 1)
    fewer = layers - 1
    half_precision = min(bytes_per, 2)
    per_device_batch = -(-batch_size // devices)
    return [
        Remedy("smaller batch", f"batch {batch_size} -> {half_batch}", train(layer, half_batch), base),
        Remedy("stride", f"strides {layer.stride[0]} -> {strided.stride[0]} "
               f"(output {layer.output_shape[0]}x{layer.output_shape[1]} -> "
               f"{strided.output_shape[0]}x{strided.output_shape[1]})",
               train(strided, batch_size), base, "later layers shrink too"),
        Remedy("fewer layers", "remove this layer" if layers == 1 else f"layers {layers} -> {fewer}",
               train(layer, batch_size, fewer), base, "each layer like this one removed frees its share"),
        Remedy("16-bit floats", f"{bytes_per * 8}-bit -> {half_precision * 8}-bit values" if bytes_per > 2
               else "already 16-bit",
               train(layer, batch_size, nbytes=half_precision), base, "mixed precision keeps float32 weights"),
        Remedy("several devices", f"{devices} devices, batch {per_device_batch} each",
               train(layer, per_device_batch), base, "memory per device"),
    ]


# --------------------------------------------------------------------------- cross-correlation

def pad_input(image: np.ndarray, kernel_size, strides=1, padding: str = "valid") -> np.ndarray:
    """Zero-pad the two spatial axes as Keras' ``padding`` does."""
    image = np.asarray(image)
    if _padding(padding) == "valid":
        return image
    (kh, kw), (sh, sw) = _pair(kernel_size, "kernel_size"), _pair(strides, "strides")
    pads = [same_padding(image.shape[0], kh, sh), same_padding(image.shape[1], kw, sw)]
    pads += [(0, 0)] * (image.ndim - 2)
    return np.pad(image, pads)


def correlate2d(image: np.ndarray, kernel: np.ndarray, strides=1, padding: str = "valid") -> np.ndarray:
    """2-D cross-correlation, the operation Keras' ``Conv2D`` computes (no kernel flip, no bias).

    - ``image`` (H, W) with ``kernel`` (kh, kw) gives one feature map (H', W');
    - ``image`` (H, W, C) with ``kernel`` (kh, kw, C, F), Keras' kernel layout, gives (H', W', F).

    Every output value is the sum of the elementwise product of the kernel and the image patch
    under it; the window moves ``strides`` pixels at a time.
    """
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    if image.ndim == 2 and kernel.ndim == 2:
        return correlate2d(image[..., None], kernel[..., None, None], strides, padding)[..., 0]
    if image.ndim != 3 or kernel.ndim != 4 or kernel.shape[2] != image.shape[2]:
        raise ValueError(f"expected image (H, W) with kernel (kh, kw), or image (H, W, C) with kernel "
                         f"(kh, kw, C, F); got {image.shape} and {kernel.shape}")
    kh, kw = kernel.shape[:2]
    sh, sw = _pair(strides, "strides")
    out_h = conv_output_length(image.shape[0], kh, sh, padding)
    out_w = conv_output_length(image.shape[1], kw, sw, padding)
    padded = pad_input(image, (kh, kw), (sh, sw), padding)
    # patches[i, j] is the (C, kh, kw) window whose top-left corner is at (i, j)
    patches = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(0, 1))
    patches = patches[: (out_h - 1) * sh + 1: sh, : (out_w - 1) * sw + 1: sw]
    return np.einsum("ijcab,abcf->ijf", patches, kernel)


# --------------------------------------------------------------------------- named kernels

KERNELS: dict[str, list[list[float]]] = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "box blur": [[1 / 9] * 3] * 3,
    "gaussian blur": [[1 / 16, 2 / 16, 1 / 16], [2 / 16, 4 / 16, 2 / 16], [1 / 16, 2 / 16, 1 / 16]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "edges (laplacian)": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
    "vertical edges (sobel x)": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "horizontal edges (sobel y)": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
}


def kernel(name: str) -> np.ndarray:
    """A named 3x3 kernel as a fresh float32 array (see ``KERNELS``)."""
    try:
        return np.array(KERNELS[name], dtype=np.float32)
    except KeyError:
        raise ValueError(f"unknown kernel {name!r}; known: {', '.join(KERNELS)}") from None


# Weights typed by hand are rounded (nine times 0.111 is 0.999): sums this close to 0 or 1 count as 0 or 1.
SUM_TOLERANCE = 5e-3


def is_difference_kernel(k) -> bool:
    """Weights summing to 0: a flat region gives 0, so the kernel responds only to changes (edges, texture)."""
    return abs(float(np.sum(np.asarray(k, dtype=np.float64)))) <= SUM_TOLERANCE


def kernel_kind(k) -> str:
    """What a kernel does to a photo, judged from its weights (the kernel explorer's caption).

    The sum of the weights is what the kernel does to a flat region: brightness ``b`` comes out as
    ``sum x b``. So:

    - sum 0: flat regions give 0: an edge / difference detector;
    - sum 1, every weight >= 0: a weighted average of the neighbourhood, a blur (all the weight on
      one pixel: the photo unchanged, or shifted if that pixel is off the centre);
    - sum 1, some weights < 0: sharpening (emboss is one);
    - any other sum: brightens (sum > 1) or darkens (0 < sum < 1) by that factor, or inverts the
      brightness (sum < 0); on top, weights of one sign blur and weights of both signs sharpen.
    """
    w = np.asarray(k, dtype=np.float64)
    total = float(w.sum())
    negative = bool(np.any(w < 0))
    nonzero = np.flatnonzero(np.abs(w) > SUM_TOLERANCE)
    centre = w.ndim == 2 and w.shape[0] % 2 == 1 and w.shape[1] % 2 == 1 and nonzero.size == 1 \
        and tuple(int(i) for i in np.unravel_index(nonzero[0], w.shape)) == (w.shape[0] // 2, w.shape[1] // 2)
    if is_difference_kernel(w):
        return "sum 0: an edge / difference detector (flat regions give 0; it responds where the brightness changes)"
    if abs(total - 1) <= SUM_TOLERANCE:
        if negative:
            return ("sum 1 with weights < 0: sharpening (flat regions keep their brightness, differences from "
                    "the neighbours are exaggerated)")
        if centre:
            return "sum 1, all the weight on the centre pixel: the photo unchanged (identity)"
        if nonzero.size == 1:
            return "sum 1, all the weight on one pixel off the centre: the photo shifted by one pixel"
        return ("sum 1, all weights >= 0: a weighted average of the neighbourhood (blur); flat regions keep "
                "their brightness")
    factor = f"{total:.3g}"
    if total > 1:
        effect = f"brightens {factor}x (flat regions come out {factor} times as bright; above 1 shows as white)"
    elif total > 0:
        effect = f"darkens to {factor}x (flat regions come out at {factor} times their brightness)"
    else:
        effect = (f"inverts the brightness, scaled by {factor} (flat regions come out below 0, "
                  "shown as black)")
    if nonzero.size == 1:
        extra = "" if centre else ", and shifts the photo by one pixel"
    elif negative and np.any(w > 0):
        extra = ", and sharpens (weights of both signs)"
    else:
        extra = ", and blurs (a weighted average)"
    return f"sum {factor}: {effect}{extra}"


# --------------------------------------------------------------------------- photos

def sample_photo(name: str = "camera", size: int | None = None, gray: bool = False) -> np.ndarray:
    """One of scikit-image's bundled sample images (no download) as float32 in [0, 1].

    ``size`` resizes to size x size (anti-aliased); ``gray`` converts an RGB photo to one channel.
    """
    import skimage.color
    import skimage.data
    import skimage.transform
    import skimage.util

    photo = skimage.util.img_as_float32(getattr(skimage.data, name)())
    if gray and photo.ndim == 3:
        photo = skimage.color.rgb2gray(photo[..., :3])
    if size is not None:
        photo = skimage.transform.resize(photo, (size, size), anti_aliasing=True)
    return np.clip(photo, 0, 1).astype(np.float32)


__all__ = [
    "DTYPE_BYTES",
    "KERNELS",
    "PADDINGS",
    "SLIDE_BATCH_SIZE",
    "SLIDE_EXAMPLE",
    "SLIDE_FIGURES",
    "SUM_TOLERANCE",
    "ConvLayer",
    "Remedy",
    "conv_output_length",
    "conv_output_shape",
    "conv_params",
    "correlate2d",
    "dtype_bytes",
    "format_bytes",
    "gigabytes",
    "is_difference_kernel",
    "kernel",
    "kernel_kind",
    "megabytes",
    "oom_remedies",
    "pad_input",
    "same_padding",
    "sample_photo",
]
