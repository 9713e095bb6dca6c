"""The committed results are reproducible on the kind of CPU that made them: a run trained again (as
``need_model=True`` does to restore a model the clone lacks) gives exactly the grid table that was committed. On
another kind of CPU the sums may round differently: then `run` refuses the retrained model, saying so, and keeps the
tables."""
import re
import shutil
from pathlib import Path

import pytest

from transinv import experiments as ex
from transinv.datasets import DatasetNotFoundError
from transinv.runs import RunConfig, find_run, run
from transinv.slurm_queue import LOCK_FILE
from transinv.train import device_name, resolve_device

COMMITTED = Path(__file__).parents[1] / "results"


@pytest.mark.slow
def test_a_committed_run_trained_again_reproduces_its_table_on_its_kind_of_cpu(tmp_path):
    config = RunConfig("leek2", "one_location", "small")  # the cheapest run the book uses (about 20 s)
    try:
        committed = find_run(config, ex.results_dir(COMMITTED, "small"), device="cpu")
    except DatasetNotFoundError as missing:
        pytest.skip(str(missing))
    assert committed.finished, f"{committed.id} is not among the committed results"
    made_on, here = committed.result["device_name"], device_name(resolve_device("cpu"))
    clone = tmp_path / "small" / committed.id
    clone.mkdir(parents=True)
    for f in committed.path.iterdir():
        if f.name != "ckpt.pt":  # as in a fresh clone
            shutil.copy(f, clone / f.name)
    kept = {f.name: f.read_bytes() for f in clone.iterdir()}
    if made_on == here:
        restored = run(config, tmp_path / "small", device="cpu", progress=False, need_model=True)
        assert restored.has_model
    else:
        try:
            run(config, tmp_path / "small", device="cpu", progress=False, need_model=True)
        except RuntimeError as refused:
            assert re.search(rf"same seed, on {re.escape(here)}\) does not reproduce the kept grid table \(\d+ of \d+ "
                             rf"rows differ; the table was made on {re.escape(made_on)}\)", str(refused)), refused
            assert not (clone / "ckpt.pt").exists()
    assert {f.name: f.read_bytes() for f in clone.iterdir() if f.name != "ckpt.pt"} == kept


@pytest.mark.slow
def test_a_fresh_clone_shows_the_explorers_networks_without_training(tmp_path):
    import ast

    import papermill
    defaults = {name: ast.literal_eval(p["default"])
                for name, p in papermill.inspect_notebook(str(COMMITTED.parent / "notebooks" / "explore.ipynb")).items()}
    clone = tmp_path / defaults["preset"]
    shutil.copytree(ex.results_dir(COMMITTED, defaults["preset"]), clone, ignore=shutil.ignore_patterns("ckpt.pt"))
    files = sorted(clone.rglob("*"))
    try:
        models = ex.explorer_models(defaults["pretrain"], defaults["finetune"], defaults["preset"], defaults["seed"],
                                    clone, device="cpu", train=True)
    except DatasetNotFoundError as missing:
        pytest.skip(str(missing))
    assert sorted(models) == [f"pretrained on {defaults['pretrain']}, fine-tuned", "vanilla"]
    written = sorted(p for p in clone.rglob("*") if p.name != LOCK_FILE)  # the submit lock, held while it looked
    assert written == files  # nothing trained: no checkpoint, no run directory
