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
# # Beyond the paper: architectures
#
# The paper's claim is about one architecture: VGG16 is not invariant to translation by
# design (trained from scratch at one location, it is at chance elsewhere) but learns to be
# when pretrained on a dataset whose items appear everywhere. Does that hold for the
# architectures in use now, and do the architectural remedies proposed for shift invariance
# give *online* invariance, recognising an item far from the one place it was trained?
#
# Each architecture below (`transinv.models.MODELS`; width-scaled at the laptop preset so
# that a step costs about what the laptop VGG16's does: the table of architectures below
# says how) is trained in two conditions, all else as in experiment 2:
#
# - **vanilla**: from scratch at one location, on MNIST, KMNIST and FashionMNIST: is it
#   invariant by design?
# - **fine-tuned**: pretrained fully translated on the pretraining that transferred best in
#   experiment 2 (chosen from its finished runs, kept in `protocol.json`), then fine-tuned at
#   one location on two of those datasets: does it learn invariance?
#
# Batch norm (every architecture but the paper's VGG16 and the vision transformer, which has
# layer norm) trains with batch statistics,
# in fine-tuning too, and its running statistics are re-estimated after training, as for the
# laptop VGG16. Each architecture names its penultimate layer for the representation
# analyses: fc7 after its ReLU for the VGG16s with fully connected layers (the authors'),
# the class token after its pre-logits layer for the transformer, the globally pooled
# vector for the others.
#
# **The verdict, fixed in advance** (`transinv.verdicts.architectures_verdict`): only
# networks that learned their own task count; per architecture, the mean over datasets and
# seeds of the normalized accuracy away from the trained location. An architecture is
# *invariant by design* when its vanilla networks reach 50; it *tests* the paper's account
# when they are below 20, and *learns invariance* when its fine-tuned networks then reach
# 50. The account is *supported* when every architecture that tests it learns invariance,
# *partly supported* when some do, *not supported* when none does.

# %% tags=["parameters"]
preset = "laptop"             # "laptop" (64 px canvas, CPU), "paper" (224 px, GPU) or "tiny" (plumbing check)
architectures = "all"         # comma-separated names of transinv.models.MODELS, or "all" (the seven of the page)
seeds = 3                     # repetitions (seeds seed, seed + 1, ...)
seed = 0
device = "auto"               # "auto" (the GPU if there is one), "cpu" or "cuda"
train = True                  # False: train nothing, show the runs already finished (the others are listed)
executor = "local"            # "local": worker processes here; "slurm": one cluster job per run (README)
results_root = "auto"         # "auto": this clone's results/ folder; runs are kept in <results_root>/<preset>

# %% tags=["remove-cell"]
from transinv.parameters import check_parameters

check_parameters()  # a misspelt -p name, or a value of the wrong type, stops here with the known names

# %%
import contextlib
import io

import pandas as pd
from IPython.display import Markdown

from transinv import architectures as ar
from transinv import experiments as ex
from transinv import plots, protocol, tables, verdicts
from transinv.models import MODELS, create_model
from transinv.presets import get_preset

root = ex.results_dir(results_root, preset)
chosen = list(protocol.ARCHITECTURES) if architectures == "all" else [a.strip() for a in architectures.split(",")]
datasets = protocol.PAPER_DATASETS
with contextlib.redirect_stdout(io.StringIO()):  # the pretraining is chosen from experiment 2's finished runs
    exp2 = ex.exp2(datasets, datasets, preset, 1, seed, root, train=False)
pretrain, why = ar.chosen_pretraining(exp2, root, record=train)
result = ar.architectures(preset, seeds, seed, root, architectures=chosen, pretrain=pretrain, device=device,
                          train=train, executor=executor)
table = ar.architecture_table(result)
first, second = protocol.architecture_finetunings(pretrain)
Markdown(f"Pretraining: **{pretrain}**, fully translated ({why}); fine-tuned at one location on **{first}** and "
         f"**{second}**. {len(table)} networks trained at one location of the {len(chosen) * 5 * seeds} this page "
         f"needs ({len(chosen)} architectures, {seeds} seeds).")

# %% [markdown]
# The architectures, as built at this preset (parameters of a 10-class network):

