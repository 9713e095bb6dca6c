"""The paper's experiments as lists of runs, and their results as tidy tables.

Each experiment is a list of :class:`RunConfig`; :func:`run_all` trains what is not finished
yet (finished runs are reused, so experiments share runs: experiment 3's vanilla MNIST run is
experiment 2's); :func:`summarize` turns runs into one row each.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd
import torch

from .datasets import load_dataset
from .evaluate import accuracy_at_and_away, cosine_similarity, normalized_accuracy
from .models import create_model
from .presets import Preset, get_preset
from .parallel import default_workers, run_many
from .runs import Run, RunConfig, find_run

__all__ = ["PAPER_DATASETS", "choose_datasets", "results_dir", "exp1_configs", "pretrain_configs",
           "finetune_configs", "exp3_configs", "run_all", "exp2_runs", "finished_runs", "summarize", "compute_by_kind", "pooled_grids", "run_preset", "cosine_table", "cosine_conditions"]

PAPER_DATASETS = ("mnist", "fmnist", "kmnist", "emnist", "leek10", "leek2")  # the six datasets of experiments 1-2


def choose_datasets(choice: str | Sequence[str], allowed: Sequence[str] = PAPER_DATASETS) -> list[str]:
    """'all', one name, comma-separated names or a list, checked against ``allowed``."""
    names = list(allowed) if choice == "all" else choice.split(",") if isinstance(choice, str) else list(choice)
    names = [n.strip() for n in names]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise ValueError(f"unknown dataset {', '.join(unknown) or choice!r}: choose 'all' or among {', '.join(allowed)}")
    return names


def results_dir(results_root: str | Path, preset: str | Preset) -> Path:
    """Each preset keeps its runs apart: ``<results_root>/<preset name>``."""
    return Path(results_root).expanduser() / get_preset(preset).name


def _check_repetitions(repetitions: int) -> None:
    if not isinstance(repetitions, int) or repetitions < 1:
        raise ValueError(f"repetitions must be a positive integer, but got {repetitions!r}")


def exp1_configs(datasets: Iterable[str], preset: str, repetitions: int, seed: int = 0) -> list[RunConfig]:
    """Experiment 1: the ImageNet model, pretrained or vanilla (same architecture), trained at one location."""
    _check_repetitions(repetitions)
    model = get_preset(preset).imagenet_model
    return [RunConfig(d, "one_location", preset, init=init, model=model, seed=seed + r)
            for r in range(repetitions) for d in datasets for init in ("imagenet", "vanilla")]


def pretrain_configs(datasets: Iterable[str], preset: str, repetitions: int, seed: int = 0,
                     placement: str = "translated") -> list[RunConfig]:
    """Networks trained from scratch on fully translated items (or another placement)."""
    _check_repetitions(repetitions)
    return [RunConfig(d, placement, preset, seed=seed + r) for r in range(repetitions) for d in datasets]


def finetune_configs(pretrained: Iterable[Run], datasets: Iterable[str], preset: str) -> list[RunConfig]:
    """Each pretrained run fine-tuned on each dataset shown at one location (same seed as its parent)."""
    return [RunConfig(d, "one_location", preset, init=p.id, seed=p.config["seed"]) for p in pretrained for d in datasets]


def exp3_configs(preset: str, repetitions: int, seed: int = 0) -> list[RunConfig]:
    """Experiment 3's pretrainings: EMNIST18 in 9 segregated areas, and fully translated as the control."""
    return [c for placement in ("areas", "translated")
            for c in pretrain_configs(["emnist18"], preset, repetitions, seed, placement)]


def run_all(configs: Sequence[RunConfig], results_root: str | Path, *, device: str = "auto",
            need_model: bool = False, workers: int | None = None) -> list[Run]:
    """Run every config (finished runs are reused), ``workers`` at a time (default: :func:`default_workers`),
    with one line of progress per trained run; the runs, in order."""
    start = time.perf_counter()
    located = [find_run(c, results_root, device=device) for c in configs]  # handles; valid once trained
    todo = [c for c, r in zip(configs, located) if not r.ready(need_model)]
    finished = 0

    def report(r: Run) -> None:
        nonlocal finished
        finished += 1
        print(f"[{finished}/{len(todo)}] {r.id}: {r.result['iterations']} iterations ({r.result['stop_reason']}), "
              f"{r.result['train_seconds'] + r.result.get('eval_seconds', 0):.0f} s", flush=True)

    run_many(todo, results_root, workers=workers or default_workers(device), on_done=report, device=device,
             need_model=need_model, progress=False)
    print(f"{len(configs)} runs: {len(configs) - len(todo)} reused, {len(todo)} trained "
          f"in {(time.perf_counter() - start) / 60:.1f} min", flush=True)
    return located


def exp2_runs(pretrain: Sequence[str], finetune: Sequence[str], preset: str, repetitions: int, seed: int,
              results_root: str | Path, *, device: str = "auto") -> tuple[list[Run], list[Run], list[Run]]:
    """Experiment 2's runs: (pretrained fully translated, each fine-tuned at one location, vanilla at one location)."""
    pretrained = run_all(pretrain_configs(pretrain, preset, repetitions, seed), results_root, device=device)
    finetuned = run_all(finetune_configs(pretrained, finetune, preset), results_root, device=device)
    vanilla = run_all(pretrain_configs(finetune, preset, repetitions, seed, "one_location"), results_root, device=device)
    return pretrained, finetuned, vanilla


def finished_runs(results_root: str | Path) -> list[Run]:
    """Every finished run under ``results_root``, by id."""
    root = Path(results_root).expanduser()
    return [Run(p) for p in sorted(root.iterdir()) if (p / "done.json").is_file()] if root.is_dir() else []


