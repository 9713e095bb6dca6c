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
# # Cosine similarity: what pretraining does to the representation
#
# Does the network's internal representation of an item stay the same when the item
# moves? For each class we take one test item, place it at the trained location and at
# every grid position along the same row, and compare the activations of the
# penultimate layer by their cosine similarity (1: identical). We do it for the
# networks of experiment 2 on the fine-tuning dataset's items: a **vanilla** network
# (random weights), the network **pretrained** on a translated dataset, and the same
# network **fine-tuned** at one location (claim 4 of the introduction; the paper's figure 3).
# The runs are experiment 2's: this notebook trains nothing new.

# %% tags=["parameters"]
preset = "small"              # "small" (64 px canvas, CPU), "paper" (224 px, GPU) or "tiny" (plumbing check)
pretrain = "all"              # pretraining datasets: mnist, fmnist, kmnist, emnist, leek10, leek2, or "all"
finetune = "all"              # fine-tuning (1-location) datasets, the same choices
repetitions = 1               # runs per condition, with seeds seed, seed + 1, ...
seed = 0
device = "auto"               # "auto" (the GPU if there is one), "cpu" or "cuda"
train = True                  # False: train nothing, show the runs already finished (the others are listed)
executor = "local"            # "local": worker processes here; "slurm": one cluster job per run (README)
results_root = "auto"         # "auto": this clone's results/ folder; runs are kept in <results_root>/<preset>

# %% tags=["remove-cell"]
from transinv.parameters import check_parameters

check_parameters()  # a misspelt -p name, or a value of the wrong type, stops here with the known names

# %%
from IPython.display import Markdown

from transinv.repetition import repetitions_note

Markdown(repetitions_note(preset, results_root, repetitions, seed))

# %%
from transinv import analysis, plots, tables, verdicts
from transinv import experiments as ex

runs = ex.exp2(ex.choose_datasets(pretrain), ex.choose_datasets(finetune), preset, repetitions, seed,
               ex.results_dir(results_root, preset), device=device, train=train, executor=executor)
cosines, note = verdicts.learned_cosines(analysis.cosine_conditions(runs.pretrained, runs.finetuned, preset))

# %% [markdown]
# ## Similarity versus displacement
#
# One panel per pretraining dataset; each curve is the mean ± std over classes and
# fine-tuning datasets. Only networks that learned their own task are drawn:

# %%
Markdown(note)

# %%
plots.cosine_panels(cosines);

# %% [markdown]
# ## Which fine-tunings disrupt the invariance
#
# Mean cosine similarity away from the trained location (displacement > 0) of each
# fine-tuned network, pretraining in rows and fine-tuning in columns; compare with the
# pretrained networks' row below it. A fine-tuned network well below its pretrained
# one has lost part of the invariance it had learned.

# %%
by_pair = analysis.mean_cosine_away(cosines)
plots.transfer_matrix(by_pair[by_pair["condition"] == "fine-tuned"], value="cosine", vmax=1);

# %%
tables.rounded(by_pair.pivot_table(index=["pretrain", "condition"], columns="finetune", values="cosine", sort=False))
