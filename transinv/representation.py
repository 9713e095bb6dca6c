"""Does a network's representation of an item at a new location still carry its identity?

Two measures, layer by layer, along the trained row (the positions of the authors' cosine analysis,
:mod:`transinv.analysis`), on the test items of a dataset:

- **cosine similarity** between an item's activations at the trained location and at each position, as the
  authors computed it ("raw"), and with what every input shares removed first: the blank canvas's activations
  subtracted ("blank"), or each position's mean over the items subtracted ("centred"). On a mostly black canvas an
  untrained network's activations are dominated by the background, the same at every position, so raw cosines of
  untrained networks are high whatever the item.
- **linear read-out**: a multinomial logistic regression fitted on the activations of training images at the
  trained location, tested on the test items at each position. It answers the question directly: can what was
  learned about the item at one place be read at another?
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd
import torch
from torch import Tensor, nn

from .datasets import ItemSet
from .evaluate import test_items
from .models import Classifier
from .presets import Preset
from .stimuli import place, resize_items

__all__ = ["CENTRINGS", "probe_layers", "readout_counts", "layer_activations", "fit_readout", "representation_tables"]

CENTRINGS = ("raw", "blank", "centred")
READOUT_FIT_PER_CLASS = 20    # training images per class the read-out is fitted on (fewer where a class has fewer)
READOUT_TEST_PER_CLASS = 5    # test items per class shown at each position
READOUT_WEIGHT_DECAY = 1e-3   # L2 penalty on the read-out's weights (features standardised)


def probe_layers(model: Classifier) -> dict[str, str]:
    """The layers read, by name: VGG's last pooled conv map, fc6 and fc7 before and after their ReLU (the authors'
    layer is "fc7 relu"); another architecture's penultimate layer alone."""
    net = model.net
    classifier = getattr(net, "classifier", None)
    if hasattr(net, "features") and isinstance(classifier, nn.Sequential) and len(classifier) == 7:
        return {"conv": "features", "fc6": "classifier.0", "fc6 relu": "classifier.1", "fc7": "classifier.3",
                "fc7 relu": "classifier.4"}
    return {"penultimate": model.penultimate}


@torch.no_grad()
def layer_activations(model: Classifier, canvases: Tensor, layers: dict[str, str],
                      batch_size: int = 256) -> dict[str, Tensor]:
    """(N, D) activations of each layer for canvases (N, 3, H, W), in float32. Outputs are copied as they are
    made: VGG's in-place ReLUs would otherwise overwrite fc6 and fc7 before they are read."""
    parts: dict[str, list[Tensor]] = {name: [] for name in layers}
    hooks = [model.net.get_submodule(path).register_forward_hook(
        lambda module, inputs, output, name=name: parts[name].append(output.detach().flatten(1).float().clone()))
        for name, path in layers.items()]
    try:
        for start in range(0, len(canvases), batch_size):
            model(canvases[start:start + batch_size])
    finally:
        for hook in hooks:
            hook.remove()
    return {name: torch.cat(chunks) for name, chunks in parts.items()}


class Readout(nn.Module):
    """A linear classifier on standardised features."""

    def __init__(self, mean: Tensor, std: Tensor, n_classes: int):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.linear = nn.Linear(len(mean), n_classes).to(mean.device)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, features: Tensor) -> Tensor:
        return self.linear((features - self.mean) / self.std)


def fit_readout(features: Tensor, labels: Tensor, n_classes: int, *, weight_decay: float = READOUT_WEIGHT_DECAY,
                steps: int = 100) -> Readout:
    """Multinomial logistic regression fitted by L-BFGS (deterministic on a CPU: zero start, full batch)."""
    std = features.std(0, unbiased=False)
    readout = Readout(features.mean(0), torch.where(std > 1e-6, std, torch.ones_like(std)), n_classes)
    optimizer = torch.optim.LBFGS(readout.linear.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

    def loss():
        optimizer.zero_grad()
        value = (nn.functional.cross_entropy(readout(features), labels)
                 + weight_decay * readout.linear.weight.square().sum())
        value.backward()
        return value

    with torch.enable_grad():
        optimizer.step(loss)
    return readout.eval()


def readout_counts(preset: Preset) -> tuple[int, int]:
    """Training images per class the read-out is fitted on, and test items per class at each position: 20 and 5,
    fewer at a preset that shows fewer test items per grid centre (the plumbing preset's one)."""
    test = min(READOUT_TEST_PER_CLASS, preset.eval_items)
    return min(READOUT_FIT_PER_CLASS, 4 * test), test


@torch.no_grad()
def representation_tables(model: Classifier, items: ItemSet, preset: Preset, *, seed: int = 0,
                          device: str | torch.device = "cpu", fit_per_class: int | None = None,
                          test_per_class: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cosine table (one row per layer, centring, class and x: the mean cosine over the class's test items)
    and the read-out table (one row per layer, class and x: n items, n correct) of a network on ``items``, with
    :func:`readout_counts` images unless given."""
    model.eval()
    default_fit, default_test = readout_counts(preset)
    fit_per_class, test_per_class = fit_per_class or default_fit, test_per_class or default_test
    layers = probe_layers(model)
    (x0, y0), size = preset.trained_centre, preset.canvas_size

    def at(images: Tensor, x: int) -> dict[str, Tensor]:
        centres = torch.tensor([[x, y0]], device=device).expand(len(images), 2)
        return layer_activations(model, place(images, centres, size), layers)

    fit_images, fit_labels = test_items(items, fit_per_class, seed, split="train")
    images, labels = test_items(items, test_per_class, seed)
    fit_images = resize_items(fit_images, preset.item_size).to(device)
    images, labels = resize_items(images, preset.item_size).to(device), labels.to(device)
    blank = layer_activations(model, torch.zeros(1, 3, size, size, device=device), layers)
    fitted = at(fit_images, x0)
    readouts = {name: fit_readout(f, fit_labels.to(device), items.n_classes) for name, f in fitted.items()}
    reference = at(images, x0)
    cosine_rows, readout_rows = [], []
    for x in preset.grid:
        moved = at(images, x)
        for name in layers:
            a, b = reference[name], moved[name]
            for centring, (u, v) in {"raw": (a, b), "blank": (a - blank[name], b - blank[name]),
                                     "centred": (a - a.mean(0), b - b.mean(0))}.items():
                cosine = nn.functional.cosine_similarity(u, v, dim=1)
                cosine_rows.append(_by_class(cosine, labels, items, layer=name, centring=centring, x=x, dx=x - x0))
            correct = (readouts[name](b).argmax(1) == labels).float()
            readout_rows.append(_by_class(correct, labels, items, layer=name, x=x, dx=x - x0, value="correct"))
    cosines = pd.concat(cosine_rows, ignore_index=True)
    readout = pd.concat(readout_rows, ignore_index=True)
    return cosines.rename(columns={"value": "cosine"}), readout


def _by_class(values: Tensor, labels: Tensor, items: ItemSet, value: str = "value", **columns) -> pd.DataFrame:
    """Per class: the mean of ``values`` ("value"), or their sum and count (``value="correct"``)."""
    frame = pd.DataFrame({"label": labels.cpu().numpy(), "v": values.float().cpu().numpy()})
    grouped = frame.groupby("label", sort=True)["v"]
    table = (grouped.agg(n="size", correct="sum").reset_index() if value == "correct"
             else grouped.mean().rename("value").reset_index())
    if value == "correct":
        table["correct"] = table["correct"].round().astype(int)
    table.insert(1, "class", [items.classes[k] for k in table["label"]])
    for name, v in reversed(columns.items()):
        table.insert(0, name, v)
    return table

