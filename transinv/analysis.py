"""The cosine-similarity analysis (the paper's figure 3): how much the penultimate layer's representation
of an item changes when the item moves, for vanilla, pretrained and fine-tuned networks."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd
import torch

from .datasets import ItemSet, load_dataset, select_classes
from .evaluate import test_items
from .models import Classifier, create_model
from .presets import Preset, get_preset
from .runs import Run
from .stimuli import place, resize_items
from .tables import own_accuracy

__all__ = ["cosine_similarity", "vanilla_cosines", "save_vanilla_cosines", "run_cosines", "cosine_conditions",
           "mean_cosine_away"]

VANILLA_FOLDER = "vanilla-cosines"  # in a preset's results folder: the vanilla networks' tables, when kept


@torch.no_grad()
def cosine_similarity(model: Classifier, items: ItemSet, preset: Preset, *, seed: int = 0,
                      device: str | torch.device = "cpu") -> pd.DataFrame:
    """Cosine similarity of penultimate activations: each class's exemplar at the trained location
    versus the same exemplar at every grid x along the trained row. One row per (class, x)."""
    model.eval()
    images, labels = test_items(items, 1, seed)
    images = resize_items(images, preset.item_size).to(device)
    x0, y0 = preset.trained_centre
    xs = torch.tensor(preset.grid, device=device)
    centres = torch.stack([xs, torch.full_like(xs, y0)], dim=1)                              # (G, 2)
    reference = model.penultimate_activations(
        place(images, torch.tensor([[x0, y0]], device=device).expand(len(images), 2), preset.canvas_size))
    rows = []
    for k, image in enumerate(images):
        moved = model.penultimate_activations(place(image.expand(len(xs), -1, -1), centres, preset.canvas_size))
        cosine = torch.nn.functional.cosine_similarity(moved, reference[k:k + 1].expand_as(moved), dim=1)  # (G,)
        rows += [{"label": int(labels[k]), "class": items.classes[labels[k]], "x": int(x), "dx": int(x) - x0,
                  "cosine": float(c)} for x, c in zip(xs, cosine)]
    return pd.DataFrame(rows)


def _items(dataset: str, classes: Sequence[int] | None) -> ItemSet:
    items = load_dataset(dataset)
    return select_classes(items, list(classes)) if classes else items


def _suffix(classes: Sequence[int] | None) -> str:
    """How a table made on some classes only is told apart: "-56789" for classes 5-9."""
    return "-" + "".join(map(str, classes)) if classes else ""


def vanilla_cosines(dataset: str, preset: str | Preset, *, seed: int = 0, results_root: str | Path | None = None,
                    device: str | torch.device = "cpu", classes: Sequence[int] | None = None) -> pd.DataFrame:
    """:func:`cosine_similarity` of a vanilla network (the preset's model, random weights from ``seed``), on
    ``dataset``'s items (of ``classes`` only, if given). Read from ``results_root`` when
    :func:`save_vanilla_cosines` kept it there (a VGG16 at 224 px takes minutes on a CPU), else computed."""
    kept = _vanilla_file(results_root, dataset + _suffix(classes), seed)
    if kept is not None and kept.is_file():
        return pd.read_csv(kept)
    items, preset = _items(dataset, classes), get_preset(preset)
    torch.manual_seed(seed)
    model = create_model(preset.model, num_classes=items.n_classes, canvas_size=preset.canvas_size).to(device)
    return cosine_similarity(model, items, preset, device=device)


def _vanilla_file(results_root: str | Path | None, dataset: str, seed: int) -> Path | None:
    return None if results_root is None else Path(results_root) / VANILLA_FOLDER / f"cosine-{dataset}-seed{seed}.csv"


def save_vanilla_cosines(dataset: str, preset: str | Preset, *, seed: int, results_root: str | Path,
                         device: str | torch.device = "cpu", classes: Sequence[int] | None = None) -> Path:
    """Compute :func:`vanilla_cosines` and keep it in ``results_root`` (a preset's results folder)."""
    path = _vanilla_file(results_root, dataset + _suffix(classes), seed)
    if not path.is_file():
        table = vanilla_cosines(dataset, preset, seed=seed, device=device, classes=classes)
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(path, index=False)
    return path


def run_cosines(r: Run, dataset: str, device: str | torch.device = "cpu", *,
                classes: Sequence[int] | None = None) -> pd.DataFrame:
    """:func:`cosine_similarity` of a trained run on ``dataset``'s items (of ``classes`` only, if given), kept in
    the run's directory."""
    return r.analysis(f"cosine-{dataset}{_suffix(classes)}", lambda: cosine_similarity(
        r.load_model(device), _items(dataset, classes), r.preset, device=device))


def cosine_conditions(pretrained: Sequence[Run], finetuned: Sequence[Run], preset: str | Preset) -> pd.DataFrame:
    """Cosine similarity versus displacement on each fine-tuning dataset's items, for the vanilla network,
    the pretrained one and the fine-tuned one: one row per (pretrain, finetune, condition, class, x).

    ``own_accuracy`` says whether the network learned its own training task (:func:`transinv.tables.own_accuracy`;
    NaN for the vanilla network, which is trained on nothing), ``pretrain_own_accuracy`` whether its pair's
    pretraining did."""
    by_id = {p.id: p for p in pretrained}
    root = finetuned[0].path.parent if finetuned else None
    vanilla: dict[tuple[str, int], pd.DataFrame] = {}  # one vanilla network per dataset and seed, whatever the parent
    parts = []
    for f in finetuned:
        parent, dataset, seed = by_id[f.config["init"]], f.config["dataset"], f.config["seed"]
        if (dataset, seed) not in vanilla:
            vanilla[dataset, seed] = vanilla_cosines(dataset, preset, seed=seed, results_root=root)
        for condition, network in (("vanilla", None), ("pretrained", parent), ("fine-tuned", f)):
            table = vanilla[dataset, seed] if network is None else run_cosines(network, dataset)
            parts.append(table.assign(pretrain=parent.config["dataset"], finetune=dataset, condition=condition,
                                      seed=seed, own_accuracy=own_accuracy(network) if network else float("nan"),
                                      pretrain_own_accuracy=own_accuracy(parent)))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["label", "class", "x", "dx", "cosine", "pretrain", "finetune", "condition", "seed", "own_accuracy",
                 "pretrain_own_accuracy"])


def mean_cosine_away(cosines: pd.DataFrame) -> pd.DataFrame:
    """Mean cosine similarity away from the trained location (displacement > 0), one row per
    (pretrain, finetune, condition), from :func:`cosine_conditions`'s table."""
    away = cosines[cosines["dx"] > 0]
    return away.groupby(["pretrain", "finetune", "condition"], sort=False)["cosine"].mean().reset_index()
