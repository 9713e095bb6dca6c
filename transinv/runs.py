"""Runs: one directory per configuration under a results root, resumable, never trained twice.

A run trains (from scratch, from ImageNet weights, or fine-tuning a finished run), then
evaluates on the test grid. Its directory ``<results_root>/<run id>/`` holds
``config.json``, ``ckpt.pt`` (model with its config; during training also the optimizer
and RNG states, to resume), ``log.csv.gz``, ``grid.csv.gz`` (one row per grid centre and
class) and, last, ``done.json`` (why training stopped, iterations, timings). A run without
``done.json`` is unfinished: running it again resumes from its last checkpoint.

The tables are small and worth sharing; the checkpoint is not. A finished run whose
checkpoint was left out (results from git) still serves its tables, and ``run(...,
need_model=True)`` trains its model again when one is needed, leaving the tables as they are: the
restored model must reproduce the kept grid table, or it is deleted and an error says so.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import pickle
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
import torch

from .datasets import DATASETS, ItemSet, data_key, load_dataset, n_classes, select_classes
from .evaluate import eval_batch_size, grid_accuracy
from .models import MODELS, Classifier, create_model, freeze_features, replace_head
from .presets import Preset, get_preset, with_canvas
from .retention import METHODS as RETENTION_METHODS, OldTask, settings as retention_settings
from .stimuli import PLACEMENTS, ItemBank, canvas_stats
from .stopping import StoppingRule
from .train import Speed, make_optimizer, recalibrate_batchnorm, resolve_device, train

__all__ = ["RunConfig", "Run", "run", "find_run", "find_finished", "finished_runs", "load_checkpoint", "describe_run_id"]


@dataclass(frozen=True)
class RunConfig:
    dataset: str                              # one of DATASETS
    placement: str                            # how training items are placed: one of PLACEMENTS
    preset: str | Preset = "small"            # "small", "paper", or a Preset
    classes: tuple[int, ...] | None = None    # train on these classes only (None: all)
    init: str = "vanilla"                     # "vanilla", "imagenet", or the id of a finished run to fine-tune
    model: str | None = None                  # None: the preset's model (or the parent run's)
    freeze_features: bool = False             # fine-tune the classifier layers only
    seed: int = 0
    lr_factor: float = 1.0                    # train at the preset's learning rate times this
    keep_old_task: str | None = None          # fine-tunings: "lwf" or "rehearsal" (transinv.retention)

    def __post_init__(self):  # bad values fail here, before anything is written
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.placement not in PLACEMENTS:
            raise ValueError(f"unknown placement {self.placement!r}; choose one of {', '.join(PLACEMENTS)}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, but got {self.seed!r}")
        if isinstance(self.lr_factor, bool) or not isinstance(self.lr_factor, (int, float)) or not self.lr_factor > 0:
            raise ValueError(f"lr_factor must be a positive number, but got {self.lr_factor!r}")
        if self.keep_old_task is not None:
            if self.keep_old_task not in RETENTION_METHODS:
                raise ValueError(f"keep_old_task must be None or one of {', '.join(RETENTION_METHODS)}, "
                                 f"but got {self.keep_old_task!r}")
            if self.init in ("vanilla", "imagenet"):
                raise ValueError(f"keep_old_task={self.keep_old_task!r} keeps a pretrained task while fine-tuning: "
                                 f"init must be the id of a finished run, not {self.init!r}")
        if self.classes is not None:
            if len(self.classes) == 0:
                raise ValueError("classes=() selects no class: give the class indices to train on, or None for all")
            if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in self.classes):
                raise ValueError(f"classes must be non-negative integer indices, but got {self.classes!r}")


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename: no half-written file survives."""
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
        pass
    try:
        write(tmp.name)
        os.replace(tmp.name, path)
    finally:
        if os.path.exists(tmp.name):
            os.remove(tmp.name)


