"""Beyond the paper: does learned invariance survive fine-tuning when forgetting is prevented?

The paper's discussion proposes, without testing it, that invariance is almost always acquired in
pretraining but erased by fine-tuning on complex datasets (catastrophic forgetting), and that a way
of fine-tuning that avoids forgetting would keep it. Here the pairs of experiment 2 where plain
fine-tuning lost the invariance its pretraining had (:func:`forgetting_pairs`, a rule fixed before
these runs), and a control pair where it keeps it (:data:`CONTROL`), are fine-tuned under each of
:data:`CONDITIONS`, all else equal: the same parent, data, batches, stopping rule and seed.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Sequence

import pandas as pd

from . import protocol
from .analysis import run_cosines, vanilla_cosines
from .evaluate import normalized_accuracy
from .experiments import Transfer, read_choices, record_choice
from .protocol import CONDITIONS, CONTROL, Pair
from .runs import Run
from .scheduler import train_graph
from .learned import learned_task
from .tables import mean_std, own_accuracy, summarize
from .verdicts import NEAR_CHANCE, learned

__all__ = ["CONDITIONS", "COLOURS", "Pair", "CONTROL", "forgetting_pairs", "chosen_pairs", "pairs_from_table", "Forgetting",
           "forgetting", "condition_of", "forgetting_table", "by_condition", "forgetting_cosines"]

COLOURS = {"vanilla": "tab:gray", "pretrained": "black",  # the same condition in the same colour on every figure
           **dict(zip(CONDITIONS, ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]))}


def forgetting_pairs(exp2: Transfer) -> list[Pair]:
    """The pairs of experiment 2 where invariance was learned and then lost (:func:`pairs_from_table`)."""
    table = summarize(exp2.finetuned)
    criterion = {p.id: p.result["stop_reason"] == "accuracy" for p in exp2.pretrained}
    return pairs_from_table(table.assign(pretrain_criterion=[criterion.get(r.config["init"], False)
                                                             for r in exp2.finetuned]))


def chosen_pairs(exp2: Transfer, root: str | Path, *, record: bool = False) -> tuple[list[Pair], str | None]:
    """The pairs beyond the paper for the runs in ``root`` (a preset's results folder), and why where they were
    recorded: the choice kept in its :data:`transinv.experiments.CHOICES_FILE` once the experiment's runs were
    made, so that a later change of the rule or of experiment 2's runs does not change the experiment under its
    runs; else :func:`forgetting_pairs` (kept there with ``record``, when there are some)."""
    choices = read_choices(root)
    if "forgetting_pairs" in choices:
        return ([Pair(p, f, pc and tuple(pc), fc and tuple(fc)) for p, f, pc, fc in choices["forgetting_pairs"]],
                choices.get("forgetting_pairs_why"))
    pairs = forgetting_pairs(exp2)
    if record and pairs:
        record_choice(root, forgetting_pairs=[list(p) for p in pairs],
                      forgetting_pairs_why="chosen by the rule on experiment 2's finished runs when this experiment's "
                                           "runs were first trained")
    return pairs, None


def pairs_from_table(table: pd.DataFrame) -> list[Pair]:
    """The rule, fixed in advance, on experiment 2's fine-tunings (a :func:`transinv.tables.summarize` table with
    ``pretrain_criterion``: whether the pretraining stopped on the authors' training-accuracy criterion): the
    pretraining stopped on that criterion and learned its task (:func:`transinv.learned.learned_task`); the plain
    fine-tuning, on another dataset, learned its task; and its
    normalized accuracy away from the trained location, averaged over the repetitions, is below
    :data:`transinv.verdicts.NEAR_CHANCE`. In the table's order."""
    table = table[table["pretrain_criterion"] & learned(table) & (table["pretrain"] != table["dataset"])]
    away = table.groupby(["pretrain", "dataset"], sort=False)["away_normalized"].mean()
    return [Pair(pretrain, finetune) for (pretrain, finetune), value in away.items() if value < NEAR_CHANCE]


class Forgetting(NamedTuple):
    pairs: list[Pair]
    pretrained: list[Run]
    finetuned: list[Run]   # every condition; :func:`condition_of` says which


def forgetting(pairs: Sequence[Pair], preset: str, repetitions: int, seed: int, results_root: str | Path, *,
               device: str = "auto", train: bool = True, executor: str = "local") -> Forgetting:
    """Train (or, ``train=False``, collect) the pretrainings of ``pairs``, then every fine-tuning condition
    (:func:`transinv.protocol.beyond_the_paper`)."""
    graph = protocol.beyond_the_paper(pairs, preset, repetitions, seed)
    found = train_graph(graph, results_root, device=device, train=train, executor=executor)
    pretrained = graph.tagged("beyond", "pretrained")
    runs = [[found[n.key] for n in nodes if n.key in found]
            for nodes in (pretrained, [n for n in graph.tagged("beyond") if n not in pretrained])]
    return Forgetting(list(pairs), *runs)


def condition_of(config: dict) -> str:
    """Which of :data:`CONDITIONS` a fine-tuning's configuration is."""
    for name, settings in reversed(CONDITIONS.items()):  # "plain" ({}) last: it matches every configuration
        if all(config.get(key) == value for key, value in settings.items()):
            return name
    raise AssertionError("unreachable: 'plain' matches every configuration")


def _as_tuple(classes) -> tuple[int, ...] | None:
    return tuple(classes) if classes else None


def _pair_of(r: Run) -> Pair:
    parent, config = r.config["parent"], r.config
    return Pair(parent["dataset"], config["dataset"], _as_tuple(parent["classes"]), _as_tuple(config["classes"]))


def forgetting_table(result: Forgetting) -> pd.DataFrame:
    """One row per fine-tuned network: its pair and condition, the :func:`transinv.tables.summarize` columns,
    its normalized accuracy at the trained location, and its mean cosine similarity away from the trained
    location before fine-tuning (its pretrained parent's) and after."""
    table = summarize(result.finetuned)
    if table.empty:
        return table.assign(pair=[], condition=[], control=[], at_normalized=[], cosine_before=[], cosine_after=[])
    cosines = forgetting_cosines(result)
    away = cosines[cosines["dx"] > 0].groupby(["pair", "condition", "seed"])["cosine"].mean()
    of_each = [_pair_of(r) for r in result.finetuned]
    pairs = [pair.name for pair in of_each]
    conditions = [condition_of(r.config) for r in result.finetuned]
    return table.assign(
        pair=pairs, condition=conditions, control=[pair == CONTROL for pair in of_each],
        at_normalized=normalized_accuracy(table["at_trained"], table["n_classes"]),
        cosine_before=[away.get((p, "pretrained", s), float("nan")) for p, s in zip(pairs, table["seed"])],
        cosine_after=[away.get((p, c, s), float("nan")) for p, c, s in zip(pairs, conditions, table["seed"])])


def by_condition(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`forgetting_table`'s networks by pair and condition (in the order of :data:`CONDITIONS`): how many
    learned their new task, and the mean ± std over seeds of every network's measures, learned or not."""
    rank = {name: k for k, name in enumerate([*dict.fromkeys(table["pair"]), *CONDITIONS])}
    ordered = table.sort_values(["pair", "condition"], key=lambda column: column.map(rank), kind="stable")
    numbers = mean_std(ordered, ["pair", "condition"],
                       ["at_normalized", "away_normalized", "cosine_before", "cosine_after", "iterations"])
    counts = ordered.assign(learned=learned(ordered)).groupby(["pair", "condition"], sort=False)["learned"].sum()
    numbers.insert(0, "learned", [f"{k} of {n}" for k, n in zip(counts, numbers["runs"])])
    return numbers.drop(columns="runs")


def forgetting_cosines(result: Forgetting) -> pd.DataFrame:
    """Cosine similarity versus displacement (:func:`transinv.analysis.cosine_similarity`) on each pair's
    fine-tuning items: of the vanilla network, of the pretrained one, and of the network fine-tuned under each
    condition. One row per (pair, condition, seed, class, x), with ``own_accuracy`` and ``own_learned`` (NaN for
    vanilla networks)."""
    parts, before, vanilla = [], set(), {}
    for r in result.finetuned:
        pair, seed = _pair_of(r), r.config["seed"]
        classes = list(pair.finetune_classes) if pair.finetune_classes else None
        parent = r.parent
        networks = [(condition_of(r.config), r)]
        if (pair, seed) not in before:  # the pretrained and vanilla networks once per pair and seed
            before.add((pair, seed))
            networks += [("pretrained", parent), ("vanilla", None)]
        for condition, network in networks:
            if network is None:
                key = (pair.finetune, pair.finetune_classes, seed)
                if key not in vanilla:
                    vanilla[key] = vanilla_cosines(pair.finetune, r.preset, seed=seed, classes=classes,
                                                   results_root=r.path.parent)
                table = vanilla[key]
            else:
                table = run_cosines(network, pair.finetune, classes=classes)
            parts.append(table.assign(pair=pair.name, condition=condition, seed=seed,
                                      own_accuracy=own_accuracy(network) if network else float("nan"),
                                      own_learned=learned_task(network) if network else float("nan")))
    columns = ["label", "class", "x", "dx", "cosine", "pair", "condition", "seed", "own_accuracy", "own_learned"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)

