"""The training loop: Adam, cross-entropy, batches drawn on the fly, the authors' stopping rule."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from .models import Classifier
from .presets import Preset
from .stimuli import ItemBank, draw_batch

__all__ = ["StoppingRule", "Speed", "make_optimizer", "train_step", "train"]


@dataclass
class StoppingRule:
    """The authors' rule: stop when the running accuracy has stayed above ``threshold`` for
    ``patience`` iterations, or the running loss has not improved by ``min_improvement``
    (relative, 0.01%) for ``patience`` iterations, or after ``max_iters`` iterations."""
    window: int                      # batches in the running mean
    patience: int
    max_iters: int
    threshold: float = 0.75
    min_improvement: float = 1e-4
    losses: list = field(default_factory=list)
    accuracies: list = field(default_factory=list)
    above_for: int = 0               # consecutive iterations with running accuracy > threshold
    best_loss: float = math.inf
    stale_for: int = 0               # iterations since the running loss last improved
    iterations: int = 0

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

    @classmethod
    def for_preset(cls, preset: Preset) -> StoppingRule:
        return cls(window=preset.acc_window, patience=preset.patience, max_iters=preset.max_iters)


def make_optimizer(model: nn.Module, lr: float) -> torch.optim.Adam:
    params = [p for p in model.parameters() if p.requires_grad]
    fused = all(p.device.type in ("cpu", "cuda") for p in params)  # fused Adam: ~7x faster steps on the CPU
    return torch.optim.Adam(params, lr=lr, fused=fused)


@dataclass(frozen=True)
class Speed:
    """How the loop runs on a device; none of it changes the protocol (batch, optimiser, stopping rule)."""
    autocast: bool = False      # bfloat16 autocast for the forward pass and the loss
    channels_last: bool = True  # NHWC memory format: faster convolutions on CPUs and GPUs
    sync_every: int = 1         # read loss and accuracy back to the host every this many steps

    @classmethod
    def for_device(cls, device: torch.device, precision: str = "auto") -> Speed:
        """The fast path on a GPU (bf16, NHWC, a host sync every 25 steps); float32, NHWC, every step on the CPU."""
        if precision not in ("auto", "float32", "bf16"):
            raise ValueError(f"precision must be 'auto', 'float32' or 'bf16', but got {precision!r}")
        autocast = precision == "bf16" or (precision == "auto" and device.type == "cuda")
        return cls(autocast=autocast, sync_every=25 if device.type == "cuda" else 1)


def train_step(model: Classifier, optimizer: torch.optim.Optimizer, bank: ItemBank, placement: str, preset: Preset,
               generator: torch.Generator, speed: Speed = Speed()) -> torch.Tensor:
    """One optimiser step on a freshly drawn batch; (loss, accuracy) as a device tensor, not read back."""
    canvases, labels = draw_batch(bank, placement, preset, preset.batch_size, generator)
    if speed.channels_last:
        canvases = canvases.contiguous(memory_format=torch.channels_last)
    with torch.autocast(canvases.device.type, dtype=torch.bfloat16, enabled=speed.autocast):
        logits = model(canvases)
        loss = nn.functional.cross_entropy(logits, labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return torch.stack([loss.detach().float(), (logits.argmax(1) == labels).float().mean()])


def train(model: Classifier, bank: ItemBank, placement: str, preset: Preset, *, generator: torch.Generator,
          optimizer: torch.optim.Optimizer, rule: StoppingRule, log: list, speed: Speed = Speed(),
          checkpoint=None, checkpoint_seconds: float = 60.0, progress: bool = True, desc: str = "train") -> str:
    """Train until the stopping rule fires; return its reason. ``log`` gets (iteration, loss, accuracy) rows.

    Everything that a resumed run needs (model, optimizer, rule, generator, log) is passed in,
    so ``checkpoint()`` can save it, at most every ``checkpoint_seconds`` (a VGG16 checkpoint with
    its Adam state is 1.6 GB: saving it every 500 iterations cost a third of a GPU run's time). With
    ``speed.sync_every`` > 1 the rule sees each step's numbers in order, but only every
    ``sync_every`` steps, so a run may train up to ``sync_every - 1`` steps past the
    iteration at which the rule fired (never past ``max_iters``).
    """
    model.train()
    if model.frozen_batchnorm:  # keep the pretrained statistics: train and test normalise alike
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
    if speed.channels_last:
        model.to(memory_format=torch.channels_last)
    bar = tqdm(total=rule.max_iters, initial=rule.iterations, desc=desc, disable=not progress, leave=False)
    reason, pending, last_checkpoint = None, [], time.perf_counter()
    while reason is None:
        step = rule.iterations + len(pending)
        if preset.warmup_iters:
            for group in optimizer.param_groups:
                group["lr"] = preset.lr * min(1.0, (step + 1) / preset.warmup_iters)
        pending.append(train_step(model, optimizer, bank, placement, preset, generator, speed))
        if len(pending) < speed.sync_every and step + 1 < rule.max_iters:
            continue
        for loss_value, accuracy in torch.stack(pending).tolist():  # the one host sync
            it = rule.iterations
            if not math.isfinite(loss_value):
                raise FloatingPointError(f"the training loss became {loss_value} at iteration {it}: lower the "
                                         f"learning rate (lr={preset.lr}) or add warm-up "
                                         f"(warmup_iters={preset.warmup_iters})")
            reason = rule.update(loss_value, accuracy)
            log.append((it, loss_value, accuracy))
            if reason:
                break
        bar.update(len(pending))
        pending = []
        running_loss, running_acc = rule.running
        bar.set_postfix(loss=f"{running_loss:.3f}", acc=f"{running_acc:.2f}", refresh=False)
        if checkpoint is not None and reason is None and time.perf_counter() - last_checkpoint >= checkpoint_seconds:
            checkpoint()
            last_checkpoint = time.perf_counter()
    bar.close()
    return reason
