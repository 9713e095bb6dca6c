"""One repetition of the whole protocol (:func:`transinv.protocol.repetition`, one seed) as one call: trained by
:mod:`transinv.scheduler`, within a time budget, recorded, packed and brought back::

    python -m transinv.repetition run --preset paper --seed 0 --budget 480 --forgetful --pack $OUT/tables.tar.gz
    python -m transinv.repetition unpack tables.tar.gz --results results
    python -m transinv.repetition size --preset paper   # how many runs a repetition has
    python -m transinv.repetition families --preset paper --seed 0  # which families are whole here

``--forgetful`` says that checkpoints do not outlive the call (a borrowed GPU): only whole families are kept.
``--executor slurm`` submits the runs as Slurm jobs, all at once (each fine-tuning after its parent's job);
``--detach`` then exits without waiting (``python -m transinv.protocol status`` shows how they go).
``--beyond`` adds this seed's runs of the experiment beyond the paper: its control, and every condition's
fine-tunings of the pairs chosen from experiment 2's finished runs.
``--architectures`` adds this seed's runs of issue 28's architectures (:func:`transinv.protocol.architectures`), on
the pretraining that transferred best in experiment 2's finished runs (kept in ``protocol.json``).
``pack`` puts the finished runs' tables (no checkpoints) and a record of the call into one archive.

Experiment 1's ImageNet network is a choice (``--imagenet-model``), kept in ``<results>/<preset>/protocol.json``
by the first call that trains with it, so that every later call and page reads the same runs.
"""
from __future__ import annotations

import argparse
import datetime
import json
import shutil
import tarfile
from pathlib import Path
from typing import Sequence

import torch

from . import protocol
from .analysis import VANILLA_FOLDER
from .executors import EXECUTORS
from .experiments import CHOICES_FILE, exp2, imagenet_model, record_imagenet_model, results_dir
from .architectures import chosen_pretraining
from .forgetting import chosen_pairs
from .graph import Graph
from .models import MODELS
from .presets import get_preset
from .provenance import git
from .runs import finished_runs
from .runs.directory import table_fingerprint
from .estimate import Estimate
from .scheduler import collect, families, made_from_another_training, schedule
from .train import resolve_device

__all__ = ["beyond_pairs", "architectures_pretraining", "graph", "size",
           "finished_in_repetition", "repetitions_note", "run_repetition", "pack", "unpack", "main"]

def beyond_pairs(preset: str, results_root: str | Path) -> list[protocol.Pair]:
    """The pairs beyond the paper: chosen by :func:`transinv.forgetting.forgetting_pairs` from the finished runs of
    experiment 2's first repetition (seed 0), and the control."""
    datasets, root = protocol.PAPER_DATASETS, results_dir(results_root, preset)
    return chosen_pairs(exp2(datasets, datasets, preset, 1, 0, root, train=False), root, record=True)[0] + [
        protocol.CONTROL]


def architectures_pretraining(preset: str, results_root: str | Path, record: bool = True) -> str:
    """The pretraining of the architectures' runs: chosen by :func:`transinv.architectures.chosen_pretraining` from
    the finished runs of experiment 2's first repetition (seed 0), and kept (unless ``record`` is False)."""
    datasets, root = protocol.PAPER_DATASETS, results_dir(results_root, preset)
    return chosen_pretraining(exp2(datasets, datasets, preset, 1, 0, root, train=False), root, record=record)[0]


def graph(preset: str, seed: int, results_root: str | Path, *, imagenet: str | None = None,
          pairs: Sequence[protocol.Pair] = (), architectures_pretrain: str | None = None) -> Graph:
    """The repetition's graph for the runs kept in ``results_root``, with their ImageNet model
    (:func:`imagenet_model`), the runs beyond the paper of ``pairs``, and, given their pretraining, the runs of
    every architecture (:func:`transinv.protocol.architectures`)."""
    paper = protocol.repetition(preset, seed, imagenet_model(preset, results_dir(results_root, preset), imagenet), pairs)
    if architectures_pretrain is None:
        return paper
    return paper | protocol.architectures(preset, seed, pretrain=architectures_pretrain)


