"""MNIST-style data sets the user already has (KMNIST, MNIST, Fashion-MNIST): IDX (plain or .gz) or NPZ.

Nothing is downloaded. ``name`` is a plain file or folder name inside ``data_root`` (the lab's
``NOETHER_DATA_DIR/datasets``); anything that resolves outside it is refused. Accepted layouts:

- a folder holding ``*train-images-idx3-ubyte[.gz]`` and ``*train-labels-idx1-ubyte[.gz]`` (or any
  ``*images-idx3*`` / ``*labels-idx1*`` pair), or KMNIST's ``kmnist-train-imgs.npz`` and
  ``kmnist-train-labels.npz`` (or any ``*-imgs.npz`` / ``*-labels.npz`` pair);
- an IDX images file (its labels file is found by replacing ``images-idx3`` with ``labels-idx1``);
- KMNIST's ``kmnist-train-imgs.npz`` (paired with ``kmnist-train-labels.npz``);
- an ``.npz`` holding arrays ``x`` (n x 28 x 28 or n x 784) and ``y`` (n).

Images must have 784 pixels (28 x 28) and labels 0..9, the shape ``noether.spec.data_shape`` promises.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch

from noether.data import Dataset, subset
from noether.spec import SpecError

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format: magic 0 0 dtype ndim, big-endian int32 dims, data), plain or gzipped."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path.name} is not an IDX file")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}i", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=_IDX_DTYPES[raw[2]], offset=4 + 4 * ndim)
    expected = int(np.prod(dims)) if dims else 0
    if data.size != expected:
        raise ValueError(f"{path.name}: header says {expected} values, file holds {data.size}")
    return data.reshape(dims)


def _npz_array(path: Path, *keys: str) -> np.ndarray:
    with np.load(path, allow_pickle=False) as z:
        for key in keys:
            if key in z.files:
                return z[key]
        if len(z.files) == 1:
            return z[z.files[0]]
        raise ValueError(f"{path.name} holds arrays {z.files}; expected one of {list(keys)}")


def find_dataset(name: str, data_root: Path | None) -> Path:
    """The file or folder ``name`` inside ``data_root``; SpecError naming ``data.name`` if it is not there.

    Messages name the data set and the setting, never the directory's absolute path (they reach users).
    """
    if data_root is None:
        raise SpecError([f"data.name: no data directory is configured to look for '{name}' (set NOETHER_DATA_DIR)"])
    root = Path(data_root).resolve()
    path = (root / name).resolve()
    if path.parent != root:
        raise SpecError([f"data.name: '{name}' must be a plain name inside the data directory"])
    if not path.exists():
        raise SpecError([
            f"data.name: no data set '{name}' in the data sets folder (NOETHER_DATA_DIR/datasets, or the CLI's "
            "--data-dir); put the KMNIST/MNIST IDX or NPZ files there"
        ])
    return path


def _pick(files: list[Path], *needles: str) -> Path | None:
    hits = [f for f in files if all(n in f.name for n in needles)]
    train = [f for f in hits if "train" in f.name]
    return (train or hits or [None])[0]


def _images_and_labels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file())
        imgs, labs = _pick(files, "images-idx3"), _pick(files, "labels-idx1")
        if imgs is not None and labs is not None:
            return read_idx(imgs), read_idx(labs)
        imgs, labs = _pick(files, "-imgs.npz"), _pick(files, "-labels.npz")
        if imgs is not None and labs is not None:
            return _npz_array(imgs, "arr_0", "x"), _npz_array(labs, "arr_0", "y")
        raise ValueError(f"folder '{path.name}' holds no IDX (*images-idx3*, *labels-idx1*) or NPZ (*-imgs.npz, *-labels.npz) pair")
    name = path.name
    if "images-idx3" in name:
        labels = path.with_name(name.replace("images-idx3", "labels-idx1"))
        if not labels.exists():
            raise ValueError(f"no labels file '{labels.name}' next to '{name}'")
        return read_idx(path), read_idx(labels)
    if name.endswith("-imgs.npz"):
        labels = path.with_name(name.replace("-imgs.npz", "-labels.npz"))
        if not labels.exists():
            raise ValueError(f"no labels file '{labels.name}' next to '{name}'")
        return _npz_array(path, "arr_0", "x"), _npz_array(labels, "arr_0", "y")
    if name.endswith(".npz"):
        with np.load(path, allow_pickle=False) as z:
            if "x" not in z.files or "y" not in z.files:
                raise ValueError(f"{name} must hold arrays 'x' and 'y' (it holds {z.files})")
            return z["x"], z["y"]
    raise ValueError(f"'{name}' is neither an IDX images file, an .npz file, nor a folder of them")


def load_file_data(name: str, samples: int, normalize: bool, gen: torch.Generator, data_root: Path | None) -> Dataset:
    """A seeded subset of ``samples`` images (784 pixels, scaled to 0..1 when ``normalize``) with labels 0..9."""
    path = find_dataset(name, data_root)
    try:
        images, labels = _images_and_labels(path)
    except OSError as exc:  # its text would name the absolute path: say only what went wrong
        raise SpecError([f"data.name: cannot read '{name}': {exc.strerror or type(exc).__name__}"]) from None
    except (ValueError, EOFError) as exc:
        raise SpecError([f"data.name: cannot read '{name}': {exc}"]) from None
    images = np.asarray(images).reshape(len(images), -1)
    labels = np.asarray(labels).reshape(-1)
    if images.shape[1] != 784:
        raise SpecError([f"data.name: images of '{name}' have {images.shape[1]} pixels; must be 784 (28 x 28)"])
    if len(labels) != len(images):
        raise SpecError([f"data.name: '{name}' has {len(images)} images but {len(labels)} labels"])
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise SpecError([f"data.name: labels of '{name}' must be 0..9 (got {labels.min()}..{labels.max()})"])
    x = torch.as_tensor(images.astype(np.float64))
    y = torch.as_tensor(labels.astype(np.int64))
    idx = subset(len(x), samples, gen)
    x, y = x[idx], y[idx]
    if normalize:
        x = x / 255.0
    return Dataset(x, y, None, 10, f"{name}, {len(idx)} samples, 784 inputs")
