"""A graph of runs (:mod:`transinv.graph`) as Slurm's queue: every run not finished is one job, all submitted at
once, each fine-tuning's job held by Slurm until its parent's has ended well (``--dependency=afterok:<job>``;
``--kill-on-invalid-dep``: it is cancelled if the parent's fails). A fine-tuning's job finds its parent's
finished run when it starts. The submitting process may wait for the jobs, or leave (``detach``): a later call
finds what finished (``done.json``), what is still queued or running (:mod:`transinv.slurm_queue`), and
submits only the rest, so no run is submitted twice.
"""
from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

from submitit.core.utils import pickle_load
from submitit.slurm.slurm import SlurmJob

from .executors import LOG_FOLDER, Resumable, make_submitit_executor
from .graph import PARENT, Graph, Node
from .runs import Run, RunConfig, find_run
from .scheduler import Outcome, _is_current, _train
from .slurm_queue import QueuedJob, ended_state, job_name, queued_jobs, record_job, recorded_jobs

__all__ = ["POLL_SECONDS", "GridState", "grid_state", "train_in_job", "submit_grid", "wait_for", "queue_graph",
           "status", "status_lines"]

POLL_SECONDS = 2.0  # how often squeue is asked, while waiting


def _chain(node: Node) -> list[RunConfig]:
    """The configs from the node's family root down to the node (fine-tunings' init: graph.PARENT)."""
    chain = [node.config]
    while node.parent is not None:
        node = node.parent
        chain.insert(0, node.config)
    return chain


def train_in_job(chain: list[RunConfig], results_root: str, where: dict, checkpoint_seconds: float, tables: list,
                 need_model: bool, speedups) -> str:
    """A job's run (the last of ``chain``), once the runs it descends from are found finished: the job started
    after its parent's ended well. A run made from another training of its parent is trained again. ``where``:
    the device and the precision that the submitter named the runs by."""
    root, parent = Path(results_root), None
    for config in chain[:-1]:
        parent = find_run(_under(config, parent), root, **where)
        if not parent.finished:
            raise RuntimeError(f"the parent run {parent.path} is not finished, yet this job started")
    config = _under(chain[-1], parent)
    here = find_run(config, root, **where)
    if here.finished and not _is_current(here, parent):
        shutil.rmtree(here.path)  # its tables would mix two trainings of one parent
    return _train(config, results_root, where["device"], checkpoint_seconds, tables, need_model, speedups,
                  where["precision"])


def _under(config: RunConfig, parent: Run | None) -> RunConfig:
    return config if config.init != PARENT else dataclasses.replace(config, init=parent.id)


@dataclasses.dataclass
class GridState:
    """Each node's run (finished or not) and where it stands: finished here, in the queue (its job), or neither."""
    runs: dict[tuple, Run]
    finished: set[tuple]
    queued: dict[tuple, QueuedJob]


def grid_state(graph: Graph, root: Path, where: dict) -> GridState:
    """Where each run of ``graph`` stands; ``where``: how this process names runs (executors.locate_options)."""
    ours = recorded_jobs(root / LOG_FOLDER)
    in_queue = {job.run_id: job for job in queued_jobs().values() if ours.get(job.run_id) == job.job_id}
    state = GridState({}, set(), {})
    for node in graph:  # parents first
        parent = None if node.parent is None else state.runs[node.parent.key]
        here = state.runs[node.key] = find_run(node.config_under(parent), root, parent=parent, **where)
        parent_finished = node.parent is None or node.parent.key in state.finished
        if here.finished and parent_finished and _is_current(here, parent):
            state.finished.add(node.key)
        elif here.id in in_queue:
            state.queued[node.key] = in_queue[here.id]
    return state


def _needs_model(graph: Graph, node: Node, state: GridState, need_model: bool) -> bool:
    return need_model or any(c.key not in state.finished for c in graph.children(node))


