"""The laptop preset's study (issue 26): on which small-preset recipe does every network of the protocol learn, and
at what CPU cost?

    python benchmarks/preset_study.py [--candidates bn,bf16] [--phase pretrain|finetune|all] [--workers 2]
                                      [--results benchmarks/results/preset-study] [--report]

Each candidate is the small preset changed in one or two ways (CANDIDATES says how; the baseline is the small
preset itself). Phase 1 trains the protocol's hardest pretrainings, fully translated (EMNIST, FashionMNIST,
EMNIST18, KMNIST); phase 2 fine-tunes, at one location, EMNIST (every small-preset EMNIST fine-tuning hit its cap)
and FashionMNIST on the candidate's KMNIST pretraining, and trains vanilla EMNIST at one location. Every run is an
ordinary run (`transinv.run`: the authors' stopping rule at the candidate's scale, evaluated on the test grid), on
one CPU thread, ``workers`` side by side, kept in RESULTS/runs (tables only, committed, so the study resumes in
another session). Per run it reports the first iteration at which the running training accuracy (mean of the
last window of batches) passed the authors' 0.75, where and why it stopped, its own-task test accuracy, the
seconds it trained and the CPU that trained it. Prints the table; with every candidate (the default), also writes
RESULTS/study.json and RESULTS/study.md (the table the methods page includes).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import transinv as ti
from transinv import experiments
from transinv.runs import find_run
from transinv.learned import CRITERION, LEARNED, criterion_at, learned_task
from transinv.stopping import StoppingRule
from transinv.tables import own_accuracy

HERE = Path(__file__).resolve().parent
BASE = ti.SMALL
# name -> (preset settings changed, run settings changed, how it departs from the paper's VGG16 recipe)
CANDIDATES = {
    "small": ({}, {}, "the small preset as committed (VGG16 width / 8, 64 px, Adam 3e-4 with 100 warm-up steps)"),
    "bf16": ({}, {"precision": "bf16"}, "bfloat16 autocast on the CPU"),
    "bn": ({"model": "vgg16_bn_small"}, {}, "batch norm after each convolution (torchvision's vgg16_bn layout)"),
    "bn-bf16": ({"model": "vgg16_bn_small"}, {"precision": "bf16"}, "batch norm, and bfloat16 autocast"),
    "lr1e-3": ({"lr": 1e-3}, {}, "Adam at 1e-3 (the paper's text; its code says 1e-4)"),
    "bn-lr1e-3": ({"model": "vgg16_bn_small", "lr": 1e-3}, {}, "batch norm, and Adam at 1e-3"),
    "canvas96": ({"canvas_size": 96}, {}, "a 96-px canvas (items of 21 px)"),
    "bn-bf16-96": ({"model": "vgg16_bn_small", "canvas_size": 96}, {"precision": "bf16"},
                   "batch norm, bfloat16 autocast and a 96-px canvas (items of 21 px)"),
    "bn-bf16-10k": ({"model": "vgg16_bn_small", "pretrain_iter_scale": 2.0}, {"precision": "bf16"},
                    "batch norm, bfloat16 autocast, and the pretrainings' stopping rule at twice its scale "
                    "(window 200, patience 1600, cap 10,000 iterations)"),
    "bn-bf16-20k": ({"model": "vgg16_bn_small", "pretrain_iter_scale": 4.0}, {"precision": "bf16"},
                    "batch norm, bfloat16 autocast, and the pretrainings' stopping rule at four times its scale "
                    "(window 400, patience 3200, cap 20,000 iterations)"),
    "bn-bf16-10k-paper-rule": ({"model": "vgg16_bn_small", "pretrain_iter_scale": 2.0, "iter_scale": 1.0},
                               {"precision": "bf16"}, "as bn-bf16-10k, and the paper's stopping rule at one "
                               "location (window 100, patience 800, cap 5,000) instead of 0.3 of it"),
}
PRETRAININGS = ("emnist", "fmnist", "emnist18", "kmnist")
FINETUNE_FROM = "kmnist"
FINETUNINGS = ("emnist", "fmnist")


def candidate_preset(name: str) -> ti.Preset:
    changes, _, _ = CANDIDATES[name]
    if name == "small":
        return BASE
    if "canvas_size" in changes:
        other = {k: v for k, v in changes.items() if k != "canvas_size"}
        return dataclasses.replace(ti.with_canvas(BASE, changes["canvas_size"]), name=f"study-{name}", **other)
    return dataclasses.replace(BASE, name=f"study-{name}", **changes)


def precision_of(name: str) -> str:
    return CANDIDATES[name][1].get("precision", "float32")


def root_of(name: str, results: Path) -> Path:
    """The committed small-preset runs for the baseline (nothing trained again); the study's own folder else."""
    return experiments.results_dir("auto", "small") if name == "small" else results / "runs"


