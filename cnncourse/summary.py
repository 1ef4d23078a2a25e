"""Per-layer cost tables: parameters, multiply-accumulates and activation memory.

Used in 01 (the slides' worked example) and 02 (where BatchNorm's non-trainable parameters come
from). Memory follows the lecture's convention: each layer's output is kept for the backward pass,
so training needs the sum over layers times the batch size; units are decimal (1 MB = 10**6 bytes).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}


def _shape(layer) -> tuple:
    shape = getattr(layer, "output", None)
    shape = getattr(shape, "shape", None)
    if shape is None:
        raise ValueError(f"layer {layer.name!r} has no output shape yet: build the model on an Input first")
    return tuple(shape)


def _count(weights) -> int:
    return int(sum(math.prod(w.shape) for w in weights))


def layer_macs(layer) -> int:
    """Multiply-accumulates for one instance (one image) through ``layer``.

    Convolutions: every output value costs kernel height x width x input channels (per group)
    multiplications; dense layers: inputs x units. Other layers are counted as 0: their cost is
    small next to these, and the slides count only these.
    """
    kind = type(layer).__name__
    if kind in ("Conv1D", "Conv2D", "Conv3D"):
        out = _shape(layer)[1:]
        in_channels = layer.input.shape[-1]
        k = math.prod(layer.kernel_size)
        return int(math.prod(out) * k * in_channels // getattr(layer, "groups", 1))
    if kind == "DepthwiseConv2D":
        out = _shape(layer)[1:]
        return int(math.prod(out) * math.prod(layer.kernel_size))
    if kind == "SeparableConv2D":
        out = _shape(layer)[1:]
        in_channels = layer.input.shape[-1]
        depthwise = math.prod(out[:-1]) * in_channels * layer.depth_multiplier * math.prod(layer.kernel_size)
        pointwise = math.prod(out[:-1]) * in_channels * layer.depth_multiplier * out[-1]
        return int(depthwise + pointwise)
    if kind == "Dense":
        out = _shape(layer)
        return int(math.prod(out[1:-1] or (1,)) * layer.input.shape[-1] * out[-1])
    return 0


def _flat_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers and type(layer).__name__ in ("Functional", "Sequential"):
            yield from _flat_layers(layer)
        elif type(layer).__name__ != "InputLayer":
            yield layer


def layer_table(model, batch_size: int | None = None, dtype: str | None = None) -> pd.DataFrame:
    """One row per layer plus a ``total`` row.

    Columns: layer, type, output shape, trainable and non-trainable parameters, MACs (per
    instance), activation bytes per instance (at each layer's compute dtype, or ``dtype``).
    With ``batch_size``: ``train_activation_bytes`` = activations x batch (kept for backprop), and
    ``df.attrs`` carries the totals, including the inference estimate (the two largest consecutive
    layers for one instance) the lecture compares it with.
    """
    rows = []
    for layer in _flat_layers(model):
        shape = _shape(layer)
        compute = dtype or layer.dtype_policy.compute_dtype
        values = int(np.prod(shape[1:]))
        rows.append({
            "layer": layer.name,
            "type": type(layer).__name__,
            "output_shape": shape,
            "trainable": _count(layer.trainable_weights),
            "non_trainable": _count(layer.non_trainable_weights),
            "macs": layer_macs(layer),
            "activation_bytes": values * DTYPE_BYTES[compute],
        })
    df = pd.DataFrame(rows)
    per_layer = df["activation_bytes"].tolist()
    total = {"layer": "total", "type": "", "output_shape": "",
             **{c: int(df[c].sum()) for c in ("trainable", "non_trainable", "macs", "activation_bytes")}}
    df = pd.concat([df, pd.DataFrame([total])], ignore_index=True)
    df.attrs["params"] = total["trainable"] + total["non_trainable"]
    df.attrs["activation_bytes"] = total["activation_bytes"]
    df.attrs["inference_bytes"] = max((a + b for a, b in zip(per_layer, per_layer[1:])), default=sum(per_layer))
    if batch_size is not None:
        df["train_activation_bytes"] = df["activation_bytes"] * batch_size
        df.attrs["batch_size"] = batch_size
        df.attrs["train_activation_bytes"] = total["activation_bytes"] * batch_size
    return df


def human_bytes(n: float) -> str:
    """Decimal units, as the slides use them: 12,000,000 -> '12 MB'."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.3g} {unit}"
        n /= 1000
    raise AssertionError("unreachable")
