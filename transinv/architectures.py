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
from .analysis import (kept_vanilla_representation, mean_readout_away, run_cosines, run_representation,
                       vanilla_cosines)
from .evaluate import normalized_accuracy
from .experiments import Transfer, read_choices, record_choice
from .protocol import ARCHITECTURES, DEFAULT_PRETRAINING
from .learned import learned_task
from .runs import Run
from .scheduler import train_graph
from .tables import summarize
from .verdicts import READOUT_LAYER, learned

__all__ = ["best_pretraining", "chosen_pretraining", "Architectures", "architectures", "architecture_table",
           "COLOURS", "architecture_cosines", "architecture_readout", "readout_layer", "by_architecture"]


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


# The four networks of each fine-tuning's items, in the colours of the cosine page where it has them.
COLOURS = {"untrained": "tab:blue", "one location": "tab:purple", "pretrained": "tab:orange", "fine-tuned": "tab:green"}


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
    (architecture, dataset, condition, seed, class, x); ``learned``: whether the network is evidence
    (:func:`_evidence`). A network trained elsewhere without this table, and shared without its model, is left
    out (experiment 2's networks at one location from scratch have no table on their own items)."""
    def table(network, model, dataset, seed, preset, root):
        if network is None:
            return vanilla_cosines(dataset, preset, seed=seed, results_root=root, model=model)
        return run_cosines(network, dataset, compute=network.has_model)  # None: shared without it

    columns = ["label", "class", "x", "dx", "cosine", "architecture", "dataset", "condition", "seed", "learned"]
    return _by_network(result, table, columns)


def readout_layer(layers) -> str:
    """The layer whose read-out stands for an architecture: the authors' (fc7 after its ReLU) where it has one,
    else its named penultimate layer (:func:`transinv.representation.probe_layers`)."""
    return READOUT_LAYER if READOUT_LAYER in set(layers) else "penultimate"


def architecture_readout(result: Architectures) -> pd.DataFrame:
    """The linear read-out of :mod:`transinv.representation` at each architecture's :func:`readout_layer`, on each
    fine-tuning's items: normalized accuracy at and away from the trained location, one row per (architecture,
    dataset, condition, seed), conditions as in :func:`architecture_cosines`. Networks whose read-out was not
    kept (trained without their model at hand, or untrained ones whose tables were not made with the runs) are
    left out; nothing is computed or written."""
    def table(network, model, dataset, seed, preset, root):
        tables = (kept_vanilla_representation(dataset, preset, seed=seed, results_root=root, model=model)
                  if network is None else run_representation(network, dataset, compute=False))
        if tables is None:
            return None
        readout = tables["readout"]
        return readout[readout["layer"] == readout_layer(readout["layer"])]

    keys = ["architecture", "dataset", "condition", "seed", "learned", "layer"]
    rows = _by_network(result, table, ["layer", "x", "dx", "label", "class", "n", "correct"] + keys[:-1])
    return mean_readout_away(rows, keys)


def _evidence(network: Run | None) -> bool:
    """Whether a network's tables are evidence: untrained ones always; a trained one that learned its task (and
    whose pretraining did, if it had one)."""
    if network is None:
        return True
    return bool(learned_task(network)) and (not network.is_finetuning or bool(learned_task(network.parent)))


def _by_network(result: Architectures, table, columns: list[str]) -> pd.DataFrame:
    """``table(network, model, dataset, seed, preset, results folder)`` (``network`` None: untrained) for each
    fine-tuning's four networks, concatenated with their architecture, dataset, condition and seed."""
    vanilla = {(r.config["model"], r.config["dataset"], r.config["seed"]): r for r in result.vanilla}
    parts = []
    for f in result.finetuned:
        model, dataset, seed = f.config["model"], f.config["dataset"], f.config["seed"]
        networks = {"untrained": None, "one location": vanilla.get((model, dataset, seed)), "pretrained": f.parent,
                    "fine-tuned": f}
        for condition, network in networks.items():
            if network is None and condition != "untrained":
                continue
            part = table(network, model, dataset, seed, f.preset, f.path.parent)
            if part is not None:
                parts.append(part.assign(architecture=model, dataset=dataset, condition=condition, seed=seed,
                                         learned=_evidence(network)))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def by_architecture(table: pd.DataFrame) -> pd.DataFrame:
    """Per architecture and condition (from :func:`architecture_table`): how many networks learned their task,
    and, over those that did, mean ± std over datasets and seeds of the normalized accuracy at the trained
    location and away from it."""
    if table.empty:
        return pd.DataFrame(columns=["architecture", "condition", "learned", "at the trained location", "away"])
    evidence = learned(table)

    def mean_std(values: pd.Series) -> str:
        return "n/a" if values.empty else f"{values.mean():.0f} ± {values.std():.0f}" if len(values) > 1 else (
            f"{values.mean():.0f}")

    rows = []
    for (model, condition), part in table.groupby(["model", "condition"], sort=False):
        kept = part[evidence[part.index]]
        rows.append({"architecture": model, "condition": condition, "learned": f"{len(kept)} of {len(part)}",
                     "at the trained location": mean_std(normalized_accuracy(kept["at_trained"], kept["n_classes"])),
                     "away": mean_std(kept["away_normalized"])})
    return pd.DataFrame(rows).set_index(["architecture", "condition"])
