"""A run's directory ``<results_root>/<run id>/``: what is read from it, and how its files are written.

``config.json`` (the full configuration), ``ckpt.pt`` (model with its config; during training also the
optimizer and RNG states, to resume; never committed), ``log.csv.gz``, ``grid.csv.gz`` (one row per grid centre
and class), ``model.pt`` for the few runs whose model is committed (:func:`ship_model`), analyses kept as
``<name>.csv`` and, last, ``done.json`` (why training stopped, iterations, timings). Every file is written whole
or not at all (:func:`atomic_write`), so an interrupted run leaves no half-written one.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
import torch

from ..models import Classifier, create_model
from ..presets import Preset

SHIPPED = "model.pt"  # a finished run's model, committed with its tables (see ship_model)

__all__ = ["Run", "finished_runs", "load_checkpoint", "read_checkpoint", "save_checkpoint", "checkpoint_of",
           "atomic_write", "write_json", "ship_model", "shipped_model", "SHIPPED"]


def atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename: no half-written file survives."""
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
        pass
    try:
        write(tmp.name)
        os.replace(tmp.name, path)
    finally:
        if os.path.exists(tmp.name):
            os.remove(tmp.name)


def write_json(path: Path, data: dict) -> None:
    atomic_write(path, lambda name: Path(name).write_text(json.dumps(data, indent=2) + "\n"))


