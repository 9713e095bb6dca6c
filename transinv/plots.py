"""Figures. Each function returns a matplotlib Figure; nothing is saved or shown here."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.interpolate import griddata
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import Tensor

from .presets import Preset
from .tables import in_paper_order

__all__ = ["image_grid", "canvas_geometry", "accuracy_heatmap", "heatmap_grid", "bars", "transfer_matrix",
           "cosine_by_displacement", "cosine_panels"]


def _no_runs(what: str = "no finished runs to show yet") -> Figure:
    """A small figure that says there is nothing to plot (a preset whose runs are not finished)."""
    fig, ax = plt.subplots(figsize=(4.5, 0.8))
    ax.text(0.5, 0.5, what, ha="center", va="center", fontsize=10)
    ax.axis("off")
    return fig


def image_grid(images: Tensor, titles: list[str] | None = None, columns: int = 6, size: float = 1.6) -> Figure:
    """Grey images (N, H, W) or canvases (N, 3, H, W), in [0, 1] or uint8, in a grid of `columns`."""
    n = len(images)
    rows = -(-n // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * size), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            image = images[i][0] if images[i].ndim == 3 else images[i]
            ax.imshow(image.cpu().numpy(), cmap="gray", vmin=0, vmax=1 if image.is_floating_point() else 255)
            if titles:
                ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def canvas_geometry(preset: Preset) -> Figure:
    """The canvas of a preset: trained location, translation range, the 9 areas and the test grid."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    n, s = preset.canvas_size, preset.item_size
    ax.add_patch(Rectangle((0, 0), n, n, color="black"))
    low, high = preset.centre_range
    ax.add_patch(Rectangle((low, low), high - low - 1, high - low - 1, fill=False, ec="tab:blue", lw=1.5,
                           label="centres of translated items"))
    for x0, x1 in preset.area_bounds:
        for y0, y1 in preset.area_bounds:
            ax.add_patch(Rectangle((x0, y0), x1 - x0 - 1, y1 - y0 - 1, fill=False, ec="tab:green", ls="--", lw=0.8))
    x, y = preset.trained_centre
    ax.add_patch(Rectangle((x - s // 2, y - s // 2), s, s, fill=False, ec="tab:orange", lw=2, label="trained item"))
    gx, gy = zip(*[(a, b) for a in preset.grid for b in preset.grid])
    ax.scatter(gx, gy, s=4, c="white", edgecolors="grey", linewidths=0.3, label="test grid centres")
    ax.plot([], [], c="tab:green", ls="--", label="9 areas (experiment 3)")
    ax.set(xlim=(0, n), ylim=(n, 0), aspect="equal", title=f"{preset.name} preset: {n} px canvas, {s} px items")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), fontsize=8, ncol=2)
    return fig


def accuracy_heatmap(grid: pd.DataFrame, canvas_size: int, trained_centre: tuple[int, int] | None = None,
                     ax=None, title: str = "") -> Figure:
    """Accuracy over the canvas, interpolated between the test-grid centres (the paper's figure 1C)."""
    per_location = grid.groupby(["x", "y"])[["correct", "n"]].sum()
    accuracy = (per_location["correct"] / per_location["n"]).reset_index(name="accuracy")
    yy, xx = np.mgrid[0:canvas_size, 0:canvas_size]
    surface = griddata(accuracy[["x", "y"]].to_numpy(), accuracy["accuracy"].to_numpy(), (xx, yy), method="cubic")
    fig = ax.figure if ax is not None else plt.figure(figsize=(3.2, 3))
    ax = ax or fig.add_subplot()
    image = ax.imshow(np.clip(surface, 0, 1), vmin=0, vmax=1, cmap="viridis", extent=(0, canvas_size, canvas_size, 0))
    if trained_centre is not None:
        ax.plot(*trained_centre, marker="+", c="red", ms=10, mew=2)
    ax.set(xticks=[], yticks=[], title=title or f"mean {accuracy['accuracy'].mean():.2f}")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="accuracy")
    return fig


