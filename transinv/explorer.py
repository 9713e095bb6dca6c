"""Interactive widgets for JupyterLab: move an item over the canvas and watch trained networks' answers;
browse the accuracy heatmaps of finished runs."""
from __future__ import annotations

from typing import Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch

from .datasets import ItemSet
from .evaluate import test_items
from .models import Classifier
from .plots import accuracy_heatmap
from .presets import Preset
from .runs import Run
from .tables import summarize
from .stimuli import place, resize_items

__all__ = ["prediction_explorer", "heatmap_browser"]


def _redraw(output: widgets.Output, draw) -> None:
    with output:
        output.clear_output(wait=True)
        draw()
        plt.show()


def prediction_explorer(models: dict[str, Classifier], items: ItemSet, preset: Preset,
                        per_class: int = 2) -> widgets.Widget:
    """Sliders for the item and its (x, y) centre, a menu of networks; shows the canvas and the class
    probabilities of the chosen network. ``items`` are test items; all models share ``preset``'s canvas."""
    images, labels = test_items(items, per_class)
    images = resize_items(images, preset.item_size)
    (low, high), (x0, y0) = preset.centre_range, preset.trained_centre
    network = widgets.Dropdown(options=list(models), description="network")
    item = widgets.IntSlider(0, min=0, max=len(images) - 1, description="item")
    x = widgets.IntSlider(x0, min=low, max=high - 1, description="x (px)")
    y = widgets.IntSlider(y0, min=low, max=high - 1, description="y (px)")
    output = widgets.Output()

    @torch.no_grad()
    def draw():
        canvas = place(images[item.value][None], torch.tensor([[x.value, y.value]]), preset.canvas_size)
        probabilities = models[network.value].eval()(canvas).softmax(1)[0]
        fig, (left, right) = plt.subplots(1, 2, figsize=(7, 2.8), gridspec_kw={"width_ratios": [1, 1.6]})
        left.imshow(canvas[0, 0].numpy(), cmap="gray", vmin=0, vmax=1)
        left.plot(x0, y0, marker="+", c="red", ms=8)
        left.set(xticks=[], yticks=[], title=f"a '{items.classes[labels[item.value]]}' at ({x.value}, {y.value})")
        colours = ["tab:green" if k == labels[item.value] else "tab:grey" for k in range(len(probabilities))]
        right.bar(range(len(probabilities)), probabilities.numpy(), color=colours)
        right.set(ylim=(0, 1), ylabel="probability", title=network.value,
                  xticks=range(len(probabilities)), xticklabels=items.classes)
        right.tick_params(axis="x", labelsize=7)
        fig.tight_layout()

    for control in (network, item, x, y):
        control.observe(lambda change: _redraw(output, draw), names="value")
    _redraw(output, draw)
    return widgets.VBox([widgets.HBox([network, item]), widgets.HBox([x, y]), output])


def _label(r: Run) -> str:
    row = summarize([r]).iloc[0]
    start = "" if row["pretrain"] == "vanilla" else f", from {row['pretrain']}"
    return (f"{row['dataset']} {row['placement'].replace('_', ' ')}{start}, seed {row['seed']} "
            f"({'learned' if row['own_learned'] else 'did not learn'} its task: {row['own_accuracy']:.2f})")


def heatmap_browser(runs: Sequence[Run]) -> widgets.Widget:
    """A menu of finished runs, described in words; shows the chosen run's accuracy over the canvas. It opens on
    the first run that learned its own task."""
    if not runs:
        raise ValueError("no finished runs to browse: run an experiment first")
    by_id = {r.id: r for r in runs}
    labels = {r.id: _label(r) for r in runs}
    first = next((i for i, label in labels.items() if "(learned" in label), runs[0].id)
    menu = widgets.Dropdown(options=[(label, i) for i, label in labels.items()], value=first, description="run",
                            layout=widgets.Layout(width="95%"))
    output = widgets.Output()

    def draw():
        chosen = by_id[menu.value]
        accuracy_heatmap(chosen.grid, chosen.preset.canvas_size, chosen.preset.trained_centre)

    menu.observe(lambda change: _redraw(output, draw), names="value")
    _redraw(output, draw)
    return widgets.VBox([menu, output])
