"""Named item datasets: uint8 images (N, H, W), upright, with a fixed train/test split.

Data root: ``$TRANSINV_DATA`` when set, else ``~/.cache/transinv/data``. The IDX datasets
use torchvision's layout, ``ROOT/<Name>/raw/<file>[.gz]``; a missing dataset is
downloaded with torchvision's class. Where only the official *test* split is present
(KMNIST and EMNIST on offline machines), it is re-split, stratified, with a fixed
seed, and capped to equal class sizes; ``ItemSet.source`` says so in words.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import zlib
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor
from torchvision import datasets as tvd
from torchvision.datasets.utils import extract_archive
from torchvision.datasets.mnist import read_image_file, read_label_file

from . import leek

__all__ = ["DATASETS", "BY_COMPLEXITY", "ItemSet", "DatasetNotFoundError", "DataFileError", "data_root", "load_dataset",
           "select_classes", "n_classes", "fingerprint"]

DATASETS = ("mnist", "fmnist", "kmnist", "emnist", "emnist18", "leek10", "leek2")
BY_COMPLEXITY = ("emnist", "fmnist", "kmnist", "mnist", "leek10", "leek2")  # the paper's order, most complex first
SPLIT_SEED = 0         # fixes every re-split, independently of experiment seeds
TEST_FRACTION = 0.2    # of each class, when we re-split an official test split
EMNIST18_CLASSES = 18  # the paper's "first 18 categories" of EMNIST Balanced: 0-9 and A-H


@dataclass(frozen=True)
class ItemSet:
    name: str
    classes: tuple[str, ...]   # class names; labels index this tuple
    train_images: Tensor       # uint8 (N, H, W), upright
    train_labels: Tensor       # int64 (N,)
    test_images: Tensor        # uint8 (M, H, W), never seen in training
    test_labels: Tensor        # int64 (M,)
    source: str                # provenance in words, for captions: files, split, caps
    resplit: bool              # True when train/test were made by us from an official test split

    @property
    def n_classes(self) -> int:
        return len(self.classes)


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are missing and could not be downloaded."""


class DataFileError(ValueError):
    """A dataset's file is there but damaged (truncated, not gzip, not IDX)."""


@dataclass(frozen=True)
class _IdxSpec:
    folder: str                      # ROOT/<folder>/raw
    torchvision_class: type
    train_prefix: str                # file names: <prefix>-images-idx3-ubyte, <prefix>-labels-idx1-ubyte
    test_prefix: str
    fallback_prefix: str | None      # an official test split we can re-split when the full set is absent
    classes: tuple[str, ...]         # class names, by label
    transposed: bool = False         # EMNIST is stored transposed


_SPECS = {
    "mnist": _IdxSpec("MNIST", tvd.MNIST, "train", "t10k", None, tuple("0123456789")),
    "fmnist": _IdxSpec("FashionMNIST", tvd.FashionMNIST, "train", "t10k", None, tuple(tvd.FashionMNIST.classes)),
    "kmnist": _IdxSpec("KMNIST", tvd.KMNIST, "train", "t10k", "t10k", tuple(tvd.KMNIST.classes)),
    # ByMerge has the 47 classes of Balanced, with the same label numbering.
    "emnist": _IdxSpec("EMNIST", tvd.EMNIST, "emnist-balanced-train", "emnist-balanced-test",
                       "emnist-bymerge-test", tuple(tvd.EMNIST.classes_split_dict["balanced"]), transposed=True),
}
_SPECS["emnist18"] = _SPECS["emnist"]


