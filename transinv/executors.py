"""Where runs train: worker processes on this machine, or jobs on a Slurm cluster through submitit.

``"local"`` (the default) is a process pool here. ``"slurm"`` puts every run into Slurm's queue as a
job of its own (one run, one GPU), each fine-tuning's job after its parent's: :mod:`transinv.slurm_grid`,
which needs no process to wait for it. ``"submitit-local"`` runs the runs as submitit jobs on this
machine (submitit's LocalExecutor, through :class:`JobPool`; fine-tunings submitted once their
pretraining is done, by the process that waits for them).
Results go where the local runs go, ``results_root``, which on a cluster must be on the filesystem
that the nodes share; each job's log is in ``<results_root>/submitit/``.

A job that Slurm preempts, or that reaches its time limit, gets a signal (USR2) first: submitit then
requeues the same call, and the run resumes from its last checkpoint (``ckpt.pt``). A job that fails
is reported with its log file; the other runs go on.

The cluster settings come from environment variables (``make book SLURM_PARTITION=...`` sets them),
see :class:`SlurmSettings`.
"""
from __future__ import annotations

import multiprocessing as mp
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable

import submitit
from submitit.core.utils import FailedJobError, UncompletedJobError

__all__ = ["EXECUTORS", "SlurmSettings", "JobFailed", "Resumable", "JobPool", "check_executor",
           "open_pool", "locate_options", "make_submitit_executor"]

EXECUTORS = ("local", "slurm", "submitit-local")
LOG_FOLDER = "submitit"  # under the results folder of a preset; holds no run, so no listing of runs sees it


@dataclass(frozen=True)
class SlurmSettings:
    """One Slurm task per run. Each field is read from ``TRANSINV_SLURM_<FIELD>`` (``TRANSINV_SLURM_PARTITION``...)."""
    partition: str | None = None   # --partition; None: the cluster's default partition
    account: str | None = None     # --account to bill; many clusters require one
    gpus: int = 1                  # GPUs per run; 0 for CPU-only runs (float32: other run ids than on a GPU)
    cpus: int = 4                  # CPU cores per run (the batches are drawn on the GPU)
    mem_gb: int = 32               # memory per run
    time_min: int = 60             # time limit per task; a run cut by it is requeued and resumes (3 times at most)
    parallel: int = 32             # tasks of an array running at once (slurm_array_parallelism)

    @classmethod
    def from_environment(cls, environ: dict | None = None) -> SlurmSettings:
        """The settings given as ``TRANSINV_SLURM_*`` variables (unset or empty: the default)."""
        environ = os.environ if environ is None else environ
        given = {}
        for f in fields(cls):
            value = environ.get(f"TRANSINV_SLURM_{f.name.upper()}", "")
            if value and f.type == "str | None":
                given[f.name] = value
            elif value:
                given[f.name] = _positive_int(f.name, value, allow_zero=f.name == "gpus")
        return cls(**given)

    def submitit_parameters(self) -> dict:
        """The settings as submitit's ``update_parameters`` takes them (None: left to the cluster)."""
        return {"slurm_partition": self.partition, "slurm_account": self.account, "gpus_per_node": self.gpus,
                "cpus_per_task": self.cpus, "mem_gb": self.mem_gb, "timeout_min": self.time_min,
                "slurm_array_parallelism": self.parallel, "name": "transinv"}


def _positive_int(name: str, value: str, allow_zero: bool) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < (0 if allow_zero else 1):
        raise ValueError(f"TRANSINV_SLURM_{name.upper()} must be a {'non-negative' if allow_zero else 'positive'} "
                         f"integer, but got {value!r}")
    return number


def check_executor(executor: str) -> str:
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    return executor


def locate_options(executor: str, device: str = "auto") -> dict:
    """How this process finds the runs that the executor trains (``find_run(config, root, **options)``).
    A run's id records its precision, bfloat16 on a GPU: on Slurm the GPU is the job's, not this machine's."""
    if check_executor(executor) != "slurm":
        return {"device": device}
    on_gpu = device != "cpu" and SlurmSettings.from_environment().gpus > 0
    return {"device": "cpu", "precision": "bf16" if on_gpu else "float32"}