def _condition(config: dict) -> tuple[str, str]:
    """(pretraining, training placement) of a run, in words."""
    parent = config["parent"]
    if parent is not None:
        where = "" if parent["placement"] == "translated" else f" ({parent['placement']})"
        return parent["dataset"] + where, config["placement"]
    return ("imagenet" if config["init"] == "imagenet" else "vanilla"), config["placement"]


def summarize(runs: Iterable[Run]) -> pd.DataFrame:
    """One row per run: what it was trained on and from where, and its accuracies over the test grid.

    ``accuracy`` is over every grid centre (the whole canvas), ``at_trained``/``away`` at the
    trained location and everywhere else; ``normalized`` and ``away_normalized`` rescale ``accuracy``
    and ``away`` so that chance is 0 and perfect is 100.
    """
    rows = []
    for r in runs:
        config, result, grid = r.config, r.result, r.grid
        preset = run_preset(r)
        at, away = accuracy_at_and_away(grid, preset.trained_centre)
        accuracy = float(grid["correct"].sum() / grid["n"].sum())
        pretrain, placement = _condition(config)
        rows.append({"run": r.id, "dataset": config["dataset"], "placement": placement, "pretrain": pretrain,
                     "model": config["model"], "seed": config["seed"], "n_classes": config["num_classes"],
                     "accuracy": accuracy, "at_trained": at, "away": away,
                     "normalized": normalized_accuracy(accuracy, config["num_classes"]),
                     "away_normalized": normalized_accuracy(away, config["num_classes"]),
                     "iterations": result["iterations"], "stop_reason": result["stop_reason"],
                     "seconds": result["train_seconds"] + result.get("eval_seconds", 0.0)})
    return pd.DataFrame(rows)


def compute_by_kind(table: pd.DataFrame) -> pd.DataFrame:
    """Training + evaluation time of the runs in ``table`` (from :func:`summarize`) by model, start and
    placement: runs, mean iterations, runs stopped at the iteration cap, minutes and share, largest first."""
    start = table["pretrain"].where(table["pretrain"].isin(["imagenet", "vanilla"]), "fine-tuned")
    kind = table["model"] + ", " + start + ", " + table["placement"]
    grouped = table.assign(kind=kind, at_cap=table["stop_reason"] == "max_iters").groupby("kind")
    out = grouped.agg(runs=("run", "size"), mean_iterations=("iterations", "mean"), at_cap=("at_cap", "sum"),
                      minutes=("seconds", "sum"))
    out["minutes"] /= 60
    out["share"] = out["minutes"] / out["minutes"].sum()
    return out.sort_values("minutes", ascending=False).round({"mean_iterations": 0, "minutes": 1, "share": 3})


def pooled_grids(runs: Sequence[Run], table: pd.DataFrame, keys: tuple[str, str]) -> dict:
    """Grid tables keyed by two columns of ``table`` (one row per run), repetitions pooled."""
    grids: dict[tuple, list] = {}
    for r, key in zip(runs, table[list(keys)].itertuples(index=False)):
        grids.setdefault(tuple(key), []).append(r.grid)
    return {key: pd.concat(parts) for key, parts in grids.items()}


def run_preset(r: Run) -> Preset:
    """The preset a run was trained with (on its own canvas)."""
    settings = r.config["preset_settings"]
    return Preset(**{**settings, "grid": tuple(settings["grid"])})


@torch.no_grad()
def cosine_table(r: Run | None, dataset: str, preset: str | Preset, *, seed: int = 0) -> pd.DataFrame:
    """Cosine similarity versus displacement (see :func:`transinv.cosine_similarity`) on ``dataset``'s items.

    ``r=None`` measures a vanilla network (random weights from ``seed``). A run's table is kept in its
    directory (``cosine-<dataset>.csv``), so shared results need no model.
    """
    items = load_dataset(dataset)
    if r is None:
        preset = get_preset(preset)
        torch.manual_seed(seed)
        model = create_model(preset.model, num_classes=items.n_classes, canvas_size=preset.canvas_size)
        return cosine_similarity(model.eval(), items, preset)
    cached = r.path / f"cosine-{dataset}.csv"
    if cached.is_file():
        return pd.read_csv(cached)
    table = cosine_similarity(r.load_model(), items, run_preset(r))
    table.to_csv(cached, index=False)
    return table


def cosine_conditions(pretrained: Sequence[Run], finetuned: Sequence[Run], preset: str | Preset) -> pd.DataFrame:
    """Cosine similarity versus displacement on each fine-tuning dataset's items, for the vanilla network,
    the pretrained one and the fine-tuned one: one row per (pretrain, finetune, condition, class, x)."""
    by_id = {p.id: p for p in pretrained}
    vanilla: dict[tuple[str, int], pd.DataFrame] = {}  # one vanilla network per dataset and seed, whatever the parent
    parts = []
    for f in finetuned:
        parent, dataset, seed = by_id[f.config["init"]], f.config["dataset"], f.config["seed"]
        if (dataset, seed) not in vanilla:
            vanilla[dataset, seed] = cosine_table(None, dataset, preset, seed=seed)
        for condition, source in (("vanilla", None), ("pretrained", parent), ("fine-tuned", f)):
            part = vanilla[dataset, seed] if source is None else cosine_table(source, dataset, preset, seed=seed)
            parts.append(part.assign(pretrain=parent.config["dataset"], finetune=dataset, condition=condition,
                                     seed=seed))
    return pd.concat(parts, ignore_index=True)
