"""Several runs at once: one worker process per run, each with its own batch and optimiser.

One VGG16 run at batch 32 leaves a large GPU mostly idle, and on a CPU one run does not
use its cores well (on 2 cores, two single-threaded runs trained 1.3x more images per
second than one run on both); running independent runs side by side fills the device
without changing any run. ``benchmarks/speed.py`` measures how many workers pay off.
"""
from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path
from typing import Callable, Sequence

import torch

from .runs import Run, RunConfig, resolve_device, run

__all__ = ["run_many", "default_workers"]


def default_workers(device: str | torch.device = "auto") -> int:
    """Runs side by side: one per CPU core on the CPU (at most 8), six on a GPU (as in the paper-preset sample)."""
    return 6 if resolve_device(device).type == "cuda" else max(1, min(8, os.cpu_count() or 1))


def _run_in_worker(job: tuple) -> tuple[int, str]:
    index, config, results_root, threads, kwargs = job
    torch.set_num_threads(threads)
    return index, str(run(config, results_root, **{**kwargs, "progress": False}).path)


def run_many(configs: Sequence[RunConfig], results_root: str | Path = "results", *, workers: int = 1,
             on_done: Callable[[Run], None] | None = None, **kwargs) -> list[Run]:
    """Run every config (see :func:`transinv.run`), ``workers`` at a time; the runs, in order.

    ``on_done(run)`` is called as each run finishes. Fine-tunings need their parent finished:
    run pretrainings first, then their fine-tunings. On the CPU the cores are shared out
    between the workers. Interrupting stops every worker; their runs resume from their last
    checkpoint next time.
    """
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, but got {workers!r}")
    done: list[Run | None] = [None] * len(configs)
    if workers == 1 or len(configs) <= 1:
        for i, config in enumerate(configs):
            done[i] = run(config, results_root, **kwargs)
            if on_done:
                on_done(done[i])
        return done
    processes = min(workers, len(configs))
    threads = max(1, (os.cpu_count() or 1) // processes)
    jobs = [(i, c, str(results_root), threads, kwargs) for i, c in enumerate(configs)]
    with mp.get_context("spawn").Pool(processes) as pool:  # leaving it terminates the workers
        for i, path in pool.imap_unordered(_run_in_worker, jobs):
            done[i] = Run(Path(path))
            if on_done:
                on_done(done[i])
    return done
