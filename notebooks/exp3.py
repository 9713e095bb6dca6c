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
# # Experiment 3: seeing the whole canvas is not enough
#
# Does a network become invariant just because items appear all over the canvas during
# training? Here the canvas is split into 9 areas and EMNIST18 (digits 0-9 and letters
# A-H) is pretrained **segregated**: each class only ever appears in its own area, two
# classes per area. Together the classes cover the whole canvas, but no item moves
# between areas. The network is then fine-tuned on MNIST at one location and tested
# everywhere (the paper's figure 5A); as controls, the same fine-tuning after pretraining
# on EMNIST18 fully translated, and a vanilla network. Finally the segregated network is
# tested on EMNIST18 itself over the whole canvas, without fine-tuning (figure 5B): does
# it recognise its letters outside their own area? (Claim 5 of the introduction.)

# %% tags=["parameters"]
preset = "small"              # "small" (64 px canvas, CPU), "paper" (224 px, GPU) or "tiny" (plumbing check)
repetitions = 1               # runs per condition, with seeds seed, seed + 1, ...
seed = 0
results_root = "auto"         # "auto": this clone's results/ folder; runs are kept in <results_root>/<preset>
device = "auto"               # "auto" (the GPU if there is one), "cpu" or "cuda"
train = True                  # False: train nothing, show the runs already finished (the others are listed)
executor = "local"            # "local": worker processes here; "slurm": one cluster job per run (README)

# %% tags=["remove-cell"]
from transinv.parameters import check_parameters

check_parameters()  # a misspelt -p name, or a value of the wrong type, stops here with the known names

# %%
from IPython.display import Markdown

from transinv.repetition import repetitions_note

Markdown(repetitions_note(preset, results_root, repetitions, seed))

# %%
from transinv import experiments as ex
from transinv import plots, tables
from transinv.verdicts import learning_note

pretrained, finetuned, vanilla = ex.exp3(preset, repetitions, seed, ex.results_dir(results_root, preset), device=device,
                                         train=train, executor=executor)
geometry = ex.geometry(preset)

# %% [markdown]
# ## MNIST at one location, tested everywhere (figure 5A)

# %%
table = tables.summarize(finetuned + vanilla)
table["condition"] = "fine-tuned"
plots.heatmap_grid(tables.pooled_grids(finetuned + vanilla, table, ("condition", "pretrain")),
                   geometry.canvas_size, geometry.trained_centre);

# %%
Markdown(learning_note(table))

# %%
tables.mean_std(table, "pretrain", ["accuracy", "at_trained", "away", "normalized"])

# %% [markdown]
# ## EMNIST18 tested everywhere, without fine-tuning (figure 5B)
#
# The segregated network saw each class only in its own area; the
# translated one saw every class everywhere.

# %%
pretraining = tables.summarize(pretrained)
pretraining["condition"] = "no fine-tuning"
plots.heatmap_grid(tables.pooled_grids(pretrained, pretraining, ("condition", "placement")), geometry.canvas_size);

# %%
Markdown(learning_note(pretraining))

# %%
tables.mean_std(pretraining, "placement", ["own_accuracy", "accuracy", "iterations"])

# %% [markdown]
# ## The runs

# %%
tables.runs_table(tables.summarize(pretrained + finetuned + vanilla))
