"""Every notebook runs headless through papermill, as `make book` runs it: a plumbing check.

The tiny preset (at most 20 iterations a run, one test item per class) and two datasets keep it
to a few minutes; the numbers mean nothing, the figures and widgets must be there. The notebooks
share one results folder, in the order `make book` runs them, so later ones reuse earlier runs.
"""
import json
from pathlib import Path

import nbformat
import papermill
import pytest

from transinv import provenance

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
DATASETS = "mnist,leek2"
ORDER = {  # notebook: its parameters besides preset and results_root
    "stimuli": {},
    "exp1": {"dataset": DATASETS},
    "exp2": {"pretrain": DATASETS, "finetune": DATASETS},
    "cossim": {"pretrain": DATASETS, "finetune": DATASETS},
    "forgetting": {"pretrain": DATASETS, "finetune": DATASETS, "seeds": 1},
    "exp3": {},
    "architectures": {"architectures": "vgg16_small,resnet18_small", "seeds": 1},
    "explore": {"pretrain": "mnist", "finetune": "leek2"},
    "summary": {"dataset": DATASETS, "forgetting_seeds": 1},
    "reproduce": {},
}


def test_every_notebook_is_run_here():
    assert set(ORDER) == {p.stem for p in NOTEBOOKS.glob("*.ipynb")}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("book")


def outputs(notebook, kind):
    return [o for c in notebook.cells for o in c.get("outputs", []) if kind in o.get("data", {})]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ORDER))
def test_notebook_runs(name, workdir):
    results = workdir / "results"
    parameters = {"preset": "tiny", **ORDER[name]}
    if name != "stimuli":
        parameters["results_root"] = str(results)
    if name == "reproduce":
        provenance.main([str(results / "tiny"), *map(str, sorted(workdir.glob("*.ipynb")))])
    executed = workdir / f"{name}.ipynb"
    papermill.execute_notebook(NOTEBOOKS / f"{name}.ipynb", executed, parameters=parameters, cwd=NOTEBOOKS,
                               progress_bar=False)
    notebook = nbformat.read(executed, as_version=4)
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    if name in ("stimuli", "exp1", "exp2", "cossim", "forgetting", "exp3", "architectures"):
        assert outputs(notebook, "image/png"), f"{name} drew no figure"
    if name == "explore":
        assert len(outputs(notebook, "application/vnd.jupyter.widget-view+json")) == 2
        assert notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    if name == "summary":
        tables = ["".join(o["data"]["text/html"]) for o in outputs(notebook, "text/html")]
        assert len(tables) == 2 and "verdict" in tables[0] and "MNIST away" in tables[1]  # verdicts; the GPU sample
    if name == "reproduce":
        record = json.loads((results / "tiny" / "provenance.json").read_text())
        assert record["preset"] == "tiny" and record["runs"] > 10 and record["wall_seconds"] > 0


def test_bad_parameters_fail_early_and_clearly(workdir):
    with pytest.raises(papermill.PapermillExecutionError, match="unknown dataset 'cifar'"):
        papermill.execute_notebook(NOTEBOOKS / "exp1.ipynb", workdir / "bad.ipynb", cwd=NOTEBOOKS,
                                   parameters={"preset": "tiny", "dataset": "cifar"}, progress_bar=False)


@pytest.mark.parametrize("parameters, message", [
    ({"preest": "paper"}, "unknown parameter 'preest': this notebook takes preset, dataset, repetitions"),
    ({"seed": "abc"}, "parameter 'seed' must be of type int, like its default 0, but got 'abc'"),
])
def test_misspelt_or_mistyped_parameters_are_refused(workdir, parameters, message):
    with pytest.raises(papermill.PapermillExecutionError, match=message):
        papermill.execute_notebook(NOTEBOOKS / "exp1.ipynb", workdir / "bad.ipynb", cwd=NOTEBOOKS,
                                   parameters={"preset": "tiny", **parameters}, progress_bar=False)
