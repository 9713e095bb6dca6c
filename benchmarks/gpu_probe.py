"""Which speed switches (transinv.speedups) make real runs train fastest on this machine: a probe of --seconds.

    python benchmarks/gpu_probe.py [--seconds 150] [--preset paper] [--device auto] [--json gpu_probe.json]
    then: Speedups.read("gpu_probe.json") (or transinv.speedups.fastest) gives the scheduler the fastest switches

Each candidate is a Speedups whose ``workers`` real runs (transinv.run on the protocol's translated pretrainings,
in a fresh temporary results folder) train side by side in spawn processes started with
transinv.speedups.apply, inside transinv.speedups.cuda_mps: as the scheduler starts them. Only two things differ
from a real run, so that a candidate fits its share of the time: the preset's iterations are capped
(``--iterations``; the stopping rule's patience is raised to the cap, so every run trains exactly that many) and
fewer test items are shown (``--eval-items``; the evaluation seconds are also given scaled to the preset's).

The search is greedy, one switch at a time on top of the fastest candidate so far, most promising first, until
the time is spent: a switch is kept where it beats the fastest by more than MARGIN. Training switches are judged
by the training images/s the runs would sustain together over runs of ``--run-iterations``: their rate while
all of them trained at once, past their first quarter (timed where each iteration's numbers reach the stopping
rule), times the share of a real run's training that its warm-up (cuDNN autotuning, compilation) leaves; the
evaluation batch by the evaluation seconds of a run. A candidate past its time box is stopped (its workers
killed) and reported. On the CPU the GPU-only switches are listed as skipped, with the reason. Writes one JSON.
"""
from __future__ import annotations

import time

T0 = time.perf_counter()  # the probe ends within --seconds of here

import argparse  # (after T0: importing torch takes seconds of the probe's time)
import dataclasses
import json
import multiprocessing as mp
import os
import platform
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

import transinv as ti
from transinv import protocol, stopping
from transinv.evaluate import eval_batch_size
from transinv.scheduler import default_workers
from transinv.speedups import MPS_CONTROL, Speedups, apply, cuda_mps
from transinv.train import Speed

MARGIN = 0.03          # a switch is kept where it is better than this fraction
RESERVE = 4.0          # seconds kept for stopping the last workers and writing the JSON
BOX_FACTOR = 3.0       # a candidate's time box: at most this times the first candidate's wall time
RUN_ITERATIONS = 1300  # the mean iterations of the first 21 paper-preset runs (seed 0, H200)
TRAIN, EVAL = "sustained_images_per_second", "eval_seconds_per_run"  # what judges a switch (higher, lower)
GPU_ONLY = {"cudnn_benchmark": "GPU only: cuDNN autotunes GPU convolutions",
            "compile": "GPU only: runs on the CPU are never compiled (their numbers must not change)",
            "mps": "GPU only: CUDA MPS shares one GPU between processes",
            "threads": "on the CPU every run computes on one thread (transinv.runs), whatever the workers' setting",
            "eval_batch": "GPU only: on the CPU another evaluation batch could round differently"}


