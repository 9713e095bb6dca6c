"""The training loop: Adam, cross-entropy, batches drawn on the fly, until the authors' stopping rule fires."""
from __future__ import annotations

import math
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from .models import Classifier
from .presets import Preset
from .speedups import compiled
from .stimuli import ItemBank, draw_batch
from .stopping import StoppingRule

__all__ = ["resolve_device", "Speed", "make_optimizer", "train_step", "train", "recalibrate_batchnorm"]

RECALIBRATION_BATCHES = 100  # training batches over which batch-norm statistics are re-estimated after training


# The models that train faster in bfloat16 autocast on a CPU with native bf16 (measured for issue 26: the small
# VGG16s 1.3-1.6x; EfficientNet-Lite0's depthwise convolutions 0.8x, so it stays in float32; issue 28's, by
# benchmarks/architectures.py: VGG16-BN with global average pooling 1.55x; the anti-aliased one 1.07x, ResNet-18
# 0.75x and DenseNet-121 0.71x stay in float32).
BF16_ON_CPU = ("vgg16", "vgg16_small", "vgg16_bn_small", "vgg16_bn_gap_small")


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX): elsewhere autocast to it is emulated, slower."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch.cpu's, private: absent means no
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def make_optimizer(model: nn.Module, lr: float) -> torch.optim.Adam:
    params = [p for p in model.parameters() if p.requires_grad]
    fused = all(p.device.type in ("cpu", "cuda") for p in params)  # fused Adam: ~7x faster steps on the CPU
    return torch.optim.Adam(params, lr=lr, fused=fused)


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """'auto' (or None): the GPU when there is one, else the CPU."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"unknown device {device!r}: use 'auto', 'cpu' or 'cuda'") from error
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device {str(device)!r} is not supported: use 'auto', 'cpu' or 'cuda'")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} was asked for, but torch sees no GPU here: use 'auto' or 'cpu'")
    return device


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model: runs are bit-identical on one kind of CPU only (its vector units choose
    how sums are rounded), so a run records where it was made."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


@dataclass(frozen=True)
class Speed:
    """How the loop runs on a device; none of it changes the protocol (batch, optimiser, stopping rule)."""
    autocast: bool = False      # bfloat16 autocast for the forward pass and the loss
    channels_last: bool = True  # NHWC memory format: faster convolutions on CPUs and GPUs
    sync_every: int = 1         # read loss and accuracy back to the host every this many steps

    @classmethod
    def for_device(cls, device: torch.device, precision: str = "auto", model: str | None = None) -> Speed:
        """The fast path on a GPU (bf16, NHWC, a host sync every 25 steps); on the CPU NHWC, a sync every step, and
        under 'auto' bf16 where the CPU computes it natively and ``model`` runs faster in it (else float32)."""
        if precision not in ("auto", "float32", "bf16"):
            raise ValueError(f"precision must be 'auto', 'float32' or 'bf16', but got {precision!r}")
        auto = device.type == "cuda" or (model in BF16_ON_CPU and cpu_has_bf16())
        autocast = precision == "bf16" or (precision == "auto" and auto)
        return cls(autocast=autocast, sync_every=25 if device.type == "cuda" else 1)


def train_step(model: Classifier, optimizer: torch.optim.Optimizer, bank: ItemBank, placement: str, preset: Preset,
               generator: torch.Generator, speed: Speed = Speed(), extra_loss=None, forward=None) -> torch.Tensor:
    """One optimiser step on a freshly drawn batch; (loss, accuracy) as a device tensor, not read back.
    ``extra_loss(model, generator)``, if given, adds a term to the loss (:mod:`transinv.retention`); the
    returned loss is the batch's own. ``forward``: the model's forward pass compiled
    (:func:`transinv.speedups.compiled`); None: the model's own."""
    canvases, labels = draw_batch(bank, placement, preset, preset.batch_size, generator)
    if speed.channels_last:
        canvases = canvases.contiguous(memory_format=torch.channels_last)
    with torch.autocast(canvases.device.type, dtype=torch.bfloat16, enabled=speed.autocast):
        logits = (forward or model)(canvases)
        loss = nn.functional.cross_entropy(logits, labels)
        objective = loss if extra_loss is None else loss + extra_loss(model, generator)
    optimizer.zero_grad(set_to_none=True)
    objective.backward()
    optimizer.step()
    return torch.stack([loss.detach().float(), (logits.argmax(1) == labels).float().mean()])


def train(model: Classifier, bank: ItemBank, placement: str, preset: Preset, *, generator: torch.Generator,
          optimizer: torch.optim.Optimizer, rule: StoppingRule, log: list, speed: Speed = Speed(),
          checkpoint=None, checkpoint_seconds: float = 60.0, progress: bool = True, desc: str = "train",
          extra_loss=None) -> str:
    """Train until the stopping rule fires; return its reason. ``log`` gets (iteration, loss, accuracy) rows.

    Everything that a resumed run needs (model, optimizer, rule, generator, log) is passed in,
    so ``checkpoint()`` can save it, at most every ``checkpoint_seconds`` (a VGG16 checkpoint with
    its Adam state is 1.6 GB: saving it every 500 iterations cost a third of a GPU run's time). With
    ``speed.sync_every`` > 1 the rule sees each step's numbers in order, but only every
    ``sync_every`` steps, so a run may train up to ``sync_every - 1`` steps past the
    iteration at which the rule fired (never past ``max_iters``). ``extra_loss``: see :func:`train_step`.
    """
    model.train()  # batch norm stays in eval mode where the model keeps its pretrained statistics
    if speed.channels_last:
        model.to(memory_format=torch.channels_last)
    forward = compiled(model)  # the model itself unless the process chose to compile it (transinv.speedups)
    bar = tqdm(total=rule.max_iters, initial=rule.iterations, desc=desc, disable=not progress, leave=False)
    reason, pending, last_checkpoint = None, [], time.perf_counter()
    while reason is None:
        step = rule.iterations + len(pending)
        if preset.warmup_iters:
            for group in optimizer.param_groups:
                group["lr"] = preset.lr * min(1.0, (step + 1) / preset.warmup_iters)
        pending.append(train_step(model, optimizer, bank, placement, preset, generator, speed, extra_loss, forward))
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


@torch.no_grad()
def recalibrate_batchnorm(model: Classifier, bank: ItemBank, placement: str, preset: Preset,
                          generator: torch.Generator, speed: Speed = Speed()) -> bool:
    """Re-estimate the running statistics of every trained batch-norm layer on ``RECALIBRATION_BATCHES``
    fresh training batches, at the final weights (their equal-weight average, not a moving one).

    During training the running statistics trail the weights (a moving average over earlier
    weights); a network evaluated with them can fail where it trained (measured: EfficientNet-Lite0
    from scratch, see the methods). Returns whether the model has such layers.
    """
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not layers or model.frozen_batchnorm:
        return False
    model.train()
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative average
    for _ in range(RECALIBRATION_BATCHES):
        canvases, _ = draw_batch(bank, placement, preset, preset.batch_size, generator)
        if speed.channels_last:
            canvases = canvases.contiguous(memory_format=torch.channels_last)
        with torch.autocast(canvases.device.type, dtype=torch.bfloat16, enabled=speed.autocast):
            model(canvases)
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum
    model.eval()
    return True
