"""Runs any graph of runs (:mod:`transinv.graph`): each run as soon as its parent has its model, ``workers`` at a
time, in local worker processes or as Slurm jobs (:mod:`transinv.executors`), with or without a time budget.

Finished runs are found and kept, interrupted ones resume. At a budget, no new run starts in its last tenth, and
the runs still training stop: they resume from their last checkpoint at the next call.

A machine that forgets (``forgetful``: a borrowed GPU, whose checkpoints do not outlive the call) keeps only whole
families (a run from scratch and every run fine-tuned from it). A family that is not whole here is trained again
as a whole, in a folder of its own, and replaces the old runs of that family once every member has finished: its
root starts only if the whole family is predicted to finish inside the budget (:mod:`transinv.estimate`). A
fine-tuning whose parent has no model here never starts: elsewhere the parent's model is restored first (trained
again, and checked against its kept tables, :func:`transinv.run`). A fine-tuning made from another training of its
parent than the one kept (``parent_grid`` in its ``done.json``) is not counted as finished.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from .analysis import run_cosines, run_representation, save_vanilla_cosines, save_vanilla_representation
from .estimate import Estimate
from .executors import SlurmSettings, locate_options, open_pool
from .graph import Graph, Items, Node
from .runs import Run, RunConfig, find_finished, find_run, finished_runs, run
from .slurm_queue import submit_lock
from .speedups import Speedups, apply as apply_speedups, cuda_mps
from .train import resolve_device

__all__ = ["default_workers", "made_from_another_training", "locate", "collect", "families", "Outcome", "schedule",
           "RunsFailed", "run_all", "train_graph"]

STOP_MARGIN = 0.1     # no new run starts in the last tenth of a budget (where checkpoints survive the call)
POLL_SECONDS = 0.5    # how often finished runs are looked for
STAGING = ".families"  # in a results folder: families trained again on a forgetful machine, until whole


class RunsFailed(RuntimeError):
    """Some runs failed (the others finished); one line per failure, with its log."""


def default_workers(device: str | torch.device = "auto", executor: str = "local") -> int:
    """Runs side by side: one per CPU core on the CPU (at most 8), six on a GPU; on Slurm,
    ``TRANSINV_SLURM_PARALLEL`` (:class:`transinv.executors.SlurmSettings`)."""
    if executor == "slurm":
        return SlurmSettings.from_environment().parallel
    return 6 if resolve_device(device).type == "cuda" else max(1, min(8, os.cpu_count() or 1))


def _is_current(child: Run, parent: Run | None) -> bool:
    """Whether a finished run was made from the training of its parent kept here (runs from before this was
    recorded were trained with theirs, in one call)."""
    made_from = None if parent is None else child.result.get("parent_grid")
    return made_from is None or made_from == parent.grid_fingerprint


def made_from_another_training(folder: Path, trainings: dict[str, str], keep: set[str] = frozenset()) -> list[Run]:
    """The finished runs in ``folder`` (but those in ``keep``) that fine-tune a run of ``trainings`` (run id ->
    grid fingerprint of the training that replaces it here) and were made from another training of it: to go
    when that training comes in."""
    here = {run_id: Run(folder / run_id) for run_id in trainings}
    here = {run_id: r.grid_fingerprint for run_id, r in here.items() if r.finished}
    return [r for r in finished_runs(folder) if r.is_finetuning and r.config["init"] in trainings and r.id not in keep
            and r.result.get("parent_grid", here.get(r.config["init"])) != trainings[r.config["init"]]]


def locate(graph: Graph, results_root: str | Path, *, device: str = "auto", executor: str = "local",
           reading: bool = False) -> dict[tuple, Run]:
    """The run of every node, by node key, finished or not; a fine-tuning only once its parent is finished and
    current. ``reading``: also a run finished at the other precision (:func:`transinv.runs.find_finished`)."""
    root, where = Path(results_root).expanduser(), locate_options(executor, device)
    find, located, current = find_finished if reading else find_run, {}, set()
    for node in graph:  # parents come before their children
        parent = None if node.parent is None else located.get(node.parent.key)
        if node.parent is not None and (parent is None or node.parent.key not in current):
            continue
        found = located[node.key] = find(node.config_under(parent), root, **where)
        if found.finished and _is_current(found, parent):
            current.add(node.key)
    return located


def collect(graph: Graph, results_root: str | Path, *, device: str = "auto", need_model: bool = False,
            executor: str = "local") -> dict[tuple, Run]:
    """The finished runs of a graph (with their models here, if ``need_model``), by node key; nothing is trained."""
    located = locate(graph, results_root, device=device, executor=executor, reading=True)
    found = {}
    for node in graph:
        r, parent = located.get(node.key), None if node.parent is None else located.get(node.parent.key)
        if r is not None and r.ready(need_model) and _is_current(r, parent):
            found[node.key] = r
    return found


def families(graph: Graph, results_root: str | Path, *, device: str = "auto", workers: int = 1,
             estimate: Estimate | None = None) -> list[dict]:
    """Each family of a graph as a forgetful call sees it: its root's run, how many of its runs are finished here
    (made from the training of their parent kept here), whether it is whole, and its predicted wall time."""
    found = collect(graph, results_root, device=device)
    estimate = estimate or Estimate.from_results(results_root, device)
    located = locate(graph, results_root, device=device, reading=True)
    rows = []
    for root in graph.roots():
        members = graph.family(root)
        done = sum(n.key in found for n in members)
        predicted = estimate.family_seconds(graph, root, workers)
        rows.append({"family": located[root.key].id, "runs": len(members), "finished": done,
                     "whole": done == len(members), "predicted_seconds": predicted and round(predicted)})
    return rows


@dataclass
class Outcome:
    """What a call to :func:`schedule` left: every node's run (finished or not), what it trained, what failed,
    and the families it did not start."""
    runs: dict[tuple, Run]
    trained: list[Run] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    workers: int = 1
    wall_seconds: float = 0.0
    jobs: dict[tuple, str] = field(default_factory=dict)  # on Slurm: the jobs this call submitted, by node key
    seconds_now: dict[str, float] = field(default_factory=dict)  # run id -> its worker's seconds in this call


def _train(config: RunConfig, results_root: str, device: str, checkpoint_seconds: float, tables: list[Items],
           need_model: bool, speedups: Speedups, precision: str = "auto") -> str:
    """One run in a worker (trained, resumed, or its model restored), then its cosine and representation tables
    (:mod:`transinv.representation`) while its model is at hand: a run's tables travel without its model. The
    worker's speed switches are set first (a Slurm job is a process of its own)."""
    apply_speedups(speedups)
    finished = run(config, results_root, device=device, precision=precision, progress=False,
                   checkpoint_seconds=checkpoint_seconds, need_model=need_model)
    for items in tables:
        run_cosines(finished, items.dataset, device=resolve_device(device), classes=items.classes)
        run_representation(finished, items.dataset, device=resolve_device(device), classes=items.classes,
                           compute=finished.has_model)
    return str(finished.path)


