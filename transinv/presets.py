"""Presets: every size of the protocol, derived from the paper's 224-px canvas by one rule.

The paper (and the authors' code) uses a 224x224 canvas, items resized to 50x50 and
placed by their centre (top-left = centre - 25). A smaller preset scales all of it
by ``canvas_size / 224`` through :func:`scaled`, so nothing is typed twice.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["Preset", "scaled", "with_canvas", "get_preset", "PAPER", "SMALL", "LAPTOP", "TINY", "PRESETS",
           "LATER_PRESET_SETTINGS"]

PAPER_CANVAS = 224                          # px, the authors' canvas side
PAPER_ITEM = 50                             # px, the authors' item side
PAPER_GRID_INTERIOR = tuple(range(32, 193, 10))  # the authors' test grid between its two end points
N_AREAS = 3                                 # experiment 3: areas per axis of the segregated canvas
INPUT_STATS = ("canvas", "weights")         # how a model's input is normalised (Preset.input_stats)


# Settings added after runs were shared: at these values a run id leaves them out (transinv.runs.identity), so
# that the runs made before them keep their ids.
LATER_PRESET_SETTINGS = {"max_iters": None, "pretrain_max_iters": None, "own_items": None}


@dataclass(frozen=True)
class Preset:
    name: str
    canvas_size: int         # square canvas side, px
    item_size: int           # items are resized to item_size x item_size, aspect ratio not kept
    grid: tuple[int, ...]    # per-axis centres of the test grid, px (19 at every preset)
    model: str = "vgg16"                 # architecture trained from scratch
    imagenet_model: str = "vgg16"        # experiment 1's ImageNet-pretrained architecture
    imagenet_canvas_size: int = 224      # canvas for that model (its features need some resolution)
    batch_size: int = 32                 # the authors' batch size
    lr: float = 1e-4                     # Adam; the authors' code default (the paper's text says 1e-3)
    warmup_iters: int = 0                # linear learning-rate warm-up
    iter_scale: float = 1.0              # scales the stopping rule's cap and windows (transinv.stopping) ...
    pretrain_iter_scale: float = 1.0     # ... and this, of translated and segregated pretrainings
    input_stats: str = "canvas"          # input normalisation: "canvas" (each dataset's canvases, the authors')
    imagenet_input_stats: str = "canvas" # ... of ImageNet-pretrained models; "weights": the weights' own statistics
    eval_items: int = 100                # test items shown at each grid centre, spread evenly over the classes
    max_iters: int | None = None         # the stopping rule's cap at one location (None: 5000 times iter_scale) ...
    pretrain_max_iters: int | None = None  # ... and of pretrainings (None: 5000 times pretrain_iter_scale)
    own_items: int | None = None         # held-out test items of a run's own task, placed as in its training
                                         # (None: its own accuracy is read from the test grid)

    @classmethod
    def from_settings(cls, settings: dict) -> Preset:
        """The preset recorded in a run's ``config.json`` (``preset_settings``)."""
        return cls(**{**settings, "grid": tuple(settings["grid"])})

    def __post_init__(self):  # a geometry that cannot work fails here, before a run directory is made
        for name in ("input_stats", "imagenet_input_stats"):
            if getattr(self, name) not in INPUT_STATS:
                raise ValueError(f"{name} must be one of {INPUT_STATS}, but got {getattr(self, name)!r}")
        for name in ("canvas_size", "imagenet_canvas_size"):
            _check_integer(self, name, 32, 4096)
            if getattr(self, name) % 32:
                raise ValueError(f"{name} must be a multiple of 32 (VGG's five 2x poolings), but got "
                                 f"{getattr(self, name)}")
        _check_integer(self, "item_size", 1, self.canvas_size - N_AREAS)  # the areas need a centre each
        low, high = self.centre_range
        if (not isinstance(self.grid, tuple) or not self.grid
                or not all(_is_integer(x) and low <= x < high for x in self.grid)):
            raise ValueError(f"grid must be a tuple of integer centres in [{low}, {high}) (items of {self.item_size} "
                             f"px fully on a {self.canvas_size}-px canvas), but got {self.grid!r}")
        missing = [c for c in self.trained_centre if c not in self.grid]
        if missing:
            raise ValueError(f"grid must hold the trained location's x and y, {self.trained_centre}, but lacks "
                             f"{missing}: accuracy at the trained location is read there")
        for name in ("batch_size", "eval_items"):
            _check_integer(self, name, 1, None)
        for name in ("max_iters", "pretrain_max_iters", "own_items"):
            if getattr(self, name) is not None:
                _check_integer(self, name, 1, None)
        _check_integer(self, "warmup_iters", 0, None)
        for name in ("lr", "iter_scale", "pretrain_iter_scale"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number, but got {value!r}")

    def eval_items_per_class(self, n_classes: int) -> int:
        """Test items per class at each grid centre: ``eval_items`` spread over the classes, at least one."""
        return max(1, self.eval_items // n_classes)

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


def _is_integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_integer(preset: Preset, name: str, low: int, high: int | None) -> None:
    value = getattr(preset, name)
    if not _is_integer(value) or value < low or (high is not None and value > high):
        allowed = f"[{low}, {high}]" if high is not None else f"{low} or more"
        raise ValueError(f"{name} must be an integer, {allowed}, but got {value!r}")


def _round(x: float) -> int:
    return int(x + 0.5)  # half up, unlike Python's round-half-to-even


def scaled(canvas_size: int, name: str | None = None, **settings) -> Preset:
    """The paper's geometry scaled to a square canvas of ``canvas_size`` px; ``settings`` set other fields."""
    if not isinstance(canvas_size, int) or not 64 <= canvas_size <= 4096:
        raise ValueError(f"canvas_size must be an integer in [64, 4096] px, but got {canvas_size!r}")
    factor = canvas_size / PAPER_CANVAS
    item_size = _round(PAPER_ITEM * factor)
    half = item_size // 2
    grid = (half, *(_round(v * factor) for v in PAPER_GRID_INTERIOR), canvas_size - half - 1)
    return Preset(name or f"canvas{canvas_size}", canvas_size, item_size, grid, **settings)


PAPER = scaled(PAPER_CANVAS, "paper")
# 64 px: divisible by VGG's five 2x poolings, small enough to train on 2 CPU cores; items of 14 px.
SMALL = scaled(64, "small", model="vgg16_small", imagenet_model="efficientnet_lite0", imagenet_canvas_size=64,
               lr=3e-4, warmup_iters=100, iter_scale=0.3, eval_items=30)
# The laptop preset (issue 26's study, benchmarks/preset_study.py): small's canvas, with batch norm, the caps raised
# so that EMNIST reaches the authors' criterion (5,000 iterations at one location, as the paper; 20,000 for
# pretrainings, at the paper's window and patience), and each run's own accuracy on 300 held-out items.
LAPTOP = replace(SMALL, name="laptop", model="vgg16_bn_small", max_iters=5000, pretrain_max_iters=20000,
                 own_items=300)
# A plumbing check, not an experiment: at most 20 iterations per run, one test item per class.
TINY = replace(SMALL, name="tiny", iter_scale=0.004, pretrain_iter_scale=0.004, eval_items=1)
PRESETS = {p.name: p for p in (PAPER, SMALL, LAPTOP, TINY)}


def with_canvas(preset: Preset, canvas_size: int) -> Preset:
    """The same preset on another canvas: geometry rescaled by the one rule, other settings kept."""
    geometry = scaled(canvas_size)
    return replace(preset, name=f"{preset.name}@{canvas_size}", canvas_size=canvas_size,
                   item_size=geometry.item_size, grid=geometry.grid) if canvas_size != preset.canvas_size else preset


def get_preset(preset: str | Preset) -> Preset:
    """The preset called ``preset`` ('paper', 'small' or 'tiny'); a Preset passes through."""
    if isinstance(preset, Preset):
        return preset
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[preset]
