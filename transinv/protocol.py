"""The whole protocol, as one graph of runs (:mod:`transinv.graph`): every experiment declares its runs here.

- Experiment 1: a network pretrained on ImageNet, and the same architecture untrained, each trained at one
  location on each dataset.
- Experiment 2: networks trained from scratch on fully translated items (pretrainings), each fine-tuned at one
  location on each dataset; networks trained from scratch at one location (vanilla), the baseline.
- Experiment 3: EMNIST18 pretrained segregated in 9 areas, and fully translated as its control, each fine-tuned
  on MNIST at one location; vanilla MNIST (experiment 2's).
- The cosine analysis reads experiment 2's networks: a pretraining on each of its fine-tunings' items, a
  fine-tuning on its own, and an untrained network on each dataset.
- Beyond the paper (an option): pairs of experiment 2 whose plain fine-tuning lost the invariance, and a control
  pair, fine-tuned under each of :data:`CONDITIONS`.
- Architectures (an option, issue 28): each of :data:`ARCHITECTURES` trained at one location on each of
  :data:`ARCHITECTURE_DATASETS`, and pretrained fully translated then fine-tuned at one location on two of them.

Runs that several experiments use are one node (experiment 3's vanilla MNIST is experiment 2's), so counts come
from the graph: ``len(repetition(...))`` runs make one repetition. :mod:`transinv.scheduler` trains a graph.

Where a repetition submitted to Slurm stands (per experiment: runs finished, running, queued, failed, not
submitted; the log of each failed job)::

    python -m transinv.protocol status --preset paper --seed 0
"""
from __future__ import annotations

import argparse
from typing import Iterable, NamedTuple, Sequence

from .datasets import BY_COMPLEXITY
from .graph import PARENT, Graph, Items, VanillaTable
from .models import MODELS
from .presets import get_preset
from .runs import RunConfig

__all__ = ["PAPER_DATASETS", "CONDITIONS", "Pair", "CONTROL", "experiment1", "experiment2", "experiment3",
           "cosine_analysis", "beyond_the_paper", "ARCHITECTURES", "ARCHITECTURE_DATASETS", "DEFAULT_PRETRAINING",
           "architecture_finetunings", "architectures", "repetition"]

PAPER_DATASETS = BY_COMPLEXITY  # the six datasets of experiments 1-2, in the paper's order (most complex first)

CONDITIONS = {  # beyond the paper: name -> the RunConfig settings of the fine-tuning (transinv.retention)
    "plain": {},                                    # the paper's
    "frozen features": {"freeze_features": True},   # only the classifier layers train
    "lr / 10": {"lr_factor": 0.1},                  # the preset's learning rate, divided by 10
    "LwF": {"keep_old_task": "lwf"},                # Learning without Forgetting (Li & Hoiem 2016)
    "rehearsal": {"keep_old_task": "rehearsal"},    # pretraining canvases mixed into fine-tuning
}

# Which runs start first, among those that can: pretrainings (the longest, and their fine-tunings wait for them),
# fine-tunings (experiment 3's, then 2's), runs at one location from scratch, experiment 1; beyond the paper last.
PRETRAIN, FINETUNE_EXP3, FINETUNE_EXP2, VANILLA, IMAGENET, VANILLA_IMAGENET_MODEL, BEYOND, ARCHITECTURE = range(8)

# Architectures: which are invariant by design (at one location, from scratch), and which learn it (pretrained).
ARCHITECTURES = ("vgg16_small", "vgg16_bn_small", "vgg16_bn_gap_small", "vgg16_bn_blurpool_small", "resnet18_small",
                 "densenet121_small", "vit_small")
ARCHITECTURE_DATASETS = ("mnist", "kmnist", "fmnist")  # each architecture at one location from scratch on these
# The pretraining where the results hold no choice (transinv.architectures.chosen_pretraining picks the one that
# transferred best in experiment 2): EMNIST transferred best in the paper, and at the laptop preset (seed 0).
DEFAULT_PRETRAINING = "emnist"


class Pair(NamedTuple):
    """Beyond the paper: a pretraining (fully translated) and a fine-tuning (at one location)."""
    pretrain: str
    finetune: str
    pretrain_classes: tuple[int, ...] | None = None  # None: all classes
    finetune_classes: tuple[int, ...] | None = None

    @property
    def name(self) -> str:
        def side(dataset, classes):
            return dataset if classes is None else f"{dataset} {min(classes)}-{max(classes)}"
        return f"{side(self.pretrain, self.pretrain_classes)} → {side(self.finetune, self.finetune_classes)}"


CONTROL = Pair("mnist", "mnist", (0, 1, 2, 3, 4), (5, 6, 7, 8, 9))  # the science test's: plain fine-tuning keeps it


