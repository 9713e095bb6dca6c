"""The paper's experiments as entry points: each trains what is missing of its graph of runs
(:mod:`transinv.protocol` declares them, :mod:`transinv.scheduler` trains them) and returns its runs by role.

Finished runs are reused, so experiments share runs: experiment 3's vanilla MNIST run is experiment 2's.
Also here: where a preset's runs are kept (:func:`results_dir`), and experiment 1's choice of ImageNet network.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple, Sequence

from . import protocol
from .graph import Graph
from .models import MODELS, Classifier
from .presets import Preset, get_preset, with_canvas
from .protocol import PAPER_DATASETS
from .runs import Run, viewable_model
from .scheduler import train_graph

__all__ = ["explorer_models", "PAPER_DATASETS", "choose_datasets", "project_root", "results_dir", "geometry", "imagenet_model",
           "record_imagenet_model", "Transfer", "exp1", "exp2", "exp3"]


def choose_datasets(choice: str | Sequence[str], allowed: Sequence[str] = PAPER_DATASETS) -> list[str]:
    """'all', one name, comma-separated names or a list, checked against ``allowed``."""
    names = list(allowed) if choice == "all" else choice.split(",") if isinstance(choice, str) else list(choice)
    names = [n.strip() for n in names]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise ValueError(f"unknown dataset {', '.join(unknown) or choice!r}: choose 'all' or among {', '.join(allowed)}")
    return names


def results_dir(results_root: str | Path, preset: str | Preset) -> Path:
    """Each preset keeps its runs apart: ``<results_root>/<preset name>``. ``results_root="auto"``: the
    project's ``results/`` when run from inside a clone (its root, ``notebooks/``, ...), else ``./results``."""
    root = project_root() / "results" if results_root == "auto" else Path(results_root).expanduser()
    return root / get_preset(preset).name


def project_root() -> Path:
    """The root of the clone we are run from (its root, ``notebooks/`` or any folder inside), else the current
    folder: where ``results/`` and ``benchmarks/`` are, whichever folder papermill or Jupyter started in."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "transinv" / "__init__.py").is_file():
            return folder
    return here


def geometry(preset: str | Preset, imagenet: bool = False) -> Preset:
    """The canvas of an experiment's runs: the preset's own, or (``imagenet``) the ImageNet model's of experiment 1."""
    preset = get_preset(preset)
    return with_canvas(preset, preset.imagenet_canvas_size) if imagenet else preset


def _check_repetitions(repetitions: int) -> None:
    if not isinstance(repetitions, int) or repetitions < 1:
        raise ValueError(f"repetitions must be a positive integer, but got {repetitions!r}")


# Experiment 1's ImageNet network: a choice, kept with the runs.

CHOICES_FILE = "protocol.json"  # in a preset's results folder: the choices its runs were made with


def read_choices(root: str | Path) -> dict:
    """The choices kept in ``root``'s :data:`CHOICES_FILE` (a preset's results folder): empty where none are."""
    file = Path(root) / CHOICES_FILE
    return json.loads(file.read_text()) if file.is_file() else {}


def record_choice(root: str | Path, **choices) -> None:
    """Keep ``choices`` in ``root``'s :data:`CHOICES_FILE`, beside those already there."""
    kept = read_choices(root)
    if any(kept.get(k) != v for k, v in choices.items()):
        Path(root).mkdir(parents=True, exist_ok=True)
        (Path(root) / CHOICES_FILE).write_text(json.dumps({**kept, **choices}, indent=2) + "\n")


def imagenet_model(preset: str | Preset, root: str | Path, choice: str | None = None) -> str:
    """Experiment 1's ImageNet network for the runs in ``root`` (a preset's results folder): ``choice`` if given,
    else the one recorded there (:func:`record_imagenet_model`), else the preset's (VGG16 at the paper preset, as
    in the paper). A choice other than the recorded one is refused: the pages would mix two networks."""
    recorded = read_choices(root).get("imagenet_model")
    if choice in (None, "recorded"):
        return recorded or get_preset(preset).imagenet_model
    if choice not in MODELS:
        raise ValueError(f"unknown imagenet_model {choice!r}; choose one of {', '.join(MODELS)}")
    if recorded and choice != recorded:
        raise ValueError(f"the runs in {root} were made with imagenet_model={recorded!r} ({CHOICES_FILE}): ask for "
                         f"that one, or keep runs of {choice!r} in another results folder")
    return choice


