# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Reproduce it
#
# Everything in this book comes from two commands in a clone of the repository:
#
# ```bash
# make book   # runs every notebook through papermill at the small preset, then builds this book
# make test   # the test suite
# ```
#
# Both create a virtual environment in `.venv` and install the project first. The data
# are read from `TRANSINV_DATA` (torchvision's `raw/` layout; downloaded by torchvision
# when missing and online). Runs are kept in `results/<preset>/`, one folder per run;
# a finished run is never trained again, and an interrupted one resumes from its last
# checkpoint, so `make book` can be stopped and restarted at any time.
#
# **On a laptop (small preset, CPU).** `make book` as above. The repository ships the
# tables of one complete small-preset execution (without the model checkpoints), so a
# fresh clone builds the whole book in minutes, training again only the few networks
# that the explorer needs. `rm -r results/small` first to redo every run from scratch.
#
# **On a GPU (paper preset).** `make book PRESET=paper REPETITIONS=5`: VGG16 on the
# 224-px canvas with ImageNet weights, five repetitions as in the paper. The GPU is
# used automatically (bfloat16 autocast, channels-last, canvases made on the GPU); the
# ImageNet weights of VGG16 come from torchvision's cache or download.
#
# **On a Slurm cluster (paper preset).** `make book PRESET=paper REPETITIONS=5
# EXECUTOR=slurm SLURM_PARTITION=<a GPU partition> SLURM_ACCOUNT=<your account>` submits
# each run as one task of a Slurm job array (one GPU each, through submitit), every
# fine-tuning once its pretraining has finished. Start it on a login node inside `tmux`
# (it waits for the jobs), from a clone, `.venv` and data on the filesystem the nodes share:
# the runs land in its `results/paper/`, the job logs in `results/paper/submitit/`. The
# other settings, per run: `SLURM_GPUS` (1), `SLURM_CPUS` (4), `SLURM_MEM_GB` (32),
# `SLURM_TIME_MIN` (60) and, for the whole grid, `SLURM_PARALLEL` (32 runs at once). A
# preempted or timed-out job is requeued and its run resumes from its last checkpoint; a
# failed one is reported with its log, and the same command again trains only what is
# left.
#
# **One experiment, headless.**
# `papermill notebooks/exp1.ipynb out.ipynb -p dataset mnist` runs experiment 1 on MNIST
# only; every notebook lists its parameters in its first code cell.
#
# ## Measured wall time
#
# The record written by the execution that made the results in this book:

# %% tags=["parameters"]
preset = "small"              # the preset whose record to show
results_root = "auto"         # "auto": this clone's results/ folder; runs are kept in <results_root>/<preset>
gpu_record = "benchmarks/results/h200-2026-11-26"  # in the clone: GPU measurements (gpu_check.sh, paper_sample.py)

# %% tags=["remove-cell"]
from transinv.parameters import check_parameters

check_parameters()  # a misspelt -p name, or a value of the wrong type, stops here with the known names

# %%
import json
import os

import pandas as pd
from IPython.display import Markdown

from transinv import experiments as ex
from transinv import tables
from transinv.repetition import size
from transinv.runs import describe_run_id, finished_runs

record_file = ex.results_dir(results_root, preset) / "provenance.json"
record = json.loads(record_file.read_text()) if record_file.is_file() else None  # written by a complete execution
machine = record["machine"] if record else {"cpu_cores": os.cpu_count()}
Markdown(f"""Preset `{record['preset']}`, parameters {record['parameters']}, commit `{record['commit'][:10]}`
{'(with uncommitted changes)' if record['uncommitted_changes'] else ''}, on {record['date_utc']} UTC:
{machine['cpu_cores']} CPU cores ({machine['platform']}), GPU: {machine['gpu'] or 'none'}, torch {machine['torch']}.

**Executing every notebook took {record['wall_seconds'] / 60:.0f} minutes**; the {record['runs']} runs
account for {record['run_compute_seconds'] / 60:.0f} minutes of training and evaluation.
{f"The runs were trained before the notebooks executed (which then reused them): {record['training']['how']}, "
 f"in **{record['training']['wall_seconds'] / 60:.0f} minutes** of wall time." if record.get('training') else ""}""" if record else
         f"No complete execution of the notebooks is recorded for preset `{preset}` yet: its runs are still being "
         f"made, and the pages show those already finished.")

# %%
pd.Series(record["notebook_wall_seconds"] if record else {}, name="seconds").div(60).round(1).rename("minutes").to_frame()

# %% [markdown]
# Building the HTML from the executed notebooks adds about a minute.
#
# ### Where the time goes
#
# Each run records how long it trained and was evaluated. By kind of run:

