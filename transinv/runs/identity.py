"""A run's identity: what a configuration asks for, the full configuration it resolves to, and the id that hashes it.

Two configurations that would train different numbers get different ids; a configuration asked for again finds
the same run. The id starts with what it is in words (dataset, placement, init, model, seed), then the hash.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..datasets import DATASETS, data_key, n_classes
from ..models import MODELS
from ..presets import LATER_PRESET_SETTINGS, Preset, get_preset, with_canvas
from ..stimuli import PLACEMENTS
from .directory import Run
from .old_tasks import OLD_TASK_METHODS

__all__ = ["RunConfig", "LATER_SETTINGS", "resolve", "run_id", "describe_run_id"]


@dataclass(frozen=True)
class RunConfig:
    dataset: str                              # one of DATASETS
    placement: str                            # how training items are placed: one of PLACEMENTS
    preset: str | Preset = "small"            # "small", "paper", or a Preset
    classes: tuple[int, ...] | None = None    # train on these classes only (None: all)
    init: str = "vanilla"                     # "vanilla", "imagenet", or the id of a finished run to fine-tune
    model: str | None = None                  # None: the preset's model (or the parent run's)
    freeze_features: bool = False             # fine-tune the classifier layers only
    seed: int = 0
    lr_factor: float = 1.0                    # train at the preset's learning rate times this
    keep_old_task: str | None = None          # fine-tunings: one of OLD_TASK_METHODS ("lwf", "rehearsal")

    def __post_init__(self):  # bad values fail here, before anything is written
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.placement not in PLACEMENTS:
            raise ValueError(f"unknown placement {self.placement!r}; choose one of {', '.join(PLACEMENTS)}")
        if self.model is not None and self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, but got {self.seed!r}")
        if isinstance(self.lr_factor, bool) or not isinstance(self.lr_factor, (int, float)) or not self.lr_factor > 0:
            raise ValueError(f"lr_factor must be a positive number, but got {self.lr_factor!r}")
        if self.keep_old_task is not None:
            if self.keep_old_task not in OLD_TASK_METHODS:
                raise ValueError(f"keep_old_task must be None or one of {', '.join(OLD_TASK_METHODS)}, "
                                 f"but got {self.keep_old_task!r}")
            if self.init in ("vanilla", "imagenet"):
                raise ValueError(f"keep_old_task={self.keep_old_task!r} keeps a pretrained task while fine-tuning: "
                                 f"init must be the id of a finished run, not {self.init!r}")
        if self.classes is not None:
            if len(self.classes) == 0:
                raise ValueError("classes=() selects no class: give the class indices to train on, or None for all")
            if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in self.classes):
                raise ValueError(f"classes must be non-negative integer indices, but got {self.classes!r}")


# Settings added after runs were shared: at these values they are left out of the configuration that a run id
# hashes, so that the runs made before them keep their ids.
LATER_SETTINGS = {"lr_factor": 1.0, "keep_old_task": None}


def resolve(config: RunConfig, results_root: Path, parent_run: Run | None = None) -> tuple[dict, Preset]:
    """The full configuration that identifies a run (every setting that changes its numbers), and its preset
    on the run's own canvas. The dataset is read once per process: the data itself is part of the id
    (:func:`transinv.datasets.data_key`). A fine-tuning's parent must be finished, unless it is given as
    ``parent_run`` (a run still to train: a job that waits for its parent's job is named before it starts)."""
    preset = get_preset(config.preset)
    model, canvas_size, parent = config.model or preset.model, preset.canvas_size, None
    if config.init == "imagenet":
        model = config.model or preset.imagenet_model
        canvas_size = preset.imagenet_canvas_size
    elif config.init != "vanilla":
        if parent_run is not None and parent_run.id != config.init:
            raise ValueError(f"init={config.init!r} is not the id of the parent run given ({parent_run.id})")
        if parent_run is None:
            parent_run = Run(results_root / config.init)
            if not parent_run.finished:
                raise ValueError(f"init={config.init!r} must be 'vanilla', 'imagenet' or the id of a finished run "
                                 f"in {results_root}")
        parent = parent_run.config
        model, canvas_size = parent["model"], parent["canvas_size"]
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    preset = with_canvas(preset, canvas_size)
    if config.lr_factor != 1:
        preset = dataclasses.replace(preset, lr=float(f"{preset.lr * config.lr_factor:.6g}"))  # 3e-05, not 2.99...e-05
    resolved = {**dataclasses.asdict(config), "classes": list(config.classes) if config.classes else None,
                "model": model, "num_classes": len(config.classes) if config.classes else n_classes(config.dataset),
                "canvas_size": canvas_size, "preset_settings": _settings(preset), "parent": parent,
                "data": data_key(config.dataset)}
    if isinstance(config.preset, Preset):  # asked for as a Preset object: its fields, as preset_settings's
        resolved["preset"] = _settings(config.preset)
    for name, default in LATER_SETTINGS.items():
        if resolved[name] == default:
            del resolved[name]
    if config.keep_old_task:
        resolved["old_task"] = dict(OLD_TASK_METHODS[config.keep_old_task].settings)
    return resolved, preset


def _settings(preset: Preset) -> dict:
    settings = dataclasses.asdict(preset)
    return {k: v for k, v in settings.items() if k not in LATER_PRESET_SETTINGS or v != LATER_PRESET_SETTINGS[k]}


def run_id(resolved: dict) -> str:
    """The id of the run with this full configuration (from :func:`resolve`)."""
    digest = hashlib.sha1(json.dumps(resolved, sort_keys=True).encode()).hexdigest()[:10]
    init = resolved["init"] if resolved["init"] in ("vanilla", "imagenet") else "finetuned"
    return f"{resolved['dataset']}-{resolved['placement']}-{init}-{resolved['model']}-s{resolved['seed']}-{digest}"


def describe_run_id(run_id: str) -> dict:
    """What a run id says in words: dataset, placement, init ('vanilla', 'imagenet', 'finetuned'), model, seed."""
    try:
        dataset, placement, init, model, seed, _ = run_id.split("-")
        return {"dataset": dataset, "placement": placement, "init": init, "model": model, "seed": int(seed[1:])}
    except ValueError as error:
        raise ValueError(f"{run_id!r} is not a run id (dataset-placement-init-model-s<seed>-<hash>)") from error