def record_imagenet_model(root: str | Path, model: str) -> None:
    """Keep the choice of experiment 1's ImageNet network in ``root``'s :data:`CHOICES_FILE`."""
    record_choice(root, imagenet_model=model)


# Running them: each entry point trains what is missing of its graph (transinv.protocol) and returns its runs by
# role; with ``train=False`` it only collects the finished runs (a fine-tuning whose pretraining is not finished is
# then left out too). ``executor``: where the runs train, "local" processes or "slurm" jobs (transinv.executors).

class Transfer(NamedTuple):
    """The runs of a transfer experiment (2 and 3), by role."""
    pretrained: list[Run]   # trained from scratch on the pretraining datasets
    finetuned: list[Run]    # each pretrained run fine-tuned on each dataset at one location
    vanilla: list[Run]      # from scratch at one location on the fine-tuning datasets: the baseline


def _by_role(graph: Graph, experiment: str, results_root: str | Path, **options) -> Transfer:
    found = train_graph(graph, results_root, **options)
    return Transfer(*[[found[n.key] for n in graph.tagged(experiment, role) if n.key in found]
                      for role in ("pretrained", "finetuned", "vanilla")])


def exp1(datasets: Sequence[str], preset: str, repetitions: int, seed: int, results_root: str | Path, *,
         device: str = "auto", train: bool = True, executor: str = "local",
         imagenet: str | None = None) -> list[Run]:
    """Experiment 1's runs: the ImageNet-pretrained and the vanilla network at one location, per dataset;
    ``imagenet``: the ImageNet network (:func:`imagenet_model`)."""
    model = imagenet_model(preset, results_root, imagenet)
    if train:
        record_imagenet_model(results_root, model)
    graph = protocol.experiment1(datasets, preset, repetitions, seed, model)
    found = train_graph(graph, results_root, device=device, train=train, executor=executor)
    return [found[n.key] for n in graph if n.key in found]


def exp2(pretrain: Sequence[str], finetune: Sequence[str], preset: str, repetitions: int, seed: int,
         results_root: str | Path, *, device: str = "auto", need_model: bool = False, train: bool = True,
         executor: str = "local") -> Transfer:
    """Experiment 2's runs: pretrained on fully translated datasets, each fine-tuned at one location; vanilla."""
    graph = protocol.experiment2(pretrain, finetune, preset, repetitions, seed)
    return _by_role(graph, "exp2", results_root, device=device, need_model=need_model, train=train,
                    executor=executor)


def explorer_models(pretrain: str, finetune: str, preset: str, seed: int, results_root: str | Path, *,
                    device: str = "auto", train: bool = True, executor: str = "local") -> dict[str, Classifier]:
    """Experiment 2's fine-tuned and vanilla networks on ``finetune``, by name, to look at: each from its checkpoint
    here, else from the model shipped with the results (checked against its grid table on load), else (if
    ``train``) trained again with its seed, its pretraining first. Empty when they are not here and not ``train``."""
    def shown(need_model: bool) -> dict[str, list[Run]]:
        runs = exp2([pretrain], [finetune], preset, 1, seed, results_root, device=device, need_model=need_model,
                    train=train, executor=executor)
        return {f"pretrained on {pretrain}, fine-tuned": runs.finetuned, "vanilla": runs.vanilla}

    runs = shown(need_model=False)
    if train and not all(r.has_model or r.has_shipped_model for found in runs.values() for r in found):
        runs = shown(need_model=True)
    return {name: viewable_model(r) for name, found in runs.items() for r in found
            if r.has_model or r.has_shipped_model}


def exp3(preset: str, repetitions: int, seed: int, results_root: str | Path, *, device: str = "auto",
         train: bool = True, executor: str = "local") -> Transfer:
    """Experiment 3's runs: EMNIST18 pretrained segregated in 9 areas and fully translated, each fine-tuned on
    MNIST at one location; vanilla MNIST."""
    return _by_role(protocol.experiment3(preset, repetitions, seed), "exp3", results_root, device=device,
                    train=train, executor=executor)
