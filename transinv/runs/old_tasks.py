"""The ways a fine-tuning can keep its pretrained task, by name: a registry that ``transinv.retention`` fills.

Runs know only what a way adds to a run's configuration (its settings, so its id) and how to build the loss
term it trains with; what the term is lives with the method (:mod:`transinv.retention`), which registers it
when imported (``transinv/__init__.py`` imports it, so before any run is configured).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import torch
from torch import Tensor, nn

from ..models import Classifier
from ..presets import Preset
from ..stimuli import ItemBank

__all__ = ["KeptTask", "OldTaskMethod", "OLD_TASK_METHODS", "register_old_task"]


class KeptTask(Protocol):
    """The pretrained task while fine-tuning: a second head, trained and saved with the run, and its loss term."""
    head: nn.Module

    def loss(self, model: Classifier, generator: torch.Generator) -> Tensor: ...


@dataclass(frozen=True)
class OldTaskMethod:
    settings: dict  # what a run keeping its old task this way also trains with: part of its configuration and id
    # (parent run's config, pretrained model, the new task's items, preset) -> the old task to train alongside
    build: Callable[[dict, Classifier, ItemBank, Preset], KeptTask]


OLD_TASK_METHODS: dict[str, OldTaskMethod] = {}


def register_old_task(name: str, settings: dict, build: Callable[[dict, Classifier, ItemBank, Preset], KeptTask]):
    """Make ``RunConfig(keep_old_task=name)`` valid. A name keeps its settings once registered: they are in run ids."""
    known = OLD_TASK_METHODS.get(name)
    if known is not None and known.settings != settings:
        raise ValueError(f"keep_old_task {name!r} is registered already, with other settings: {known.settings}")
    OLD_TASK_METHODS[name] = OldTaskMethod(dict(settings), build)
