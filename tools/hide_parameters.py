"""Hide the parameter cells of executed notebooks in the book.

The cell tagged ``parameters`` (the defaults) folds away behind a toggle (``hide-cell``); the
cell papermill injects (``injected-parameters``: this execution's values, with local paths) is
removed (``remove-cell``); the reproduce page shows the values from the provenance record.
Usage: ``python tools/hide_parameters.py EXECUTED.ipynb...``
"""
import sys

import nbformat

HIDE = {"parameters": "hide-cell", "injected-parameters": "remove-cell"}

for path in sys.argv[1:]:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        tags = cell.metadata.setdefault("tags", [])
        tags += [HIDE[t] for t in list(tags) if t in HIDE and HIDE[t] not in tags]
    nbformat.write(notebook, path)
