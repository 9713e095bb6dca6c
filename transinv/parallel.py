"""Several runs at once: one worker process per run, each with its own batch and optimiser.

One VGG16 run at batch 32 leaves a large GPU mostly idle, and on a CPU one run does not
use its cores well (on 2 cores, two single-threaded runs trained 1.3x more images per
second than one run on both); running independent runs side by side fills the device
without changing any run. ``benchmarks/speed.py`` measures how many workers pay off.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Sequence

import torch

from .executors import SlurmSettings, locate_options, open_pool
from .runs import Run, RunConfig, find_finished, find_run, run
from .train import resolve_device

__all__ = ["run_all", "default_workers"]


def default_workers(device: str | torch.device = "auto", executor: str = "local") -> int:
    """Runs side by side: one per CPU core on the CPU (at most 8), six on a GPU (as in the paper-preset sample);
    on Slurm, ``TRANSINV_SLURM_PARALLEL`` (:class:`transinv.executors.SlurmSettings`)."""
    if executor == "slurm":
        return SlurmSettings.from_environment().parallel
    return 6 if resolve_device(device).type == "cuda" else max(1, min(8, os.cpu_count() or 1))


def _run_in_worker(job: tuple) -> str:
    config, results_root, kwargs = job
    return str(run(config, results_root, **kwargs, progress=False).path)


def run_all(configs: Sequence[RunConfig], results_root: str | Path = "results", *, device: str = "auto",
            need_model: bool = False, workers: int | None = None, train: bool = True,
            executor: str = "local") -> list[Run]:
    """Run every config (see :func:`transinv.run`; finished runs are reused), ``workers`` at a time
    (default: :func:`default_workers`), printing one line per trained run; the runs, in order.
    ``train=False`` trains nothing: the runs already finished (with their models if ``need_model``), in order.

    Fine-tunings need their parent finished: run pretrainings first, then their fine-tunings (or use
    :mod:`transinv.protocol`). On the CPU each run computes on one thread (see :func:`transinv.run`), so
    one worker per core. Interrupting stops every worker; their runs resume from their last checkpoint.

    ``executor="slurm"``: each run is a task of one Slurm job array (see :mod:`transinv.executors`; ``workers``
    is then unused); a failed job does not stop the others, and they are reported together, with their logs.
    """
    workers = default_workers(device) if workers is None else workers
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, but got {workers!r}")
    start = time.perf_counter()
    where = locate_options(executor, device)  # on Slurm, runs train on the jobs' GPUs, not here
    locate = find_run if train else find_finished  # reading only: a run finished at the other precision too
    located = [locate(c, results_root, **where) for c in configs]  # handles; valid once trained
    todo = [i for i, r in enumerate(located) if not r.ready(need_model)]
    if not train:
        if todo:
            ready = "finished, with their model here" if need_model else "finished"
            print(f"{len(configs) - len(todo)} of {len(configs)} runs are {ready}; the other {len(todo)} are left "
                  f"out (train=False), e.g. {located[todo[0]].id}", flush=True)
        missing = set(todo)
        return [Run(r.path) for i, r in enumerate(located) if i not in missing]
    finished = 0

    restored = {located[i].id for i in todo if located[i].finished}  # shared tables, model trained again

    def report(r: Run) -> None:
        nonlocal finished
        finished += 1
        if r.id in restored:
            print(f"[{finished}/{len(todo)}] {r.id}: model restored (trained again, same seed); its tables are "
                  f"the shared ones", flush=True)
        else:
            print(f"[{finished}/{len(todo)}] {r.id}: {r.result['iterations']} iterations ({r.result['stop_reason']}), "
                  f"{r.result['train_seconds'] + r.result.get('eval_seconds', 0):.0f} s", flush=True)

    kwargs = {"device": device, "need_model": need_model}
    if executor == "local" and (workers == 1 or len(todo) <= 1):
        for i in todo:
            report(run(configs[i], results_root, **kwargs, progress=False))
    elif todo:
        processes = min(workers, len(todo))
        jobs = [(configs[i], str(results_root), kwargs) for i in todo]
        with open_pool(executor, processes, results_root) as pool:  # leaving it stops the workers
            for path in pool.imap_unordered(_run_in_worker, jobs):
                report(Run(Path(path)))
    print(f"{len(configs)} runs: {len(configs) - len(todo)} reused, {len(todo)} trained "
          f"in {(time.perf_counter() - start) / 60:.1f} min", flush=True)
    return [Run(r.path) for r in located]