class _Call:
    """One :func:`schedule` call: which runs can start, where each trains, and what happens when one ends."""

    def __init__(self, graph: Graph, root: Path, pool, options: dict):
        self.graph, self.root, self.pool, self.options = graph, root, pool, options
        self.where = locate_options(options["executor"], options["device"])
        self.located = locate(graph, root, device=options["device"], executor=options["executor"])
        self.rank = {n.key: k for k, n in enumerate(graph)}
        self.outcome = Outcome(dict(self.located), workers=options["workers"])
        self.queue: list[tuple[Node, Path]] = []  # runs that can start, each with the folder it trains in
        self.running: dict = {}                   # pool handle -> (node, folder, when it started)
        self.staged: dict[tuple, set] = {}        # family root key -> keys of its members finished in staging
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def done(self, node: Node, need_model: bool = False) -> bool:
        r, parent = self.outcome.runs.get(node.key), self._parent_run(node)
        return r is not None and r.ready(need_model) and _is_current(r, parent)

    def _parent_run(self, node: Node) -> Run | None:
        return None if node.parent is None else self.outcome.runs.get(node.parent.key)

    def plan(self) -> None:
        """Queue every family; on a forgetful machine, each family that is not whole here, in a folder of its own."""
        for root in self.graph.roots():
            family = self.graph.family(root)
            if not self.options["forgetful"]:
                self.queue.append((root, self.root))
            elif not all(self.done(n) for n in family):
                self.queue.append((root, self.root / STAGING / self.located[root.key].id))

    def start_next(self) -> None:
        """Start the runs that can, in order of priority, while workers are free."""
        budget, forgetful = self.options["budget_seconds"], self.options["forgetful"]
        if budget is not None and not forgetful and self.elapsed() >= budget * (1 - STOP_MARGIN):
            return  # checkpoints survive: what is left resumes at the next call
        while self.queue and len(self.running) < self.options["workers"]:
            self.queue.sort(key=lambda item: (item[0].priority, self.rank[item[0].key]))
            node, folder = self.queue.pop(0)
            if forgetful and node.parent is None and budget is not None:
                predicted = self.options["estimate"].family_seconds(self.graph, node, self.options["workers"])
                if predicted is not None and self.elapsed() + predicted > budget:
                    self.outcome.left.append(f"{self.located[node.key].id}: its family of "
                                             f"{len(self.graph.family(node))} would take about {predicted:.0f} s, "
                                             f"{budget - self.elapsed():.0f} s are left")
                    continue
            self._submit(node, folder)

    def _submit(self, node: Node, folder: Path) -> None:
        parent = self._parent_run(node)
        config = node.config_under(parent)
        waiting = any(not self.done(c) for c in self.graph.children(node))
        need_model = self.options["need_model"] or waiting
        here = self.outcome.runs[node.key] = find_run(config, folder, **self.where)
        if folder == self.root:  # a staged family is trained anew in a fresh folder
            if here.finished and not _is_current(here, parent):
                print(f"{here.id}: made from another training of its parent: trained again", flush=True)
                shutil.rmtree(here.path)  # its tables would mix two trainings of one parent
            elif here.ready(need_model):
                self.queue += [(child, folder) for child in self.graph.children(node)]
                return
        started = time.perf_counter()  # before: an inline pool trains in apply_async itself
        handle = self.pool.apply_async(_train, (config, str(folder), self.options["device"],
                                                self.options["checkpoint_seconds"], node.tables, need_model,
                                                self.options["speedups"]))
        self.running[handle] = (node, folder, started)

    def finish_ready(self) -> None:
        """Record the runs that ended: their children can start; a family that is now whole is moved in place."""
        done = [handle for handle in self.running if handle.ready()]
        if not done:
            time.sleep(POLL_SECONDS)
        for handle in done:
            node, folder, started = self.running.pop(handle)
            try:
                finished = Run(Path(handle.get()))
            except Exception as error:  # reported, and the others go on
                self.outcome.failed.append(f"{self.outcome.runs[node.key].path}: {type(error).__name__}: {error}")
                print(f"[{self.elapsed():6.0f} s] FAILED {self.outcome.failed[-1]}", flush=True)
                continue
            self.outcome.runs[node.key] = finished
            self.outcome.trained.append(finished)
            self.outcome.seconds_now[finished.id] = round(time.perf_counter() - started, 1)
            print(f"[{self.elapsed():6.0f} s] {finished.id}: {finished.result['iterations']} iterations "
                  f"({finished.result['stop_reason']}), {finished.result['train_seconds']:.0f} s", flush=True)
            self.queue += [(child, folder) for child in self.graph.children(node)]
            if folder != self.root:
                self._staged_finished(node, folder)

    def _staged_finished(self, node: Node, folder: Path) -> None:
        root = node
        while root.parent is not None:
            root = root.parent
        members = self.graph.family(root)
        self.staged.setdefault(root.key, set()).add(node.key)
        if len(self.staged[root.key]) == len(members):
            self._replace_family(members, folder)

    def _replace_family(self, members: list[Node], folder: Path) -> None:
        """Move a family trained again whole into the results folder, in place of its old runs and of every other
        old run fine-tuned from them (made from the training replaced)."""
        new = {self.outcome.runs[n.key].id: self.outcome.runs[n.key].grid_fingerprint for n in members}
        for r in made_from_another_training(self.root, new, keep=set(new)):
            print(f"{r.id}: fine-tuned from a training of its parent that was replaced: removed", flush=True)
            shutil.rmtree(r.path)
        for node in reversed(members):  # the root last: until then, old children read as made from another training
            staged, target = self.outcome.runs[node.key], self.root / self.outcome.runs[node.key].id
            shutil.rmtree(target, ignore_errors=True)
            shutil.move(str(staged.path), str(target))
            self.outcome.runs[node.key] = Run(target)
        self.outcome.trained = [Run(self.root / r.id) if r.path.parent == folder else r for r in self.outcome.trained]
        shutil.rmtree(folder)

    def tables(self) -> None:
        vanilla_tables(self.graph, self.root, self.options["device"])

    def close(self) -> Outcome:
        """What the call leaves: families cut at the budget on a forgetful machine are dropped whole."""
        if self.options["forgetful"]:
            shutil.rmtree(self.root / STAGING, ignore_errors=True)
            staged = self.root / STAGING
            for key, r in self.outcome.runs.items():
                if staged in r.path.parents and key in self.located:
                    self.outcome.runs[key] = self.located[key]
            self.outcome.trained = [r for r in self.outcome.trained if staged not in r.path.parents]
        self.outcome.wall_seconds = round(self.elapsed(), 1)
        return self.outcome


