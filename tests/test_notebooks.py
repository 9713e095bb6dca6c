"""Each notebook is a jupytext pair: the .py source and an output-free .ipynb, in sync."""
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = sorted(Path(__file__).parents[1].joinpath("notebooks").glob("*.py"))


def cells(notebook):
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in notebook.cells]


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_pair_in_sync_and_without_outputs(source):
    paired = source.with_suffix(".ipynb")
    assert paired.is_file(), f"{paired} missing: run jupytext --sync {source}"
    ipynb, py = jupytext.read(paired), jupytext.read(source)
    assert cells(ipynb) == cells(py), f"{paired.name} and {source.name} differ: run jupytext --sync"
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in ipynb.cells if c.cell_type == "code"), f"{paired.name} has outputs: strip them"
    assert sum("parameters" in c[2] for c in cells(py)) == 1, "exactly one cell tagged 'parameters'"
