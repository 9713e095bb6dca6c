"""transinv: an executable replication of Biscione & Bowers (2020), Learning Translation Invariance in CNNs."""
from .datasets import DATASETS, DatasetNotFoundError, ItemSet, data_root, load_dataset, select_classes
from .presets import PAPER, PRESETS, SMALL, Preset, get_preset, scaled
from .stimuli import (PLACEMENTS, area_centres, grid_centres, one_location_centres, place, resize_items,
                      sample_centres, translated_centres)

__all__ = [
    "DATASETS", "DatasetNotFoundError", "ItemSet", "data_root", "load_dataset", "select_classes",
    "PAPER", "PRESETS", "SMALL", "Preset", "get_preset", "scaled",
    "PLACEMENTS", "area_centres", "grid_centres", "one_location_centres", "place", "resize_items",
    "sample_centres", "translated_centres",
]