@dataclass
class Run:
    """A run directory. Its configuration and preset are read from ``config.json`` when first asked for
    (or kept from when the run was located, before the directory exists)."""
    path: Path
    _config: dict | None = field(default=None, repr=False, compare=False)
    _preset: Preset | None = field(default=None, repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def config(self) -> dict:
        if self._config is None:
            self._config = json.loads((self.path / "config.json").read_text())
        return self._config

    @property
    def preset(self) -> Preset:
        """The preset the run was trained with, on its own canvas."""
        if self._preset is None:
            self._preset = Preset.from_settings(self.config["preset_settings"])
        return self._preset

    @property
    def is_finetuning(self) -> bool:
        """Whether the run fine-tunes another run (its configuration then keeps the parent's as ``parent``)."""
        return self.config["parent"] is not None

    @property
    def parent(self) -> Run | None:
        """The run it fine-tunes, beside it under the same results root; None for a run from scratch or ImageNet."""
        return Run(self.path.parent / self.config["init"]) if self.is_finetuning else None

    @property
    def finished(self) -> bool:
        return (self.path / "done.json").is_file()

    @property
    def result(self) -> dict:
        return json.loads((self.path / "done.json").read_text())

    @property
    def grid(self) -> pd.DataFrame:
        return pd.read_csv(self.path / "grid.csv.gz")

    @property
    def own(self) -> pd.DataFrame | None:
        """Accuracy on held-out items of its own task, placed as in training (one row per class), where its preset
        asks for it (``own_items``); None else: its own accuracy is then read from the grid."""
        path = self.path / "own.csv.gz"
        return pd.read_csv(path) if path.is_file() else None

    @property
    def grid_fingerprint(self) -> str:
        """Which training made the run: a digest of its grid table's content (two trainings on a GPU differ). A
        fine-tuning records its parent's as ``parent_grid``, so that no table mixes two trainings of one parent."""
        return table_fingerprint((self.path / "grid.csv.gz").read_bytes())

    @property
    def log(self) -> pd.DataFrame:
        return pd.read_csv(self.path / "log.csv.gz")

    @property
    def has_model(self) -> bool:
        return (self.path / "ckpt.pt").is_file()

    @property
    def has_shipped_model(self) -> bool:
        """Whether the run's model came with the shared results (``model.pt``: to look at, never to train from)."""
        return (self.path / SHIPPED).is_file()

    def ready(self, need_model: bool = False) -> bool:
        """Finished, and with its model if ``need_model`` (shared results come without checkpoints)."""
        return self.finished and (self.has_model or not need_model)

    def load_model(self, device: str | torch.device = "cpu") -> Classifier:
        """The trained model, in eval mode."""
        if not self.has_model:
            raise FileNotFoundError(f"run {self.id} has no checkpoint here (results shared without their models): "
                                    f"call run(config, results_root, need_model=True) to train it again")
        return _model_from(checkpoint_of(self, map_location=device), device).eval()

    def analysis(self, name: str, compute: Callable[[], pd.DataFrame] | None) -> pd.DataFrame | None:
        """A table computed from the trained run, kept in its directory as ``<name>.csv`` (so that shared
        results need no model): read if it is there, else ``compute()``d and written (None without ``compute``)."""
        kept = self.path / f"{name}.csv"
        if kept.is_file():
            return pd.read_csv(kept)
        if compute is None:
            return None
        table = compute()
        atomic_write(kept, lambda tmp: table.to_csv(tmp, index=False))
        return table


def table_fingerprint(gzipped: bytes) -> str:
    """A digest of a gzipped table's content (not of its gzip header, which holds the time it was written)."""
    return hashlib.sha1(gzip.decompress(gzipped)).hexdigest()[:16]


def finished_runs(results_root: str | Path) -> list[Run]:
    """Every finished run under ``results_root``, by id."""
    root = Path(results_root).expanduser()
    return [Run(p) for p in sorted(root.iterdir()) if (p / "done.json").is_file()] if root.is_dir() else []


def read_checkpoint(path: Path, map_location="cpu") -> dict:
    """Everything a checkpoint file holds; a damaged one fails with the fix."""
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as error:  # truncated: zip reader, unpickler
        raise ValueError(f"the checkpoint {path} is damaged ({type(error).__name__}: {error}). Delete it: the run "
                         f"then trains from the start (its tables, if finished, are kept)") from error


def checkpoint_of(this: Run, map_location="cpu") -> dict:
    """The run's ``ckpt.pt``, refused when it belongs to another run (a file copied from another run's directory
    would otherwise be loaded, or resumed, as this run's)."""
    path = this.path / "ckpt.pt"
    checkpoint = read_checkpoint(path, map_location)
    if _normalised(checkpoint.get("config")) != _normalised(this.config):
        owner = f"run {checkpoint['run']}" if checkpoint.get("run") else "another run (its configuration differs)"
        raise ValueError(f"the checkpoint {path} belongs to {owner}, not to run {this.id}: copied from another run's "
                         f"directory? Delete it: run {this.id} then trains from the start (its tables, if finished, "
                         f"are kept)")
    return checkpoint


def _normalised(config: dict | None) -> dict | None:
    return None if config is None else json.loads(json.dumps(config, sort_keys=True))


def save_checkpoint(this: Run, model: Classifier, **extra) -> None:
    """The run's ``ckpt.pt``: its model, id and configuration, and ``extra`` (training state, or why it stopped)."""
    content = {"model": model.state_dict(), "run": this.id, "config": this.config,
               "frozen_batchnorm": model.frozen_batchnorm, **extra}
    atomic_write(this.path / "ckpt.pt", lambda name: torch.save(content, name))


def ship_model(this: Run) -> Path:
    """Write the run's trained model, from its checkpoint, as ``model.pt`` beside its tables: its weights and
    buffers alone (no training state), for the few models committed with the results."""
    checkpoint = checkpoint_of(this)
    content = {key: checkpoint[key] for key in ("model", "run", "config", "frozen_batchnorm")}
    path = this.path / SHIPPED
    atomic_write(path, lambda name: torch.save(content, name))
    return path


def shipped_model(this: Run, device: str | torch.device = "cpu") -> Classifier:
    """The model in the run's ``model.pt``, in eval mode, refused when it belongs to another run. Unchecked:
    :func:`transinv.runs.lifecycle.load_shipped_model` also checks it against the run's grid table."""
    content = read_checkpoint(this.path / SHIPPED, device)
    if content.get("run") != this.id:
        raise ValueError(f"{this.path / SHIPPED} belongs to run {content.get('run')}, not to run {this.id}: "
                         f"copied from another run's directory? Delete it")
    return _model_from(content, device).eval()


def load_checkpoint(path: Path, *, device: str | torch.device = "cpu") -> Classifier:
    """The model saved in a checkpoint file (:meth:`Run.load_model` also checks that it is the run's)."""
    return _model_from(read_checkpoint(path, map_location=device), device)


def _model_from(checkpoint: dict, device: str | torch.device) -> Classifier:
    config = checkpoint["config"]
    model = create_model(config["model"], num_classes=config["num_classes"], canvas_size=config["canvas_size"])
    model.load_state_dict(checkpoint["model"])
    model.frozen_batchnorm = checkpoint.get("frozen_batchnorm", False)
    return model.to(device)
