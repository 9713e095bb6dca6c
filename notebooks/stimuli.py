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
# # Stimuli
#
# Every experiment shows items (digits, letters, clothes, novel objects) on a black
# canvas. This page shows the datasets we use, where each one comes from, and the
# geometry of the canvas: the trained location, the range of translations, the nine
# areas of experiment 3 and the test grid.

# %% tags=["parameters"]
preset = "small"   # "small" (64 px canvas, CPU) or "paper" (224 px, as the authors)
seed = 0           # seeds the example canvases

# %% tags=["remove-cell"]
from transinv.parameters import check_parameters

check_parameters()  # a misspelt -p name, or a value of the wrong type, stops here with the known names

# %%
import pandas as pd
import torch
from IPython.display import Markdown

import transinv as ti
from transinv.plots import canvas_geometry, image_grid

preset = ti.get_preset(preset)

# %% [markdown]
# ## The datasets
#
# Six datasets take part, plus `emnist18`, the first 18 classes of EMNIST (0-9, A-H),
# for experiment 3. Where only an official *test* split was available to us, we made our
# own train/test split from it; the table says so.

# %%
datasets = {name: ti.load_dataset(name) for name in ti.DATASETS}
pd.DataFrame([{"dataset": name, "classes": d.n_classes, "train items": len(d.train_labels),
               "test items": len(d.test_labels), "source": d.source} for name, d in datasets.items()]).set_index("dataset")

# %% [markdown]
# One training item of each of the first classes, per dataset:

# %%
examples = [ti.load_dataset(n) for n in ("mnist", "fmnist", "kmnist", "emnist")]
items = torch.stack([d.train_images[d.train_labels == k][0] for d in examples for k in range(6)])
image_grid(items, [f"{d.name}: {d.classes[k]}" for d in examples for k in range(6)]);

# %% [markdown]
# ## The novel objects
#
# The paper's Leek et al. objects are not redistributable. Unless the originals are
# placed under the data root, we render a seeded stand-in: objects made of two to four
# volumetric parts, shaded, on a transparent background. `leek10` has ten of them,
# `leek2` two others.

# %%
leek = [ti.load_dataset("leek10"), ti.load_dataset("leek2")]
Markdown("\n\n".join(f"`{d.name}`: {d.source}." for d in leek))

# %%
image_grid(torch.cat([d.train_images for d in leek]),
           [f"{d.name} {c}" for d in leek for c in d.classes]);

# %% [markdown]
# ## The canvas
#
# Items are resized to a square (aspect ratio not kept, bicubic) and placed by their
# centre. At the paper preset the canvas is 224 px, items 50 px, the trained location is
# centred at (x=25, y=112), translated centres are uniform over [25, 199) on both axes,
# and the test grid has 19 x 19 centres. Smaller presets scale all of it.

# %%
canvas_geometry(preset);

# %% [markdown]
# Example training canvases of each placement: at the trained location, fully
# translated, and in the nine segregated areas of experiment 3 (two classes per area).

# %%
generator = torch.Generator().manual_seed(seed)
emnist18 = ti.load_dataset("emnist18")
labels = torch.arange(18)
items = ti.resize_items(torch.stack([emnist18.train_images[emnist18.train_labels == k][0] for k in labels]),
                        preset.item_size)
canvases = [ti.place(items[:6], ti.sample_centres(p, preset, labels[:6], generator), preset.canvas_size)
            for p in ("one_location", "translated")]
canvases.append(ti.place(items[::3], ti.sample_centres("areas", preset, labels[::3], generator), preset.canvas_size))
image_grid(torch.cat(canvases), [p for p in ("one location", "translated", "areas") for _ in range(6)], size=1.8);

# %% [markdown]
# In this notebook we listed the datasets with their sources and splits, showed the
# novel objects, and drew the canvas geometry with example canvases of every placement.