def size(preset: str, results_root: str | Path = "auto", seed: int = 0) -> int:
    """Runs in one repetition of the paper's protocol (experiments 1-3 and the cosine analysis)."""
    return len(graph(preset, seed, results_root))


def finished_in_repetition(preset: str, seed: int, results_root: str | Path = "auto") -> int:
    """How many runs of one repetition are finished (at either precision)."""
    return len(collect(graph(preset, seed, results_root), results_dir(results_root, preset), device="cpu"))


def repetitions_note(preset: str, results_root: str | Path, repetitions: int, seed: int = 0) -> str:
    """A page's first words: which preset it shows, and how many of the protocol's runs it rests on."""
    runs = size(preset, results_root, seed)
    counts = {s: finished_in_repetition(preset, s, results_root) for s in range(seed, seed + repetitions)}
    complete = sum(n == runs for n in counts.values())
    partial = ", ".join(f"seed {s}: {n} of {runs} runs" for s, n in counts.items() if 0 < n < runs)
    found = f"{complete} of {repetitions} repetitions complete" + (f" (begun: {partial})" if partial else "")
    if get_preset(preset).name == "paper":
        return (f"**Paper preset**: VGG16 on the authors' 224-px canvas, {found}; the paper ran 5. "
                + ("Runs not finished yet are left out: the numbers below are preliminary." if complete < 5 else ""))
    return (f"**{get_preset(preset).name.capitalize()} preset**, the laptop version (a 64-px canvas, trained on a "
            f"CPU): {found}. The paper preset is the faithful scale.")


def run_repetition(preset: str, seed: int, results_root: str | Path, *, budget_seconds: float | None = None,
                   workers: int | None = None, device: str = "auto", checkpoint_seconds: float = 60.0,
                   executor: str = "local", beyond: bool = False, architectures: bool = False, forgetful: bool = False,
                   imagenet: str | None = None, speedups=None, images_per_second: float | None = None,
                   overhead_seconds: float = 0.0, detach: bool = False) -> dict:
    """Train every run of one repetition that is not finished yet; returns a record: runs finished (and how many
    of them now), runs left, families not started, wall time, where the time went. ``detach`` (Slurm): submit the
    runs missing and return; the jobs submitted are in the record."""
    root = results_dir(results_root, preset)
    model = imagenet_model(preset, root, imagenet)
    record_imagenet_model(root, model)
    pairs = beyond_pairs(preset, results_root) if beyond else []
    pretrain = architectures_pretraining(preset, results_root) if architectures else None
    work = graph(preset, seed, results_root, imagenet=model, pairs=pairs, architectures_pretrain=pretrain)
    outcome = schedule(work, root, device=device, workers=workers, executor=executor, budget_seconds=budget_seconds,
                       forgetful=forgetful, checkpoint_seconds=checkpoint_seconds, speedups=speedups,
                       estimate=Estimate.from_results(root, device, images_per_second, overhead_seconds),
                       detach=detach)
    paper = graph(preset, seed, results_root, imagenet=model)
    finished = collect(work, root, device="cpu")
    left = len(paper) - sum(n.key in finished for n in paper)
    return {"preset": get_preset(preset).name, "seed": seed, "runs_in_repetition": len(paper),
            "wall_seconds": outcome.wall_seconds, "budget_seconds": budget_seconds, "workers": outcome.workers,
            "forgetful": forgetful, "device": str(resolve_device(device)),
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "imagenet_model": model, "finished_runs": len(finished), "trained_now": len(outcome.trained),
            "left_unfinished": left, "complete": left == 0, "failed": outcome.failed,
            "families_not_started": outcome.left, "checkpoint_seconds": checkpoint_seconds,
            "speedups": None if speedups is None else speedups.to_dict(),
            "where_the_time_went": _time_spent(outcome),
            "train_images": sum(r.result["iterations"] * r.preset.batch_size for r in finished.values()),
            "train_images_now": sum(r.result["iterations"] * r.preset.batch_size for r in outcome.trained),
            "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
            "commit": git("rev-parse", "HEAD"), "executor": executor, "detached": detach,
            "jobs_submitted_now": {outcome.runs[key].id: job for key, job in outcome.jobs.items()},
            "beyond_the_paper": [p.name for p in pairs],
            "architectures": {"models": list(protocol.ARCHITECTURES), "pretraining": pretrain} if architectures else None}


