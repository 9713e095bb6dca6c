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
# # Experiment 2: simple translated datasets teach invariance too
#
# ImageNet is a large, natural dataset. Does a network learn translation invariance
# from much simpler data, as long as its items appear anywhere on the canvas? Each
# network is trained from scratch on one dataset **fully translated** (pretraining),
# then its classifier is replaced and it is fine-tuned on a dataset shown at **one
# location**, and finally tested over the whole canvas (claim 3 of the introduction).
# Every pretraining dataset is crossed with every fine-tuning dataset; a vanilla
# network trained at one location is the baseline.

# %% tags=["parameters"]
preset = "small"              # "small" (64 px canvas, CPU), "paper" (224 px, GPU) or "tiny" (plumbing check)
pretrain = "all"              # pretraining datasets: emnist, fmnist, kmnist, mnist, leek10, leek2, or "all"
finetune = "all"              # fine-tuning (1-location) datasets, the same choices
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
from transinv.verdicts import learning_note, mark_unlearned_pretraining

root = ex.results_dir(results_root, preset)
pretrained, finetuned, vanilla = ex.exp2(ex.choose_datasets(pretrain), ex.choose_datasets(finetune), preset,
                                         repetitions, seed, root, device=device, train=train, executor=executor)

# %% [markdown]
# ## Pretraining
#
# Accuracy of each pretrained network on its own (translated) test items over the whole
# canvas: pretraining has to succeed for the rest to mean anything.

# %%
pretraining = tables.summarize(pretrained)
tables.mean_std(pretraining, "dataset", ["accuracy", "iterations"])

# %%
Markdown(learning_note(pretraining))

# %% [markdown]
# ## Transfer to new items at one location
#
# Accuracy over the whole canvas after fine-tuning, normalized so that chance is 0 and
# perfect is 100 (the paper's figure 2B); the `vanilla` row is the network trained
# from scratch at one location. Rows: pretraining (marked where it did not learn its own
# task); columns: fine-tuning.

# %%
table = mark_unlearned_pretraining(tables.summarize(finetuned + vanilla))
plots.transfer_matrix(table, columns="dataset");

# %%
Markdown(learning_note(table))

# %% [markdown]
# The same numbers per fine-tuning dataset and pretraining, mean ± std across
# repetitions (the paper's figure 4):

# %%
plots.bars(table, x="dataset", hue="pretrain", value="normalized");

# %% [markdown]
# Accuracy away from the trained location, then at it, mean ± std over repetitions:

# %%
tables.mean_std_grid(table, "pretrain", "dataset", "away")

# %%
tables.mean_std_grid(table, "pretrain", "dataset", "at_trained")

# %% [markdown]
# ## The runs

# %%
tables.runs_table(tables.summarize(pretrained + finetuned + vanilla))