class Resumable(submitit.helpers.Checkpointable):
    """One call, as a job. When Slurm signals the job (preempted, or at its time limit) submitit calls
    :meth:`checkpoint`, which requeues the same call: the run then resumes from its last ``ckpt.pt``."""

    def __init__(self, function: Callable, *args):
        self.function, self.args, self.requeued = function, args, 0

    def __call__(self):
        if self.requeued:
            print(f"requeued ({self.requeued} time(s)): the run resumes from its last checkpoint", flush=True)
        return self.function(*self.args)

    def checkpoint(self) -> submitit.helpers.DelayedSubmission:
        self.requeued += 1
        return submitit.helpers.DelayedSubmission(self)


class JobFailed(RuntimeError):
    """A job ended with an error, or without a result (cancelled, out of memory, node failure); names its log."""


def _error_line(error: Exception) -> str:
    """The gist of a submitit job error: the last line of the job's traceback, or why there is no result."""
    text = str(error)
    if isinstance(error, FailedJobError) and text.count("-" * 22) >= 2:
        trace = text.split("-" * 22)[1]
        return [line for line in trace.splitlines() if line.strip()][-1].strip()
    return " ".join(text.splitlines()[:2])


class Submitted:
    """A call given to a :class:`JobPool`, as a ``multiprocessing`` ``AsyncResult``: ``ready()``, ``get()``."""

    def __init__(self, pool: JobPool, call: Resumable):
        self.pool, self.call, self.job = pool, call, None

    def ready(self) -> bool:
        self.pool.submit_pending()
        return self.job.done()

    def get(self):
        try:
            return self.job.result()
        except (FailedJobError, UncompletedJobError) as error:
            raise JobFailed(f"{_error_line(error)} (job {self.job.job_id}, log {self.job.paths.stderr})") from None


class JobPool:
    """A pool whose workers are submitit jobs: ``apply_async`` as a process pool's.
    Calls given in a row go out as one job array, at the next ``ready()``; leaving the pool cancels the jobs
    still running (their runs resume from their last checkpoint next time), as leaving a process pool does."""

    def __init__(self, executor: submitit.Executor):
        self.executor, self.pending, self.submitted = executor, [], []

    def apply_async(self, function: Callable, args: tuple = ()) -> Submitted:
        handle = Submitted(self, Resumable(function, *args))
        self.pending.append(handle)
        return handle

    def submit_pending(self) -> None:
        if self.pending:
            for handle, job in zip(self.pending, self.executor.submit_array([h.call for h in self.pending])):
                handle.job = job
            self.submitted += self.pending
            self.pending = []

    def __enter__(self) -> JobPool:
        return self

    def __exit__(self, *exc) -> None:
        for handle in self.submitted:
            if not handle.job.done():
                handle.job.cancel(check=False)


def make_submitit_executor(executor: str, folder: str | Path,
                           settings: SlurmSettings | None = None) -> submitit.Executor:
    """submitit's executor for ``"slurm"`` or ``"submitit-local"``; settings: :meth:`SlurmSettings.from_environment`."""
    settings = SlurmSettings.from_environment() if settings is None else settings
    if check_executor(executor) == "slurm":
        submitter = submitit.AutoExecutor(folder=folder, cluster="slurm")
        submitter.update_parameters(**settings.submitit_parameters())
        return submitter
    if executor == "submitit-local":
        submitter = submitit.LocalExecutor(folder=folder)
        submitter.update_parameters(timeout_min=settings.time_min)
        return submitter
    raise ValueError(f"executor {executor!r} is not a submitit one: choose slurm or submitit-local")


class _Done:
    """A call made at once, as a ``multiprocessing`` ``AsyncResult``."""

    def __init__(self, function: Callable, args: tuple):
        self.value, self.error = None, None
        try:
            self.value = function(*args)
        except Exception as error:  # as a pool keeps it for get(); Ctrl-C (not an Exception) goes through
            self.error = error

    def ready(self) -> bool:
        return True

    def get(self):
        if self.error is not None:
            raise self.error
        return self.value


class InlinePool:
    """One worker that is this process: each call runs when it is given (no process to start, and what a test
    patches here holds)."""

    def apply_async(self, function: Callable, args: tuple = ()) -> _Done:
        return _Done(function, args)

    def __enter__(self) -> InlinePool:
        return self

    def __exit__(self, *exc) -> None:
        pass


def open_pool(executor: str, workers: int, results_root: str | Path, inline: bool = False):
    """``workers`` local processes (``inline``: one worker, this process, :class:`InlinePool`), or a
    :class:`JobPool` logging into ``<results_root>/submitit``."""
    if check_executor(executor) == "local":
        return InlinePool() if inline and workers == 1 else mp.get_context("spawn").Pool(workers)
    return JobPool(make_submitit_executor(executor, Path(results_root) / LOG_FOLDER))
