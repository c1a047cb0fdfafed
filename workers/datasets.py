"""Image classification datasets held in memory as tensors, read from local files only (never the network).

``digits`` (scikit-learn's handwritten digits, shipped with scikit-learn) is the embedded default. ``mnist``,
``fashion-mnist``, ``cifar10`` and ``cifar100`` read their standard distribution files from a local folder; any other
name is taken as an ImageFolder-style directory (``root/<class>/<image>``, optionally with ``train/`` and ``val/``).

Images are stored as they come (uint8 for the file datasets, to keep CIFAR at 150 MB rather than 600 MB) and normalized
per batch with the training split's per-channel mean and standard deviation (``Dataset.normalize``).
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from nasbench.errors import NasbenchError
from nasbench.registry import Registry

DATA_DIR_ENV = "NASBENCH_DATA"
CROP_PADDING = 4
DEFAULT_DATA_DIR = "data"


def crop_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random crops of a zero-padded batch (pad 4) and random horizontal flips, one draw per image."""
    b, c, h, w = x.shape
    padded = F.pad(x, (CROP_PADDING,) * 4)
    dy = torch.randint(0, 2 * CROP_PADDING + 1, (b,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * CROP_PADDING + 1, (b,), generator=generator).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    channel = torch.arange(c, device=x.device)[None, :, None, None]
    out = padded[batch, channel, rows, cols]
    flip = (torch.rand(b, generator=generator) < 0.5).to(x.device)[:, None, None, None]
    return torch.where(flip, out.flip(3), out)


@dataclass(frozen=True)
class Dataset:
    """Train / validation (and, where the files have one, test) tensors of one image classification task.

    ``*_x`` are ``(N, C, H, W)`` tensors (uint8 or float32, un-normalized), ``*_y`` int64 class indices.
    ``augment`` names the augmentation that suits the data (``"crop_flip"`` for natural images, ``None`` for digits,
    where a flip changes the class); ``batch_size`` is the training batch size that suits its size.
    """

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    num_classes: int
    mean: torch.Tensor
    std: torch.Tensor
    test_x: torch.Tensor | None = None
    test_y: torch.Tensor | None = None
    augment: str | None = None
    batch_size: int = 128

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        c, h, w = self.train_x.shape[1:]
        return int(c), int(h), int(w)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Float images with zero mean and unit variance per channel (statistics of the training split)."""
        mean = self.mean.to(x.device).view(1, -1, 1, 1)
        std = self.std.to(x.device).view(1, -1, 1, 1)
        return (x.float() - mean) / std

    def augmented(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A training batch with the data's own augmentation (``augment``), drawn from ``generator``."""
        return crop_flip(x, generator) if self.augment == "crop_flip" else x

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, input_shape={self.input_shape}, classes={self.num_classes}, "
                f"train={len(self.train_y)}, val={len(self.val_y)})")


@dataclass
class _Splits:
    """What a loader returns: images (N, C, H, W) and labels of the training files, optionally a test set."""

    train_x: np.ndarray
    train_y: np.ndarray
    num_classes: int
    test_x: np.ndarray | None = None
    test_y: np.ndarray | None = None
    val_x: np.ndarray | None = None  # a loader sets these only where the files define a validation split
    val_y: np.ndarray | None = None
    augment: str | None = None
    val_fraction: float = 0.1
    batch_size: int = 128


Loader = Callable[[Path], _Splits]
# The built-in loaders are defined below, in this module; a plug-in registers its own with ``register_dataset``.
DATASETS: Registry[Loader] = Registry("dataset")
register_dataset = DATASETS.register


def dataset_names() -> list[str]:
    """Names of the registered datasets (any ImageFolder directory path is accepted as well)."""
    return DATASETS.names()


def default_data_dir() -> Path:
    """Where file datasets are looked for: ``$NASBENCH_DATA``, else ``./data``."""
    return Path(os.environ.get(DATA_DIR_ENV, DEFAULT_DATA_DIR))


def _missing(name: str, folder: Path, expected: str, url: str) -> NasbenchError:
    return NasbenchError(f"dataset {name!r} not found in {folder}: expected {expected}; download it from {url} "
                         f"and unpack it there (or pass data_dir= / set ${DATA_DIR_ENV})")


def _find(folder: Path, names: list[str], subdirs: list[str]) -> Path | None:
    """The first of ``subdirs`` (relative to folder, "" = folder itself) that holds every file in ``names``."""
    for sub in subdirs:
        candidate = folder / sub if sub else folder
        if all((candidate / n).is_file() or (candidate / f"{n}.gz").is_file() for n in names):
            return candidate
    return None


