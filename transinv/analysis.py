"""The cosine-similarity analysis (the paper's figure 3): how much the penultimate layer's representation
of an item changes when the item moves, for vanilla, pretrained and fine-tuned networks; and, beside it, the
tables of :mod:`transinv.representation` (cosines layer by layer, with what every position shares removed, and a
linear read-out), kept the same way: in a trained run's directory, or in the vanilla folder for untrained ones."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd
import torch

from .datasets import ItemSet, load_dataset, select_classes
from .evaluate import normalized_accuracy, test_items
from .models import Classifier, create_model
from .presets import Preset, get_preset
from .representation import representation_tables
from .runs import Run
from .runs.directory import atomic_write
from .stimuli import place, resize_items
from .learned import learned_task
from .tables import own_accuracy

__all__ = ["cosine_similarity", "vanilla_cosines", "save_vanilla_cosines", "run_cosines", "cosine_conditions",
           "mean_cosine_away", "REPRESENTATION", "run_representation", "save_vanilla_representation",
           "kept_vanilla_representation", "representation_conditions", "mean_readout_away"]

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
                    device: str | torch.device = "cpu", classes: Sequence[int] | None = None,
                    model: str | None = None) -> pd.DataFrame:
    """:func:`cosine_similarity` of a vanilla network (``model``, default the preset's, random weights from
    ``seed``), on ``dataset``'s items (of ``classes`` only, if given). Read from ``results_root`` when
    :func:`save_vanilla_cosines` kept it there (a VGG16 at 224 px takes minutes on a CPU), else computed."""
    kept = _vanilla_file(results_root, _vanilla_name(dataset, classes, preset, model), seed)
    if kept is not None and kept.is_file():
        return pd.read_csv(kept)
    items, preset = _items(dataset, classes), get_preset(preset)
    torch.manual_seed(seed)
    network = create_model(model or preset.model, num_classes=items.n_classes, canvas_size=preset.canvas_size)
    return cosine_similarity(network.to(device), items, preset, device=device)


def _vanilla_name(dataset: str, classes: Sequence[int] | None, preset: str | Preset, model: str | None) -> str:
    """How an untrained network's tables are told apart: by items, and by model where it is not the preset's."""
    other = model is not None and model != get_preset(preset).model
    return dataset + _suffix(classes) + (f"-{model}" if other else "")


def _vanilla_file(results_root: str | Path | None, dataset: str, seed: int, kind: str = "cosine") -> Path | None:
    suffix = ".csv.gz" if kind in REPRESENTATION else ".csv"
    name = f"{kind}-{dataset}-seed{seed}{suffix}"
    return None if results_root is None else Path(results_root) / VANILLA_FOLDER / name


def save_vanilla_cosines(dataset: str, preset: str | Preset, *, seed: int, results_root: str | Path,
                         device: str | torch.device = "cpu", classes: Sequence[int] | None = None,
                         model: str | None = None) -> Path:
    """Compute :func:`vanilla_cosines` and keep it in ``results_root`` (a preset's results folder)."""
    path = _vanilla_file(results_root, _vanilla_name(dataset, classes, preset, model), seed)
    if not path.is_file():
        table = vanilla_cosines(dataset, preset, seed=seed, device=device, classes=classes, model=model)
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(path, index=False)
    return path


def run_cosines(r: Run, dataset: str, device: str | torch.device = "cpu", *,
                classes: Sequence[int] | None = None, compute: bool = True) -> pd.DataFrame | None:
    """:func:`cosine_similarity` of a trained run on ``dataset``'s items (of ``classes`` only, if given), kept in
    the run's directory. ``compute=False``: None where it was not kept."""
    return r.analysis(f"cosine-{dataset}{_suffix(classes)}", (lambda: cosine_similarity(
        r.load_model(device), _items(dataset, classes), r.preset, device=device)) if compute else None)


def cosine_conditions(pretrained: Sequence[Run], finetuned: Sequence[Run], preset: str | Preset) -> pd.DataFrame:
    """Cosine similarity versus displacement on each fine-tuning dataset's items, for the vanilla network,
    the pretrained one and the fine-tuned one: one row per (pretrain, finetune, condition, class, x).

    ``own_accuracy`` is the network's accuracy on its own training task (:func:`transinv.tables.own_accuracy`;
    NaN for the vanilla network, which is trained on nothing) and ``own_learned`` whether it learned it
    (:func:`transinv.learned.learned_task`); ``pretrain_own_accuracy`` and ``pretrain_learned`` the same of its
    pair's pretraining."""
    root = finetuned[0].path.parent if finetuned else None
    return _conditions(pretrained, finetuned,
                       lambda d, c, s: vanilla_cosines(d, preset, seed=s, results_root=root, classes=c),
                       lambda r, d, c: run_cosines(r, d, classes=c), COSINE_COLUMNS)


COSINE_COLUMNS = ["label", "class", "x", "dx", "cosine"]
CONDITION_COLUMNS = ["pretrain", "finetune", "condition", "seed", "own_accuracy", "pretrain_own_accuracy",
                     "own_learned", "pretrain_learned"]


def _conditions(pretrained: Sequence[Run], finetuned: Sequence[Run], vanilla_table, run_table,
                columns: list[str]) -> pd.DataFrame:
    """For each fine-tuned run, on its items (dataset, and classes if some): ``vanilla_table(dataset, classes,
    seed)``, ``run_table(parent, dataset, classes)`` and ``run_table(fine-tuned, dataset, classes)``, labelled by
    condition. A table that is None (not computed for that network) is left out."""
    by_id = {p.id: p for p in pretrained}
    vanilla: dict[tuple, pd.DataFrame | None] = {}  # one per items and seed, whatever the parent
    parts = []
    for f in finetuned:
        parent, dataset, seed = by_id[f.config["init"]], f.config["dataset"], f.config["seed"]
        classes = tuple(f.config["classes"]) if f.config.get("classes") else None
        if (dataset, classes, seed) not in vanilla:
            vanilla[dataset, classes, seed] = vanilla_table(dataset, classes, seed)
        for condition, network in (("vanilla", None), ("pretrained", parent), ("fine-tuned", f)):
            table = vanilla[dataset, classes, seed] if network is None else run_table(network, dataset, classes)
            if table is not None:
                parts.append(table.assign(pretrain=parent.config["dataset"], finetune=dataset, condition=condition,
                                          seed=seed, own_accuracy=own_accuracy(network) if network else float("nan"),
                                          pretrain_own_accuracy=own_accuracy(parent),
                                          own_learned=learned_task(network) if network else float("nan"),
                                          pretrain_learned=learned_task(parent)))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns + CONDITION_COLUMNS)


