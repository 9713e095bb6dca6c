"""Carry the datasets to a borrowed GPU machine, whose calls take at most 64 MiB of files.

``pack SRC DEST`` writes every IDX file the protocol reads from the data root SRC into DEST, xz-compressed;
in a file that we re-split (an official test split, :mod:`transinv.datasets`), the images that no re-split
uses are zeroed, as they are never read. It then unpacks DEST and checks that every dataset loads from it
exactly as from SRC. ``unpack DEST ROOT`` makes a data root of it there (on the GPU machine)::

    python tools/device_data.py pack ../shared/data .devdata     # here: about 44 MB
    python3 tools/device_data.py unpack .devdata /tmp/data       # there; then TRANSINV_DATA=/tmp/data
"""
from __future__ import annotations

import argparse
import gzip
import lzma
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from transinv import datasets  # noqa: E402

IDX_DATASETS = [name for name in datasets.DATASETS if not name.startswith("leek")]
IMAGE_HEADER = 16  # bytes before the pixels of an IDX3 file


def _files(src: Path) -> dict[Path, list[str]]:
    """Each IDX file (relative to the root) that a dataset reads, with the datasets that re-split it."""
    files: dict[Path, list[str]] = {}
    for name in IDX_DATASETS:
        spec = datasets._SPECS[name]
        raw = Path(spec.folder) / "raw"
        official = all(datasets._find(src / raw, f) for p in (spec.train_prefix, spec.test_prefix)
                       for f in datasets._file_names(p))
        prefixes = [spec.train_prefix, spec.test_prefix] if official else [spec.fallback_prefix]
        for prefix in prefixes:
            for f in datasets._file_names(prefix):
                found = datasets._find(src / raw, f)
                if found is None:
                    raise FileNotFoundError(f"{name}: {raw / f} is not in {src}")
                files.setdefault(found.relative_to(src), []).extend([] if official else [name])
    return files


def _used_images(labels: torch.Tensor, names: list[str]) -> torch.Tensor:
    """Whether each image of a re-split file is in some dataset's re-split (train or test)."""
    used = torch.zeros(len(labels), dtype=torch.bool)
    for name in names:
        train, test, _ = datasets._stratified_split(labels, range(datasets.n_classes(name)))
        used[train] = used[test] = True
    return used


def pack(src: Path, dest: Path) -> None:
    for relative, resplit_by in _files(src).items():
        content = bytearray(gzip.open(src / relative).read() if relative.suffix == ".gz" else (src / relative).read_bytes())
        if resplit_by and "images" in relative.name:
            labels_file = datasets._find(src / relative.parent, relative.name.removesuffix(".gz")
                                         .replace("images-idx3", "labels-idx1"))
            labels = torch.tensor(list((gzip.open(labels_file) if labels_file.suffix == ".gz" else
                                        open(labels_file, "rb")).read()[8:]))
            pixels = (len(content) - IMAGE_HEADER) // len(labels)
            for i in torch.nonzero(~_used_images(labels, resplit_by)).flatten().tolist():
                content[IMAGE_HEADER + i * pixels: IMAGE_HEADER + (i + 1) * pixels] = bytes(pixels)
        target = dest / relative.parent / (relative.name.removesuffix(".gz") + ".xz")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(lzma.compress(bytes(content), preset=9 | lzma.PRESET_EXTREME))
        print(f"{target}: {target.stat().st_size / 1e6:.1f} MB", flush=True)
    with tempfile.TemporaryDirectory() as root:
        unpack(dest, Path(root))
        for name in IDX_DATASETS:
            a, b = datasets.load_dataset(name, src, download=False), datasets.load_dataset(name, root, download=False)
            for field in ("train_images", "train_labels", "test_images", "test_labels"):
                if not torch.equal(getattr(a, field), getattr(b, field)):
                    raise AssertionError(f"{name}.{field} differs after packing")
            print(f"{name}: identical ({len(a.train_labels):,} train / {len(a.test_labels):,} test)")


def unpack(dest: Path, root: Path) -> None:
    for packed in sorted(dest.rglob("*.xz")):
        target = root / packed.relative_to(dest).with_suffix("")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(lzma.decompress(packed.read_bytes()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["pack", "unpack"])
    parser.add_argument("source", type=Path)
    parser.add_argument("dest", type=Path)
    args = parser.parse_args()
    (pack if args.command == "pack" else unpack)(args.source, args.dest)