def _seeds(repetitions: int, seed: int) -> range:
    if not isinstance(repetitions, int) or isinstance(repetitions, bool) or repetitions < 1:
        raise ValueError(f"repetitions must be a positive integer, but got {repetitions!r}")
    return range(seed, seed + repetitions)


def experiment1(datasets: Iterable[str], preset: str, repetitions: int, seed: int, imagenet_model: str) -> Graph:
    """An ImageNet network (``imagenet_model``) and the same architecture untrained, at one location."""
    model = None if imagenet_model == get_preset(preset).model else imagenet_model  # then experiment 2's vanilla
    graph = Graph()
    for s in _seeds(repetitions, seed):
        for d in datasets:
            graph.add(RunConfig(d, "one_location", preset, init="imagenet", model=imagenet_model, seed=s),
                      tag=("exp1", "imagenet"), priority=IMAGENET)
            graph.add(RunConfig(d, "one_location", preset, model=model, seed=s), tag=("exp1", "vanilla"),
                      priority=VANILLA_IMAGENET_MODEL)
    return graph


def _transfer(experiment: str, pretrain: Sequence[RunConfig], finetune: Sequence[str], preset: str,
              seeds: range, priority: int, tables: bool = False) -> Graph:
    """Pretrainings, each fine-tuned on each of ``finetune`` at one location (same seed), and the vanilla
    baseline; ``tables``: with the cosine analysis's tables."""
    graph = Graph()
    for config in pretrain:
        parent = graph.add(config, tag=(experiment, "pretrained"), priority=PRETRAIN,
                           tables=[Items(d) for d in finetune] if tables else ())
        for d in finetune:
            graph.add(RunConfig(d, "one_location", preset, init=PARENT, seed=config.seed), parent,
                      tag=(experiment, "finetuned"), tables=[Items(d)] if tables else (), priority=priority)
    for s in seeds:
        for d in finetune:
            graph.add(RunConfig(d, "one_location", preset, seed=s), tag=(experiment, "vanilla"), priority=VANILLA)
            if tables:
                graph.vanilla_tables[VanillaTable(Items(d), preset, s)] = None
    return graph


def experiment2(pretrain: Iterable[str], finetune: Sequence[str], preset: str, repetitions: int,
                seed: int) -> Graph:
    """Pretrained on fully translated datasets, each fine-tuned at one location; vanilla at one location."""
    seeds = _seeds(repetitions, seed)
    configs = [RunConfig(d, "translated", preset, seed=s) for s in seeds for d in pretrain]
    return _transfer("exp2", configs, finetune, preset, seeds, FINETUNE_EXP2)


def cosine_analysis(pretrain: Iterable[str], finetune: Sequence[str], preset: str, repetitions: int,
                    seed: int) -> Graph:
    """Experiment 2's networks, with the tables the cosine analysis reads (and the untrained networks')."""
    seeds = _seeds(repetitions, seed)
    configs = [RunConfig(d, "translated", preset, seed=s) for s in seeds for d in pretrain]
    return _transfer("cosine", configs, finetune, preset, seeds, FINETUNE_EXP2, tables=True)


def experiment3(preset: str, repetitions: int, seed: int) -> Graph:
    """EMNIST18 pretrained segregated in 9 areas, and fully translated, each fine-tuned on MNIST; vanilla MNIST."""
    seeds = _seeds(repetitions, seed)
    configs = [RunConfig("emnist18", placement, preset, seed=s) for s in seeds for placement in ("areas", "translated")]
    return _transfer("exp3", configs, ["mnist"], preset, seeds, FINETUNE_EXP3)


def beyond_the_paper(pairs: Sequence[Pair], preset: str, repetitions: int, seed: int,
                     conditions: Sequence[str] = tuple(CONDITIONS)) -> Graph:
    """Each pair's pretraining, fine-tuned under each condition (the same parent, data, batches, stopping rule
    and seed), with the cosine tables of the pair's fine-tuning items: by condition first, so that a budget cut
    leaves whole conditions."""
    graph, parents = Graph(), {}
    for s in _seeds(repetitions, seed):
        for pair in pairs:
            config = RunConfig(pair.pretrain, "translated", preset, classes=pair.pretrain_classes, seed=s)
            parents[pair, s] = graph.add(config, tag=("beyond", "pretrained"), priority=PRETRAIN,
                                         tables=[Items(pair.finetune, pair.finetune_classes)])
            graph.vanilla_tables[VanillaTable(Items(pair.finetune, pair.finetune_classes), preset, s)] = None
    for condition in conditions:
        for pair, s in sorted(parents, key=lambda key: pairs.index(key[0])):  # stable: seeds in order
            parent = parents[pair, s]
            config = RunConfig(pair.finetune, "one_location", preset, classes=pair.finetune_classes, init=PARENT,
                               seed=s, **CONDITIONS[condition])
            graph.add(config, parent, tag=("beyond", condition), tables=[Items(pair.finetune, pair.finetune_classes)],
                      priority=BEYOND)
    return graph