def n_classes(name: str) -> int:
    """How many classes dataset ``name`` has, without reading it (finding a run needs no data on disk)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if name.startswith("leek"):
        return int(name[len("leek"):])
    return EMNIST18_CLASSES if name == "emnist18" else len(_SPECS[name].classes)


def data_root() -> Path:
    """The data root: $TRANSINV_DATA, else ~/.cache/transinv/data."""
    return Path(os.environ.get("TRANSINV_DATA") or "~/.cache/transinv/data").expanduser()


def _cache_dir() -> Path:
    return Path(os.environ.get("TRANSINV_CACHE") or "~/.cache/transinv").expanduser() / "idx"


def _file_names(prefix: str) -> tuple[str, str]:
    return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


def _find(raw: Path, name: str) -> Path | None:
    for candidate in (raw / name, raw / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _damaged(path: Path, error: BaseException) -> DataFileError:
    return DataFileError(f"the data file {path} is damaged ({type(error).__name__}: {error}). Delete it and put a "
                         f"complete copy there (online, torchvision downloads it again)")


def _readable(path: Path, folder: str) -> Path:
    """torchvision's IDX readers need an uncompressed file: decompress a .gz once into the cache, under a name
    that says which file it came from (its full path, size and modification time)."""
    if path.suffix != ".gz":
        return path
    stat = path.stat()
    source = hashlib.sha1(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    target = _cache_dir() / folder / f"{path.stem}.{source}"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            try:
                extract_archive(str(path), tmp)
            except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
                raise _damaged(path, error) from error
            os.replace(Path(tmp) / path.stem, target)  # atomic: no half-written file survives a crash
    return target


def _read_idx(path: Path, folder: str, read) -> Tensor:
    try:
        return read(str(_readable(path, folder)))
    except (RuntimeError, AssertionError, ValueError, IndexError) as error:  # a truncated or foreign file
        if isinstance(error, DataFileError):
            raise
        raise _damaged(path, error) from error


def _read_pair(raw: Path, prefix: str, spec: _IdxSpec) -> tuple[Tensor, Tensor] | None:
    paths = [_find(raw, name) for name in _file_names(prefix)]
    if None in paths:
        return None
    images = _read_idx(paths[0], spec.folder, read_image_file)
    labels = _read_idx(paths[1], spec.folder, read_label_file)
    if len(images) != len(labels):
        raise _damaged(paths[0], ValueError(f"{len(images)} images but {len(labels)} labels in {paths[1].name}"))
    if spec.transposed:
        images = images.transpose(1, 2).contiguous()
    return images, labels


def _download(spec: _IdxSpec, root: Path) -> None:
    kwargs = {"split": "balanced"} if spec.torchvision_class is tvd.EMNIST else {}
    spec.torchvision_class(str(root), train=True, download=True, **kwargs)


def _not_found(name: str, spec: _IdxSpec, raw: Path, reason: str) -> DatasetNotFoundError:
    full = [f"{n}.gz" for p in (spec.train_prefix, spec.test_prefix) for n in _file_names(p)]
    message = (f"dataset {name!r} not found in {raw} and {reason}. Place these files there "
               f"(gzipped or not): {', '.join(full)}")
    if spec.fallback_prefix:
        partial = [f"{n}.gz" for n in _file_names(spec.fallback_prefix)]
        message += f"; or at least the official test split, {', '.join(partial)}, which is then re-split"
    return DatasetNotFoundError(message + ". Set TRANSINV_DATA to use another data root.")


def _stratified_split(labels: Tensor, classes: Sequence[int]) -> tuple[Tensor, Tensor, int]:
    """Indices (train, test) keeping the same count of every class (the smallest), test = 20%."""
    generator = torch.Generator().manual_seed(SPLIT_SEED)
    members = [torch.nonzero(labels == c).flatten() for c in classes]
    cap = min(len(m) for m in members)
    n_test = round(cap * TEST_FRACTION)
    train, test = [], []
    for m in members:
        chosen = m[torch.randperm(len(m), generator=generator)[:cap]]
        test.append(chosen[:n_test])
        train.append(chosen[n_test:])
    return torch.cat(train).sort().values, torch.cat(test).sort().values, cap


def _load_idx(name: str, root: Path, download: bool) -> ItemSet:
    spec = _SPECS[name]
    raw = root / spec.folder / "raw"
    count = n_classes(name)
    classes = range(count)
    train, test = _read_pair(raw, spec.train_prefix, spec), _read_pair(raw, spec.test_prefix, spec)
    fallback = _read_pair(raw, spec.fallback_prefix, spec) if spec.fallback_prefix else None
    if (train is None or test is None) and fallback is None:
        if not download:
            raise _not_found(name, spec, raw, "download=False")
        try:
            _download(spec, root)
        except (RuntimeError, OSError) as error:  # offline: URLError is an OSError
            raise _not_found(name, spec, raw, f"torchvision could not download it ({type(error).__name__})") from error
        train, test = _read_pair(raw, spec.train_prefix, spec), _read_pair(raw, spec.test_prefix, spec)

    if train is not None and test is not None:
        keep = [torch.isin(labels, torch.tensor(classes)) for _, labels in (train, test)]
        (x_tr, y_tr), (x_te, y_te) = ((x[k], y[k]) for (x, y), k in zip((train, test), keep))
        source = (f"{spec.folder} official split ({len(y_tr):,} train / {len(y_te):,} test, "
                  f"{count} classes) from {raw}")
        resplit = False
    else:
        images, labels = fallback
        train_idx, test_idx, cap = _stratified_split(labels, classes)
        x_tr, y_tr, x_te, y_te = images[train_idx], labels[train_idx], images[test_idx], labels[test_idx]
        source = (f"{spec.folder} official test split ({spec.fallback_prefix}, {len(labels):,} images) "
                  f"re-split by us: {count} classes capped at {cap} each, stratified "
                  f"{len(y_tr) // count} train / {len(y_te) // count} test per class "
                  f"(seed {SPLIT_SEED}); the official train split was not found in {raw}")
        resplit = True
    return ItemSet(name, spec.classes[:count], x_tr, y_tr, x_te, y_te, source, resplit)


def _load_leek(name: str, root: Path) -> ItemSet:
    images, source = leek.load_leek(name, root)
    images = torch.from_numpy(images)
    labels = torch.arange(len(images))
    # One image per class: the same item is shown in training and test, only its position changes.
    return ItemSet(name, tuple(f"object {i}" for i in range(len(images))), images, labels,
                   images, labels, source + "; the one image per class is both train and test item", False)


@lru_cache(maxsize=None)
def _load(name: str, root: Path, download: bool) -> ItemSet:
    return _load_leek(name, root) if name.startswith("leek") else _load_idx(name, root, download)


def load_dataset(name: str, root: str | Path | None = None, *, download: bool = True) -> ItemSet:
    """The named dataset (see DATASETS) from ``root`` (default: :func:`data_root`)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return _load(name, (Path(root).expanduser() if root is not None else data_root()).resolve(), download)


