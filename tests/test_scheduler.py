"""The scheduler on real worker processes (tiny preset): whole families on a machine that forgets its checkpoints,
a family without its parent's model, and fine-tunings of another training of their parent."""
import dataclasses
import gzip
import json
import shutil

import pandas as pd
import pytest

from transinv import repetition
from transinv.graph import Graph
from transinv.presets import TINY
from transinv.runs import Run, RunConfig, finished_runs, find_run
from transinv.estimate import Estimate
from transinv.scheduler import STAGING, collect, schedule, train_graph

PARENT = RunConfig("mnist", "translated", "tiny", classes=(0, 1, 2))
# Fine-tunings that take a minute at least (larger batches, the stopping rule at half the paper's scale).
SLOW = dataclasses.replace(TINY, name="tiny-slow", batch_size=128, iter_scale=0.5)


def _family(*children: RunConfig, parent: RunConfig = PARENT) -> Graph:
    graph = Graph()
    root = graph.add(parent)
    for child in children:
        graph.add(child, root)
    return graph


def _child(dataset: str, classes=(0, 1), preset="tiny") -> RunConfig:
    return RunConfig(dataset, "one_location", preset, classes=classes)


@pytest.mark.slow
def test_a_forgetful_call_cut_at_its_budget_leaves_no_partial_family(tmp_path, capsys):
    graph = _family(_child("mnist", preset=SLOW), _child("fmnist", preset=SLOW))
    outcome = schedule(graph, tmp_path, device="cpu", workers=2, budget_seconds=30, forgetful=True)
    assert f"{find_run(PARENT, tmp_path, device='cpu').id}: " in capsys.readouterr().out  # the parent finished ...
    assert finished_runs(tmp_path) == [] and not (tmp_path / STAGING).exists()  # ... but not its whole family
    assert outcome.trained == [] and not any(r.finished for r in outcome.runs.values())


def test_a_family_predicted_not_to_fit_is_not_started(tmp_path):
    graph = _family(_child("mnist"), _child("fmnist"))
    alone = graph.add(RunConfig("leek2", "one_location", "tiny"))
    slow_machine = Estimate(history=[], images_per_second=10)  # 64 s a run: the family 128 s, a run alone 64 s
    assert slow_machine.family_seconds(graph, graph.roots()[0], 2) == 2 * slow_machine.seconds(alone)
    outcome = schedule(graph, tmp_path, device="cpu", workers=2, budget_seconds=100, forgetful=True,
                       estimate=slow_machine)
    assert [r.config["dataset"] for r in finished_runs(tmp_path)] == ["leek2"]
    assert len(outcome.left) == 1 and "its family of 3 would take about 128 s" in outcome.left[0]


def _tamper(run_dir, name="grid.csv.gz"):
    """Another training of a run: its grid table differs."""
    grid = pd.read_csv(run_dir / name)
    grid.loc[0, "correct"] = grid.loc[0, "n"] - grid.loc[0, "correct"]
    with gzip.open(run_dir / name, "wt") as f:
        grid.to_csv(f, index=False)


def _as_of_another_training(r):
    done = json.loads((r.path / "done.json").read_text())
    (r.path / "done.json").write_text(json.dumps({**done, "parent_grid": "another training"}))


@pytest.mark.slow
def test_a_family_without_its_parents_model_is_trained_again_whole_on_a_forgetful_machine(tmp_path, capsys):
    root, home = tmp_path / "tiny", tmp_path / "home" / "tiny"
    kept, other = _child("mnist", (3, 4)), _child("fmnist")
    old = train_graph(_family(kept, other), root, device="cpu", workers=2)
    for checkpoint in root.glob("*/ckpt.pt"):
        checkpoint.unlink()  # as shared: tables only, and a machine that forgets
    for child in [r for r in finished_runs(root) if r.is_finetuning]:
        _as_of_another_training(child)  # as on a GPU, where the parent trained again is another training
    shutil.copytree(root, home)  # a clone with the old tables

    new = _child("kmnist")
    graph = _family(kept, new)  # `other` is not in this graph: an old fine-tuning of a training that goes
    assert collect(graph, root, device="cpu").keys() == {graph.roots()[0].key}  # old children: another training
    outcome = schedule(graph, root, device="cpu", workers=2, forgetful=True)
    assert len(old) == 3 and len(outcome.trained) == 3 and not outcome.failed
    assert {r.id for r in finished_runs(root)} == {r.id for r in outcome.runs.values()}  # `other` removed
    assert collect(graph, root, device="cpu").keys() == {n.key for n in graph}  # one training, whole
    assert "fine-tuned from a training of its parent that was replaced: removed" in capsys.readouterr().out

    archive = repetition.pack(tmp_path, "tiny", {"seed": 0}, tmp_path / "pack.tar.gz")
    repetition.unpack(archive, home.parent)  # home holds the old family: replaced whole, its extra child removed
    assert {r.id for r in finished_runs(home)} == {r.id for r in finished_runs(root)}
    assert collect(graph, home, device="cpu").keys() == {n.key for n in graph}


