"""Canvas placement: batched tensor code that pastes items onto black canvases.

Items are uint8 tensors ``(N, s, s)`` (already resized with :func:`resize_items`);
positions are item centres ``(B, 2)`` as integer ``(x, y)``; canvases come out as
float ``(B, 3, H, W)`` in [0, 1]. Everything runs on the items' device, and the
samplers draw from a ``torch.Generator``, so a seed fixes every canvas.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from .presets import N_AREAS, Preset

__all__ = [
    "PLACEMENTS", "resize_items", "place", "one_location_centres", "translated_centres",
    "area_centres", "grid_centres", "sample_centres", "ItemBank", "draw_batch", "canvas_stats",
]
STATS_BATCHES = 50  # the authors' generators: mean and std of each dataset from 50 batches of its canvases
STATS_SEED = 0      # fixed, so that every run on the same canvases normalises alike

PLACEMENTS = ("one_location", "translated", "areas")
CLASSES_PER_AREA = 2  # experiment 3: 18 classes in 9 areas


def resize_items(images: Tensor, size: int) -> Tensor:
    """Resize uint8 items (N, h, w) to (N, size, size), bicubic, aspect ratio not kept (as the authors' PIL resize)."""
    if images.dtype != torch.uint8 or images.ndim != 3:
        raise ValueError(f"items must be a uint8 tensor (N, h, w), but got {images.dtype} {tuple(images.shape)}")
    if size < 1:
        raise ValueError(f"item size must be at least 1 px, but got {size}")
    return TF.resize(images.unsqueeze(1), [size, size], InterpolationMode.BICUBIC, antialias=True).squeeze(1)


def _check_centres(centres: Tensor, item_size: int, canvas_size: int) -> None:
    if item_size > canvas_size:
        raise ValueError(f"an item of {item_size} px does not fit on a {canvas_size}-px canvas; "
                         f"item sizes must lie in [1, {canvas_size}]")
    half = item_size // 2
    low, high = half, canvas_size - item_size + half  # inclusive bounds that keep the item on the canvas
    bad = (centres < low) | (centres > high)
    if bad.any():
        b, axis = (int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"centre {'xy'[axis]}={int(centres[b, axis])} (item {b}) puts a {item_size}-px item off the "
            f"{canvas_size}-px canvas; centres must lie in [{low}, {high}]")


def place(items: Tensor, centres: Tensor, canvas_size: int, *, check: bool = True) -> Tensor:
    """Paste items (B, s, s) uint8 at centres (B, 2) (x, y) on black canvases: float (B, 3, H, W) in [0, 1].

    The item's top-left pixel is ``centre - s // 2``. The 3 channels are one grey image
    expanded (a view, no copy). ``check=False`` skips the bounds check (a host sync) for
    centres that come from this module's samplers, which are valid by construction.
    """
    if items.ndim != 3 or items.shape[-1] != items.shape[-2]:
        raise ValueError(f"items must be square (B, s, s), but got shape {tuple(items.shape)}")
    if centres.shape != (items.shape[0], 2):
        raise ValueError(f"centres must have shape ({items.shape[0]}, 2), but got {tuple(centres.shape)}")
    size = items.shape[-1]
    if check:
        _check_centres(centres, size, canvas_size)
    batch = items.shape[0]
    offsets = torch.arange(size, device=items.device)
    rows = centres[:, 1, None] - size // 2 + offsets   # (B, s)
    cols = centres[:, 0, None] - size // 2 + offsets   # (B, s)
    canvas = torch.zeros(batch, canvas_size, canvas_size, device=items.device)
    index = torch.arange(batch, device=items.device)[:, None, None]
    canvas[index, rows[:, :, None], cols[:, None, :]] = items.float() / 255
    return canvas.unsqueeze(1).expand(batch, 3, canvas_size, canvas_size)


def one_location_centres(preset: Preset, n: int, device: torch.device | str | None = None) -> Tensor:
    """(n, 2) copies of the trained location (x, y): (25, 112) at the paper preset."""
    return torch.tensor(preset.trained_centre, device=device).expand(n, 2).clone()


def translated_centres(preset: Preset, n: int, generator: torch.Generator) -> Tensor:
    """(n, 2) centres with x and y uniform over the integers [25, 199) at the paper preset."""
    low, high = preset.centre_range
    return torch.randint(low, high, (n, 2), generator=generator, device=generator.device)


def area_centres(preset: Preset, labels: Tensor, generator: torch.Generator) -> Tensor:
    """(n, 2) centres uniform inside each label's area: class k lives in area k // 2, areas row by row."""
    n_classes = CLASSES_PER_AREA * N_AREAS**2
    if labels.numel() and not (0 <= int(labels.min()) and int(labels.max()) < n_classes):
        raise ValueError(f"the segregated canvas takes class labels in [0, {n_classes}), "
                         f"but got labels in [{int(labels.min())}, {int(labels.max())}]")
    bounds = torch.tensor(preset.area_bounds, device=labels.device)   # (3, 2) [start, stop)
    area = labels // CLASSES_PER_AREA
    column_row = torch.stack([area % N_AREAS, area // N_AREAS], dim=1)  # (n, 2) area index along x, y
    start, stop = bounds[column_row, 0], bounds[column_row, 1]
    u = torch.rand(labels.shape[0], 2, generator=generator, device=generator.device).to(labels.device)
    return start + (u * (stop - start)).long()


def grid_centres(preset: Preset) -> Tensor:
    """(361, 2) centres (x, y) of the preset's 19 x 19 test grid, y-major."""
    axis = torch.tensor(preset.grid)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([x.flatten(), y.flatten()], dim=1)


def sample_centres(placement: str, preset: Preset, labels: Tensor, generator: torch.Generator) -> Tensor:
    """(n, 2) centres for the items with these labels under a named placement (see PLACEMENTS)."""
    if placement == "one_location":
        return one_location_centres(preset, labels.shape[0], labels.device)
    if placement == "translated":
        return translated_centres(preset, labels.shape[0], generator)
    if placement == "areas":
        return area_centres(preset, labels, generator)
    raise ValueError(f"unknown placement {placement!r}; choose one of {PLACEMENTS}")


@dataclass(frozen=True)
class ItemBank:
    """Resized items grouped by class, on one device, ready to be drawn into batches."""
    items: Tensor    # uint8 (N, s, s), sorted by class
    starts: Tensor   # (C,) index of each class's first item
    counts: Tensor   # (C,) items per class

    @classmethod
    def build(cls, images: Tensor, labels: Tensor, item_size: int, device: torch.device | str = "cpu") -> ItemBank:
        """Resize uint8 images (N, h, w) with labels 0..C-1 once, and keep them on ``device``."""
        order = torch.argsort(labels, stable=True)
        counts = torch.bincount(labels)
        if (counts == 0).any():
            raise ValueError(f"every class needs at least one item, but classes {torch.nonzero(counts == 0).flatten().tolist()} have none")
        starts = torch.cumsum(counts, 0) - counts
        return cls(resize_items(images[order], item_size).to(device), starts.to(device), counts.to(device))

    @property
    def n_classes(self) -> int:
        return len(self.counts)

    def exemplars(self, labels: Tensor, generator: torch.Generator) -> Tensor:
        """One random item (s, s) of each label's class: (B, s, s)."""
        u = torch.rand(labels.shape, generator=generator, device=generator.device).to(labels.device)
        return self.items[self.starts[labels] + (u * self.counts[labels]).long()]


def draw_batch(bank: ItemBank, placement: str, preset: Preset, batch_size: int,
               generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """A training batch: classes uniform, a random exemplar each, placed as ``placement`` says.

    Returns canvases (B, 3, H, W) float in [0, 1] and labels (B,) int64, on the bank's device.
    """
    labels = torch.randint(0, bank.n_classes, (batch_size,), generator=generator,
                           device=generator.device).to(bank.items.device)
    centres = sample_centres(placement, preset, labels, generator).to(bank.items.device)
    return place(bank.exemplars(labels, generator), centres, preset.canvas_size, check=False), labels


@torch.no_grad()
def canvas_stats(bank: ItemBank, placement: str, preset: Preset) -> tuple[Tensor, Tensor]:
    """Per-channel mean and std (3,) of the training canvases: ``STATS_BATCHES`` batches drawn as in
    training, from their own seeded generator (the authors normalise every network's input this way)."""
    generator = torch.Generator(bank.items.device).manual_seed(STATS_SEED)
    total = squares = 0
    for _ in range(STATS_BATCHES):  # sums, not one tensor of every canvas (1 GB at 224 px)
        canvases = draw_batch(bank, placement, preset, preset.batch_size, generator)[0].double()
        total = total + canvases.sum(dim=(0, 2, 3))
        squares = squares + (canvases ** 2).sum(dim=(0, 2, 3))
    n = STATS_BATCHES * preset.batch_size * preset.canvas_size ** 2
    mean = total / n
    std = ((squares - n * mean ** 2) / (n - 1)).sqrt()
    return mean.float().cpu(), std.float().cpu()