def _write_json(path: Path, data: dict) -> None:
    _atomic_write(path, lambda name: Path(name).write_text(json.dumps(data, indent=2) + "\n"))


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
    def finished(self) -> bool:
        return (self.path / "done.json").is_file()

    @property
    def result(self) -> dict:
        return json.loads((self.path / "done.json").read_text())

    @property
    def grid(self) -> pd.DataFrame:
        return pd.read_csv(self.path / "grid.csv.gz")

    @property
    def log(self) -> pd.DataFrame:
        return pd.read_csv(self.path / "log.csv.gz")

    @property
    def has_model(self) -> bool:
        return (self.path / "ckpt.pt").is_file()

    def ready(self, need_model: bool = False) -> bool:
        """Finished, and with its model if ``need_model`` (shared results come without checkpoints)."""
        return self.finished and (self.has_model or not need_model)

    def load_model(self, device: str | torch.device = "cpu") -> Classifier:
        """The trained model, in eval mode."""
        if not self.has_model:
            raise FileNotFoundError(f"run {self.id} has no checkpoint here (results shared without their models): "
                                    f"call run(config, results_root, need_model=True) to train it again")
        return load_checkpoint(self.path / "ckpt.pt", device=device).eval()

    def analysis(self, name: str, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """A table computed from the trained run, kept in its directory as ``<name>.csv`` (so that shared
        results need no model): read if it is there, else ``compute()``d and written."""
        kept = self.path / f"{name}.csv"
        if kept.is_file():
            return pd.read_csv(kept)
        table = compute()
        _atomic_write(kept, lambda tmp: table.to_csv(tmp, index=False))
        return table


def _read_checkpoint(path: Path, map_location="cpu") -> dict:
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as error:  # truncated: zip reader, unpickler
        raise ValueError(f"the checkpoint {path} is damaged ({type(error).__name__}: {error}). Delete it: the run "
                         f"then trains from the start (its tables, if finished, are kept)") from error


def load_checkpoint(path: Path, *, device: str | torch.device = "cpu") -> Classifier:
    """The model saved in a run's checkpoint file."""
    checkpoint = _read_checkpoint(path, map_location=device)
    config = checkpoint["config"]
    model = create_model(config["model"], num_classes=config["num_classes"], canvas_size=config["canvas_size"])
    model.load_state_dict(checkpoint["model"])
    model.frozen_batchnorm = checkpoint.get("frozen_batchnorm", False)
    return model.to(device)


def finished_runs(results_root: str | Path) -> list[Run]:
    """Every finished run under ``results_root``, by id."""
    root = Path(results_root).expanduser()
    return [Run(p) for p in sorted(root.iterdir()) if (p / "done.json").is_file()] if root.is_dir() else []


# Finding a run: its full configuration, and the id that hashes it.

# Settings added after runs were shared: at these values they are left out of the configuration that a run id
# hashes, so that the runs made before them keep their ids.
LATER_SETTINGS = {"lr_factor": 1.0, "keep_old_task": None}


def _resolve(config: RunConfig, results_root: Path) -> tuple[dict, Preset]:
    """The full configuration that identifies a run (every setting that changes its numbers), and its preset
    on the run's own canvas. The dataset is read once per process: the data itself is part of the id
    (:func:`transinv.datasets.data_key`)."""
    preset = get_preset(config.preset)
    model, canvas_size, parent = config.model or preset.model, preset.canvas_size, None
    if config.init == "imagenet":
        model = config.model or preset.imagenet_model
        canvas_size = preset.imagenet_canvas_size
    elif config.init != "vanilla":
        parent_run = Run(results_root / config.init)
        if not parent_run.finished:
            raise ValueError(f"init={config.init!r} must be 'vanilla', 'imagenet' or the id of a finished run "
                             f"in {results_root}")
        parent = parent_run.config
        model, canvas_size = parent["model"], parent["canvas_size"]
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    preset = with_canvas(preset, canvas_size)
    if config.lr_factor != 1:
        preset = dataclasses.replace(preset, lr=float(f"{preset.lr * config.lr_factor:.6g}"))  # 3e-05, not 2.99...e-05
    resolved = {**dataclasses.asdict(config), "classes": list(config.classes) if config.classes else None,
                "model": model, "num_classes": len(config.classes) if config.classes else n_classes(config.dataset),
                "canvas_size": canvas_size, "preset_settings": dataclasses.asdict(preset), "parent": parent,
                "data": data_key(config.dataset)}
    for name, default in LATER_SETTINGS.items():
        if resolved[name] == default:
            del resolved[name]
    if config.keep_old_task:
        resolved["old_task"] = retention_settings(config.keep_old_task)
    return resolved, preset


def _run_id(resolved: dict) -> str:
    digest = hashlib.sha1(json.dumps(resolved, sort_keys=True).encode()).hexdigest()[:10]
    init = resolved["init"] if resolved["init"] in ("vanilla", "imagenet") else "finetuned"
    return f"{resolved['dataset']}-{resolved['placement']}-{init}-{resolved['model']}-s{resolved['seed']}-{digest}"


def describe_run_id(run_id: str) -> dict:
    """What a run id says in words: dataset, placement, init ('vanilla', 'imagenet', 'finetuned'), model, seed."""
    try:
        dataset, placement, init, model, seed, _ = run_id.split("-")
        return {"dataset": dataset, "placement": placement, "init": init, "model": model, "seed": int(seed[1:])}
    except ValueError as error:
        raise ValueError(f"{run_id!r} is not a run id (dataset-placement-init-model-s<seed>-<hash>)") from error


def _locate(config: RunConfig, results_root: Path, speed: Speed) -> Run:
    resolved, preset = _resolve(config, results_root)
    resolved["precision"] = "bf16" if speed.autocast else "float32"
    return Run(results_root / _run_id(resolved), _config=resolved, _preset=preset)


def find_run(config: RunConfig, results_root: str | Path = "results", *, device: str | torch.device = "auto",
             precision: str = "auto") -> Run:
    """The run directory that ``run(config, ...)`` would use, finished or not; nothing is trained."""
    return _locate(config, Path(results_root).expanduser(), Speed.for_device(resolve_device(device), precision))


def find_finished(config: RunConfig, results_root: str | Path = "results", *,
                  device: str | torch.device = "auto", precision: str = "auto") -> Run:
    """:func:`find_run`; where that run is not finished, the same configuration finished at the other
    precision if there is one (runs trained on a GPU in bfloat16, read on a CPU). Nothing is trained."""
    here = find_run(config, results_root, device=device, precision=precision)
    if not here.finished:
        other = find_run(config, results_root, device=device,
                         precision="float32" if here.config["precision"] == "bf16" else "bf16")
        if other.finished:
            return other
    return here


# Running one: train (or resume), then evaluate.

def run(config: RunConfig, results_root: str | Path = "results", *, device: str | torch.device = "auto",
        precision: str = "auto", progress: bool = True, checkpoint_seconds: float = 60.0, need_model: bool = False) -> Run:
    """Train and evaluate ``config`` once; later calls return the finished run (or resume an unfinished one).

    ``precision``: 'auto' (bfloat16 autocast on a GPU, float32 on the CPU), 'float32' or 'bf16'.
    ``need_model``: a finished run without its checkpoint is trained again (same seed) to restore it;
    its tables are kept, and the restored model must reproduce its grid table (else RuntimeError, and no
    checkpoint). Fine-tuned runs need their parent's model: restore the parent first.
    """
    started = time.perf_counter()
    results_root = Path(results_root).expanduser()
    device = resolve_device(device)
    speed = Speed.for_device(device, precision)
    this = _locate(config, results_root, speed)
    if this.ready(need_model):
        return this
    if this.finished:
        return _retrain_model(this, lambda: run(config, results_root, device=device, precision=precision,
                                               progress=progress, checkpoint_seconds=checkpoint_seconds))
    items = load_dataset(config.dataset)  # before the run directory exists: missing data leave nothing behind
    if config.classes:
        items = select_classes(items, list(config.classes))
    try:
        this.path.mkdir(parents=True, exist_ok=True)
        _write_json(this.path / "config.json", this.config)
    except OSError as error:
        raise PermissionError(f"cannot write the run directory {this.path}: {error.strerror}. "
                              f"Choose a writable results_root") from error
    with _one_thread_on_cpu(device):
        bank = ItemBank.build(items.train_images, items.train_labels, this.preset.item_size, device)
        model = _initial_model(this, bank, results_root, device)
        setup_seconds = time.perf_counter() - started  # data, model, input statistics: before training starts
        ckpt_path = this.path / "ckpt.pt"
        state = _read_checkpoint(ckpt_path) if ckpt_path.is_file() else {}
        if state:  # an interrupted run: pick up where it stopped
            model.load_state_dict(state["model"])
            if "rule" in state:  # said, so that the log of a preempted job shows where it went on
                print(f"{this.id}: resuming at iteration {state['rule']['iterations']}", flush=True)
        if "reason" not in state:  # else trained already, and the evaluation was interrupted
            state = _train(this, model, bank, state, device, speed, progress, checkpoint_seconds)
        _evaluate(this, model, items, state, device, speed, setup_seconds)
    return this


@contextmanager
def _one_thread_on_cpu(device: torch.device):
    """On the CPU a run computes on one thread, alone or beside others, so that its numbers never depend
    on how many runs share the machine (reductions split over threads round differently)."""
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _initial_model(this: Run, bank: ItemBank, results_root: Path, device: torch.device) -> Classifier:
    """The model before training: new (random or ImageNet weights), or the parent's with a new head; its
    input normalised as the preset says (the authors': by the statistics of this run's training canvases)."""
    config = this.config
    torch.manual_seed(config["seed"])  # model initialisation and dropout
    if config["parent"] is not None:
        model = replace_head(Run(results_root / config["init"]).load_model(), config["num_classes"])
    else:
        model = create_model(config["model"], num_classes=config["num_classes"],
                             canvas_size=this.preset.canvas_size, pretrained=config["init"] == "imagenet")
    model = model.to(device)
    stats = this.preset.imagenet_input_stats if config["init"] == "imagenet" else this.preset.input_stats
    if stats == "canvas":  # a fine-tuned model switches to its new dataset's statistics
        model.set_input_stats(*canvas_stats(bank, config["placement"], this.preset))
    return freeze_features(model) if config["freeze_features"] else model


def _save_checkpoint(this: Run, model: Classifier, **extra) -> None:
    content = {"model": model.state_dict(), "config": this.config, "frozen_batchnorm": model.frozen_batchnorm, **extra}
    _atomic_write(this.path / "ckpt.pt", lambda name: torch.save(content, name))


def _train(this: Run, model: Classifier, bank: ItemBank, state: dict, device: torch.device, speed: Speed,
           progress: bool, checkpoint_seconds: float) -> dict:
    """Train from ``state`` (empty: from the start) until the stopping rule fires, then re-estimate batch-norm
    statistics; write the log and the final checkpoint, and return its state (why training stopped, how long
    it took)."""
    preset, config = this.preset, this.config
    placement = config["placement"]
    old_task = None
    if config.get("keep_old_task"):  # a second head on the pretrained task (transinv.retention)
        parent = Run(this.path.parent / config["init"])
        old_task = OldTask.build(config["keep_old_task"], parent.config, parent.load_model(device), bank, preset)
    optimizer = make_optimizer(model if old_task is None else torch.nn.ModuleList([model, old_task.head]), preset.lr)
    rule, log = StoppingRule.for_preset(preset, placement), []
    generator = torch.Generator(device).manual_seed(this.config["seed"])
    if state:
        if old_task is not None:
            old_task.head.load_state_dict(state["old_head"])
        optimizer.load_state_dict(state["optimizer"])
        rule, log = StoppingRule(**state["rule"]), state["log"]
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
    start = time.perf_counter() - state.get("train_seconds", 0.0)

    old_head = {} if old_task is None else {"old_head": old_task.head.state_dict()}  # the pretrained task's head

    def save_training_state():
        _save_checkpoint(this, model, optimizer=optimizer.state_dict(), rule=dataclasses.asdict(rule), log=log,
                         generator=generator.get_state(), torch_rng=torch.get_rng_state(),
                         train_seconds=time.perf_counter() - start, **old_head)

    reason = train(model, bank, placement, preset, generator=generator, optimizer=optimizer, rule=rule, log=log,
                   speed=speed, checkpoint=save_training_state, checkpoint_seconds=checkpoint_seconds,
                   progress=progress, desc=this.id, extra_loss=None if old_task is None else old_task.loss)
    recalibrated = recalibrate_batchnorm(model, bank, placement, preset, generator, speed)
    final = {"reason": reason, "iterations": rule.iterations, "train_seconds": time.perf_counter() - start,
             "batchnorm_recalibrated": recalibrated}
    _atomic_write(this.path / "log.csv.gz", lambda name: pd.DataFrame(
        log, columns=["iteration", "loss", "accuracy"]).to_csv(name, index=False, compression="gzip"))
    _save_checkpoint(this, model, **final, **old_head)
    return final


def _evaluate(this: Run, model: Classifier, items: ItemSet, state: dict, device: torch.device,
              speed: Speed, setup_seconds: float) -> None:
    """Evaluate on the test grid and write the grid table, then ``done.json``: the run is finished."""
    preset = this.preset
    iterations = int(this.log["iteration"].max()) + 1
    start = time.perf_counter()
    grid = grid_accuracy(model, items, preset, per_class=preset.eval_items_per_class(items.n_classes), device=device,
                         batch_size=eval_batch_size(preset, device), autocast=speed.autocast)
    eval_seconds = time.perf_counter() - start
    _atomic_write(this.path / "grid.csv.gz", lambda name: grid.to_csv(name, index=False, compression="gzip"))
    _write_json(this.path / "done.json", {
        "stop_reason": state["reason"], "iterations": iterations, "train_seconds": round(state["train_seconds"], 1),
        "train_images_per_second": round(iterations * preset.batch_size / state["train_seconds"], 1),
        "eval_seconds": round(eval_seconds, 1), "setup_seconds": round(setup_seconds, 1),
        "eval_items_per_location": int(grid.groupby(["x", "y"])["n"].sum().iloc[0]),
        "input_mean": round(float(model.mean[0]), 4), "input_std": round(float(model.std[0]), 4),
        "batchnorm_recalibrated": state.get("batchnorm_recalibrated", False),
        "device": str(device), "data_source": items.source, "torch": torch.__version__,
    })


def _retrain_model(this: Run, train_again) -> Run:
    """Train a finished run again to restore its missing checkpoint. The restored model is evaluated again and
    must reproduce the kept grid table (CPU runs are bit-identical); either way the kept tables stay as they were."""
    kept = {p.name: p.read_bytes() for p in this.path.iterdir() if p.is_file()}
    made_on = this.result.get("device", "?")
    (this.path / "done.json").unlink()
    try:
        train_again()
        retrained_on = this.result["device"]
        differ = _differing_rows(kept["grid.csv.gz"], this.path / "grid.csv.gz")
    except BaseException:
        (this.path / "ckpt.pt").unlink(missing_ok=True)  # a half-trained model must not pass for the run's
        raise
    finally:
        for name, content in kept.items():
            (this.path / name).write_bytes(content)
    if differ:
        (this.path / "ckpt.pt").unlink(missing_ok=True)  # a model that is not the run's must not pass for it
        raise RuntimeError(
            f"run {this.id}: the model trained again (same seed, on {retrained_on}) does not reproduce the kept "
            f"grid table ({differ}; the table was made on {made_on}). Its checkpoint was deleted and its tables "
            f"kept. Runs are bit-identical on the CPU only: retrain it where it was made, or delete the run to "
            f"train it anew")
    return this


def _differing_rows(kept_grid: bytes, new_grid: Path) -> str:
    """'' when the grid table in ``new_grid`` holds the numbers of the kept one (gzipped CSV), else what differs."""
    kept, new = pd.read_csv(io.BytesIO(kept_grid), compression="gzip"), pd.read_csv(new_grid)
    if list(kept.columns) != list(new.columns) or len(kept) != len(new):
        return f"{len(new)} rows of {list(new.columns)} against {len(kept)} of {list(kept.columns)}"
    rows = int((kept != new).any(axis=1).sum())
    return f"{rows} of {len(kept)} rows differ" if rows else ""
