"""Beyond the paper (issue 28): which architectures are invariant by design, and which learn it.

Each of :data:`transinv.protocol.ARCHITECTURES` is trained from scratch at one location (invariant by design if it
then recognises items elsewhere), and pretrained fully translated on the pretraining that transferred best in
experiment 2 (:func:`chosen_pretraining`), then fine-tuned at one location on two other datasets (does it learn
invariance, and keep it?). :func:`transinv.protocol.architectures` declares the runs.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Sequence

import pandas as pd

from . import protocol
from .analysis import run_cosines, vanilla_cosines
from .experiments import Transfer, read_choices, record_choice
from .protocol import ARCHITECTURES, DEFAULT_PRETRAINING
from .runs import Run
from .scheduler import train_graph
from .tables import summarize
from .verdicts import learned

__all__ = ["best_pretraining", "chosen_pretraining", "Architectures", "architectures", "architecture_table",
           "architecture_cosines"]


def best_pretraining(exp2: Transfer) -> str | None:
    """The pretraining of experiment 2 whose fine-tunings on other datasets, those that learned their task (and
    whose pretraining learned its own), have the highest mean normalized accuracy away from the trained location;
    None where no such fine-tuning is finished."""
    table = summarize(exp2.finetuned)
    if table.empty:
        return None
    table = table[learned(table) & (table["pretrain"] != table["dataset"])]
    away = table.groupby("pretrain", sort=False)["away_normalized"].mean()
    return None if away.empty else str(away.idxmax())


def chosen_pretraining(exp2: Transfer, root: str | Path, *, record: bool = False) -> tuple[str, str]:
    """The pretraining of the architectures' runs in ``root`` (a preset's results folder), and why: the choice kept
    in its :data:`transinv.experiments.CHOICES_FILE` once their runs were made; else :func:`best_pretraining` (kept
    there with ``record``); else :data:`transinv.protocol.DEFAULT_PRETRAINING`, kept nowhere."""
    choices = read_choices(root)
    if "architectures_pretraining" in choices:
        return choices["architectures_pretraining"], choices.get("architectures_pretraining_why", "recorded")
    best = best_pretraining(exp2)
    if best is None:
        return DEFAULT_PRETRAINING, "experiment 2 has no finished fine-tunings here: the default"
    why = "transferred best in experiment 2's finished runs when the architectures' runs were first trained"
    if record:
        record_choice(root, architectures_pretraining=best, architectures_pretraining_why=why)
    return best, why


class Architectures(NamedTuple):
    """The runs of the architectures' experiment, by role; each run's ``config["model"]`` says its architecture."""
    vanilla: list[Run]      # from scratch at one location
    pretrained: list[Run]   # fully translated
    finetuned: list[Run]    # each pretrained run fine-tuned at one location


def architectures(preset: str, repetitions: int, seed: int, results_root: str | Path, *,
                  architectures: Sequence[str] = ARCHITECTURES, pretrain: str = DEFAULT_PRETRAINING,
                  device: str = "auto", train: bool = True, executor: str = "local") -> Architectures:
    """Train (or, ``train=False``, collect the finished) runs of :func:`transinv.protocol.architectures`."""
    graph = protocol.architectures(preset, seed, architectures, pretrain, repetitions)
    found = train_graph(graph, results_root, device=device, train=train, executor=executor)
    return Architectures(*([found[n.key] for n in graph.tagged("architectures", role) if n.key in found]
                           for role in ("vanilla", "pretrained", "finetuned")))


def architecture_table(result: Architectures) -> pd.DataFrame:
    """One row per network trained at one location (from scratch, "vanilla", or fine-tuned, "fine-tuned"): its
    condition and the :func:`transinv.tables.summarize` columns (``model`` is its architecture)."""
    parts = [summarize(runs).assign(condition=condition) for condition, runs in
             (("vanilla", result.vanilla), ("fine-tuned", result.finetuned)) if runs]
    return pd.concat(parts, ignore_index=True) if parts else summarize([]).assign(condition=[])


def architecture_cosines(result: Architectures) -> pd.DataFrame:
    """Cosine similarity versus displacement on each fine-tuning's items, per architecture: of the untrained
    network, the network trained there at one location, the pretrained one and the fine-tuned one. One row per
    (architecture, dataset, condition, seed, class, x)."""
    vanilla = {(r.config["model"], r.config["dataset"], r.config["seed"]): r for r in result.vanilla}
    parts = []
    for f in result.finetuned:
        model, dataset, seed = f.config["model"], f.config["dataset"], f.config["seed"]
        networks = {"untrained": None, "one location": vanilla.get((model, dataset, seed)), "pretrained": f.parent,
                    "fine-tuned": f}
        for condition, network in networks.items():
            if network is None and condition != "untrained":
                continue
            table = (vanilla_cosines(dataset, f.preset, seed=seed, results_root=f.path.parent, model=model)
                     if network is None else run_cosines(network, dataset))
            parts.append(table.assign(architecture=model, dataset=dataset, condition=condition, seed=seed))
    columns = ["label", "class", "x", "dx", "cosine", "architecture", "dataset", "condition", "seed"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