def architecture_finetunings(pretrain: str) -> tuple[str, str]:
    """The two datasets that a pretraining on ``pretrain`` is fine-tuned on: the first two of
    :data:`ARCHITECTURE_DATASETS` other than it."""
    others = tuple(d for d in ARCHITECTURE_DATASETS if d != pretrain)
    return others[0], others[1]


def architectures(preset: str, seed: int, architectures: Sequence[str] = ARCHITECTURES,
                  pretrain: str = DEFAULT_PRETRAINING, repetitions: int = 1) -> Graph:
    """Each architecture trained from scratch at one location on each of :data:`ARCHITECTURE_DATASETS`, and
    pretrained fully translated on ``pretrain``, then fine-tuned at one location on
    :func:`architecture_finetunings`, with the cosine tables (its untrained networks' too). The preset's own model's
    runs are experiment 2's."""
    unknown = [a for a in architectures if a not in MODELS]
    if unknown or not architectures:
        raise ValueError(f"architectures must be some of {', '.join(MODELS)}, but got {list(architectures)!r}")
    own_model, finetune = get_preset(preset).model, architecture_finetunings(pretrain)
    graph = Graph()
    for s in _seeds(repetitions, seed):
        for architecture in architectures:
            model = None if architecture == own_model else architecture  # then experiment 2's runs
            for d in ARCHITECTURE_DATASETS:
                graph.add(RunConfig(d, "one_location", preset, model=model, seed=s), tag=("architectures", "vanilla"),
                          tables=[Items(d)], priority=ARCHITECTURE)
                graph.vanilla_tables[VanillaTable(Items(d), preset, s, model)] = None
            parent = graph.add(RunConfig(pretrain, "translated", preset, model=model, seed=s),
                               tag=("architectures", "pretrained"), tables=[Items(d) for d in finetune],
                               priority=PRETRAIN)
            for d in finetune:
                graph.add(RunConfig(d, "one_location", preset, init=PARENT, seed=s), parent,
                          tag=("architectures", "finetuned"), tables=[Items(d)], priority=ARCHITECTURE)
    return graph


def repetition(preset: str, seed: int, imagenet_model: str, pairs: Sequence[Pair] = ()) -> Graph:
    """One repetition of the whole protocol (one seed): experiments 1-3 and the cosine analysis; with ``pairs``,
    this seed's runs beyond the paper."""
    datasets = list(PAPER_DATASETS)
    graph = (experiment3(preset, 1, seed) | experiment2(datasets, datasets, preset, 1, seed)
             | cosine_analysis(datasets, datasets, preset, 1, seed) | experiment1(datasets, preset, 1, seed,
                                                                                  imagenet_model))
    return graph | beyond_the_paper(pairs, preset, 1, seed) if pairs else graph


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The protocol's runs on a Slurm cluster")
    commands = parser.add_subparsers(dest="command", required=True)
    see = commands.add_parser("status", help="per experiment of a repetition: runs finished, running, queued, "
                                             "failed, not submitted; and the logs of the failed jobs")
    see.add_argument("--preset", default="paper")
    see.add_argument("--seed", type=int, default=0)
    see.add_argument("--results", default="results")
    see.add_argument("--beyond", action="store_true", help="also the runs beyond the paper (as submitted with it)")
    see.add_argument("--architectures", action="store_true", help="also the architectures' runs (the same)")
    args = parser.parse_args(argv)
    from .executors import locate_options  # here: they import this module
    from .experiments import results_dir
    from .repetition import architectures_pretraining, beyond_pairs, graph
    from .slurm_grid import status, status_lines
    pairs = beyond_pairs(args.preset, args.results) if args.beyond else ()
    pretrain = architectures_pretraining(args.preset, args.results, record=False) if args.architectures else None
    work = graph(args.preset, args.seed, args.results, pairs=pairs, architectures_pretrain=pretrain)
    try:
        counts, failures = status(work, results_dir(args.results, args.preset), locate_options("slurm"))
    except RuntimeError as error:  # Slurm's commands missing, or no controller to answer them
        parser.exit(1, f"status needs Slurm's queue, and could not read it: {error}\n")
    print("\n".join(status_lines(counts, failures)))


if __name__ == "__main__":
    main()
