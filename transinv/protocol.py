"""One repetition of the whole protocol (experiments 1-3, one seed), side by side, within a time budget.

Every run of the repetition is scheduled as soon as it can start: pretrainings and runs from scratch
first (longest first), and each fine-tuning as soon as its pretraining has finished, never in waves.
Near the end of the budget no new run starts; at the budget the runs still training are stopped: they
resume from their last checkpoint at the next call, and every finished run is kept. ``pack`` puts the
finished runs' tables (no checkpoints) and a record of the call into one archive, ``unpack`` brings
them into a results folder::

    python -m transinv.protocol run --preset paper --seed 0 --budget 480 --pack $OUT/tables.tar.gz
    python -m transinv.protocol unpack tables.tar.gz --results results

``--executor slurm`` submits the runs as Slurm jobs instead (:mod:`transinv.executors`), scheduled the same way.
``--beyond`` adds this seed's runs of the experiment beyond the paper (:mod:`transinv.forgetting`): its control
pretraining, and every condition's fine-tunings of the pairs chosen from the finished runs of experiment 2.
"""
from __future__ import annotations

import argparse
import datetime
import json
import tarfile
import time
from pathlib import Path

import torch

from . import experiments as ex
from . import forgetting as fg
from .analysis import VANILLA_FOLDER, run_cosines, save_vanilla_cosines
from .executors import EXECUTORS, locate_options, open_pool
from .parallel import default_workers
from .presets import get_preset
from .provenance import git
from .runs import Run, RunConfig, find_finished, find_run, finished_runs, run
from .train import resolve_device

__all__ = ["first_runs", "protocol_size", "finished_in_repetition", "repetitions_note", "run_protocol", "pack", "unpack", "main"]

# Lower first: pretrainings (the longest, and the fine-tunings wait for them), their fine-tunings,
# experiment 3's before experiment 2's, then the runs at one location from scratch, experiment 1 last.
# The experiment beyond the paper (an option) goes last.
PRETRAIN, FINETUNE_EXP3, FINETUNE_EXP2, VANILLA, IMAGENET, VANILLA_IMAGENET_MODEL, BEYOND = range(7)
STOP_MARGIN = 0.1   # no new run starts in the last tenth of the budget
POLL_SECONDS = 0.5  # how often finished runs are looked for


def first_runs(preset: str, seed: int) -> list[tuple[int, RunConfig]]:
    """(priority, config) of the runs that need no other run: pretrainings, runs at one location from scratch,
    experiment 1. The fine-tunings follow from the pretrainings (:func:`_finetunings`)."""
    datasets = list(ex.PAPER_DATASETS)
    exp1 = ex.exp1_configs(datasets, preset, 1, seed)
    return ([(PRETRAIN, c) for c in ex.exp3_configs(preset, 1, seed) + ex.pretrain_configs(datasets, preset, 1, seed)]
            + [(VANILLA, c) for c in ex.pretrain_configs(datasets, preset, 1, seed, "one_location")]
            + [(IMAGENET, c) for c in exp1 if c.init == "imagenet"]
            + [(VANILLA_IMAGENET_MODEL, c) for c in exp1 if c.init == "vanilla"])


def _finetune_datasets(pretraining_dataset: str) -> list[str]:
    return ["mnist"] if pretraining_dataset == "emnist18" else list(ex.PAPER_DATASETS)  # experiment 3: MNIST only


def _finetunings(pretrained: Run, preset: str, pairs: list[fg.Pair] = ()) -> list[tuple[int, RunConfig]]:
    """The fine-tunings of a finished pretraining: experiment 2's or 3's (none for the control pretraining of the
    experiment beyond the paper), and that experiment's, in every condition, for each of ``pairs`` it starts."""
    config = pretrained.config
    paper = []
    if not config["classes"]:  # not the control pretraining
        priority = FINETUNE_EXP3 if config["dataset"] == "emnist18" else FINETUNE_EXP2
        targets = _finetune_datasets(config["dataset"])
        paper = [(priority, c) for c in ex.finetune_configs([pretrained], targets, preset)]
    scheduled = {c for _, c in paper}  # a plain fine-tuning beyond the paper is experiment 2's: scheduled once
    return paper + [(BEYOND, c) for c in fg.finetune_configs(pairs, [pretrained], preset) if c not in scheduled]


