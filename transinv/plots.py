"""Figures. Each function returns a matplotlib Figure; nothing is saved or shown here."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import Tensor

from .presets import Preset

__all__ = ["image_grid", "canvas_geometry"]


def image_grid(images: Tensor, titles: list[str] | None = None, columns: int = 6, size: float = 1.6) -> Figure:
    """Grey images (N, H, W) or canvases (N, 3, H, W), in [0, 1] or uint8, in a grid of `columns`."""
    n = len(images)
    rows = -(-n // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * size), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            image = images[i][0] if images[i].ndim == 3 else images[i]
            ax.imshow(image.cpu(), cmap="gray", vmin=0, vmax=1 if image.is_floating_point() else 255)
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