def schedule(graph: Graph, results_root: str | Path, *, device: str = "auto", workers: int | None = None,
             executor: str = "local", budget_seconds: float | None = None, forgetful: bool = False,
             need_model: bool = False, checkpoint_seconds: float = 60.0, speedups: Speedups | None = None,
             estimate: Estimate | None = None, detach: bool = False) -> Outcome:
    """Train every run of ``graph`` not finished in ``results_root`` (a preset's folder), ``workers`` at a time
    (default :func:`default_workers`), and stop at ``budget_seconds``; see the module's docstring for
    ``forgetful``. A run that fails is reported (its error and directory) and the runs it would have started are
    left out; the others go on. ``need_model``: every run with its model here (restored where it was shared
    without it). ``speedups``: the speed switches of the workers (:class:`transinv.speedups.Speedups`; default:
    the device's, cuDNN autotuning on a GPU), their number if ``workers`` is not given, CUDA MPS around them.
    ``estimate``: how long runs take here (default: from the finished runs, ``Estimate.from_results``).
    The untrained networks' cosine tables of the graph are computed here, while the first runs train.
    On Slurm every run not finished goes into the queue at once (:mod:`transinv.slurm_grid`); ``detach``: this
    call then returns without waiting for the jobs. One call at a time trains or submits a results folder's runs
    (:func:`transinv.slurm_queue.submit_lock`)."""
    if detach and executor != "slurm":
        raise ValueError(f"detach leaves the runs to Slurm: it needs executor='slurm', not {executor!r}")
    if forgetful and executor == "slurm":
        raise ValueError("forgetful is for a machine whose checkpoints do not outlive the call; a Slurm cluster's "
                         "results folder is shared and kept: leave it out")
    speedups = Speedups.for_device(resolve_device(device)) if speedups is None else speedups
    workers = (speedups.workers or default_workers(device, executor)) if workers is None else workers
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be a positive integer, but got {workers!r}")
    root = Path(results_root).expanduser()
    if forgetful:
        shutil.rmtree(root / STAGING, ignore_errors=True)  # an earlier call's, cut short
    options = {"device": device, "executor": executor, "workers": workers, "budget_seconds": budget_seconds,
               "forgetful": forgetful, "need_model": need_model, "checkpoint_seconds": checkpoint_seconds,
               "speedups": speedups, "estimate": estimate or Estimate.from_results(root, device)}
    with submit_lock(root):
        if executor == "slurm":
            return _queue_on_slurm(graph, root, options, detach)
        inline = budget_seconds is None  # one worker without a budget: this process, which a budget could not cut
        with cuda_mps(speedups.mps), open_pool(executor, workers, root, inline) as pool:  # leaving it stops the workers
            call = _Call(graph, root, pool, options)
            call.plan()
            call.start_next()
            call.tables()
            while call.running:
                if budget_seconds is not None and call.elapsed() >= budget_seconds:
                    break  # the runs still training resume from their last checkpoint next time (where it survives)
                call.finish_ready()
                call.start_next()
        return call.close()


