"""Commit the explorer's default networks with the results, so that a fresh clone's `make book` need not train them.

The explorer page (notebooks/explore.ipynb) shows experiment 2's fine-tuned and vanilla networks for its default
parameters. This trains them here if their checkpoints are missing (the same seed; on another kind of CPU than the
one that made the committed tables, the check fails: train the family anew then), and writes each one's
``model.pt`` beside its tables (:func:`transinv.runs.directory.ship_model`), then loads it back as a reader would:
checked against its run's grid table. Run it again whenever those runs change (`git add` the files it prints).
Usage: ``python tools/ship_explorer_models.py [RESULTS_ROOT]``
"""
import ast
import sys
from pathlib import Path

import papermill

from transinv import experiments as ex
from transinv.runs import directory, load_shipped_model

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "explore.ipynb"

defaults = {name: ast.literal_eval(p["default"]) for name, p in papermill.inspect_notebook(str(NOTEBOOK)).items()}
pretrain, finetune, preset, seed = (defaults[k] for k in ("pretrain", "finetune", "preset", "seed"))
root = ex.results_dir(sys.argv[1] if len(sys.argv) > 1 else defaults["results_root"], preset)
runs = ex.exp2([pretrain], [finetune], preset, 1, seed, root, need_model=True)
for run in [*runs.finetuned, *runs.vanilla]:
    path = directory.ship_model(run)
    load_shipped_model(run)
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB): reproduces its grid table")
