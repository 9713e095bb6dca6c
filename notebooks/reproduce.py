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
# **One experiment, headless.**
# `papermill notebooks/exp1.ipynb out.ipynb -p dataset mnist` runs experiment 1 on MNIST
# only; every notebook lists its parameters in its first code cell.
#
# ## Measured wall time
#
# The record written by the execution that made the results in this book:

# %% tags=["parameters"]
preset = "small"              # the preset whose record to show
results_root = "../results"   # runs are kept in <results_root>/<preset>

# %%
import json

import pandas as pd
from IPython.display import Markdown

from transinv import experiments as ex

record = json.loads((ex.results_dir(results_root, preset) / "provenance.json").read_text())
machine = record["machine"]
Markdown(f"""Preset `{record['preset']}`, parameters {record['parameters']}, commit `{record['commit'][:10]}`
{'(with uncommitted changes)' if record['uncommitted_changes'] else ''}, on {record['date_utc']} UTC:
{machine['cpu_cores']} CPU cores ({machine['platform']}), GPU: {machine['gpu'] or 'none'}, torch {machine['torch']}.

**Executing every notebook took {record['wall_seconds'] / 60:.0f} minutes**; the {record['runs']} runs
account for {record['run_compute_seconds'] / 60:.0f} minutes of training and evaluation.""")

# %%
pd.Series(record["notebook_wall_seconds"], name="seconds").div(60).round(1).rename("minutes").to_frame()

# %% [markdown]
# Building the HTML from the executed notebooks adds about a minute.
#
# ## The paper preset on a GPU
#
# The paper's whole protocol is about 280 runs of VGG16 at 224 px. No GPU was available
# to the machines that built this book, so its GPU time is **not measured yet**:
# `bash benchmarks/gpu_check.sh` on a GPU machine measures the training throughput
# against a naive baseline and prints the estimate for the whole protocol from the
# iterations the runs actually take (see Methods, *Speed and numerics*). On a CPU,
# VGG16 at 224 px trains at about one image per second: the paper preset needs a GPU.
