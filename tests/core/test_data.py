"""Data sets: deterministic for the seed, the right shapes, and files read only from inside the data directory."""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np
import pytest
import torch

import noether
from noether.data import data_generator, load_data
from noether.data.files import read_idx
from noether.spec import SpecError, parse_spec


def _idx_bytes(arr: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}i", *arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def _images(n: int = 12) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), (np.arange(n) % 10).astype(np.uint8)


def _file_spec(name: str, samples: int = 8) -> dict:
    return {"model": {"widths": [784, 6, 10]}, "data": {"kind": "file", "name": name, "samples": samples}, "steps": 2}


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder(tmp_path, gz):
    imgs, labels = _images()
    folder = tmp_path / "mnist"
    folder.mkdir()
    suffix = ".gz" if gz else ""
    write = (lambda p, b: gzip.open(p, "wb").write(b)) if gz else (lambda p, b: p.write_bytes(b))
    write(folder / f"train-images-idx3-ubyte{suffix}", _idx_bytes(imgs))
    write(folder / f"train-labels-idx1-ubyte{suffix}", _idx_bytes(labels))
    assert np.array_equal(read_idx(folder / f"train-images-idx3-ubyte{suffix}"), imgs)
    problem = noether.build_problem(_file_spec("mnist", samples=8), data_root=tmp_path)
    assert problem.inputs.shape == (8, 784) and problem.n_samples == 8
    assert 0.0 <= float(problem.inputs.min()) and float(problem.inputs.max()) <= 1.0
    # the subset is a seeded choice of rows: every row is one of the images, with its own label
    flat = torch.as_tensor(imgs.reshape(12, 784) / 255.0, dtype=torch.float32)
    for x, y in zip(problem.inputs, problem.targets, strict=True):
        row = int(torch.nonzero((flat == x).all(dim=1))[0])
        assert int(y) == labels[row]


def test_kmnist_npz_pair_and_xy_npz(tmp_path):
    imgs, labels = _images()
    np.savez(tmp_path / "kmnist-train-imgs.npz", arr_0=imgs)
    np.savez(tmp_path / "kmnist-train-labels.npz", arr_0=labels)
    np.savez(tmp_path / "mine.npz", x=imgs.reshape(12, 784), y=labels)
    a = noether.build_problem(_file_spec("kmnist-train-imgs.npz", samples=12), data_root=tmp_path)
    b = noether.build_problem(_file_spec("mine.npz", samples=12), data_root=tmp_path)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    sim = noether.simulate(_file_spec("mine.npz"), data_root=tmp_path)
    sim.run()
    assert sim.status == "succeeded"


def test_kmnist_folder_of_npz(tmp_path):
    imgs, labels = _images()
    (tmp_path / "kmnist").mkdir()
    np.savez(tmp_path / "kmnist" / "kmnist-train-imgs.npz", arr_0=imgs)
    np.savez(tmp_path / "kmnist" / "kmnist-train-labels.npz", arr_0=labels)
    assert noether.build_problem(_file_spec("kmnist"), data_root=tmp_path).n_samples == 8


def test_missing_and_bad_files_name_the_field(tmp_path):
    with pytest.raises(SpecError) as exc:
        noether.build_problem(_file_spec("kmnist"), data_root=tmp_path)
    assert exc.value.lines[0].startswith("data.name:") and "kmnist" in exc.value.lines[0]
    np.savez(tmp_path / "small.npz", x=np.zeros((4, 64)), y=np.zeros(4))
    with pytest.raises(SpecError) as exc:
        noether.build_problem(_file_spec("small.npz"), data_root=tmp_path)
    assert "784" in exc.value.lines[0]
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(SpecError) as exc:
        noether.build_problem(_file_spec("junk.npz"), data_root=tmp_path)
    assert exc.value.lines[0].startswith("data.name: cannot read")
    with pytest.raises(SpecError):
        noether.build_problem(_file_spec("kmnist"), data_root=None)


@pytest.mark.parametrize("name", ["../etc", "a/b", "/etc/passwd", "..", ".hidden"])
def test_paths_are_refused_by_the_spec(name):
    with pytest.raises(SpecError) as exc:
        parse_spec(_file_spec(name))
    assert exc.value.lines[0].startswith("data.name")


def test_a_symlink_out_of_the_data_directory_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    imgs, labels = _images()
    np.savez(outside / "data.npz", x=imgs, y=labels)
    root = tmp_path / "datasets"
    root.mkdir()
    os.symlink(outside / "data.npz", root / "data.npz")
    with pytest.raises(SpecError) as exc:
        noether.build_problem(_file_spec("data.npz"), data_root=root)
    assert "inside the data directory" in exc.value.lines[0]


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "digits", "samples": 100},
        {"kind": "synthetic", "samples": 50, "inputs": 20, "classes": 5},
        {"kind": "rotation", "dim": 3, "samples": 40, "augment": 2},
    ],
)
def test_builtin_data_are_deterministic_for_the_seed(data):
    from noether.spec import DigitsData, RotationData, SyntheticData

    model = {"digits": DigitsData, "synthetic": SyntheticData, "rotation": RotationData}[data["kind"]](**data)
    a, b, c = load_data(model, 0), load_data(model, 0), load_data(model, 1)
    assert torch.equal(a.inputs, b.inputs)
    assert not torch.equal(a.inputs, c.inputs)
    n = data["samples"] * (1 + data.get("augment", 0))
    assert a.n == n


def test_synthetic_has_the_papers_shape_and_balanced_classes():
    from noether.spec import SyntheticData

    d = load_data(SyntheticData(samples=1000), 0)
    assert d.inputs.shape == (1000, 784) and d.classes == 10
    assert torch.bincount(d.labels).tolist() == [100] * 10


def test_rotation_targets_depend_on_the_radius_only_and_copies_are_rotations():
    from noether.spec import RotationData

    d = load_data(RotationData(dim=3, samples=30, target="radius", augment=2), 0)
    r2 = (d.inputs**2).sum(1)
    assert torch.allclose(d.values[:, 0], r2)
    # copy j of sample i has the same radius as sample i
    assert torch.allclose(r2[:30], r2[30:60]) and torch.allclose(r2[:30], r2[60:])
    assert not torch.allclose(d.inputs[:30], d.inputs[30:60])
    shells = load_data(RotationData(dim=3, samples=30, target="shells"), 0)
    assert set(shells.labels.tolist()) == {0, 1}


def test_digits_match_scikit_learn():
    from sklearn.datasets import load_digits

    from noether.spec import DigitsData

    d = load_data(DigitsData(samples=1797, normalize=False), 0)
    ref = load_digits()
    x = torch.as_tensor(ref.data)
    order = torch.randperm(1797, generator=data_generator(0))
    assert torch.equal(d.inputs, x[order]) and d.labels.tolist() == ref.target[order.numpy()].tolist()


def test_nll_on_regression_data_is_refused():
    with pytest.raises(SpecError) as exc:
        noether.build_problem({"model": {"widths": [3, 4, 1]}, "data": {"kind": "rotation"}, "loss": "nll"})
    assert exc.value.lines[0].startswith("loss:")