def _time_spent(outcome) -> dict:
    """Worker-seconds of this call: those of the runs trained now (from their start in this call to their end:
    setup, training or what was left of it, evaluation, tables) and the rest (runs cut at the budget, untrained
    networks' tables, starting the workers, waiting). A run's own ``train_seconds`` adds up every call it took."""
    worker = outcome.workers * outcome.wall_seconds
    runs = sum(outcome.seconds_now.values())
    return {"worker_seconds": round(worker, 1), "runs_trained_now": round(runs, 1), "rest": round(worker - runs, 1)}


def pack(results_root: str | Path, preset: str, record: dict, archive: str | Path) -> Path:
    """One .tar.gz of the finished runs of the record's seed (every file but checkpoints), the vanilla networks'
    cosine tables, the choices file and the record."""
    root, archive = results_dir(results_root, preset), Path(archive)
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for r in finished_runs(root):
            if r.config["seed"] == record["seed"]:
                for f in sorted(r.path.iterdir()):
                    if f.is_file() and f.name != "ckpt.pt":
                        tar.add(f, arcname=f"{root.name}/{r.id}/{f.name}")
        for f in sorted((root / VANILLA_FOLDER).glob(f"*-seed{record['seed']}.csv*")):
            tar.add(f, arcname=f"{root.name}/{VANILLA_FOLDER}/{f.name}")
        if (root / CHOICES_FILE).is_file():
            tar.add(root / CHOICES_FILE, arcname=f"{root.name}/{CHOICES_FILE}")
        record_file = archive.with_suffix("").with_suffix(".json")
        record_file.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        tar.add(record_file, arcname=f"{root.name}/repetitions/seed-{record['seed']}.json")
    return archive