def mean_cosine_away(cosines: pd.DataFrame) -> pd.DataFrame:
    """Mean cosine similarity away from the trained location (displacement > 0), one row per
    (pretrain, finetune, condition, seed), from :func:`cosine_conditions`'s table."""
    away = cosines[cosines["dx"] > 0]
    return away.groupby(["pretrain", "finetune", "condition", "seed"], sort=False)["cosine"].mean().reset_index()


# The tables of transinv.representation, by kind: the cosine similarities layer by layer, and the read-out; kept
# gzipped (with no time in the header, so that the same table gives the same bytes) at 7 significant digits.
REPRESENTATION = ("layers", "readout")
GZIP = {"method": "gzip", "mtime": 0}
LAYER_COLUMNS = ["layer", "centring", "x", "dx", "label", "class", "cosine"]
READOUT_COLUMNS = ["layer", "x", "dx", "label", "class", "n", "correct"]


def _keep(paths: dict[str, Path], compute) -> dict[str, pd.DataFrame]:
    tables = dict(zip(REPRESENTATION, compute()))
    for kind, path in paths.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp, table=tables[kind]: table.to_csv(tmp, index=False, float_format="%.7g",
                                                                         compression=GZIP))
    return tables


def _read(paths: dict[str, Path]) -> dict[str, pd.DataFrame] | None:
    return {k: pd.read_csv(p) for k, p in paths.items()} if all(p.is_file() for p in paths.values()) else None


def run_representation(r: Run, dataset: str, device: str | torch.device = "cpu", *,
                       classes: Sequence[int] | None = None, compute: bool = True) -> dict[str, pd.DataFrame] | None:
    """:func:`transinv.representation.representation_tables` of a trained run on ``dataset``'s items (of
    ``classes`` only, if given), by kind ("layers", "readout"), kept in the run's directory. ``compute=False``:
    None where they were not kept (runs trained before this analysis existed, shared without their model)."""
    paths = {kind: r.path / f"{kind}-{dataset}{_suffix(classes)}.csv.gz" for kind in REPRESENTATION}
    kept = _read(paths)
    if kept is not None or not compute:
        return kept
    return _keep(paths, lambda: representation_tables(r.load_model(device), _items(dataset, classes), r.preset,
                                                      device=device))