def heatmap_grid(grids: dict[tuple[str, str], pd.DataFrame], canvas_size: int,
                 trained_centre: tuple[int, int] | None = None) -> Figure:
    """Heatmaps in rows x columns, keyed by (row label, column label); repetitions pooled per key."""
    if not grids:
        return _no_runs()
    rows = list(dict.fromkeys(r for r, _ in grids))
    columns = list(dict.fromkeys(c for _, c in grids))
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(3.1 * len(columns), 2.6 * len(rows)), squeeze=False)
    for (row, column), grid in grids.items():
        ax = axes[rows.index(row), columns.index(column)]
        accuracy_heatmap(grid, canvas_size, trained_centre, ax=ax)
        ax.set_title(f"{row}, {column}: mean {grid['correct'].sum() / grid['n'].sum():.2f}", fontsize=9)
    for ax in axes.flat:
        if not ax.images:
            ax.axis("off")
    fig.tight_layout()
    return fig


def bars(table: pd.DataFrame, x: str, hue: str, value: str, ax=None, chance: pd.Series | None = None,
         colours: dict | None = None) -> Figure:
    """Mean +- std of ``value`` (across the rows of each x and hue: repetitions) as grouped bars; ``colours``: one
    per hue value (default: matplotlib's cycle)."""
    if table.empty:
        return _no_runs()
    stats = table.groupby([x, hue], sort=False)[value].agg(["mean", "std"]).reset_index()
    xs, hues = list(dict.fromkeys(stats[x])), list(dict.fromkeys(stats[hue]))
    # room for each x label and each bar, but no wider than a page: a wider figure is shrunk, legend and all
    width_inches = min(9.0, 1.5 + max(0.9 * len(xs), 0.22 * len(xs) * len(hues)))
    fig = ax.figure if ax is not None else plt.figure(figsize=(max(4.5, width_inches), 3.2))
    ax = ax or fig.add_subplot()
    width = 0.8 / len(hues)
    for k, h in enumerate(hues):
        part = stats[stats[hue] == h].set_index(x).reindex(xs)
        ax.bar(np.arange(len(xs)) + (k - (len(hues) - 1) / 2) * width, part["mean"], width,
               yerr=part["std"].fillna(0), capsize=2, label=str(h), color=(colours or {}).get(h))
    if chance is not None:  # one chance level per x
        for i, level in enumerate(chance.reindex(xs)):
            ax.hlines(level, i - 0.45, i + 0.45, colors="black", linestyles=":", lw=1)
    ax.set(xticks=range(len(xs)), xticklabels=xs, ylabel=value)
    if table.groupby([x, hue], sort=False).size().max() == 1:
        ax.set_title("one run per bar: no error bars", fontsize=8)
    if len(hues) > 3:  # many: in rows below the axes, as wide as the figure
        ax.legend(fontsize=8, title=hue, title_fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12),
                  ncol=min(len(hues), 4))
    else:
        ax.legend(fontsize=8, title=hue, title_fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
    fig.tight_layout()
    return fig


def transfer_matrix(table: pd.DataFrame, value: str = "normalized", ax=None, vmax: float = 100,
                    columns: str = "finetune") -> Figure:
    """Pretraining (rows) x fine-tuning (``columns``) matrix of a value, annotated with the mean, and the std below
    it where a cell has more than one run (repetitions): the paper's figure 2B, with figure 4's spread."""
    if table.empty:
        return _no_runs()
    stats = {how: in_paper_order(table.pivot_table(index="pretrain", columns=columns, values=value, aggfunc=how,
                                                   sort=False)) for how in ("mean", "std", "count")}
    matrix = stats["mean"]
    spread, runs = (stats[k].reindex(index=matrix.index, columns=matrix.columns).to_numpy() for k in ("std", "count"))
    fig = ax.figure if ax is not None else plt.figure(figsize=(1 + 0.9 * matrix.shape[1], 1 + 0.8 * matrix.shape[0]))
    ax = ax or fig.add_subplot()
    image = ax.imshow(matrix.to_numpy(), vmin=0, vmax=vmax, cmap="viridis")
    for (i, j), v in np.ndenumerate(matrix.to_numpy()):
        if np.isnan(v):
            ax.text(j, i, "not run", ha="center", va="center", fontsize=7, color="grey")
            continue
        text = f"{round(v)}" if vmax > 10 else f"{v:.2f}"  # never "-0"
        if runs[i, j] > 1:
            text += f"\n± {round(spread[i, j])}" if vmax > 10 else f"\n± {spread[i, j]:.2f}"
        ax.text(j, i, text, ha="center", va="center", color="white" if v < 0.6 * vmax else "black",
                fontsize=9 if runs[i, j] <= 1 else 8)
    ax.set(xticks=range(matrix.shape[1]), xticklabels=matrix.columns, yticks=range(matrix.shape[0]),
           yticklabels=matrix.index, xlabel="fine-tuned on (1 location)", ylabel="pretrained on (translated)")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=value)
    return fig