def unpack(archive: str | Path, results_root: str | Path = "results") -> list[str]:
    """Bring an archive made by :func:`pack` into ``results_root``: its runs, and its record as
    ``<preset>/repetitions/seed-<seed>.json``. A run of the archive replaces the one of the same id (a family
    trained again whole replaces the old one), and the old fine-tunings made from another training of it go.
    Returns the names of the files written."""
    root = Path(results_root).expanduser()
    with tarfile.open(archive, "r:gz") as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
        bad = [m.name for m in members if m.name.startswith("/") or ".." in Path(m.name).parts]
        if bad:
            raise ValueError(f"{archive} holds paths outside a results folder ({bad[0]}): not a pack() archive")
        incoming: dict[str, dict[str, str]] = {}  # preset folder -> run id -> fingerprint of its grid
        for m in members:
            if Path(m.name).name == "grid.csv.gz":
                preset, run_id = Path(m.name).parts[:2]
                incoming.setdefault(preset, {})[run_id] = table_fingerprint(tar.extractfile(m).read())
        for preset, trainings in incoming.items():
            for r in made_from_another_training(root / preset, trainings, keep=set(trainings)):
                print(f"{r.id}: fine-tuned from a training that the archive replaces: removed", flush=True)
                shutil.rmtree(r.path)
            for run_id in trainings:
                shutil.rmtree(root / preset / run_id, ignore_errors=True)  # its files are the archive's from now on
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
    go.add_argument("--forgetful", action="store_true",
                    help="checkpoints do not outlive this call (a borrowed GPU): keep only whole families")
    go.add_argument("--checkpoint-seconds", type=float, default=60.0,
                    help="how often a run saves its training state (default 60; large: only the final model)")
    go.add_argument("--imagenet-model", default=None, choices=MODELS,
                    help="experiment 1's ImageNet network (default: the one recorded in the results, else the "
                         "preset's)")
    go.add_argument("--speedups", default=None, metavar="PROBE_JSON",
                    help="train with the fastest settings of a GPU probe (benchmarks/gpu_probe.py)")
    go.add_argument("--pack", default=None, metavar="ARCHIVE", help="also pack the finished runs' tables here")
    go.add_argument("--commit", default=None, help="the commit to record (default: git's; a copy without .git)")
    go.add_argument("--beyond", action="store_true", help="also the runs of the experiment beyond the paper")
    go.add_argument("--architectures", action="store_true",
                    help="also the runs of issue 28's architectures (invariant by design, or learned)")
    go.add_argument("--detach", action="store_true",
                    help="with --executor slurm: submit the runs missing and exit (python -m transinv.protocol "
                         "status shows how they go; the same command again submits only what is still missing)")
    back = commands.add_parser("unpack", help="bring a packed repetition into a results folder")
    back.add_argument("archive")
    back.add_argument("--results", default="results")
    count = commands.add_parser("size", help="print how many runs one repetition has")
    count.add_argument("--preset", default="paper")
    count.add_argument("--results", default="results")
    see = commands.add_parser("families", help="print each family of a repetition: whole here, or to train again")
    see.add_argument("--preset", default="paper")
    see.add_argument("--seed", type=int, default=0)
    see.add_argument("--results", default="results")
    see.add_argument("--workers", type=int, default=8, help="runs side by side, for the predicted times")
    args = parser.parse_args(argv)
    if args.command == "unpack":
        names = unpack(args.archive, args.results)
        print(f"{len(names)} files into {args.results}")
        return
    if args.command == "size":
        print(size(args.preset, args.results))
        return
    if args.command == "families":
        root = results_dir(args.results, args.preset)
        rows = families(graph(args.preset, args.seed, args.results), root, device="cpu", workers=args.workers,
                        estimate=Estimate(finished_runs(root)))
        for row in rows:
            state = "whole" if row["whole"] else "to train again whole" if row["finished"] else "to train"
            print(f"{row['family']:62} {row['finished']} of {row['runs']} finished, {state:20} "
                  f"about {row['predicted_seconds']} s")
        return
    speedups, rate, overhead = None, None, 0.0
    if args.speedups:
        from .speedups import fastest
        speedups, (rate, overhead) = fastest(args.speedups), probe_estimate(args.speedups)
    record = {"preset": args.preset, "seed": args.seed, "complete": False, "error": "the call ended with an error"}
    try:
        record = run_repetition(args.preset, args.seed, args.results, budget_seconds=args.budget, workers=args.workers,
                                device=args.device, checkpoint_seconds=args.checkpoint_seconds,
                                executor=args.executor, beyond=args.beyond, architectures=args.architectures,
                                forgetful=args.forgetful,
                                imagenet=args.imagenet_model, speedups=speedups, images_per_second=rate,
                                overhead_seconds=overhead, detach=args.detach)
        print(json.dumps(record, indent=2, ensure_ascii=False), flush=True)
    finally:  # whatever happened, the finished runs travel
        if args.commit:
            record["commit"] = args.commit
        if args.pack:
            print(f"packed into {pack(args.results, args.preset, record, args.pack)}")


def probe_estimate(probe_json: str | Path) -> tuple[float, float]:
    """From a GPU probe's JSON: training images/s of one run side by side with the others, under its fastest
    switches, and a run's setup and evaluation seconds there (at the preset's test items)."""
    probe = json.loads(Path(probe_json).read_text())
    best = probe["fastest"]
    measured = next(c for c in probe["candidates"] if c["name"] == best["name"])
    overhead = measured["setup_seconds_per_run"] + measured["eval_seconds_per_run_at_preset"]
    return best["sustained_images_per_second"] / best["speedups"]["workers"], overhead


if __name__ == "__main__":
    main()
