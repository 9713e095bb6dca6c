"""Fine-tuning that keeps the pretrained task (beyond the paper: is invariance lost to catastrophic forgetting?).

Both methods give the network being fine-tuned a second head, the pretrained network's own last layer,
which trains alongside the new head on a second term of the loss:

- ``"lwf"``, Learning without Forgetting (Li & Hoiem 2016): the new task's items, fully translated, go through
  the network and its old head; the old head's outputs are distilled towards those of the pretrained network
  (frozen), at temperature ``TEMPERATURE``, with weight ``LWF_WEIGHT`` (Li & Hoiem's T = 2 and lambda_o = 1).
- ``"rehearsal"``: canvases of the pretraining task, placed as in pretraining, with their labels, go through
  the old head (cross-entropy), one batch of them beside each fine-tuning batch.

The new task's own term, its batches and the stopping rule stay the paper's: the rule reads the new task's
loss and accuracy only. Importing this module registers both with the runs (:mod:`transinv.runs.old_tasks`), as
``RunConfig(keep_old_task="lwf")`` and ``keep_old_task="rehearsal"``.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from functools import partial

import torch
from torch import Tensor, nn

from .datasets import load_dataset, select_classes
from .models import Classifier
from .presets import Preset
from .runs.old_tasks import register_old_task
from .stimuli import ItemBank, draw_batch

__all__ = ["METHODS", "TEMPERATURE", "LWF_WEIGHT", "settings", "OldTask"]

METHODS = ("lwf", "rehearsal")
TEMPERATURE = 2.0   # of the distillation (Li & Hoiem 2016)
LWF_WEIGHT = 1.0    # of the distillation term against the new task's cross-entropy (Li & Hoiem's lambda_o)


def settings(method: str) -> dict:
    """What a run keeping its old task this way also trains with (part of its configuration, so of its id)."""
    if method == "lwf":
        return {"distilled_on": "new items, translated", "temperature": TEMPERATURE, "weight": LWF_WEIGHT}
    return {"rehearsed": "pretraining canvases, placed as in pretraining", "batches": "one per fine-tuning batch",
            "weight": 1.0}


@contextmanager
def _with_head(model: Classifier, head: nn.Module):
    """The model with ``head`` in place of its own, for one forward pass."""
    own = model.net.get_submodule(model.head)
    model.net.set_submodule(model.head, head)
    try:
        yield model
    finally:
        model.net.set_submodule(model.head, own)


class OldTask:
    """The pretrained task, kept while fine-tuning: its head (trained, and saved with the run) and what its
    loss term needs (the frozen pretrained network for ``"lwf"``, the pretraining items for ``"rehearsal"``)."""

    def __init__(self, method: str, pretrained: Classifier, bank: ItemBank, placement: str, preset: Preset):
        if method not in METHODS:
            raise ValueError(f"unknown way to keep the old task {method!r}; choose one of {', '.join(METHODS)}")
        self.method, self.bank, self.placement, self.preset = method, bank, placement, preset
        self.head = copy.deepcopy(pretrained.net.get_submodule(pretrained.head))
        self.teacher = None
        if method == "lwf":
            self.teacher = pretrained.eval().requires_grad_(False).to(memory_format=torch.channels_last)

    @classmethod
    def build(cls, method: str, parent_config: dict, pretrained: Classifier, new_bank: ItemBank,
              preset: Preset) -> OldTask:
        """For a fine-tuning of ``pretrained`` (whose run configuration is ``parent_config``) on ``new_bank``."""
        if method == "lwf":
            return cls(method, pretrained, new_bank, "translated", preset)
        items = load_dataset(parent_config["dataset"])
        if parent_config["classes"]:
            items = select_classes(items, parent_config["classes"])
        bank = ItemBank.build(items.train_images, items.train_labels, preset.item_size, new_bank.items.device)
        return cls(method, pretrained, bank, parent_config["placement"], preset)

    def loss(self, model: Classifier, generator: torch.Generator) -> Tensor:
        """The old task's term of the loss for one batch (called inside the training step's autocast)."""
        canvases, labels = draw_batch(self.bank, self.placement, self.preset, self.preset.batch_size, generator)
        canvases = canvases.contiguous(memory_format=torch.channels_last)
        with _with_head(model, self.head):
            logits = model(canvases)
        if self.teacher is None:
            return nn.functional.cross_entropy(logits, labels)
        with torch.no_grad():
            target = self.teacher(canvases)
        t = TEMPERATURE
        return LWF_WEIGHT * t * t * nn.functional.kl_div(
            nn.functional.log_softmax(logits.float() / t, dim=1), nn.functional.softmax(target.float() / t, dim=1),
            reduction="batchmean")


# From here on RunConfig(keep_old_task=...) takes these names, and runs train with these terms.
register_old_task("lwf", settings("lwf"), partial(OldTask.build, "lwf"))
register_old_task("rehearsal", settings("rehearsal"), partial(OldTask.build, "rehearsal"))