CONDITION_COLOURS = {"vanilla": "tab:blue", "pretrained": "tab:orange", "fine-tuned": "tab:green"}


def cosine_by_displacement(table: pd.DataFrame, hue: str = "condition", ax=None, colours: dict | None = None,
                           value: str = "cosine") -> Figure:
    """Mean +- std (across classes) cosine similarity versus horizontal displacement (the paper's figure 3);
    ``colours``: one per hue value (default: the paper's three conditions in fixed colours). ``value="readout"``:
    the normalized read-out accuracy of :mod:`transinv.representation` instead (chance 0, perfect 100)."""
    fig = ax.figure if ax is not None else plt.figure(figsize=(4.5, 3))
    ax = ax or fig.add_subplot()
    top = 1.0 if value == "cosine" else 100.0
    lowest = top
    colours = colours or (CONDITION_COLOURS if hue == "condition" else {})
    curves = table[hue].nunique()
    for name, part in table.groupby(hue, sort=False):
        stats = part.groupby("dx")[value].agg(["mean", "std"]).fillna(0).reset_index()
        colour = colours.get(name)
        ax.plot(stats["dx"], stats["mean"], label=name, color=colour)
        ax.fill_between(stats["dx"], stats["mean"] - stats["std"], stats["mean"] + stats["std"],
                        alpha=0.2 if curves <= 3 else 0.07, color=colour)  # many bands: fainter, or a blur
        lowest = min(lowest, float((stats["mean"] - stats["std"]).min()))
    ylabel = "cosine similarity" if value == "cosine" else "read-out accuracy (normalized)"
    ax.set(xlabel="displacement from the trained location (px)", ylabel=ylabel,
           ylim=(lowest - 0.02 * top, 1.02 * top))  # every curve and its band in view
    ax.legend(fontsize=8)
    return fig


def cosine_panels(cosines: pd.DataFrame, panel: str = "pretrain", columns: int = 3, colours: dict | None = None,
                  value: str = "cosine") -> Figure:
    """:func:`cosine_by_displacement` in one panel per value of ``panel`` (default: per pretraining),
    ``columns`` panels a row, sharing the y-axis (and ``colours``)."""
    names = list(dict.fromkeys(cosines[panel]))
    if not names:
        return _no_runs()
    rows, columns = -(-len(names) // columns), min(columns, len(names))
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 3 * rows), sharey=True, squeeze=False)
    bottoms = []
    for ax, name in zip(axes.flat, names):
        cosine_by_displacement(cosines[cosines[panel] == name], ax=ax, colours=colours, value=value)
        bottoms.append(ax.get_ylim()[0])  # the panels share one y-axis: keep the lowest bottom of them all
        ax.set_title(f"pretrained on {name}" if panel == "pretrain" else name if panel == "pair" else f"{panel} {name}")
    axes.flat[0].set_ylim(min(bottoms), 1.02 if value == "cosine" else 102)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    return fig
