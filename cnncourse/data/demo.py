"""A few images for prediction demos: cats, dogs and things that are neither.

Cats and dogs come from the prepared cats-vs-dogs test split (held out from training), else
straight from the PetImages archive already on disk; the rest are scikit-image's sample photos,
which ship inside the package (Chelsea the cat, coffee, an astronaut, a rocket).
"""
from __future__ import annotations

import io
import warnings

import numpy as np

from . import download
from . import pets as cvd
from .errors import DataError

_SKIMAGE = (("cat", "chelsea"), ("other", "coffee"), ("other", "astronaut"), ("other", "rocket"))


def demo_images(per_class: int = 2, size: tuple[int, int] | None = None) -> dict[str, np.ndarray]:
    """``{"<kind>/<name>": uint8 RGB array (H, W, 3)}``, kind being ``cat``, ``dog`` or ``other``.

    ``per_class`` PetImages photos of each class are included when they are on disk (nothing is
    downloaded here); ``size=(height, width)`` resizes every image.
    """
    images: dict[str, np.ndarray] = {}
    try:
        from skimage import data as skdata
        for kind, name in _SKIMAGE:
            images[f"{kind}/{name}"] = np.asarray(getattr(skdata, name)())[..., :3]
    except ImportError:
        warnings.warn("scikit-image is not installed: demo_images() has no sample photos", stacklevel=2)
    pets = _from_split(per_class) or _from_archive(per_class)
    if not pets:
        warnings.warn("no cats-vs-dogs photos on disk yet (run `cnncourse data fetch cats_vs_dogs`)", stacklevel=2)
    images = {**{k: v for k, v in images.items() if k.startswith("cat/")}, **pets,
              **{k: v for k, v in images.items() if not k.startswith("cat/")}}
    if size is not None:
        from PIL import Image
        images = {k: np.asarray(Image.fromarray(v).resize((size[1], size[0]), Image.BILINEAR))
                  for k, v in images.items()}
    return images


def _decode(data: bytes) -> np.ndarray:
    from PIL import Image
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def _from_split(per_class: int) -> dict[str, np.ndarray]:
    base = cvd.split_root().parent
    others = sorted(p for p in base.iterdir() if not p.name.startswith(".")) if base.is_dir() else []
    roots = [cvd.split_root(), *others]
    for root in roots:
        if cvd.read_marker(root) is not None:
            out = {}
            for cls in cvd.CLASSES:
                for path in sorted((root / "test" / cls).iterdir())[:per_class]:
                    out[f"{cls}/{path.stem}"] = _decode(path.read_bytes())
            return out
    return {}


def _from_archive(per_class: int) -> dict[str, np.ndarray]:
    try:
        located = download.locate("cats_vs_dogs", download=False)
    except DataError:
        return {}
    reader = cvd._Reader(located)
    out = {}
    try:
        for cls, names in reader.by_class().items():
            taken = 0
            for name in sorted(names, key=cvd._natural):
                if taken == per_class:
                    break
                try:
                    data, _, _ = cvd.check_image(reader.read(name))
                except cvd._Unreadable:
                    continue
                if data is not None:
                    out[f"{cls}/{cls}.{name.rsplit('/', 1)[-1].rsplit('.', 1)[0]}"] = _decode(data)
                    taken += 1
    finally:
        reader.close()
    return out