def beyond_pairs(preset: str, results_root: str | Path = "results") -> list[fg.Pair]:
    """The pairs of the experiment beyond the paper: chosen by :func:`transinv.forgetting.forgetting_pairs` from
    the finished runs of experiment 2's first repetition (seed 0), and the control."""
    exp2 = ex.exp2(ex.PAPER_DATASETS, ex.PAPER_DATASETS, preset, 1, 0, ex.results_dir(results_root, preset),
                   train=False)
    return fg.forgetting_pairs(exp2) + [fg.CONTROL]


def protocol_size(preset: str, seed: int) -> int:
    """Runs in one repetition: those of :func:`first_runs`, and each pretraining's fine-tunings."""
    first = [c for _, c in first_runs(preset, seed)]
    return len(first) + sum(len(_finetune_datasets(c.dataset)) for c in first if c.placement != "one_location")


def finished_in_repetition(preset: str, seed: int, results_root: str | Path = "results") -> int:
    """How many runs of one repetition are finished (found at either precision, see :func:`find_finished`)."""
    root = ex.results_dir(results_root, preset)
    done = [r for r in (find_finished(c, root) for _, c in first_runs(preset, seed)) if r.finished]
    finetunings = [c for r in done if r.config["placement"] != "one_location" for _, c in _finetunings(r, preset)]
    return len(done) + sum(find_finished(c, root).finished for c in finetunings)


def repetitions_note(preset: str, results_root: str | Path, repetitions: int, seed: int = 0) -> str:
    """A page's first words: which preset it shows, and how many of the protocol's runs it rests on."""
    size = protocol_size(preset, seed)
    counts = {s: finished_in_repetition(preset, s, results_root) for s in range(seed, seed + repetitions)}
    complete = sum(n == size for n in counts.values())
    partial = ", ".join(f"seed {s}: {n} of {size} runs" for s, n in counts.items() if 0 < n < size)
    found = f"{complete} of {repetitions} repetitions complete" + (f" (begun: {partial})" if partial else "")
    if preset == "paper":
        return (f"**Paper preset**: VGG16 on the authors' 224-px canvas, {found}; the paper ran 5. "
                + ("Runs not finished yet are left out: the numbers below are preliminary." if complete < 5 else ""))
    return (f"**{preset.capitalize()} preset**, the laptop version (a 64-px canvas, trained on a CPU): {found}. "
            f"The paper preset is the faithful scale.")


def _cosine_items(r: Run) -> list[tuple[str, list[int] | None]]:
    """The items (dataset, classes) on which the cosine analyses (of experiment 2's runs, and beyond the paper)
    read this run: a pretraining on each of its fine-tunings' items, a fine-tuning on its own."""
    config = r.config
    if config["parent"] is not None:  # the parent's configuration, kept in the run's
        parent = config["parent"]
        read = parent["placement"] == "translated" and parent["dataset"] in ex.PAPER_DATASETS  # not experiment 3's
        return [(config["dataset"], config["classes"])] if read else []
    if config["placement"] != "translated":
        return []
    if config["classes"]:  # the control pretraining beyond the paper
        control = fg.CONTROL
        is_control = config["dataset"] == control.pretrain and tuple(config["classes"]) == control.pretrain_classes
        return [(control.finetune, list(control.finetune_classes))] if is_control else []
    return [(d, None) for d in _finetune_datasets(config["dataset"])] if config["dataset"] in ex.PAPER_DATASETS else []


def _train(config: RunConfig, results_root: str, device: str, checkpoint_seconds: float) -> str:
    """Train and evaluate one run, then compute its cosine tables while its model is at hand (a run's tables
    travel without its model)."""
    finished = run(config, results_root, device=device, progress=False, checkpoint_seconds=checkpoint_seconds)
    for dataset, classes in _cosine_items(finished):
        run_cosines(finished, dataset, device=resolve_device(device), classes=classes)
    return str(finished.path)