def vanilla_tables(graph: Graph, root: Path, device: str) -> None:
    """The untrained networks' cosine and representation tables (seconds each)."""
    for table in graph.vanilla_tables:
        for save in (save_vanilla_cosines, save_vanilla_representation):
            save(table.items.dataset, table.preset, seed=table.seed, results_root=root,
                 device=resolve_device(device), classes=table.items.classes, model=table.model)


def _queue_on_slurm(graph: Graph, root: Path, options: dict, detach: bool) -> Outcome:
    from .slurm_grid import queue_graph  # which imports this module (its jobs train as _train does)
    started = time.perf_counter()
    outcome = queue_graph(graph, root, options, locate_options("slurm", options["device"]), detach)
    vanilla_tables(graph, root, options["device"])
    outcome.wall_seconds = round(time.perf_counter() - started, 1)
    return outcome


def run_all(configs: Sequence[RunConfig], results_root: str | Path = "results", *, device: str = "auto",
            need_model: bool = False, workers: int | None = None, train: bool = True,
            executor: str = "local") -> list[Run]:
    """Run every config, each a graph node of its own (see :func:`transinv.run`; finished runs are reused),
    ``workers`` at a time; the runs, in order. ``train=False`` trains nothing: the runs already finished (with
    their models if ``need_model``), in order. A fine-tuning's parent (its ``init``) must be finished."""
    graph = Graph()
    nodes = [graph.add(c) for c in configs]
    found = train_graph(graph, results_root, device=device, need_model=need_model, workers=workers, train=train,
                        executor=executor)
    return [found[n.key] for n in nodes if n.key in found]


