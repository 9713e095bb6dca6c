"""The committed results are reproducible here: a run trained again (as ``need_model=True`` does to restore a
model the clone lacks) must give exactly the grid table that was committed, or `run` raises."""
import shutil
from pathlib import Path

import pytest

from transinv import experiments as ex
from transinv.datasets import DatasetNotFoundError
from transinv.runs import RunConfig, find_run, run

COMMITTED = Path(__file__).parents[1] / "results"


def test_a_committed_run_trained_again_reproduces_its_table(tmp_path):
    config = RunConfig("leek2", "one_location", "small")  # the cheapest run the book uses (about 20 s)
    try:
        committed = find_run(config, ex.results_dir(COMMITTED, "small"), device="cpu")
    except DatasetNotFoundError as missing:
        pytest.skip(str(missing))
    assert committed.finished, f"{committed.id} is not among the committed results"
    clone = tmp_path / "small" / committed.id
    clone.mkdir(parents=True)
    for f in committed.path.iterdir():
        if f.name != "ckpt.pt":  # as in a fresh clone
            shutil.copy(f, clone / f.name)
    kept = (clone / "grid.csv.gz").read_bytes()
    restored = run(config, tmp_path / "small", device="cpu", progress=False, need_model=True)
    assert restored.has_model and (clone / "grid.csv.gz").read_bytes() == kept
