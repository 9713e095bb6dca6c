"""transinv: an executable replication of Biscione & Bowers (2020), Learning Translation Invariance in CNNs."""
from .datasets import DATASETS, DatasetNotFoundError, ItemSet, data_root, load_dataset, select_classes
from .evaluate import accuracy_at_and_away, cosine_similarity, grid_accuracy, normalized_accuracy
from .models import MODELS, Classifier, create_model, replace_head
from .presets import PAPER, PRESETS, SMALL, TINY, Preset, get_preset, scaled, with_canvas
from .runs import Run, RunConfig, find_run, load_checkpoint, resolve_device, run
from .stimuli import (PLACEMENTS, ItemBank, area_centres, draw_batch, grid_centres, one_location_centres, place,
                      resize_items, sample_centres, translated_centres)

__all__ = [
    "DATASETS", "DatasetNotFoundError", "ItemSet", "data_root", "load_dataset", "select_classes",
    "accuracy_at_and_away", "cosine_similarity", "grid_accuracy", "normalized_accuracy",
    "MODELS", "Classifier", "create_model", "replace_head",
    "PAPER", "PRESETS", "SMALL", "TINY", "Preset", "get_preset", "scaled", "with_canvas",
    "Run", "RunConfig", "load_checkpoint", "resolve_device", "run",
    "PLACEMENTS", "ItemBank", "area_centres", "draw_batch", "grid_centres", "one_location_centres", "place",
    "resize_items", "sample_centres", "translated_centres",
]
