from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch

from nasbench.errors import NasbenchError
from workers.datasets import DATASETS, _Splits, crop_flip, dataset_names, load_dataset, register_dataset


def test_digits_offline_split_and_normalization():
    data = load_dataset("digits")
    assert data.input_shape == (1, 16, 16) and data.num_classes == 10
    assert len(data.train_y) + len(data.val_y) == 1797 and len(data.val_y) == 359
    assert data.test_x is None and data.augment is None
    assert set(data.train_y.tolist()) == set(range(10))
    x = data.normalize(data.train_x)
    assert abs(x.mean().item()) < 1e-4 and abs(x.std().item() - 1.0) < 1e-3
    again = load_dataset("digits", split_seed=0, data_dir="elsewhere")  # not cached under the same key
    assert torch.equal(again.val_x, data.val_x) and torch.equal(again.train_y, data.train_y)
    other = load_dataset("digits", split_seed=1)
    assert not torch.equal(other.val_y, data.val_y)
    half = load_dataset("digits", fraction=0.5)
    assert len(half.train_y) == round(len(data.train_y) / 2) and torch.equal(half.val_y, data.val_y)
    assert load_dataset("digits", resolution=8).input_shape == (1, 8, 8)
    assert load_dataset("Digits").name == "digits"


def test_bad_options_and_missing_files(tmp_path):
    with pytest.raises(NasbenchError, match="fraction"):
        load_dataset("digits", fraction=0.0)
    with pytest.raises(NasbenchError, match=r"dataset 'cifar10' not found in .*data_batch_1\.\.5, test_batch.*toronto"):
        load_dataset("cifar10", data_dir=tmp_path)
    for name in ("mnist", "fashion-mnist", "cifar100", "Fashion_MNIST"):
        with pytest.raises(NasbenchError, match=f"dataset '{name.lower().replace('_', '-')}' not found"):
            load_dataset(name, data_dir=tmp_path)
    with pytest.raises(NasbenchError, match="not an image folder"):
        load_dataset(str(tmp_path / "nowhere"))
    assert {"digits", "mnist", "fashion-mnist", "cifar10", "cifar100"} <= set(dataset_names())


def test_registered_plug_in_datasets_and_close_matches(tmp_path):
    with pytest.raises(NasbenchError, match=r"unknown dataset 'cifar-10' \(did you mean cifar10.*not an image folder"):
        load_dataset("cifar-10", data_dir=tmp_path)

    @register_dataset("test-noise")
    def noise(data_dir):
        images = np.random.default_rng(0).integers(0, 256, (20, 1, 4, 4), dtype=np.uint8)
        return _Splits(images, np.arange(20) % 2, 2, val_fraction=0.25)

    try:
        register_dataset("test-noise", noise)
        with pytest.raises(ValueError, match="already registered"):
            register_dataset("test-noise", lambda data_dir: None)
        assert "test-noise" in dataset_names()
        data = load_dataset("test_noise")  # spelled with an underscore
        assert data.name == "test-noise" and data.input_shape == (1, 4, 4) and len(data.val_y) == 5
    finally:
        DATASETS.unregister("test-noise")
    assert "test-noise" not in dataset_names()


def write_idx(path, array: np.ndarray) -> None:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_mnist_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "MNIST" / "raw"
    folder.mkdir(parents=True)
    train = rng.integers(0, 256, (50, 28, 28))
    write_idx(folder / "train-images-idx3-ubyte.gz", train)
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.arange(50) % 10)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (20, 28, 28)))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(20) % 10)
    data = load_dataset("mnist", data_dir=tmp_path)
    assert data.input_shape == (1, 28, 28) and data.train_x.dtype == torch.uint8
    assert len(data.train_y) == 45 and len(data.val_y) == 5 and len(data.test_y) == 20
    rows = {tuple(x.flatten().tolist()) for x in torch.cat([data.train_x, data.val_x])}
    assert rows == {tuple(x.flatten().tolist()) for x in train}


def test_cifar_pickles(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (10, 3072), dtype=np.uint8), "labels": list(range(10))}
        (folder / name).write_bytes(pickle.dumps(batch))
    data = load_dataset("cifar10", data_dir=tmp_path)
    assert data.input_shape == (3, 32, 32) and data.num_classes == 10 and data.augment == "crop_flip"
    assert len(data.train_y) == 45 and len(data.test_y) == 10
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for name in ("train", "test"):
        batch = {"data": rng.integers(0, 256, (20, 3072), dtype=np.uint8), "fine_labels": list(range(0, 100, 5))}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "meta").write_bytes(pickle.dumps({}))
    data = load_dataset("cifar100", data_dir=tmp_path, val_fraction=0.25)
    assert data.num_classes == 100 and len(data.val_y) == 5 and data.test_y.max() == 95


def test_image_folder(tmp_path):
    image_module = pytest.importorskip("PIL.Image")
    for split, count in (("train", 4), ("val", 2)):
        for cls, color in (("cat", 200), ("dog", 30)):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(count):
                image_module.new("RGB", (12, 10), (color, i, 0)).save(tmp_path / split / cls / f"{i}.png")
    data = load_dataset(str(tmp_path))
    assert data.input_shape == (3, 10, 12) and data.num_classes == 2
    assert len(data.train_y) == 8 and len(data.val_y) == 4
    assert data.val_x[data.val_y == 0][:, 0].float().mean() == 200  # class 0 is "cat", sorted by name
    assert load_dataset(str(tmp_path), resolution=8).input_shape == (3, 8, 8)


def test_crop_flip_shifts_and_flips_with_a_seeded_generator():
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).view(2, 1, 6, 6)
    a = crop_flip(x, torch.Generator().manual_seed(3))
    b = crop_flip(x, torch.Generator().manual_seed(3))
    assert a.shape == x.shape and torch.equal(a, b)
    outs = [crop_flip(x, torch.Generator().manual_seed(s)) for s in range(20)]
    assert any(not torch.equal(o, x) for o in outs)
    # Every output pixel is either padding (0) or a pixel of the same image.
    for o in outs:
        for i in range(2):
            assert set(o[i].flatten().tolist()) <= set(x[i].flatten().tolist()) | {0.0}
