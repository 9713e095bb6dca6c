"""A run's lifecycle: find its directory, train it (or resume it), evaluate it; restore a missing model.

A run without ``done.json`` is unfinished: running it again resumes from its last checkpoint. A finished run
whose checkpoint was left out (results from git) still serves its tables, and ``run(..., need_model=True)``
trains its model again when one is needed, leaving the tables as they are: the restored model must reproduce
the kept grid table, or it is deleted and an error says so.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import functools
import io
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import torch

from ..datasets import ItemSet, load_dataset, select_classes
from ..evaluate import eval_batch_size, grid_accuracy, own_task_accuracy
from ..models import Classifier, create_model, freeze_features, replace_head
from ..stimuli import ItemBank, canvas_stats
from ..stopping import StoppingRule
from ..train import Speed, device_name, make_optimizer, recalibrate_batchnorm, resolve_device, train
from .directory import SHIPPED, Run, atomic_write, checkpoint_of, save_checkpoint, shipped_model, write_json
from .identity import RunConfig, resolve, run_id
from .old_tasks import OLD_TASK_METHODS

__all__ = ["run", "find_run", "find_finished", "load_shipped_model", "viewable_model"]


# Finding a run: its directory, named by its full configuration at the precision it trains in.

def _locate(config: RunConfig, results_root: Path, device: torch.device, precision: str,
            parent: Run | None = None) -> tuple[Run, Speed]:
    """The run and how it trains. Under ``precision="auto"`` a run that exists at the other precision is that
    run where the chosen one does not (finished, or started and not begun here): committed runs made in bfloat16
    serve a CPU without it, and float32 ones a CPU with it, never trained again."""
    resolved, preset = resolve(config, results_root, parent)
    speed = Speed.for_device(device, precision, resolved["model"])

    def at(autocast: bool) -> Run:
        settings = {**resolved, "precision": "bf16" if autocast else "float32"}
        return Run(results_root / run_id(settings), _config=settings, _preset=preset)
    chosen = at(speed.autocast)
    if precision == "auto" and not chosen.finished:
        other = at(not speed.autocast)
        if other.finished or (other.path.is_dir() and not chosen.path.is_dir()):
            return other, dataclasses.replace(speed, autocast=not speed.autocast)
    return chosen, speed


def find_run(config: RunConfig, results_root: str | Path = "results", *, device: str | torch.device = "auto",
             precision: str = "auto", parent: Run | None = None) -> Run:
    """The run directory that ``run(config, ...)`` would use, finished or not; nothing is trained. A fine-tuning
    whose parent is not finished yet is found under ``parent``, that parent's run (from ``find_run``)."""
    return _locate(config, Path(results_root).expanduser(), resolve_device(device), precision, parent)[0]


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
        precision: str = "auto", progress: bool = True, checkpoint_seconds: float = 60.0,
        need_model: bool = False) -> Run:
    """Train and evaluate ``config`` once; later calls return the finished run (or resume an unfinished one).

    ``precision``: 'auto' (bfloat16 autocast on a GPU, and on a CPU with native bf16 for the models in
    :data:`transinv.train.BF16_ON_CPU`; float32 else; a run finished at the other precision is reused), 'float32'
    or 'bf16'.
    ``need_model``: a finished run without its checkpoint is trained again (same seed) to restore it;
    its tables are kept, and the restored model must reproduce its grid table (else RuntimeError, and no
    checkpoint). Fine-tuned runs need their parent's model: restore the parent first.
    """
    started = time.perf_counter()
    results_root = Path(results_root).expanduser()
    device = resolve_device(device)
    this, speed = _locate(config, results_root, device, precision)
    if this.ready(need_model):
        return this
    if this.finished:
        return _retrain_model(this, lambda: run(config, results_root, device=device,
                                               precision=this.config["precision"], progress=progress,
                                               checkpoint_seconds=checkpoint_seconds))
    items = _items(config.dataset, config.classes)  # before the run directory exists: missing data leave nothing
    try:
        this.path.mkdir(parents=True, exist_ok=True)
        write_json(this.path / "config.json", this.config)
    except OSError as error:
        raise PermissionError(f"cannot write the run directory {this.path}: {error.strerror}. "
                              f"Choose a writable results_root") from error
    with _one_thread_on_cpu(device):
        bank = ItemBank.build(items.train_images, items.train_labels, this.preset.item_size, device)
        model = _initial_model(this, bank, device)
        setup_seconds = time.perf_counter() - started  # data, model, input statistics: before training starts
        ckpt_path = this.path / "ckpt.pt"
        state = checkpoint_of(this) if ckpt_path.is_file() else {}
        if state:  # an interrupted run: pick up where it stopped
            model.load_state_dict(state["model"])
            if "rule" in state:  # said, so that the log of a preempted job shows where it went on
                print(f"{this.id}: resuming at iteration {state['rule']['iterations']}", flush=True)
        if "reason" not in state:  # else trained already, and the evaluation was interrupted
            state = _train(this, model, bank, state, device, speed, progress, checkpoint_seconds)
        _evaluate(this, model, items, state, device, speed, setup_seconds)
    return this


