"""The authors' stopping rule, in one place: its constants, its scaling with a preset, and its state.

Training stops when the running training accuracy (the mean over the last ``window`` batches)
has stayed above 0.75 for ``patience`` iterations, or the running loss has not improved by
0.01% (relative) for ``patience`` iterations, or after ``max_iters`` iterations. At the paper
preset: a window of 100 batches, patience 800, at most 5000 iterations; a preset's
``iter_scale`` scales all three (``pretrain_iter_scale`` for translated and segregated pretrainings).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .presets import Preset

__all__ = ["MAX_ITERS", "WINDOW", "PATIENCE", "THRESHOLD", "MIN_IMPROVEMENT", "StoppingRule"]

MAX_ITERS = 5000          # hard cap on iterations
WINDOW = 100              # batches in the running mean of training loss and accuracy
PATIENCE = 800            # iterations the running accuracy must stay above THRESHOLD (or the loss not improve)
THRESHOLD = 0.75          # running training accuracy that counts as learned
MIN_IMPROVEMENT = 1e-4    # relative improvement of the running loss that resets the plateau count


@dataclass
class StoppingRule:
    """The rule's settings and its running state; :meth:`update` takes one batch and says why to stop."""
    window: int
    patience: int
    max_iters: int
    threshold: float = THRESHOLD
    min_improvement: float = MIN_IMPROVEMENT
    losses: list = field(default_factory=list)
    accuracies: list = field(default_factory=list)
    above_for: int = 0               # consecutive iterations with running accuracy > threshold
    best_loss: float = math.inf
    stale_for: int = 0               # iterations since the running loss last improved
    iterations: int = 0

    @classmethod
    def for_preset(cls, preset: Preset, placement: str = "one_location") -> StoppingRule:
        """The rule at ``preset``'s scale for runs of this placement: cap and windows times the preset's
        ``iter_scale`` (one location) or ``pretrain_iter_scale`` (translated, areas), at least 1; the cap is the
        preset's ``max_iters`` (``pretrain_max_iters``) where it sets one."""
        one_location = placement == "one_location"
        factor = preset.iter_scale if one_location else preset.pretrain_iter_scale
        cap = preset.max_iters if one_location else preset.pretrain_max_iters

        def scale(n: int) -> int:
            return max(1, int(n * factor + 0.5))  # half up, as the presets round
        return cls(window=scale(WINDOW), patience=scale(PATIENCE), max_iters=cap or scale(MAX_ITERS))

    def update(self, loss: float, accuracy: float) -> str | None:
        """Record one batch; return why to stop ('accuracy', 'loss_plateau', 'max_iters') or None."""
        self.iterations += 1
        self.losses = (self.losses + [loss])[-self.window:]
        self.accuracies = (self.accuracies + [accuracy])[-self.window:]
        running_loss, running_acc = self.running
        self.above_for = self.above_for + 1 if running_acc > self.threshold else 0
        if running_loss < self.best_loss * (1 - self.min_improvement):
            self.best_loss, self.stale_for = running_loss, 0
        else:
            self.stale_for += 1
        if self.above_for >= self.patience:
            return "accuracy"
        if self.stale_for >= self.patience:
            return "loss_plateau"
        if self.iterations >= self.max_iters:
            return "max_iters"
        return None

    @property
    def running(self) -> tuple[float, float]:
        """(loss, accuracy): means over the last ``window`` batches."""
        return sum(self.losses) / len(self.losses), sum(self.accuracies) / len(self.accuracies)