def submit_grid(graph: Graph, root: Path, state: GridState, options: dict, where: dict) -> dict[tuple, str]:
    """Submit a job for every run neither ready nor in the queue, each fine-tuning's after its parent's job;
    the job ids, by node key."""
    job_where = {"device": options["device"], "precision": where["precision"]}  # the job's own device
    executor, submitted = make_submitit_executor("slurm", root / LOG_FOLDER), {}
    for node in graph:
        need_model = _needs_model(graph, node, state, options["need_model"])
        here = state.runs[node.key]
        if node.key in state.queued or (node.key in state.finished and here.ready(need_model)):
            continue
        parent_job = None if node.parent is None else (
            submitted.get(node.parent.key) or getattr(state.queued.get(node.parent.key), "job_id", None))
        executor.update_parameters(name=job_name(here.id), slurm_dependency=parent_job and f"afterok:{parent_job}",
                                   slurm_additional_parameters={"kill-on-invalid-dep": "yes"})
        job = executor.submit(Resumable(train_in_job, _chain(node), str(root), job_where,
                                        options["checkpoint_seconds"], node.tables, need_model, options["speedups"]))
        record_job(root / LOG_FOLDER, job.job_id, here.id)
        submitted[node.key] = job.job_id
        print(f"job {job.job_id}: {here.id}" + (f" (after job {parent_job})" if parent_job else ""), flush=True)
    return submitted


def _failure(root: Path, job_id: str) -> str:
    """Why a job ended without its run: its error's last line, or Slurm's word; and its log."""
    job = SlurmJob(folder=root / LOG_FOLDER, job_id=job_id)
    reason = f"ended without a result ({ended_state(job_id)})"
    if job.paths.result_pickle.exists():
        outcome, detail = pickle_load(job.paths.result_pickle)
        if outcome == "error":
            reason = [line for line in str(detail).splitlines() if line.strip()][-1].strip()
    return f"{reason} (job {job_id}, log {job.paths.stderr})"


def wait_for(job_ids: dict[tuple, str], budget_seconds: float | None, started: float) -> None:
    """Until none of the jobs is queued or running (or the budget is spent: they go on without this process)."""
    waiting = set(job_ids.values())
    while waiting & set(queued_jobs()):
        if budget_seconds is not None and time.perf_counter() - started >= budget_seconds:
            print(f"{len(waiting & set(queued_jobs()))} job(s) still in Slurm's queue at the budget: they go on; "
                  f"the next call finds them", flush=True)
            return
        time.sleep(POLL_SECONDS)


def queue_graph(graph: Graph, root: Path, options: dict, where: dict, detach: bool) -> Outcome:
    """Put every run of ``graph`` that is not finished into Slurm's queue, and (unless ``detach``) wait for
    them: what :func:`transinv.scheduler.schedule` does with executor "slurm"."""
    started = time.perf_counter()
    state = grid_state(graph, root, where)
    submitted = submit_grid(graph, root, state, options, where)
    print(f"{len(graph)} runs: {len(state.finished)} finished, {len(state.queued)} already in Slurm's queue, "
          f"{len(submitted)} submitted now", flush=True)
    outcome = Outcome(dict(state.runs), workers=options["workers"], jobs=dict(submitted))
    if detach:
        return outcome
    watched = {**{key: job.job_id for key, job in state.queued.items()}, **submitted}
    wait_for(watched, options["budget_seconds"], started)
    still = set(queued_jobs())
    for key, job_id in watched.items():
        here = Run(state.runs[key].path)
        if here.finished:
            outcome.runs[key] = here
            outcome.trained.append(here)
        elif job_id not in still:
            outcome.failed.append(f"{here.path}: {_failure(root, job_id)}")
            print(f"FAILED {outcome.failed[-1]}", flush=True)
    return outcome


def status(graph: Graph, root: Path, where: dict) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Per experiment, how many of its runs are finished, running, queued, failed (submitted from this folder,
    out of the queue, not finished) or not submitted; and a line per failed job, with its log."""
    state, recorded = grid_state(graph, root, where), recorded_jobs(root / LOG_FOLDER)
    counts, failures = {}, []
    for node in graph:
        here = state.runs[node.key]
        if node.key in state.finished:
            word = "finished"
        elif node.key in state.queued:
            word = state.queued[node.key].state
        elif here.id in recorded:
            word = "failed"
            failures.append(f"{here.id}: {_failure(root, recorded[here.id])}")
        else:
            word = "not submitted"
        for experiment in sorted({e for e, _ in node.tags}):
            row = counts.setdefault(experiment, dict.fromkeys(STATUS_WORDS, 0))
            row[word] += 1
    return counts, failures


STATUS_WORDS = ("finished", "running", "queued", "failed", "not submitted")


def status_lines(counts: dict[str, dict[str, int]], failures: list[str]) -> list[str]:
    lines = [f"{experiment:8} {sum(row.values()):3} runs: " + ", ".join(f"{row[w]} {w}" for w in STATUS_WORDS)
             for experiment, row in counts.items()]
    return lines + [f"failed: {line}" for line in failures]
