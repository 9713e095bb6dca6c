"""Finished runs as tidy tables: one row per run, compute time by kind of run, grids pooled over repetitions."""
from __future__ import annotations

from typing import Iterable, Sequence

import pandas as pd

from .datasets import BY_COMPLEXITY
from .evaluate import accuracy_at_and_away, accuracy_in_own_areas, normalized_accuracy
from .learned import criterion_at, learned_task
from .runs import Run

__all__ = ["SUMMARY_COLUMNS", "own_accuracy", "summarize", "compute_by_kind", "pooled_grids", "rounded", "mean_std",
           "mean_std_grid",
           "runs_table", "in_paper_order"]

SUMMARY_COLUMNS = ["run", "dataset", "placement", "pretrain", "pretrain_placement", "model", "seed", "n_classes",
                   "own_accuracy", "pretrain_own_accuracy", "criterion_at", "own_learned", "pretrain_learned",
                   "accuracy", "at_trained", "away", "normalized",
                   "away_normalized", "iterations", "stop_reason", "seconds"]


def own_accuracy(r: Run) -> float:
    """Test accuracy of a run on its own training task: on its held-out items placed as in training where it has
    that table (:attr:`transinv.runs.Run.own`, presets with ``own_items``); else from its grid, at the trained
    location for one-location runs, over the whole canvas for fully translated ones, inside each class's own area
    for segregated ones."""
    own = r.own
    if own is not None:
        return float(own["correct"].sum() / own["n"].sum())
    grid, preset, placement = r.grid, r.preset, r.config["placement"]
    if placement == "one_location":
        return accuracy_at_and_away(grid, preset.trained_centre)[0]
    if placement == "areas":
        return accuracy_in_own_areas(grid, preset)
    return float(grid["correct"].sum() / grid["n"].sum())


def _pretraining(r: Run) -> tuple[str, str | None]:
    """(pretraining in words, the pretraining's placement or None): ('imagenet', None), ('vanilla', None),
    ('mnist', 'translated'), ('emnist18 (areas)', 'areas'), ..."""
    if not r.is_finetuning:
        return ("imagenet" if r.config["init"] == "imagenet" else "vanilla"), None
    parent = r.config["parent"]  # the parent's configuration, kept in the run's
    where = "" if parent["placement"] == "translated" else f" ({parent['placement']})"
    return parent["dataset"] + where, parent["placement"]


def summarize(runs: Iterable[Run]) -> pd.DataFrame:
    """One row per run: what it was trained on and from where, and its accuracies over the test grid.

    ``accuracy`` is over every grid centre (the whole canvas), ``at_trained``/``away`` at the
    trained location and everywhere else; ``normalized`` and ``away_normalized`` rescale ``accuracy``
    and ``away`` so that chance is 0 and perfect is 100. ``pretrain`` says in words what the run was
    pretrained on; ``pretrain_placement`` is that pretraining's placement (None from scratch or ImageNet).
    ``own_accuracy`` is the run's accuracy on its own training task (:func:`own_accuracy`), and
    ``pretrain_own_accuracy`` its parent's (NaN without one); ``criterion_at`` the iteration at which its running
    training accuracy reached the authors' criterion (NaN: never), ``own_learned`` whether it learned its own task
    (:func:`transinv.learned.learned_task`) and ``pretrain_learned`` whether its parent did (NaN without one).
    """
    rows = []
    for r in runs:
        config, result, grid = r.config, r.result, r.grid
        at, away = accuracy_at_and_away(grid, r.preset.trained_centre)
        accuracy = float(grid["correct"].sum() / grid["n"].sum())
        pretrain, pretrain_placement = _pretraining(r)
        rows.append({"run": r.id, "dataset": config["dataset"], "placement": config["placement"], "pretrain": pretrain,
                     "pretrain_placement": pretrain_placement,
                     "model": config["model"], "seed": config["seed"], "n_classes": config["num_classes"],
                     "own_accuracy": own_accuracy(r),
                     "pretrain_own_accuracy": own_accuracy(r.parent) if r.is_finetuning else float("nan"),
                     "criterion_at": criterion_at(r) or float("nan"), "own_learned": learned_task(r),
                     "pretrain_learned": learned_task(r.parent) if r.is_finetuning else float("nan"),
                     "accuracy": accuracy, "at_trained": at, "away": away,
                     "normalized": normalized_accuracy(accuracy, config["num_classes"]),
                     "away_normalized": normalized_accuracy(away, config["num_classes"]),
                     "iterations": result["iterations"], "stop_reason": result["stop_reason"],
                     "seconds": result["train_seconds"] + result.get("eval_seconds", 0.0)})
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)  # the columns even without runs (none finished yet)


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