def plan(device: torch.device, workers: int, eval_batch: int) -> list[tuple[str, dict, str]]:
    """(name, change, judged by) of each switch to try, most promising first: the time may end before the last."""
    more, fewer = (12, 6) if device.type == "cuda" else (2 * workers, max(1, workers // 2))
    return [("cudnn_benchmark", {"cudnn_benchmark": True}, TRAIN), ("mps", {"mps": True}, TRAIN),
            ("threads 2", {"threads": 2}, TRAIN), (f"workers {more}", {"workers": more}, TRAIN),
            (f"eval_batch {2 * eval_batch}", {"eval_batch": 2 * eval_batch}, EVAL),
            ("compile reduce-overhead", {"compile": "reduce-overhead"}, TRAIN),
            ("threads 1", {"threads": 1}, TRAIN), ("threads 4", {"threads": 4}, TRAIN),
            (f"workers {fewer}", {"workers": fewer}, TRAIN)]


def skip_reason(change: dict, device: torch.device) -> str | None:
    if device.type != "cuda":
        return next((GPU_ONLY[name] for name in change if name in GPU_ONLY), None)
    if change.get("mps") and shutil.which(MPS_CONTROL) is None:
        return f"{MPS_CONTROL} is not on PATH"
    return None


def _one_run(job: tuple) -> dict:
    """In a worker: one real run, timed where each iteration's numbers reach the stopping rule."""
    config, root, device = job
    stopping.PATIENCE = stopping.MAX_ITERS  # the rule cannot stop a run before the preset's (capped) iterations
    times, update = [], stopping.StoppingRule.update

    def timed(rule, loss, accuracy):
        times.append(time.time())  # the wall clock: the same in every worker
        return update(rule, loss, accuracy)
    stopping.StoppingRule.update = timed
    started = time.time()
    try:
        this = ti.run(config, root, device=device, progress=False)
    finally:
        stopping.StoppingRule.update = update
    done, batch, n = this.result, this.preset.batch_size, len(times)
    sync = Speed.for_device(torch.device(device)).sync_every  # numbers reach the rule in bursts of this many
    start = (n // 4) // sync * sync  # the steady phase: from the end of a burst after the first quarter
    progress = [(round(times[k - 1], 3), k) for k in [*range(start, n, sync), n]] if start >= 1 else []
    (t0, k0), (t1, k1) = (progress[0], progress[-1]) if len(progress) > 1 else ((0, 0), (0, 0))
    steady = (k1 - k0) * batch / (t1 - t0) if t1 > t0 else done["train_images_per_second"]
    return {"run": this.id, "pid": os.getpid(), "started": started, "num_classes": this.config["num_classes"],
            "gpu": torch.cuda.get_device_name() if device.startswith("cuda") else None,
            "steady_images_per_second": round(steady, 1), "progress": progress,
            "warmup_seconds": round(max(0.0, done["train_seconds"] - done["iterations"] * batch / steady), 2),
            **{k: done[k] for k in ("iterations", "train_seconds", "train_images_per_second", "eval_seconds",
                                    "setup_seconds", "eval_items_per_location")}}


def together(results: list[dict], batch: int) -> tuple[float | None, float]:
    """Training images/s of the runs while all of them were in their steady phase at once (each run's
    iterations interpolated between its host syncs), and for how many seconds; (None, 0) if never at once."""
    if not all(len(r["progress"]) > 1 for r in results):
        return None, 0.0
    low, high = max(r["progress"][0][0] for r in results), min(r["progress"][-1][0] for r in results)
    if high <= low:
        return None, 0.0
    iterations = sum(float(np.diff(np.interp([low, high], *zip(*r["progress"])))[0]) for r in results)
    return iterations * batch / (high - low), high - low


def measure(speedups: Speedups, configs: list, device: str, box: float, base: ti.Preset, run_iterations: int) -> dict:
    """Run ``speedups.workers`` runs side by side, at most ``box`` seconds; the candidate's numbers."""
    jobs = [dataclasses.replace(c, seed=c.seed + k // len(configs)) for k, c in
            zip(range(speedups.workers), configs * speedups.workers)]
    root, results = tempfile.mkdtemp(prefix="transinv-probe-"), []
    started, clock = time.perf_counter(), time.time()
    status, reason = "measured", None
    with cuda_mps(speedups.mps) as mps:
        pool = mp.get_context("spawn").Pool(speedups.workers, initializer=apply, initargs=(speedups,))
        try:
            results = pool.map_async(_one_run, [(c, root, device) for c in jobs], chunksize=1).get(timeout=box)
        except mp.TimeoutError:
            status, reason = "timed out", f"past its time box of {box:.0f} s: its workers were killed"
        except Exception as error:  # a worker's failure (out of memory, a compiler error): the candidate's
            status, reason = "failed", f"{type(error).__name__}: {str(error)[:300]}"
        finally:
            pool.close() if results else pool.terminate()  # idle workers exit; the others are killed
            pool.join()
    wall = time.perf_counter() - started
    finished = len(list(Path(root).glob("*/done.json")))
    shutil.rmtree(root, ignore_errors=True)
    entry = {"status": status, **({"reason": reason} if reason else {}), "mps": mps.reason,
             "wall_seconds": round(wall, 1), "runs_finished": finished}
    if not results:
        return entry
    batch, n = base.batch_size, len(results)

    def mean(key):
        return round(sum(r[key] for r in results) / n, 2)
    rate, window = together(results, batch)
    images = run_iterations * batch  # a real run's: what share of its training time is the steady phase
    steady = [images / r["steady_images_per_second"] for r in results]  # seconds of steady training
    share = sum(s / (r["warmup_seconds"] + s) for s, r in zip(steady, results)) / n
    rate = rate or sum(r["steady_images_per_second"] for r in results)
    at_preset = [r["eval_seconds"] * base.eval_items_per_class(r["num_classes"]) * r["num_classes"]
                 / r["eval_items_per_location"] for r in results]  # the evaluation's seconds with all its items
    return {**entry, "gpu": results[0]["gpu"],
            "train_images_per_second": round(sum(r["train_images_per_second"] for r in results), 1),
            "together_images_per_second": round(rate, 1), "together_seconds": round(window, 1),
            TRAIN: round(rate * share, 1),
            "images_per_wall_second": round(sum(r["iterations"] for r in results) * batch / wall, 1),
            "warmup_seconds_per_run": mean("warmup_seconds"), "setup_seconds_per_run": mean("setup_seconds"),
            EVAL: mean("eval_seconds"), "eval_seconds_per_run_at_preset": round(sum(at_preset) / n, 2),
            "startup_seconds": round(min(r["started"] for r in results) - clock, 2),
            "side_by_side": len({r["pid"] for r in results}) == n, "runs": results}


def better(entry: dict, best: dict, judged_by: str) -> bool:
    if judged_by == EVAL:
        return entry[EVAL] < best[EVAL] * (1 - MARGIN)
    return entry[TRAIN] > best[TRAIN] * (1 + MARGIN)


def probe(args) -> dict:
    deadline = T0 + args.seconds - RESERVE
    device = ti.resolve_device(args.device)
    base = ti.get_preset(args.preset)
    cap = min(args.iterations or (120 if device.type == "cuda" else stopping.MAX_ITERS),
              stopping.StoppingRule.for_preset(base, "translated").max_iters)
    preset = dataclasses.replace(base, name=f"{base.name}-probe", iter_scale=cap / stopping.MAX_ITERS,
                                 pretrain_iter_scale=cap / stopping.MAX_ITERS,
                                 eval_items=min(base.eval_items, args.eval_items))
    configs = [n.config for n in protocol.experiment2(args.datasets.split(","), [], preset, 1, 0)]  # pretrainings
    workers = args.workers or (8 if device.type == "cuda" else default_workers("cpu"))
    steps = [("baseline", {}, TRAIN)] + plan(device, workers, eval_batch_size(preset, device))
    candidates, best, first_wall = [], None, None
    for name, change, judged_by in steps:
        speedups = dataclasses.replace(best["speedups"] if best else Speedups(workers=workers), **change)
        entry = {"name": name, "judged_by": judged_by, "speedups": speedups}
        left = deadline - time.perf_counter()
        reason = skip_reason(change, device)
        if reason or (best and speedups == best["speedups"]):
            entry.update(status="skipped", reason=reason or "the same as the fastest so far")
        elif left < 1 or (first_wall and left < 0.8 * first_wall):
            entry.update(status="not reached",
                         reason=f"{max(0, left):.0f} s left; a candidate took {first_wall or 0:.0f} s")
        else:
            print(f"{name}: {speedups} ({left:.0f} s left)", flush=True)
            entry.update(measure(speedups, configs, str(device), min(left, BOX_FACTOR * (first_wall or left)),
                                 base, args.run_iterations))
            first_wall = first_wall or entry["wall_seconds"]
            entry["kept"] = entry["status"] == "measured" and (best is None or better(entry, best, judged_by))
            best = entry if entry["kept"] else best
            print(f"  {summary(entry)}", flush=True)
        candidates.append(entry)
    gpu = next((c["gpu"] for c in candidates if c.get("gpu")), None)
    return {"machine": {"device": gpu or platform.processor() or "cpu", "cpus": os.cpu_count(),
                        "platform": platform.platform(), "mps_control": shutil.which(MPS_CONTROL)},
            "torch": torch.__version__, "preset": base.name, "device": device.type, "iterations_per_run": cap,
            "eval_items": preset.eval_items, "datasets": args.datasets, "run_iterations": args.run_iterations,
            "seconds": args.seconds, "margin": MARGIN,
            "candidates": [{**c, "speedups": c["speedups"].to_dict()} for c in candidates],
            "fastest": best and {"name": best["name"], "speedups": best["speedups"].to_dict(),
                                 **{k: best[k] for k in (TRAIN, "train_images_per_second", EVAL)}}}


def summary(entry: dict) -> str:
    if TRAIN not in entry:
        return f"{entry['status']}{': ' + entry['reason'] if 'reason' in entry else ''}"
    return (f"{entry['status']}: {entry[TRAIN]:.0f} img/s sustained ({entry['train_images_per_second']:.0f} by "
            f"done.json, {entry['images_per_wall_second']:.0f} over {entry['wall_seconds']:.0f} s of wall), "
            f"eval {entry[EVAL]:.1f} s a run, setup {entry['setup_seconds_per_run']:.1f} s, "
            f"warm-up {entry['warmup_seconds_per_run']:.1f} s{', kept' if entry.get('kept') else ''}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=150, help="the probe's whole time")
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", default="gpu_probe.json")
    parser.add_argument("--iterations", type=int, default=None,
                        help="iterations a run (default: 120 on a GPU; on the CPU the preset's own)")
    parser.add_argument("--eval-items", type=int, default=10, help="test items a grid centre (at most the preset's)")
    parser.add_argument("--datasets", default="mnist,fmnist,kmnist",
                        help="the pretrainings' datasets, cycled (with the next seeds) over the workers")
    parser.add_argument("--workers", type=int, default=None, help="the baseline's runs side by side")
    parser.add_argument("--run-iterations", type=int, default=RUN_ITERATIONS,
                        help="a real run's iterations, over which a warm-up is spread")
    args = parser.parse_args()
    result = probe(args)
    result["wall_seconds"] = round(time.perf_counter() - T0, 1)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    fastest = result["fastest"]
    print(f"fastest: {fastest['name'] if fastest else None} {fastest and fastest['speedups']}; "
          f"{result['wall_seconds']:.0f} s; all numbers: {args.json}")


if __name__ == "__main__":
    main()