def save_vanilla_representation(dataset: str, preset: str | Preset, *, seed: int, results_root: str | Path,
                                device: str | torch.device = "cpu", classes: Sequence[int] | None = None,
                                model: str | None = None) -> dict[str, pd.DataFrame]:
    """:func:`transinv.representation.representation_tables` of a vanilla network (``model``, default the preset's,
    random weights from ``seed``), kept in ``results_root``'s vanilla folder (read from there when it is)."""
    name = _vanilla_name(dataset, classes, preset, model)
    paths = {kind: _vanilla_file(results_root, name, seed, kind) for kind in REPRESENTATION}
    kept = _read(paths)
    if kept is not None:
        return kept

    def compute():
        items, p = _items(dataset, classes), get_preset(preset)
        torch.manual_seed(seed)
        network = create_model(model or p.model, num_classes=items.n_classes, canvas_size=p.canvas_size)
        return representation_tables(network.to(device), items, p, device=device)

    return _keep(paths, compute)


def kept_vanilla_representation(dataset: str, preset: str | Preset, *, seed: int, results_root: str | Path,
                                model: str | None = None) -> dict[str, pd.DataFrame] | None:
    """The tables of :func:`save_vanilla_representation` where they are kept in ``results_root``, else None:
    nothing is computed or written."""
    name = _vanilla_name(dataset, None, preset, model)
    return _read({kind: _vanilla_file(results_root, name, seed, kind) for kind in REPRESENTATION})


def _vanilla_kept(results_root: Path | None, dataset: str, classes: Sequence[int] | None,
                  seed: int) -> dict[str, pd.DataFrame] | None:
    paths = {kind: _vanilla_file(results_root, dataset + _suffix(classes), seed, kind) for kind in REPRESENTATION}
    return None if results_root is None else _read(paths)


def representation_conditions(pretrained: Sequence[Run], finetuned: Sequence[Run]) -> dict[str, pd.DataFrame]:
    """:func:`cosine_conditions` for the kept tables of :func:`run_representation`, by kind: networks (or vanilla
    tables) for which they were not computed are left out. Nothing is computed here."""
    root = finetuned[0].path.parent if finetuned else None
    columns = {"layers": LAYER_COLUMNS, "readout": READOUT_COLUMNS}

    def vanilla(kind):
        return lambda d, c, s: (_vanilla_kept(root, d, c, s) or {}).get(kind)

    def trained(kind):
        return lambda r, d, c: (run_representation(r, d, classes=c, compute=False) or {}).get(kind)

    return {kind: _conditions(pretrained, finetuned, vanilla(kind), trained(kind), columns[kind])
            for kind in REPRESENTATION}


READOUT_KEYS = ("pretrain", "finetune", "condition", "seed", "layer")


def mean_readout_away(readout: pd.DataFrame, keys: Sequence[str] = READOUT_KEYS) -> pd.DataFrame:
    """Normalized read-out accuracy away from the trained location (displacement > 0) and at it, one row per
    ``keys`` (default: pretrain, finetune, condition, seed, layer), from :func:`representation_conditions`'s
    read-out table."""
    keys = list(keys)
    if readout.empty:
        return pd.DataFrame(columns=keys + ["at", "away"])
    counts = readout.assign(away=readout["dx"] > 0).groupby(keys + ["away"], sort=False)[["correct", "n"]].sum()
    n_classes = readout.groupby(keys, sort=False)["label"].nunique()
    accuracy = (counts["correct"] / counts["n"]).unstack("away")
    normalized = normalized_accuracy(accuracy, n_classes.reindex(accuracy.index).to_numpy()[:, None])
    return normalized.rename(columns={False: "at", True: "away"}).reset_index().rename_axis(columns=None)


def readout_by_displacement(readout: pd.DataFrame) -> pd.DataFrame:
    """Normalized read-out accuracy per class and displacement (column "readout"), from
    :func:`representation_conditions`'s read-out table: for :func:`transinv.plots.cosine_panels`
    (``value="readout"``)."""
    keys = ["pretrain", "finetune", "condition", "seed", "layer"]
    n_classes = readout.groupby(keys, sort=False)["label"].transform("nunique")
    return readout.assign(readout=normalized_accuracy(readout["correct"] / readout["n"], n_classes))


def away_by_layer(layers: pd.DataFrame, readout: pd.DataFrame) -> pd.DataFrame:
    """Mean away from the trained location (displacement > 0), per layer and condition, of each measure: the
    cosine raw (the authors'), with the blank canvas subtracted, centred across items; and the read-out
    (normalized accuracy). One row per (measure, layer), one column per condition."""
    away = layers[layers["dx"] > 0]
    cosines = away.assign(measure="cosine, " + away["centring"]).groupby(
        ["measure", "layer", "condition"], sort=False)["cosine"].mean()
    accuracy = mean_readout_away(readout).groupby(["layer", "condition"], sort=False)["away"].mean()
    accuracy = pd.concat({"read-out (normalized accuracy)": accuracy}, names=["measure"])
    both = pd.concat([cosines, accuracy]).unstack("condition")
    return both.reindex(columns=[c for c in ("vanilla", "pretrained", "fine-tuned") if c in both.columns])
