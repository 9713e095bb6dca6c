"""Runs: one directory per configuration under a results root, resumable, never trained twice.

A run trains (from scratch, from ImageNet weights, or fine-tuning a finished run), then evaluates on the
test grid. Three modules, one job each:

- ``identity``: a configuration (:class:`RunConfig`), the full configuration it resolves to, and its run id;
- ``directory``: the run's directory (:class:`Run`), its files, checkpoints and shipped model;
- ``lifecycle``: finding a run, training or resuming it, evaluating it, restoring a model left out of shared
  results (:func:`run`, :func:`find_run`, :func:`find_finished`).

``old_tasks`` holds the ways a fine-tuning can keep its pretrained task, which :mod:`transinv.retention` registers.
"""
from .directory import Run, finished_runs, load_checkpoint
from .identity import LATER_SETTINGS, RunConfig, describe_run_id
from .lifecycle import find_finished, find_run, load_shipped_model, run, viewable_model

__all__ = ["RunConfig", "Run", "run", "find_run", "find_finished", "finished_runs", "load_checkpoint",
           "describe_run_id", "load_shipped_model", "viewable_model"]
