"""Presets: every size of the protocol, derived from the paper's 224-px canvas by one rule.

The paper (and the authors' code) uses a 224x224 canvas, items resized to 50x50 and
placed by their centre (top-left = centre - 25). A smaller preset scales all of it
by ``canvas_size / 224`` through :func:`scaled`, so nothing is typed twice.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Preset", "scaled", "get_preset", "PAPER", "SMALL", "PRESETS"]

PAPER_CANVAS = 224                          # px, the authors' canvas side
PAPER_ITEM = 50                             # px, the authors' item side
PAPER_GRID_INTERIOR = tuple(range(32, 193, 10))  # the authors' test grid between its two end points
N_AREAS = 3                                 # experiment 3: areas per axis of the segregated canvas


@dataclass(frozen=True)
class Preset:
    name: str
    canvas_size: int         # square canvas side, px
    item_size: int           # items are resized to item_size x item_size, aspect ratio not kept
    grid: tuple[int, ...]    # per-axis centres of the test grid, px (19 at every preset)

    @property
    def centre_range(self) -> tuple[int, int]:
        """[low, high) of centres that keep the item fully on the canvas: [25, 199) at the paper preset."""
        half = self.item_size // 2
        return half, self.canvas_size - half

    @property
    def trained_centre(self) -> tuple[int, int]:
        """(x, y) of the 1-location dataset: leftmost, vertically centred; (25, 112) at the paper preset."""
        return self.centre_range[0], self.canvas_size // 2

    @property
    def area_bounds(self) -> tuple[tuple[int, int], ...]:
        """Per-axis [start, stop) of the 3 segregated areas: (25, 83), (83, 141), (141, 199) at the paper preset."""
        low, high = self.centre_range
        edges = [low + _round((high - low) * k / N_AREAS) for k in range(N_AREAS + 1)]
        return tuple(zip(edges[:-1], edges[1:]))


def _round(x: float) -> int:
    return int(x + 0.5)  # half up, unlike Python's round-half-to-even


def scaled(canvas_size: int, name: str | None = None) -> Preset:
    """The paper's geometry scaled to a square canvas of ``canvas_size`` px."""
    if not isinstance(canvas_size, int) or not 64 <= canvas_size <= 4096:
        raise ValueError(f"canvas_size must be an integer in [64, 4096] px, but got {canvas_size!r}")
    factor = canvas_size / PAPER_CANVAS
    item_size = _round(PAPER_ITEM * factor)
    half = item_size // 2
    grid = (half, *(_round(v * factor) for v in PAPER_GRID_INTERIOR), canvas_size - half - 1)
    return Preset(name or f"canvas{canvas_size}", canvas_size, item_size, grid)


PAPER = scaled(PAPER_CANVAS, "paper")
# 64 px: divisible by VGG's five 2x poolings, small enough to train on 2 CPU cores; items of 14 px.
SMALL = scaled(64, "small")
PRESETS = {p.name: p for p in (PAPER, SMALL)}


def get_preset(preset: str | Preset) -> Preset:
    """The preset called ``preset`` ('paper' or 'small'); a Preset passes through."""
    if isinstance(preset, Preset):
        return preset
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[preset]
