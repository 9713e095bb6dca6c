"""Several runs at once: one worker process per run, each with its own batch and optimiser.

One VGG16 run at batch 32 leaves a large GPU mostly idle, and on a CPU small networks do
not use every core well; running independent runs side by side fills the device without
changing any run. ``benchmarks/speed.py`` measures how many workers pay off.
"""
from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Sequence

import torch

from .runs import Run, RunConfig, run

__all__ = ["run_many"]


def _run_in_worker(config: RunConfig, results_root: str, threads: int, kwargs: dict) -> str:
    torch.set_num_threads(threads)
    return str(run(config, results_root, **{**kwargs, "progress": False}).path)


def run_many(configs: Sequence[RunConfig], results_root: str | Path = "results", *, workers: int = 1,
             **kwargs) -> list[Run]:
    """Run every config (see :func:`transinv.run`), ``workers`` at a time; the runs, in order.

    Fine-tunings need their parent finished: run pretrainings first, then their fine-tunings.
    On the CPU the cores are shared out between the workers.
    """
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, but got {workers!r}")
    if workers == 1 or len(configs) <= 1:
        return [run(c, results_root, **kwargs) for c in configs]
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(_run_in_worker, c, str(results_root), threads, kwargs) for c in configs]
        return [Run(Path(f.result())) for f in futures]
