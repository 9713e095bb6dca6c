"""Evaluation over the test grid, in model.eval() without gradients, and the accuracies read from its table."""
from __future__ import annotations

import pandas as pd
import torch
from torch import Tensor

from .datasets import ItemSet
from .models import Classifier
from .presets import N_AREAS, Preset
from .speedups import current
from .stimuli import CLASSES_PER_AREA, grid_centres, place, resize_items, sample_centres

__all__ = ["test_items", "eval_batch_size", "grid_accuracy", "own_task_accuracy", "accuracy_at_and_away", "accuracy_in_own_areas",
           "normalized_accuracy"]


def test_items(items: ItemSet, per_class: int, seed: int = 0, split: str = "test") -> tuple[Tensor, Tensor]:
    """``per_class`` images of each class of the test split (or ``split="train"``; fewer where a class has fewer),
    drawn with ``seed``."""
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, but got {per_class}")
    images, labels = getattr(items, f"{split}_images"), getattr(items, f"{split}_labels")
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for k in range(items.n_classes):
        members = torch.nonzero(labels == k).flatten()
        chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    index = torch.cat(chosen)
    return images[index], labels[index]


def eval_batch_size(preset: Preset, device: torch.device) -> int:
    """Canvases per evaluation batch: 4096 of 64 px on a GPU, fewer for larger canvases (the same
    activation memory: VGG16's first layers at 224 px and 4096 canvases would need over 50 GB). On a GPU, the
    process's ``eval_batch`` where :func:`transinv.speedups.apply` set one (on the CPU another batch size could
    round differently, so it is left as it is)."""
    if current().eval_batch is not None and device.type == "cuda":
        return current().eval_batch
    return max(64, int((4096 if device.type == "cuda" else 512) * (64 / preset.canvas_size) ** 2))


@torch.no_grad()
def grid_accuracy(model: Classifier, items: ItemSet, preset: Preset, *, per_class: int, seed: int = 0,
                  device: str | torch.device = "cpu", batch_size: int = 512, autocast: bool = False) -> pd.DataFrame:
    """Accuracy at every test-grid centre: one row per (x, y, class) with n items and n correct.

    The same test items (``per_class`` per class, never used in training) are shown at every centre.
    """
    if model.num_classes != items.n_classes:
        raise ValueError(f"the model has {model.num_classes} classes but {items.name} has {items.n_classes}")
    model.eval()
    images, labels = test_items(items, per_class, seed)
    images, labels = resize_items(images, preset.item_size).to(device), labels.to(device)
    centres = grid_centres(preset).to(device)
    n_items = len(labels)
    pairs = torch.cartesian_prod(torch.arange(len(centres), device=device), torch.arange(n_items, device=device))
    correct = torch.empty(len(pairs), dtype=torch.bool, device=device)
    for start in range(0, len(pairs), batch_size):
        where, which = pairs[start:start + batch_size].unbind(1)
        canvases = place(images[which], centres[where], preset.canvas_size, check=False)
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=autocast):
            correct[start:start + batch_size] = model(canvases).argmax(1) == labels[which]
    table = pd.DataFrame({"x": centres[pairs[:, 0], 0].cpu(), "y": centres[pairs[:, 0], 1].cpu(),
                          "label": labels[pairs[:, 1]].cpu(), "correct": correct.cpu().int()})
    table = table.groupby(["x", "y", "label"], as_index=False).agg(n=("correct", "size"), correct=("correct", "sum"))
    table["class"] = [items.classes[k] for k in table["label"]]
    return table


@torch.no_grad()
def own_task_accuracy(model: Classifier, items: ItemSet, preset: Preset, placement: str, *, n_items: int,
                      seed: int = 0, device: str | torch.device = "cpu", batch_size: int = 512,
                      autocast: bool = False) -> pd.DataFrame:
    """Accuracy on the run's own task: ``n_items`` held-out test items (spread evenly over the classes; all of a
    class's where it has fewer), each placed once as in training (``placement``), with centres drawn by ``seed``.
    One row per class with n items and n correct."""
    model.eval()
    per_class = -(-n_items // items.n_classes)
    images, labels = test_items(items, per_class, seed)
    centres = sample_centres(placement, preset, labels, torch.Generator().manual_seed(seed))
    images, labels, centres = resize_items(images, preset.item_size).to(device), labels.to(device), centres.to(device)
    correct = torch.empty(len(labels), dtype=torch.bool, device=device)
    for start in range(0, len(labels), batch_size):
        batch = slice(start, start + batch_size)
        canvases = place(images[batch], centres[batch], preset.canvas_size, check=False)
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=autocast):
            correct[batch] = model(canvases).argmax(1) == labels[batch]
    table = pd.DataFrame({"label": labels.cpu(), "correct": correct.cpu().int()})
    table = table.groupby("label", as_index=False).agg(n=("correct", "size"), correct=("correct", "sum"))
    table["class"] = [items.classes[k] for k in table["label"]]
    return table


def accuracy_at_and_away(grid: pd.DataFrame, trained_centre: tuple[int, int]) -> tuple[float, float]:
    """Accuracy at the trained centre, and over every other grid centre, from a grid table."""
    at = (grid["x"] == trained_centre[0]) & (grid["y"] == trained_centre[1])
    return (float(grid[at]["correct"].sum() / grid[at]["n"].sum()),
            float(grid[~at]["correct"].sum() / grid[~at]["n"].sum()))


def accuracy_in_own_areas(grid: pd.DataFrame, preset: Preset) -> float:
    """Accuracy at the grid centres inside each class's own area of the segregated canvas (experiment 3):
    where a network pretrained on the areas saw that class."""
    bounds = preset.area_bounds
    area = grid["label"] // CLASSES_PER_AREA

    def inside(axis: str, index: pd.Series) -> pd.Series:
        start = index.map(lambda i: bounds[i][0])
        stop = index.map(lambda i: bounds[i][1])
        return (grid[axis] >= start) & (grid[axis] < stop)

    own = inside("x", area % N_AREAS) & inside("y", area // N_AREAS)
    return float(grid[own]["correct"].sum() / grid[own]["n"].sum())


def normalized_accuracy(accuracy, n_classes: int):
    """(accuracy - chance) / (1 - chance) x 100 with chance = 1 / n_classes, as the paper's figure 2B."""
    chance = 1 / n_classes
    return (accuracy - chance) / (1 - chance) * 100