def fingerprint(items: ItemSet) -> str:
    """SHA-256 (hex) of an item set's split: its train and test images and labels, with their shapes and dtypes.
    Equal fingerprints mean the same items in the same order (another re-split seed or other files change it)."""
    digest = hashlib.sha256()
    for tensor in (items.train_images, items.train_labels, items.test_images, items.test_labels):
        digest.update(f"{tuple(tensor.shape)} {tensor.dtype};".encode())
        digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()


def data_key(name: str, root: str | Path | None = None) -> str:
    """The data of dataset ``name`` as it enters a run's id: the first 16 hex digits of its :func:`fingerprint`
    (other files, another re-split, the official split instead of ours: another id). Leek stand-ins are named by
    their recipe instead: drawn in floating point, their last bits may differ between CPUs."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return _data_key(name, (Path(root).expanduser() if root is not None else data_root()).resolve())


@lru_cache(maxsize=None)
def _data_key(name: str, root: Path) -> str:
    items = _load(name, root, True)
    if items.source.startswith("procedural stand-in"):
        return f"standin-seed{leek.STANDIN_SEED}"
    return fingerprint(items)[:16]


def select_classes(items: ItemSet, classes: Sequence[int | str]) -> ItemSet:
    """The items of some classes only (indices or names), relabelled 0..k-1 in the order given."""
    if len(classes) == 0:
        raise ValueError(f"the class list is empty; choose classes among {list(items.classes)}")
    index = []
    for c in classes:
        i = items.classes.index(c) if isinstance(c, str) and c in items.classes else c
        if not isinstance(i, int) or not 0 <= i < items.n_classes:
            raise ValueError(f"class {c!r} is not in {items.name}: choose indices in [0, {items.n_classes}) "
                             f"or names among {list(items.classes)}")
        index.append(i)
    if len(set(index)) != len(index):
        raise ValueError(f"the class list {list(classes)} repeats a class")
    old_to_new = torch.full((items.n_classes,), -1, dtype=torch.long)
    old_to_new[torch.tensor(index)] = torch.arange(len(index))

    def pick(images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        keep = old_to_new[labels] >= 0
        return images[keep], old_to_new[labels[keep]]

    (x_tr, y_tr), (x_te, y_te) = pick(items.train_images, items.train_labels), pick(items.test_images, items.test_labels)
    names = tuple(items.classes[i] for i in index)
    return replace(items, name=f"{items.name}[{','.join(names)}]", classes=names, train_images=x_tr,
                   train_labels=y_tr, test_images=x_te, test_labels=y_te,
                   source=f"{items.source}; classes {', '.join(names)} only")
