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
# # Experiment 1: ImageNet pretraining brings translation invariance
#
# Is a CNN invariant to translation by its architecture? Train it on new items shown
# at **one location** of the canvas (left edge, vertically centred), then test it with
# the same test items at every point of a 19 × 19 grid covering the canvas. A network
# that is invariant recognises them everywhere; one that is not, only where it was trained.
#
# We compare the same architecture twice: **pretrained on ImageNet** and **vanilla**
# (random weights), each fine-tuned on each dataset at one location (claims 1 and 2 of
# the introduction). The ImageNet network is a choice, `imagenet_model`, kept with the
# runs: the paper's is VGG16 with torchvision's ImageNet weights (they download once, so
# a machine offline cannot use them); EfficientNet-Lite0's ImageNet weights install with
# the package (see Methods).

# %% tags=["parameters"]
preset = "small"              # "small" (64 px canvas, CPU), "paper" (224 px, GPU) or "tiny" (plumbing check)
dataset = "all"               # emnist, fmnist, kmnist, mnist, leek10, leek2, or "all"
repetitions = 1               # runs per condition, with seeds seed, seed + 1, ...
seed = 0
results_root = "auto"         # "auto": this clone's results/ folder; runs are kept in <results_root>/<preset>
device = "auto"               # "auto" (the GPU if there is one), "cpu" or "cuda"
train = True                  # False: train nothing, show the runs already finished (the others are listed)
executor = "local"            # "local": worker processes here; "slurm": one cluster job per run (README)
imagenet_model = "recorded"   # "recorded": the one these results were made with, else the preset's; or vgg16, ...

# %% tags=["remove-cell"]
from transinv.parameters import check_parameters

check_parameters()  # a misspelt -p name, or a value of the wrong type, stops here with the known names

# %%
from IPython.display import Markdown

from transinv.repetition import repetitions_note

Markdown(repetitions_note(preset, results_root, repetitions, seed))

# %%
import pandas as pd

from transinv import experiments as ex
from transinv import plots, tables
from transinv.verdicts import learning_note

datasets = ex.choose_datasets(dataset)
root = ex.results_dir(results_root, preset)
runs = ex.exp1(datasets, preset, repetitions, seed, root, device=device, train=train, executor=executor,
               imagenet=imagenet_model)
table = tables.summarize(runs)
table["condition"] = table["pretrain"].map({"imagenet": "ImageNet-pretrained", "vanilla": "vanilla"})
geometry = ex.geometry(preset, imagenet=True)
model = ex.imagenet_model(preset, root, imagenet_model)
recorded = (root / ex.CHOICES_FILE).is_file() and imagenet_model == "recorded"
Markdown(f"The ImageNet model of this page: `{model}`, on a {geometry.canvas_size}-px canvas "
         f"({'as recorded in `' + ex.CHOICES_FILE + '` with these runs' if recorded else 'the choice of this page'}; "
         f"the paper's is VGG16).")

# %% [markdown]
# ## Accuracy over the whole canvas
#
# Mean accuracy over all 361 grid centres, per dataset and condition (mean ± std across
# repetitions); the dotted lines mark chance, one over the number of classes.

# %%
chance = 1 / table.groupby("dataset")["n_classes"].first()
plots.bars(table, x="dataset", hue="condition", value="accuracy", chance=chance);

# %% [markdown]
# A network that did not learn where it was trained says nothing about invariance:

# %%
Markdown(learning_note(table))

# %% [markdown]
# The same numbers, split into accuracy at the trained location and everywhere else (mean ± std
# over repetitions):

# %%
pd.concat({where: tables.mean_std_grid(table, "dataset", "condition", where) for where in ("at_trained", "away")},
          axis=1)

# %% [markdown]
# ## Where on the canvas
#
# Accuracy at each grid centre, interpolated between centres (the paper's figure 1C);
# the red cross marks the trained location.

# %%
grids = tables.pooled_grids(runs, table, ("dataset", "condition"))
plots.heatmap_grid(grids, geometry.canvas_size, geometry.trained_centre);

# %% [markdown]
# ## The runs
#
# Every run, with why its training stopped and how long it took (training and evaluation).

# %%
tables.runs_table(table)