def train_graph(graph: Graph, results_root: str | Path, *, train: bool = True, need_model: bool = False,
                **options) -> dict[tuple, Run]:
    """Train a graph (:func:`schedule`; failures raise :class:`RunsFailed` once the others have finished) or,
    ``train=False``, collect its finished runs (those not finished are counted, and left out); the finished runs
    (with their models, if ``need_model``), by node key."""
    started = time.perf_counter()
    if train:
        outcome = schedule(graph, results_root, need_model=need_model, **options)
        if outcome.failed:
            raise RunsFailed(f"{len(outcome.failed)} job(s) failed:\n" + "\n".join(outcome.failed))
        print(f"{len(graph)} runs: {len(graph) - len(outcome.trained)} reused, {len(outcome.trained)} trained in "
              f"{(time.perf_counter() - started) / 60:.1f} min", flush=True)
        return {key: r for key, r in outcome.runs.items() if r.ready(need_model)}
    found = collect(graph, results_root, device=options.get("device", "auto"), need_model=need_model,
                    executor=options.get("executor", "local"))
    missing = [n for n in graph if n.key not in found]
    if missing:
        ready = "finished, with their model here" if need_model else "finished"
        c = missing[0].config
        example = f"{c.dataset} {c.placement}, {'fine-tuned' if missing[0].is_finetuning else c.init}, seed {c.seed}"
        print(f"{len(graph) - len(missing)} of {len(graph)} runs are {ready}; the other {len(missing)} are left out "
              f"(train=False), e.g. {example}", flush=True)
    return found