@register_dataset("digits")
def _load_digits(data_dir: Path) -> _Splits:
    """scikit-learn's 1,797 8x8 handwritten digits (values 0..16), bilinearly upsampled to 16x16."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.from_numpy(digits.images.astype(np.float32)).unsqueeze(1)
    images = F.interpolate(images, size=(16, 16), mode="bilinear", align_corners=False)
    # Small batches: 1,438 training images give 45 steps an epoch, enough for a CNN to pass 90 % in 5 epochs.
    return _Splits(images.numpy(), digits.target.astype(np.int64), 10, val_fraction=0.2, batch_size=32)


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise NasbenchError(f"{path}: not an unsigned-byte IDX file")
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape).copy()  # writable for torch


def _idx_loader(name: str, subdirs: list[str], url: str) -> Loader:
    files = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]

    def load(data_dir: Path) -> _Splits:
        folder = _find(data_dir, files, subdirs)
        if folder is None:
            raise _missing(name, data_dir, ", ".join(files) + " (optionally .gz)", url)

        def read(stem: str) -> np.ndarray:
            path = folder / stem
            return _read_idx(path if path.is_file() else folder / f"{stem}.gz")

        return _Splits(read(files[0])[:, None], read(files[1]).astype(np.int64), 10,
                       test_x=read(files[2])[:, None], test_y=read(files[3]).astype(np.int64))

    load.__doc__ = f"{name} from its IDX files."
    return load


register_dataset("mnist", _idx_loader("mnist", ["", "mnist", "MNIST/raw", "MNIST"], "http://yann.lecun.com/exdb/mnist/"))
register_dataset("fashion-mnist", _idx_loader(
    "fashion-mnist", ["", "fashion-mnist", "FashionMNIST/raw", "FashionMNIST"],
    "https://github.com/zalandoresearch/fashion-mnist"))


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")


def _cifar_images(batch: dict) -> np.ndarray:
    return np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)


@register_dataset("cifar10")
def _load_cifar10(data_dir: Path) -> _Splits:
    """CIFAR-10 from the python pickle batches (cifar-10-python.tar.gz, unpacked)."""
    files = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    folder = _find(data_dir, files, ["", "cifar-10-batches-py", "cifar10/cifar-10-batches-py"])
    if folder is None:
        raise _missing("cifar10", data_dir, "data_batch_1..5, test_batch (cifar-10-batches-py)",
                       "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz")
    train = [_unpickle(folder / f) for f in files[:5]]
    test = _unpickle(folder / "test_batch")
    return _Splits(np.concatenate([_cifar_images(b) for b in train]),
                   np.concatenate([np.asarray(b["labels"], dtype=np.int64) for b in train]), 10,
                   test_x=_cifar_images(test), test_y=np.asarray(test["labels"], dtype=np.int64), augment="crop_flip")


@register_dataset("cifar100")
def _load_cifar100(data_dir: Path) -> _Splits:
    """CIFAR-100 (fine labels) from the python pickles (cifar-100-python.tar.gz, unpacked)."""
    folder = _find(data_dir, ["train", "test"], ["cifar-100-python", "cifar100/cifar-100-python", ""])
    if folder is None or not (folder / "meta").is_file():
        raise _missing("cifar100", data_dir, "train, test, meta (cifar-100-python)",
                       "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz")
    train, test = _unpickle(folder / "train"), _unpickle(folder / "test")
    return _Splits(_cifar_images(train), np.asarray(train["fine_labels"], dtype=np.int64), 100,
                   test_x=_cifar_images(test), test_y=np.asarray(test["fine_labels"], dtype=np.int64),
                   augment="crop_flip")


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm", ".tif", ".tiff", ".webp"}


def _read_image_folder(root: Path, classes: list[str], size: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray]:
    try:
        from PIL import Image
    except ImportError:
        raise NasbenchError(f"reading the image folder {root} needs Pillow: pip install pillow") from None
    images, labels = [], []
    for label, cls in enumerate(classes):
        folder = root / cls
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
        for path in paths:
            with Image.open(path) as img:
                img = img.convert("RGB")
                if size is None:
                    size = img.size[::-1]
                if img.size[::-1] != size:
                    img = img.resize(size[::-1], Image.BILINEAR)
                images.append(np.asarray(img, dtype=np.uint8).transpose(2, 0, 1))
                labels.append(label)
    if not images:
        raise NasbenchError(f"image folder {root}: no images found (expected {root}/<class>/<image>.png|jpg)")
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def _load_image_folder(root: Path, resolution: int | None) -> _Splits:
    """An ImageFolder tree: ``root/<class>/*.png``, or ``root/train/<class>/...`` with ``val/`` (or ``test/``)."""
    if not root.is_dir():
        raise NasbenchError(f"{DATASETS.unknown(str(root))} and not an image folder")
    train_root = root / "train" if (root / "train").is_dir() else root
    classes = sorted(p.name for p in train_root.iterdir() if p.is_dir() and p.name not in {"val", "valid", "test"})
    if not classes:
        raise NasbenchError(f"image folder {root}: no class sub-folders (expected {root}/<class>/<image>)")
    # Without an explicit resolution every image is resized to the first one's size, so the tensors stack.
    size = (resolution, resolution) if resolution else None
    train_x, train_y = _read_image_folder(train_root, classes, size)
    size = tuple(train_x.shape[2:])
    splits = _Splits(train_x, train_y, len(classes), augment="crop_flip")
    for name in ("val", "valid"):
        if train_root is not root and (root / name).is_dir():
            splits.val_x, splits.val_y = _read_image_folder(root / name, classes, size)
            break
    if train_root is not root and (root / "test").is_dir():
        splits.test_x, splits.test_y = _read_image_folder(root / "test", classes, size)
    return splits


def _split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic shuffled split of ``range(n)`` into train and validation indices."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, round(n * val_fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _resize(x: np.ndarray, resolution: int | None) -> torch.Tensor:
    tensor = torch.from_numpy(np.ascontiguousarray(x))
    if resolution is None or tuple(tensor.shape[2:]) == (resolution, resolution):
        return tensor
    resized = F.interpolate(tensor.float(), size=(resolution, resolution), mode="bilinear", align_corners=False)
    return resized.round().clamp(0, 255).to(torch.uint8) if tensor.dtype == torch.uint8 else resized


def _channel_stats(x: torch.Tensor, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation, in chunks so that CIFAR never exists as one float copy."""
    total = torch.zeros(x.shape[1], dtype=torch.float64)
    squares = torch.zeros_like(total)
    for start in range(0, len(x), chunk):
        part = x[start:start + chunk].double()
        total += part.sum(dim=(0, 2, 3))
        squares += part.square().sum(dim=(0, 2, 3))
    count = x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(0).sqrt().clamp_min(1e-6)
    return mean.float(), std.float()


def load_dataset(name: str, data_dir: str | Path | None = None, fraction: float = 1.0, resolution: int | None = None,
                 val_fraction: float | None = None, split_seed: int = 0) -> Dataset:
    """Load a dataset into memory (cached per process).

    ``fraction`` keeps that share of the training split (a fidelity knob; the validation split is unchanged);
    ``resolution`` resizes images to a square side; ``val_fraction`` (default 0.2 for digits, 0.1 otherwise) is the
    share of the training files held out for validation, chosen by ``split_seed`` — the files' test set, where there is
    one, is kept apart as ``test_x``/``test_y`` and never used for selection.
    """
    if not 0.0 < fraction <= 1.0:
        raise NasbenchError(f"dataset fraction must be in (0, 1], got {fraction}")
    if val_fraction is not None and not 0.0 < val_fraction < 1.0:
        raise NasbenchError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if resolution is not None and resolution < 1:
        raise NasbenchError(f"resolution must be a positive integer, got {resolution}")
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    spelled = name.lower().replace("_", "-")  # CIFAR10, fashion_mnist
    name = spelled if spelled in DATASETS else name
    return _load_cached(name, str(folder), float(fraction), resolution, val_fraction, int(split_seed))


@lru_cache(maxsize=4)
def _load_cached(name: str, data_dir: str, fraction: float, resolution: int | None, val_fraction: float | None,
                 split_seed: int) -> Dataset:
    if name in DATASETS:
        splits = DATASETS.get(name)(Path(data_dir))
    else:
        splits = _load_image_folder(Path(name).expanduser(), resolution)
    if splits.val_x is None:
        train_idx, val_idx = _split(len(splits.train_y), val_fraction or splits.val_fraction, split_seed)
        splits.val_x, splits.val_y = splits.train_x[val_idx], splits.train_y[val_idx]
        splits.train_x, splits.train_y = splits.train_x[train_idx], splits.train_y[train_idx]
    if fraction < 1.0:
        keep = np.sort(np.random.default_rng(split_seed + 1).permutation(len(splits.train_y))[:max(1, round(
            len(splits.train_y) * fraction))])
        splits.train_x, splits.train_y = splits.train_x[keep], splits.train_y[keep]
    train_x = _resize(splits.train_x, resolution)
    mean, std = _channel_stats(train_x)
    return Dataset(
        name=name, train_x=train_x, train_y=torch.from_numpy(splits.train_y), val_x=_resize(splits.val_x, resolution),
        val_y=torch.from_numpy(np.ascontiguousarray(splits.val_y)), num_classes=splits.num_classes, mean=mean, std=std,
        test_x=None if splits.test_x is None else _resize(splits.test_x, resolution),
        test_y=None if splits.test_y is None else torch.from_numpy(np.ascontiguousarray(splits.test_y)),
        augment=splits.augment, batch_size=splits.batch_size)