def preset_of_runs(name: str) -> str | ti.Preset:
    """What the candidate's RunConfigs name as their preset: "small" itself for the baseline, so that they are the
    committed runs (a Preset object enters the id as its fields)."""
    return "small" if name == "small" else candidate_preset(name)


def pretraining(name: str, dataset: str) -> ti.RunConfig:
    return ti.RunConfig(dataset, "translated", preset_of_runs(name))


def phase_configs(name: str, phase: str, results: Path) -> list[ti.RunConfig]:
    if phase == "pretrain":
        return [pretraining(name, d) for d in PRETRAININGS]
    parent = find_run(pretraining(name, FINETUNE_FROM), root_of(name, results), device="cpu",
                      precision=precision_of(name))
    if not parent.finished:
        raise SystemExit(f"{name}: its {FINETUNE_FROM} pretraining is not finished: run --phase pretrain first")
    preset = preset_of_runs(name)
    return [*(ti.RunConfig(d, "one_location", preset, init=parent.id) for d in FINETUNINGS),
            ti.RunConfig("emnist", "one_location", preset)]


def _train_one(job: tuple[ti.RunConfig, str, str]) -> str:
    config, root, precision = job
    return ti.run(config, root, device="cpu", precision=precision, progress=False).id


def row(name: str, run: ti.Run) -> dict:
    done = run.result
    return {"candidate": name, "run": run.id, "dataset": run.config["dataset"],
            "placement": run.config["placement"], "init": "finetuned" if run.is_finetuning else run.config["init"],
            "precision": run.config["precision"], "iterations_to_criterion": criterion_at(run),
            "iterations": done["iterations"], "stop_reason": done["stop_reason"],
            "max_iters": StoppingRule.for_preset(run.preset, run.config["placement"]).max_iters,
            "own_accuracy": round(own_accuracy(run), 4), "learned": learned_task(run), "train_seconds": done["train_seconds"],
            "eval_seconds": done["eval_seconds"], "images_per_second": done["train_images_per_second"],
            "device_name": done.get("device_name", done["device"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--phase", choices=("pretrain", "finetune", "all"), default="all")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--results", type=Path, default=HERE / "results" / "preset-study")
    parser.add_argument("--report", action="store_true", help="train nothing: report the finished runs")
    args = parser.parse_args()
    names = args.candidates.split(",")
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidates {unknown}; choose among {', '.join(CANDIDATES)}")
    phases = ("pretrain", "finetune") if args.phase == "all" else (args.phase,)
    if not args.report:
        for phase in phases:
            jobs = [(c, str(root_of(n, args.results)), precision_of(n)) for n in names
                    for c in phase_configs(n, phase, args.results)]
            # spawned, not forked: finding the fine-tunings' parents has started torch's threads here
            with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                for finished in pool.map(_train_one, jobs):
                    print("finished", finished, flush=True)
    rows = []
    for name in names:
        for phase in ("pretrain", "finetune"):
            try:
                configs = phase_configs(name, phase, args.results)
            except SystemExit:
                continue
            for config in configs:
                found = find_run(config, root_of(name, args.results), device="cpu", precision=precision_of(name))
                if found.finished:
                    rows.append(row(name, found))
    if set(names) == set(CANDIDATES):  # the committed record holds every candidate, never a few
        args.results.mkdir(parents=True, exist_ok=True)
        (args.results / "study.json").write_text(json.dumps(
            {"candidates": {n: CANDIDATES[n][2] for n in CANDIDATES}, "runs": rows}, indent=1) + "\n")
        (args.results / "study.md").write_text(markdown(rows))
    print(markdown(rows))


def markdown(rows: list[dict]) -> str:
    """The study as a Markdown table: one row per run, the candidates in CANDIDATES' order."""
    lines = [f"Measured with `benchmarks/preset_study.py` ({len(rows)} runs, one CPU thread each, two side by side; "
             f"the `small` rows are the committed runs). *Criterion*: the first iteration whose running "
             f"training accuracy passed the authors' {CRITERION}; *learned* (the verdicts' gate, `transinv.learned`): "
             f"the criterion reached, and own-task test accuracy at least {LEARNED} normalized (halfway from chance "
             f"to perfect).", "",
             *(f"- `{name}`: {CANDIDATES[name][2]}" for name in CANDIDATES if any(r["candidate"] == name for r in rows)),
             "", "| candidate | run | criterion at | stopped at (of cap) | own accuracy | learned | train s | CPU |",
             "|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: list(CANDIDATES).index(r["candidate"])):
        run = f"{r['dataset']} {r['placement'].replace('_', ' ')}{', fine-tuned' if r['init'] == 'finetuned' else ''}"
        lines.append(f"| `{r['candidate']}` | {run} | "
                     f"{r['iterations_to_criterion'] or 'never'} | {r['iterations']} of {r['max_iters']} "
                     f"({r['stop_reason'].replace('_', ' ')}) | {r['own_accuracy']:.3f} | "
                     f"{'yes' if r['learned'] else 'no'} | {r['train_seconds']:.0f} | "
                     f"{r['device_name']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