def _items(dataset: str, classes) -> ItemSet:
    items = load_dataset(dataset)
    return select_classes(items, list(classes)) if classes else items


@contextmanager
def _one_thread_on_cpu(device: torch.device):
    """On the CPU a run computes on one thread, alone or beside others, so that its numbers never depend
    on how many runs share the machine (reductions split over threads round differently)."""
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
        keep_freed_buffers()
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@functools.cache
def keep_freed_buffers() -> bool:
    """Let glibc keep large freed buffers for reuse (this process, from now on): by default it maps each buffer
    over 32 MB afresh and the kernel zeroes every page on first touch, and an evaluation batch (512 canvases of
    64 px) needs several, so half an evaluation's CPU time went to the system (``benchmarks/evaluation.py``).
    The numbers are unchanged; the memory stays with the process. False where the C library is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    return bool(mallopt(m_mmap_threshold, 1 << 30) and mallopt(m_trim_threshold, (1 << 31) - 1))


def _initial_model(this: Run, bank: ItemBank, device: torch.device) -> Classifier:
    """The model before training: new (random or ImageNet weights), or the parent's with a new head; its
    input normalised as the preset says (the authors': by the statistics of this run's training canvases)."""
    config = this.config
    torch.manual_seed(config["seed"])  # model initialisation and dropout
    if this.is_finetuning:
        model = replace_head(this.parent.load_model(), config["num_classes"])
    else:
        model = create_model(config["model"], num_classes=config["num_classes"],
                             canvas_size=this.preset.canvas_size, pretrained=config["init"] == "imagenet")
    model = model.to(device)
    stats = this.preset.imagenet_input_stats if config["init"] == "imagenet" else this.preset.input_stats
    if stats == "canvas":  # a fine-tuned model switches to its new dataset's statistics
        model.set_input_stats(*canvas_stats(bank, config["placement"], this.preset))
    return freeze_features(model) if config["freeze_features"] else model


def _train(this: Run, model: Classifier, bank: ItemBank, state: dict, device: torch.device, speed: Speed,
           progress: bool, checkpoint_seconds: float) -> dict:
    """Train from ``state`` (empty: from the start) until the stopping rule fires, then re-estimate batch-norm
    statistics; write the log and the final checkpoint, and return its state (why training stopped, how long
    it took)."""
    preset, config = this.preset, this.config
    placement = config["placement"]
    old_task = None
    if config.get("keep_old_task"):  # a second head on the pretrained task (transinv.retention)
        parent, build = this.parent, OLD_TASK_METHODS[config["keep_old_task"]].build
        old_task = build(parent.config, parent.load_model(device), bank, preset)
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
        save_checkpoint(this, model, optimizer=optimizer.state_dict(), rule=dataclasses.asdict(rule), log=log,
                         generator=generator.get_state(), torch_rng=torch.get_rng_state(),
                         train_seconds=time.perf_counter() - start, **old_head)

    reason = train(model, bank, placement, preset, generator=generator, optimizer=optimizer, rule=rule, log=log,
                   speed=speed, checkpoint=save_training_state, checkpoint_seconds=checkpoint_seconds,
                   progress=progress, desc=this.id, extra_loss=None if old_task is None else old_task.loss)
    recalibrated = recalibrate_batchnorm(model, bank, placement, preset, generator, speed)
    final = {"reason": reason, "iterations": rule.iterations, "train_seconds": time.perf_counter() - start,
             "batchnorm_recalibrated": recalibrated}
    atomic_write(this.path / "log.csv.gz", lambda name: pd.DataFrame(
        log, columns=["iteration", "loss", "accuracy"]).to_csv(name, index=False, compression="gzip"))
    save_checkpoint(this, model, **final, **old_head)
    return final


def _evaluate(this: Run, model: Classifier, items: ItemSet, state: dict, device: torch.device,
              speed: Speed, setup_seconds: float) -> None:
    """Evaluate on the test grid and write the grid table, then ``done.json``: the run is finished."""
    preset = this.preset
    iterations = int(this.log["iteration"].max()) + 1
    start = time.perf_counter()
    grid = _grid(this, model, items, device, speed)
    own = _own(this, model, items, device, speed)
    eval_seconds = time.perf_counter() - start
    if own is not None:
        atomic_write(this.path / "own.csv.gz", lambda name: own.to_csv(name, index=False, compression="gzip"))
    atomic_write(this.path / "grid.csv.gz", lambda name: grid.to_csv(name, index=False, compression="gzip"))
    write_json(this.path / "done.json", {
        "stop_reason": state["reason"], "iterations": iterations, "train_seconds": round(state["train_seconds"], 1),
        "train_images_per_second": round(iterations * preset.batch_size / state["train_seconds"], 1),
        "eval_seconds": round(eval_seconds, 1), "setup_seconds": round(setup_seconds, 1),
        "eval_items_per_location": int(grid.groupby(["x", "y"])["n"].sum().iloc[0]),
        **({"own_items": int(own["n"].sum())} if own is not None else {}),
        "input_mean": round(float(model.mean[0]), 4), "input_std": round(float(model.std[0]), 4),
        "batchnorm_recalibrated": state.get("batchnorm_recalibrated", False),
        "device": str(device), "device_name": device_name(device), "data_source": items.source, "torch": torch.__version__,
        **({"parent_grid": this.parent.grid_fingerprint} if this.is_finetuning else {}),
    })


def _grid(this: Run, model: Classifier, items: ItemSet, device: torch.device, speed: Speed) -> pd.DataFrame:
    preset = this.preset
    return grid_accuracy(model, items, preset, per_class=preset.eval_items_per_class(items.n_classes), device=device,
                         batch_size=eval_batch_size(preset, device), autocast=speed.autocast)


def _own(this: Run, model: Classifier, items: ItemSet, device: torch.device, speed: Speed) -> pd.DataFrame | None:
    preset = this.preset
    if preset.own_items is None:
        return None
    return own_task_accuracy(model, items, preset, this.config["placement"], n_items=preset.own_items, device=device,
                             batch_size=eval_batch_size(preset, device), autocast=speed.autocast)


def _retrain_model(this: Run, train_again) -> Run:
    """Train a finished run again to restore its missing checkpoint. The restored model is evaluated again and
    must reproduce the kept grid table (bit-identical on the kind of CPU that made it); either way the kept tables stay as they were."""
    kept = {p.name: p.read_bytes() for p in this.path.iterdir() if p.is_file()}
    made_on = _made_on(this.result)
    (this.path / "done.json").unlink()
    try:
        train_again()
        retrained_on = _made_on(this.result)
        differ = _differing_rows(_read_grid(kept["grid.csv.gz"]), this.grid)
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
            f"kept. Runs are bit-identical only on the kind of CPU that made them: retrain it on one, or delete the "
            f"run (and its fine-tunings) to train it anew here")
    return this


def _made_on(result: dict) -> str:
    return result.get("device_name") or result.get("device", "?")  # runs made before device_name: "cpu" / "cuda"


def _read_grid(gzipped: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(gzipped), compression="gzip")


def _differing_rows(kept: pd.DataFrame, new: pd.DataFrame, allowed: float = 0.0) -> str:
    """'' when the grid table ``new`` holds the numbers of the ``kept`` one (at most the fraction ``allowed`` of its
    rows differing), else what differs."""
    if list(kept.columns) != list(new.columns) or len(kept) != len(new):
        return f"{len(new)} rows of {list(new.columns)} against {len(kept)} of {list(kept.columns)}"
    rows = int((kept != new).any(axis=1).sum())
    return f"{rows} of {len(kept)} rows differ" if rows > allowed * len(kept) else ""


# A shipped model: the few networks committed with the results (the explorer's), so that a fresh clone need not
# train them again. Checked on load: evaluated again, it must reproduce its run's grid table. Evaluation alone (no
# training) came out bit-identical on the CPUs tried (AMD and Intel, AVX512 down to SSE4.1 kernels); the few rows
# allowed to differ are for kinds of CPU not tried, whose rounding might flip an item on the edge. Another model
# changes far more (a head shifted by a small bias: most rows).
SHIPPED_ROWS_MAY_DIFFER = 0.01


def load_shipped_model(this: Run, device: str | torch.device = "cpu") -> Classifier:
    """The model shipped in the run's ``model.pt`` (:func:`transinv.runs.directory.ship_model`), in eval mode,
    once it reproduces the run's grid table on the test grid; else ValueError, saying what to delete."""
    device = resolve_device(device)
    model = shipped_model(this, device)
    items = _items(this.config["dataset"], this.config["classes"])
    with _one_thread_on_cpu(device):
        grid = _grid(this, model, items, device, Speed.for_device(device, this.config["precision"]))
    as_read_back = pd.read_csv(io.StringIO(grid.to_csv(index=False)))
    differ = _differing_rows(this.grid, as_read_back, allowed=SHIPPED_ROWS_MAY_DIFFER)
    if differ:
        raise ValueError(f"the shipped model {this.path / SHIPPED} does not reproduce run {this.id}'s grid table "
                         f"({differ}, at most {SHIPPED_ROWS_MAY_DIFFER:.0%} may): it is not this run's model. Delete "
                         f"it: the run's model is then trained again where it is needed")
    return model


def viewable_model(this: Run, device: str | torch.device = "cpu") -> Classifier:
    """The run's model to look at: from its checkpoint if it is here, else the shipped one (checked on load)."""
    return this.load_model(device) if this.has_model else load_shipped_model(this, device)
