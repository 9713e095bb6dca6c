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
# # Explore the trained networks
#
# Open this notebook in JupyterLab to play with it: pick a network, an item and a
# position, and see what the network answers as the item moves away from where it was
# trained. The networks are experiment 2's: one **pretrained** on a fully translated
# dataset then fine-tuned at one location, and a **vanilla** network trained at the same
# location from scratch. In this book the widgets show their first state; moving them
# needs a running kernel.
#
# The default networks' models come with the results, each checked against its run's grid
# table when it is loaded. Other networks shared without their models (as in a fresh clone)
# are trained again here, with the same seed, the first time they are needed.

# %% tags=["parameters"]
preset = "small"              # "small" (64 px canvas, CPU), "paper" (224 px, GPU) or "tiny" (plumbing check)
pretrain = "kmnist"           # the pretraining (fully translated) dataset
finetune = "mnist"            # the dataset trained at one location, whose items you move
seed = 0
results_root = "auto"         # "auto": this clone's results/ folder; runs are kept in <results_root>/<preset>
device = "auto"               # "auto" (the GPU if there is one), "cpu" or "cuda"
train = True                  # False: train nothing, show the runs already finished (the others are listed)
executor = "local"            # "local": worker processes here; "slurm": one cluster job per run (README)

# %% tags=["remove-cell"]
from transinv.parameters import check_parameters

check_parameters()  # a misspelt -p name, or a value of the wrong type, stops here with the known names

# %%
from IPython.display import Markdown, display

import transinv as ti
from transinv import experiments as ex
from transinv.explorer import heatmap_browser, prediction_explorer

root = ex.results_dir(results_root, preset)
models = ex.explorer_models(pretrain, finetune, preset, seed, root, device=device, train=train, executor=executor)

# %% [markdown]
# ## Move an item
#
# The red cross marks the trained location; the green bar is the item's true class.

# %%
if models:
    display(prediction_explorer(models, ti.load_dataset(finetune), ex.geometry(preset)))
else:
    display(Markdown("The trained networks are not here (`train=False`, and neither their checkpoints nor shipped models were found)."))

# %% [markdown]
# ## Browse every run's accuracy over the canvas

# %%
finished = ti.finished_runs(root)
heatmap_browser(finished) if finished else Markdown("No finished runs yet.")