def _rank(label) -> int:
    """A dataset's place in the paper's order of complexity ("fmnist (not learned)" is fmnist); other labels
    (vanilla, imagenet, conditions) after the datasets, as they came."""
    name = str(label).split(" ")[0]
    return BY_COMPLEXITY.index(name) if name in BY_COMPLEXITY else len(BY_COMPLEXITY)


def in_paper_order(table: pd.DataFrame) -> pd.DataFrame:
    """Rows and columns whose labels are datasets in the paper's order (EMNIST, FashionMNIST, KMNIST, MNIST,
    Leek10, Leek2), the others in the order they came; for a MultiIndex, by its first level."""
    def order(index: pd.Index) -> list[int]:
        first = index.get_level_values(0)
        return sorted(range(len(index)), key=lambda k: _rank(first[k]))  # stable: the rest keep their order

    return table.iloc[order(table.index), order(table.columns)]


def rounded(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Numbers rounded for display, without "-0.00" (a value just below zero rounds to 0), and "—" where there is
    no value (a pair not run, or whose networks did not learn), never "NaN"; datasets in the paper's order
    (:func:`in_paper_order`)."""
    shown = in_paper_order(table).copy()
    table = shown.copy()
    for column in table.select_dtypes("number").columns:  # names may be tuples (pivot tables)
        values = table[column].round(digits) + 0.0
        shown[column] = values.astype(object).where(values.notna(), "—") if values.isna().any() else values
    return shown


def mean_std(table: pd.DataFrame, by: str, values: list[str], digits: int = 2) -> pd.DataFrame:
    """Mean ± std of ``values`` over the runs of each ``by`` group, as text; "(1 run)" where a group has one
    run and so no spread."""
    grouped = table.groupby(by, sort=False)[values]
    means, stds, counts = grouped.mean() + 0.0, grouped.std(), grouped.size()

    def cell(mean: float, std: float, n: int) -> str:
        if mean != mean:
            return "—"  # no value: not measured for these runs
        return f"{mean:.{digits}f} (1 run)" if n == 1 else f"{mean:.{digits}f} ± {std:.{digits}f}"

    return in_paper_order(pd.DataFrame({v: [cell(m, s, n) for m, s, n in zip(means[v], stds[v], counts)]
                                        for v in values}, index=means.index).assign(runs=counts.to_numpy()))


def mean_std_grid(table: pd.DataFrame, index: str | list[str], columns: str, value: str, digits: int = 2) -> pd.DataFrame:
    """Mean ± std of ``value`` over the runs (repetitions) of each ``index`` x ``columns`` cell, as text: the mean
    alone where a cell has one run, "—" where it has none."""
    stats = {how: table.pivot_table(index=index, columns=columns, values=value, aggfunc=how, sort=False)
             for how in ("mean", "std", "count")}
    means = stats["mean"]
    spread, runs = (stats[k].reindex(index=means.index, columns=means.columns) for k in ("std", "count"))

    def cell(mean: float, std: float, n: float) -> str:
        if mean != mean:
            return "—"
        mean = round(mean, digits) + 0.0  # never "-0.00"
        return f"{mean:.{digits}f}" if n <= 1 else f"{mean:.{digits}f} ± {std:.{digits}f}"

    return in_paper_order(pd.DataFrame([[cell(m, s, n) for m, s, n in zip(*rows)] for rows in
                                        zip(means.to_numpy(), spread.to_numpy(), runs.to_numpy())],
                                       index=means.index, columns=means.columns))


def runs_table(table: pd.DataFrame):
    """The runs of a :func:`summarize` table for a page: what each trained on, why it stopped, whether it learned,
    its accuracy and time, with run ids in full (a pandas table would cut them at 50 characters)."""
    columns = ["run", "dataset", "placement", "pretrain", "iterations", "stop_reason", "own_accuracy", "accuracy",
               "seconds"]
    return rounded(table[columns]).style.hide(axis="index").format(precision=2)