def test_elsewhere_a_parent_without_its_model_is_restored_before_its_fine_tuning(tmp_path):
    parent = train_graph(_family(), tmp_path, device="cpu", workers=1)
    [run] = parent.values()
    tables = {p.name: p.read_bytes() for p in run.path.iterdir() if p.name != "ckpt.pt"}
    (run.path / "ckpt.pt").unlink()
    graph = _family(_child("mnist", (3, 4)))
    found = train_graph(graph, tmp_path, device="cpu", workers=2)
    assert len(found) == 2 and run.has_model  # restored: trained again, and it reproduced its grid table
    assert {p.name: p.read_bytes() for p in run.path.iterdir() if p.name != "ckpt.pt"} == tables


def test_no_table_mixes_fine_tunings_of_two_trainings_of_one_parent(tmp_path, capsys):
    graph = _family(_child("mnist", (3, 4)))
    first = train_graph(graph, tmp_path, device="cpu", workers=1)
    child = first[list(graph)[1].key]
    assert child.result["parent_grid"] == child.parent.grid_fingerprint
    _tamper(child.parent.path)  # the parent trained again elsewhere, differently (GPUs are not deterministic)
    assert list(train_graph(graph, tmp_path, device="cpu", train=False)) == [list(graph)[0].key]
    assert "1 of 2 runs are finished" in capsys.readouterr().out
    again = train_graph(graph, tmp_path, device="cpu", workers=1)  # checkpoints here: the child is made again
    assert "made from another training of its parent: trained again" in capsys.readouterr().out
    assert again[list(graph)[1].key].result["parent_grid"] == child.parent.grid_fingerprint


def _finished(folder, name, iterations, rate, **config):
    """A finished run's two files, as an estimate reads them."""
    path = folder / name
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"parent": None, "init": "vanilla", **config}))
    (path / "done.json").write_text(json.dumps({"iterations": iterations, "train_images_per_second": rate,
                                                "eval_seconds": 10, "setup_seconds": 5, "device": "cpu"}))
    return Run(path)


def test_run_times_are_predicted_from_the_most_alike_finished_runs(tmp_path):
    history = [_finished(tmp_path, "a", 1000, 320, dataset="mnist", placement="translated"),
               _finished(tmp_path, "b", 3000, 320, dataset="emnist", placement="translated"),
               _finished(tmp_path, "c", 500, 160, dataset="mnist", placement="one_location", parent={}, init="a")]
    estimate = Estimate(history)
    graph = Graph()
    emnist = graph.add(RunConfig("emnist", "translated", "tiny"))
    kmnist = graph.add(RunConfig("kmnist", "translated", "tiny"))
    child = graph.add(RunConfig("mnist", "one_location", "tiny"), kmnist)
    vanilla = graph.add(RunConfig("leek2", "one_location", "tiny"))
    assert estimate.seconds(emnist) == 3000 * 32 / 320 + 15           # the same dataset, placement and start
    assert estimate.seconds(kmnist) == 2000 * 32 / 320 + 15           # the same placement and start
    assert estimate.seconds(child) == 500 * 32 / 160 + 15             # a fine-tuning like a fine-tuning
    assert estimate.seconds(vanilla) == 500 * 32 / 160 + 15           # else the same placement
    assert estimate.family_seconds(graph, kmnist, 4) == estimate.seconds(kmnist) + estimate.seconds(child)
    assert Estimate([], 640, overhead_seconds=3).seconds(vanilla) == 20 * 32 / 640 + 3  # the cap, the probe's rate
    assert Estimate([]).seconds(vanilla) is None  # no rate: unknown, and the family is not held back
