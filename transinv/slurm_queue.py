"""What Slurm knows of a results folder's jobs, and the lock that keeps two submitters of one folder apart.

Every run is one job named ``transinv-<run id>``; each submission is recorded in ``<folder>/submitit/jobs.tsv``
(job id, run id), so that only this folder's jobs count (another folder may hold runs of the same ids). A job
still in the queue is found by ``squeue``; one that ended, by ``sacct``, or by ``scontrol show job`` where there
is no accounting (Slurm forgets the job ``MinJobAge`` seconds after it ended).
"""
from __future__ import annotations

import datetime
import fcntl
import getpass
import os
import socket
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NamedTuple

__all__ = ["JOB_PREFIX", "LOCK_FILE", "JOBS_FILE", "job_name", "QueuedJob", "parse_squeue", "parse_scontrol",
           "queued_jobs", "ended_state", "record_job", "recorded_jobs", "SubmitterBusy", "submit_lock"]

JOB_PREFIX = "transinv-"
LOCK_FILE = ".submit.lock"  # in a preset's results folder
JOBS_FILE = "jobs.tsv"      # in its log folder
WAITING_STATES = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "SUSPENDED"}
ENDED_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED",
                "BOOT_FAIL", "DEADLINE"}


def job_name(run_id: str) -> str:
    return JOB_PREFIX + run_id


class QueuedJob(NamedTuple):
    job_id: str
    run_id: str
    state: str  # "queued" or "running"


def parse_squeue(text: str) -> dict[str, QueuedJob]:
    """``squeue -h -o '%i %j %T'`` -> job id -> transinv's jobs still queued or running (others are left out)."""
    jobs = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3:
            if line.strip():
                raise ValueError(f"not a line of squeue -o '%i %j %T': {line!r}")
            continue
        job_id, name, state = parts
        state = state.split("+")[0]  # "CANCELLED+" and the like
        if name.startswith(JOB_PREFIX) and state not in ENDED_STATES:
            jobs[job_id] = QueuedJob(job_id, name[len(JOB_PREFIX):], "queued" if state in WAITING_STATES else "running")
    return jobs


def parse_scontrol(text: str) -> dict[str, str]:
    """``scontrol show job -o <id>``'s fields (``JobState``, ``Dependency``...)."""
    return dict(field.split("=", 1) for field in text.split() if "=" in field)


def _slurm(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def queued_jobs() -> dict[str, QueuedJob]:
    """This user's transinv jobs in Slurm's queue, by job id. RuntimeError where Slurm cannot be asked."""
    try:
        return parse_squeue(_slurm("squeue", "-h", "-u", getpass.getuser(), "-o", "%i %j %T"))
    except FileNotFoundError:
        raise RuntimeError("squeue is not found: run this where Slurm's commands are (a login node)") from None


def ended_state(job_id: str) -> str:
    """How a job that left the queue ended (``FAILED``, ``CANCELLED``...): from sacct, else scontrol; "unknown"
    once Slurm has forgotten it."""
    try:
        lines = _slurm("sacct", "-n", "-X", "-P", "-o", "State", "-j", job_id).split()
        if lines:
            return lines[0].split("+")[0]
    except (RuntimeError, FileNotFoundError):
        pass  # no accounting on this cluster
    try:
        return parse_scontrol(_slurm("scontrol", "show", "job", "-o", job_id)).get("JobState", "unknown")
    except (RuntimeError, FileNotFoundError):
        return "unknown"


def record_job(log_folder: Path, job_id: str, run_id: str) -> None:
    log_folder.mkdir(parents=True, exist_ok=True)
    with open(log_folder / JOBS_FILE, "a") as jobs:
        jobs.write(f"{job_id}\t{run_id}\n")


def recorded_jobs(log_folder: Path) -> dict[str, str]:
    """Run id -> the id of the last job submitted for it from this folder."""
    path = log_folder / JOBS_FILE
    if not path.is_file():
        return {}
    return {run_id: job_id for job_id, run_id in (line.split("\t") for line in path.read_text().splitlines() if line)}


class SubmitterBusy(RuntimeError):
    """Another process trains or submits the runs of this results folder."""


@contextmanager
def submit_lock(folder: Path) -> Iterator[None]:
    """Hold ``<folder>/.submit.lock`` while this process trains or submits the folder's runs; SubmitterBusy,
    naming the holder, where another process holds it. The kernel lets go when the holder dies (no stale lock)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = path.read_text().strip() or "a process that has not said who it is yet"
            raise SubmitterBusy(f"another submitter is training or submitting the runs of {folder}: {holder}. "
                                f"Wait until it ends (or stop it); the lock is {path}") from None
        since = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"process {os.getpid()} on {socket.gethostname()}, since {since}\n".encode())
        yield
    finally:
        os.close(descriptor)  # releases the lock
