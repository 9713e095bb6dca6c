"""transinv: an executable replication of Biscione & Bowers (2020), Learning Translation Invariance in CNNs.

One module per step of the protocol: ``presets`` (sizes), ``datasets`` (items), ``stimuli`` (placement
on the canvas), ``models``, ``stopping`` (the authors' stopping rule), ``train`` (the loop), ``runs``
(one directory per run: ``runs.identity``, a run's configuration and id; ``runs.directory``, its files;
``runs.lifecycle``, training, resuming and evaluating it), ``graph`` (runs as a graph of parents and families), ``estimate`` (run times predicted),
``protocol`` (the whole protocol as one graph), ``scheduler`` (runs any graph side by side, within a budget),
``executors`` (local processes or Slurm jobs), ``speedups`` (speed switches of a GPU machine), ``repetition``
(one repetition as one call, packed), ``experiments`` (the notebooks' entry points),
``evaluate`` (the test grid), ``tables`` (runs as tables), ``analysis`` (cosine similarity),
``retention`` and ``forgetting`` (beyond the paper: fine-tuning that keeps the pretrained task),
``verdicts`` (claim by claim) and ``plots``.
"""
from . import retention  # first: it registers the ways to keep an old task (runs.old_tasks) that RunConfig accepts
from .analysis import cosine_conditions, cosine_similarity, mean_cosine_away
from .datasets import DATASETS, DatasetNotFoundError, ItemSet, data_root, load_dataset, n_classes, select_classes
from .executors import EXECUTORS, SlurmSettings
from .evaluate import accuracy_at_and_away, grid_accuracy, normalized_accuracy
from .models import MODELS, Classifier, create_model, freeze_features, replace_head
from .scheduler import run_all
from .presets import LAPTOP, PAPER, PRESETS, SMALL, TINY, Preset, get_preset, scaled, with_canvas
from .runs import Run, RunConfig, describe_run_id, find_run, finished_runs, load_checkpoint, run
from .stimuli import (PLACEMENTS, ItemBank, area_centres, draw_batch, grid_centres, one_location_centres, place,
                      resize_items, sample_centres, translated_centres)
from .stopping import StoppingRule
from .tables import compute_by_kind, pooled_grids, summarize
from .train import resolve_device

__all__ = [
    "cosine_conditions", "cosine_similarity", "mean_cosine_away",
    "DATASETS", "DatasetNotFoundError", "ItemSet", "data_root", "load_dataset", "n_classes", "select_classes",
    "EXECUTORS", "SlurmSettings",
    "accuracy_at_and_away", "grid_accuracy", "normalized_accuracy",
    "MODELS", "Classifier", "create_model", "freeze_features", "replace_head",
    "run_all",
    "LAPTOP", "PAPER", "PRESETS", "SMALL", "TINY", "Preset", "get_preset", "scaled", "with_canvas",
    "Run", "RunConfig", "describe_run_id", "find_run", "finished_runs", "load_checkpoint", "resolve_device", "run",
    "PLACEMENTS", "ItemBank", "area_centres", "draw_batch", "grid_centres", "one_location_centres", "place",
    "resize_items", "sample_centres", "translated_centres",
    "StoppingRule",
    "compute_by_kind", "pooled_grids", "summarize",
]