# %%
pd.DataFrame([{"architecture": name, "how": MODELS[name].description,
               "parameters": f"{sum(p.numel() for p in create_model(name, num_classes=10, canvas_size=get_preset(preset).canvas_size).parameters()):,}"}
              for name in chosen]).set_index("architecture")

# %% [markdown]
# ## Networks that did not learn their task

# %%
Markdown(verdicts.learning_note(table.assign(dataset=table["model"] + ": " + table["dataset"])))

# %% [markdown]
# ## Accuracy away from the trained location
#
# Normalized accuracy away from the trained location (0: chance, 100: perfect), mean ± std
# over datasets and seeds, networks that learned their task only; left: trained from
# scratch at one location; right: pretrained fully translated, then fine-tuned at one
# location. Dotted lines: the verdict's thresholds, 20 and 50.

# %%
import matplotlib.pyplot as plt

counted = table[verdicts.learned(table)]
figure, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
for ax, condition in zip(axes, ("vanilla", "fine-tuned")):
    part = counted[counted["condition"] == condition]
    if part.empty:
        ax.set_title(f"{condition}: no network learned yet", fontsize=9)
        continue
    plots.bars(part, x="dataset", hue="model", value="away_normalized", ax=ax)
    ax.set_title("from scratch at one location" if condition == "vanilla" else f"pretrained on {pretrain}, "
                 "fine-tuned at one location", fontsize=9)
    for level in (verdicts.NEAR_CHANCE, verdicts.INVARIANT):
        ax.axhline(level, color="grey", ls=":", lw=1)
    ax.get_legend().remove()
handles, labels = axes[0].get_legend_handles_labels() or axes[1].get_legend_handles_labels()
if labels:
    figure.legend(handles, labels, fontsize=8, loc="lower center", ncol=3, bbox_to_anchor=(0.5, -0.12))
figure.tight_layout()

# %% [markdown]
# Per architecture and condition: how many networks learned their task, and, over those,
# the normalized accuracy at the trained location and away from it (mean ± std over
# datasets and seeds).

# %%
ar.by_architecture(table)

# %% [markdown]
# ## The representation
#
# On each fine-tuning's items, four networks per architecture: untrained (random weights),
# trained from scratch at one location, pretrained, and fine-tuned. Left: the authors'
# cosine similarity between an item at the trained location and the same item moved along
# the trained row, at each architecture's penultimate layer; right: the linear read-out of
# the cosine page (fitted on that layer at the trained location, tested at every
# displacement), normalized accuracy away from the trained location. Mean ± std over
# classes, datasets and seeds; networks that did not learn their task are left out.

# %%
cosines = ar.architecture_cosines(result)
readout = ar.architecture_readout(result)
plots.cosine_panels(cosines[cosines["learned"]], panel="architecture", columns=3, colours=ar.COLOURS);

# %%
if readout.empty:
    shown = Markdown("No read-out kept yet.")
else:
    kept = readout[readout["learned"]]
    stats = kept.groupby(["architecture", "condition"], sort=False)["away"].agg(["mean", "std"]).round(0)
    shown = stats.unstack("condition").swaplevel(axis=1).sort_index(axis=1, level=0, sort_remaining=False)
shown

# %% [markdown]
# ## Verdict

# %%
measured, verdict = verdicts.architectures_verdict(table, expected=chosen)
meaning = {
    "supported": "Every architecture that is not invariant by design learned invariance from a translated "
                 "pretraining, as VGG16 does in the paper: the paper's account extends beyond its architecture.",
    "partly supported": "Some architectures that are not invariant by design learned invariance from a translated "
                        "pretraining, others did not: the paper's account holds for some architectures only.",
    "not supported": "No architecture that is not invariant by design learned invariance from this pretraining "
                     "at this preset.",
}
Markdown(f"**{verdict}.** {measured}\n\n" + meaning.get(
    verdict, "Nothing to judge yet: the runs this needs are not finished, or their networks did not learn."))

# %% [markdown]
# ## The runs

# %%
every_run = tables.summarize(result.vanilla + result.pretrained + result.finetuned)
Markdown(f"{len(every_run)} runs, {every_run['seconds'].sum() / 3600:.2f} h of compute (training and evaluation, "
         f"one CPU core or GPU share per run).")

# %%
tables.runs_table(every_run)