# %%
runs_table = tables.summarize(finished_runs(ex.results_dir(results_root, preset)))
time_by_kind = tables.compute_by_kind(runs_table)
time_by_kind

# %%
total = time_by_kind["minutes"].sum()
largest = time_by_kind["minutes"].idxmax() if len(time_by_kind) else None
repetitions = record["parameters"].get("repetitions", 1) if record else 1
Markdown("No finished runs yet." if largest is None else f"""At {repetitions} repetition(s) the {len(runs_table)} runs need
{total:.0f} minutes of one CPU core (or device) to train and evaluate; `make book` trains them side by side,
one per core, so on {machine['cpu_cores']} cores that is at least {total / machine['cpu_cores']:.0f} minutes of
wall time. The largest share, {time_by_kind.loc[largest, 'share']:.0%}, is {largest}.""")

# %% [markdown]
# `make book` trains every run before executing the notebooks (`transinv.repetition`, one
# call per repetition): runs side by side, one per core, each fine-tuning as soon as its
# pretraining has finished, the longest runs first, so that no core waits for a wave to
# end. The notebooks then only reuse the runs. On a CPU each run computes on one thread,
# so a run's numbers do not depend on what trains beside it.
#
# ## The paper preset on a GPU
#
# The paper's whole protocol is five repetitions of VGG16 runs at 224 px (experiments 1-3
# and the cosine analysis; the count is below). On a CPU VGG16 at 224 px trains at about one image per second: the paper
# preset needs a GPU. We have not run the whole protocol on one yet. What we measured on
# one NVIDIA H200 (26 November 2026) with `bash benchmarks/gpu_check.sh` and
# `python benchmarks/paper_sample.py` is kept in `benchmarks/results/`:
#
# - training throughput of VGG16 with our fast path against a naive baseline written the
#   authors' way (PIL placement in DataLoader workers, float32, a host sync every step),
#   alone and with several runs side by side, in TFLOP/s counted by torch's FlopCounterMode,
#   against the matrix-multiply peak measured in the same script;
# - a sample of the protocol itself, 11 paper-preset runs side by side (seed 0): how many
#   iterations the runs really take under the authors' stopping rule;
# - from both, the estimate for the whole protocol.

# %%
gpu_record = ex.project_root() / gpu_record
speed = json.loads((gpu_record / "speed_estimate.json").read_text())
protocol_runs = 5 * size("paper", results_root)  # the estimates were made per run: scaled to today's protocol
pd.DataFrame([{
    "preset": r["preset"], "naive img/s": round(r["naive_images_per_s"]), "ours img/s": round(r["ours_images_per_s"]),
    "ratio": round(r["speedup"], 2), "best img/s (runs side by side)": round(r["best_images_per_s"]),
    "TFLOP/s": round(r["tflops_best"], 1), "of bf16 peak": f"{r.get('fraction_of_peak_best', 0):.1%}",
    "iterations per run": round(r["protocol_iterations_per_run"]),
    "whole protocol, hours": round(r["protocol_hours_estimate"] * protocol_runs / r["protocol_runs"], 2)}
    for r in speed["rows"]]).set_index("preset")

# %%
sample = json.loads((gpu_record / "paper_sample.json").read_text())
runs = pd.DataFrame(sample["runs"])
described = pd.DataFrame([describe_run_id(r) for r in runs["run"]], index=runs.index)
runs["trained"] = described["dataset"] + " " + described["placement"]
vanilla = (described["placement"] == "one_location") & (described["init"] == "vanilla")
runs["pretrained on"] = runs["pretrained_on"].fillna(vanilla.map({True: "nothing (vanilla)", False: "-"}))
runs[["trained", "pretrained on", "iterations", "stop_reason", "train_seconds", "accuracy_at", "accuracy_away"]].round(2)

# %%
per_run = sample["wall_seconds"] / len(runs)
throughput_hours = speed["rows"][-1]["protocol_hours_estimate"] * protocol_runs / speed["rows"][-1]["protocol_runs"]
Markdown(f"""Measured bf16 peak: {speed['info']['bf16_matmul_peak_tflops']:.0f} TFLOP/s. The sample's
{len(runs)} runs took {runs['iterations'].mean():.0f} iterations on average (the cap is 5,000) and
{sample['wall_seconds']:.0f} s of wall time, six at a time, evaluation included: at that pace the
{protocol_runs} runs of the protocol (5 repetitions of {protocol_runs // 5}) take
**about {protocol_runs * per_run / 3600:.1f} hours**; the throughput-based estimate
in the table above is {throughput_hours:.1f} hours. Both are estimates
from one seed and 11 runs, not a measured protocol.""")