def run_protocol(preset: str, seed: int, results_root: str | Path = "results", *, budget_seconds: float | None = None,
                 workers: int | None = None, device: str = "auto", checkpoint_seconds: float = 60.0,
                 executor: str = "local", beyond: bool = False) -> dict:
    """Train every run of one repetition that is not finished yet, ``workers`` at a time; stop at
    ``budget_seconds``. Returns a record: runs finished (and how many of them now), runs left, wall time.

    A run that fails is reported (its error and directory) and its fine-tunings are left out; the others go on.
    ``checkpoint_seconds``: how often a run saves its training state (a VGG16 one is 1.6 GB); where the
    checkpoints cannot outlive the call (a borrowed machine), a large value saves the time of writing them.
    ``executor``: "local" worker processes, or "slurm" jobs, ``workers`` of them submitted at a time.
    ``beyond``: also the runs of this seed of the experiment beyond the paper (:func:`beyond_pairs`)."""
    root = ex.results_dir(results_root, preset)
    workers = workers or default_workers(device, executor)
    locate = locate_options(executor, device)  # on Slurm, runs train on the jobs' GPUs, not here
    start, now, running, failed = time.perf_counter(), [], {}, []
    queue = first_runs(preset, seed)
    pairs = beyond_pairs(preset, results_root) if beyond else []
    queue += [(PRETRAIN, c) for c in fg.pretrain_configs(pairs, preset, 1, seed) if (PRETRAIN, c) not in queue]
    vanilla_done = False
    with open_pool(executor, workers, root) as pool:  # leaving it stops the workers still training
        while queue or running:
            elapsed = time.perf_counter() - start
            if budget_seconds is not None and elapsed >= budget_seconds:
                break  # at the budget: the runs still training resume from their last checkpoint next time
            if budget_seconds is None or elapsed < budget_seconds * (1 - STOP_MARGIN):
                queue.sort(key=lambda item: item[0])
                while queue and len(running) < workers:
                    _, config = queue.pop(0)
                    found = find_run(config, root, **locate)
                    if found.finished:  # trained before: its fine-tunings can start at once
                        queue += _finetunings(found, preset, pairs) if config.placement != "one_location" else []
                        continue
                    running[pool.apply_async(_train, (config, str(root), device, checkpoint_seconds))] = config
            if not vanilla_done:  # here, while the first runs train: the vanilla networks' cosine tables (seconds)
                for dataset, classes in [(d, None) for d in ex.PAPER_DATASETS] + [
                        (p.finetune, p.finetune_classes) for p in pairs if p.finetune_classes]:
                    save_vanilla_cosines(dataset, preset, seed=seed, results_root=root, device=resolve_device(device),
                                         classes=classes)
                vanilla_done = True
            if not running:
                break  # no new run may start so near the budget: what is left waits for the next call
            done = [result for result in running if result.ready()]
            if not done:
                time.sleep(POLL_SECONDS)
            for result in done:
                config = running.pop(result)
                try:
                    path = result.get()
                except Exception as error:  # reported, and the others go on
                    failed.append(f"{find_run(config, root, **locate).path}: {type(error).__name__}: {error}")
                    print(f"[{time.perf_counter() - start:6.0f} s] FAILED {failed[-1]}", flush=True)
                    continue
                finished = Run(Path(path))
                now.append(finished)
                print(f"[{time.perf_counter() - start:6.0f} s] {finished.id}: {finished.result['iterations']} "
                      f"iterations ({finished.result['stop_reason']})", flush=True)
                if config.placement != "one_location":
                    queue += _finetunings(finished, preset, pairs)
    runs = [r for r in finished_runs(root) if r.config["seed"] == seed]
    wall = time.perf_counter() - start
    left = protocol_size(preset, seed) - finished_in_repetition(preset, seed, results_root)  # the paper's runs
    return {"preset": get_preset(preset).name, "seed": seed, "wall_seconds": round(wall, 1),
            "budget_seconds": budget_seconds, "workers": workers, "device": str(resolve_device(device)),
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "finished_runs": len(runs), "trained_now": len(now), "left_unfinished": left,
            "complete": left == 0, "failed": failed, "checkpoint_seconds": checkpoint_seconds,
            "where_the_time_went": _time_spent(now, workers, wall),
            "train_images": sum(r.result["iterations"] * r.preset.batch_size for r in runs),
            "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
            "commit": git("rev-parse", "HEAD"), "executor": executor,
            "beyond_the_paper": [p.name for p in pairs]}


