"""The paper's three experiments, each as the list of runs it needs and one entry point that runs them.

``exp1``, ``exp2`` and ``exp3`` train what is not finished yet (finished runs are reused, so
experiments share runs: experiment 3's vanilla MNIST run is experiment 2's) and return their runs
by role. The ``*_configs`` functions only list the runs.
"""
from __future__ import annotations

import socket
from functools import lru_cache
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

from .models import vgg16_weights_cached
from .parallel import run_all
from .presets import Preset, get_preset, with_canvas
from .runs import Run, RunConfig

__all__ = ["PAPER_DATASETS", "choose_datasets", "project_root", "results_dir", "geometry", "imagenet_model",
           "exp1_configs", "pretrain_configs",
           "finetune_configs", "exp3_configs", "Transfer", "exp1", "exp2", "exp3"]

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


# The runs of each experiment.

def imagenet_model(preset: str | Preset) -> str:
    """Experiment 1's ImageNet model: the preset's, except that without torchvision's VGG16 weights in its
    cache and no way to download them (offline) the paper preset uses the ImageNet EfficientNet-Lite0,
    whose weights install with the package."""
    model = get_preset(preset).imagenet_model
    if model == "vgg16" and not vgg16_weights_cached() and not _online():
        return "efficientnet_lite0"
    return model


@lru_cache(maxsize=1)  # asked once per process, not by every call that lists experiment 1's runs
def _online() -> bool:
    try:
        socket.create_connection(("download.pytorch.org", 443), timeout=3).close()
        return True
    except OSError:
        return False


def exp1_configs(datasets: Iterable[str], preset: str, repetitions: int, seed: int = 0) -> list[RunConfig]:
    """Experiment 1: the ImageNet model (:func:`imagenet_model`), pretrained or vanilla (same architecture),
    trained at one location."""
    _check_repetitions(repetitions)
    model = imagenet_model(preset)
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


# Running them.

class Transfer(NamedTuple):
    """The runs of a transfer experiment (2 and 3), by role."""
    pretrained: list[Run]   # trained from scratch on the pretraining datasets
    finetuned: list[Run]    # each pretrained run fine-tuned on each dataset at one location
    vanilla: list[Run]      # from scratch at one location on the fine-tuning datasets: the baseline


# Each entry point trains what is missing; with ``train=False`` it only collects the finished runs (a
# fine-tuning whose pretraining is not finished is then left out too). ``executor``: where the runs train,
# "local" processes or "slurm" jobs (transinv.executors).

def exp1(datasets: Sequence[str], preset: str, repetitions: int, seed: int, results_root: str | Path, *,
         device: str = "auto", train: bool = True, executor: str = "local") -> list[Run]:
    """Experiment 1's runs: the ImageNet-pretrained and the vanilla network at one location, per dataset."""
    return run_all(exp1_configs(datasets, preset, repetitions, seed), results_root, device=device, train=train,
                   executor=executor)


def _transfer(pretrain: list[RunConfig], finetune: Sequence[str], preset: str, repetitions: int, seed: int,
              results_root: str | Path, **options) -> Transfer:
    pretrained = run_all(pretrain, results_root, **options)  # finished before their fine-tunings are submitted
    finetuned = run_all(finetune_configs(pretrained, finetune, preset), results_root, **options)
    vanilla = run_all(pretrain_configs(finetune, preset, repetitions, seed, "one_location"), results_root, **options)
    return Transfer(pretrained, finetuned, vanilla)


def exp2(pretrain: Sequence[str], finetune: Sequence[str], preset: str, repetitions: int, seed: int,
         results_root: str | Path, *, device: str = "auto", need_model: bool = False, train: bool = True,
         executor: str = "local") -> Transfer:
    """Experiment 2's runs: pretrained on fully translated datasets, each fine-tuned at one location; vanilla."""
    return _transfer(pretrain_configs(pretrain, preset, repetitions, seed), finetune, preset, repetitions, seed,
                     results_root, device=device, need_model=need_model, train=train, executor=executor)


def exp3(preset: str, repetitions: int, seed: int, results_root: str | Path, *, device: str = "auto",
         train: bool = True, executor: str = "local") -> Transfer:
    """Experiment 3's runs: EMNIST18 pretrained segregated in 9 areas and fully translated, each fine-tuned on
    MNIST at one location; vanilla MNIST."""
    return _transfer(exp3_configs(preset, repetitions, seed), ["mnist"], preset, repetitions, seed, results_root,
                     device=device, train=train, executor=executor)