def _time_spent(trained: list[Run], workers: int, wall: float) -> dict:
    """Worker-seconds of this call, by what the runs trained now spent them on; the rest went to runs cut at the
    budget, cosine tables, starting the workers and waiting. (A run resumed from a checkpoint counts its
    training in earlier calls too.)"""
    spent = {part: round(sum(r.result.get(f"{part}_seconds", 0.0) for r in trained), 1)
             for part in ("setup", "train", "eval")}
    return {"worker_seconds": round(workers * wall, 1), **spent,
            "rest": round(workers * wall - sum(spent.values()), 1)}


def pack(results_root: str | Path, preset: str, record: dict, archive: str | Path) -> Path:
    """One .tar.gz of the finished runs of the record's seed (every file but checkpoints), the vanilla networks'
    cosine tables and the record."""
    root = ex.results_dir(results_root, preset)
    archive = Path(archive)
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for r in finished_runs(root):
            if r.config["seed"] == record["seed"]:
                for f in sorted(r.path.iterdir()):
                    if f.is_file() and f.name != "ckpt.pt":
                        tar.add(f, arcname=f"{root.name}/{r.id}/{f.name}")
        for f in sorted((root / VANILLA_FOLDER).glob(f"*-seed{record['seed']}.csv")):
            tar.add(f, arcname=f"{root.name}/{VANILLA_FOLDER}/{f.name}")
        record_file = archive.with_suffix("").with_suffix(".json")
        record_file.write_text(json.dumps(record, indent=2) + "\n")
        tar.add(record_file, arcname=f"{root.name}/repetitions/seed-{record['seed']}.json")
    return archive


def unpack(archive: str | Path, results_root: str | Path = "results") -> list[str]:
    """Bring an archive made by :func:`pack` into ``results_root``: its runs, and its record as
    ``<preset>/repetitions/seed-<seed>.json``. Returns the names of the files written."""
    root = Path(results_root).expanduser()
    with tarfile.open(archive, "r:gz") as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
        bad = [m.name for m in members if m.name.startswith("/") or ".." in Path(m.name).parts]
        if bad:
            raise ValueError(f"{archive} holds paths outside a results folder ({bad[0]}): not a pack() archive")
        tar.extractall(root, members=members, filter="data")
    return [m.name for m in members]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    go = commands.add_parser("run", help="train one repetition (resuming), within a budget")
    go.add_argument("--preset", default="paper")
    go.add_argument("--seed", type=int, default=0)
    go.add_argument("--results", default="results")
    go.add_argument("--budget", type=float, default=None, help="seconds; default: no limit")
    go.add_argument("--workers", type=int, default=None)
    go.add_argument("--device", default="auto")
    go.add_argument("--executor", default="local", choices=EXECUTORS,
                    help="local worker processes (default), or Slurm jobs (settings: TRANSINV_SLURM_* variables)")
    go.add_argument("--checkpoint-seconds", type=float, default=60.0,
                    help="how often a run saves its training state (default 60; large: only the final model)")
    go.add_argument("--pack", default=None, metavar="ARCHIVE", help="also pack the finished runs' tables here")
    go.add_argument("--commit", default=None, help="the commit to record (default: git's; a copy without .git)")
    go.add_argument("--beyond", action="store_true", help="also the runs of the experiment beyond the paper")
    back = commands.add_parser("unpack", help="bring a packed repetition into a results folder")
    back.add_argument("archive")
    back.add_argument("--results", default="results")
    args = parser.parse_args(argv)
    if args.command == "unpack":
        names = unpack(args.archive, args.results)
        print(f"{len(names)} files into {args.results}")
        return
    record = {"preset": args.preset, "seed": args.seed, "complete": False, "error": "the call ended with an error"}
    try:
        record = run_protocol(args.preset, args.seed, args.results, budget_seconds=args.budget, workers=args.workers,
                              device=args.device, checkpoint_seconds=args.checkpoint_seconds, executor=args.executor,
                              beyond=args.beyond)
        print(json.dumps(record, indent=2), flush=True)
    finally:  # whatever happened, the finished runs travel
        if args.commit:
            record["commit"] = args.commit
        if args.pack:
            print(f"packed into {pack(args.results, args.preset, record, args.pack)}")


if __name__ == "__main__":
    main()
