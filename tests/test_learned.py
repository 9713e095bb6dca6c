"""The learned gate (transinv.learned) on a committed run whose log and tables are changed."""
import shutil

import pandas as pd
import pytest

from transinv import tables
from transinv.evaluate import normalized_accuracy
from transinv.experiments import results_dir
from transinv.learned import LEARNED, criterion_at, learned_task
from transinv.presets import SMALL
from transinv.runs import Run

MNIST = "mnist-one_location-vanilla-vgg16_small-s0-ae0bae5af9"  # learned: criterion reached, 0.90 at the trained location


@pytest.fixture
def mnist(tmp_path):
    shutil.copytree(results_dir("auto", "small") / MNIST, tmp_path / MNIST, ignore=shutil.ignore_patterns("*.pt"))
    return Run(tmp_path / MNIST)


def test_a_run_that_reached_the_criterion_and_generalises_learned(mnist):
    assert criterion_at(mnist) is not None and learned_task(mnist)
    assert tables.summarize([mnist]).loc[0, ["own_learned", "criterion_at"]].tolist() == [True, criterion_at(mnist)]


def test_a_run_whose_running_accuracy_never_passed_the_criterion_did_not_learn(mnist):
    log = mnist.log
    window = 30  # the small preset's at one location
    log["accuracy"] = 0.7 + (log.index % window == 0) * 0.3  # a batch at 1.0 now and then; the running mean never
    log.to_csv(mnist.path / "log.csv.gz", index=False, compression="gzip")
    assert criterion_at(mnist) is None and not learned_task(mnist)


@pytest.mark.parametrize("correct, learned", [(17, True), (16, False)])
def test_a_run_needs_half_way_from_chance_on_held_out_items(mnist, correct, learned):
    """10 classes, 30 items at the trained location: 17 right is 51.9 normalized, over the gate; 16 is 48.1."""
    grid = mnist.grid
    at = (grid["x"] == mnist.preset.trained_centre[0]) & (grid["y"] == mnist.preset.trained_centre[1])
    n = grid.loc[at, "n"]
    assert n.sum() == 30
    grid.loc[at, "correct"] = (n.cumsum().clip(upper=correct) - (n.cumsum() - n).clip(upper=correct)).values
    grid.to_csv(mnist.path / "grid.csv.gz", index=False, compression="gzip")
    assert tables.own_accuracy(mnist) == correct / 30
    assert learned_task(mnist) == (normalized_accuracy(correct / 30, 10) >= LEARNED) == learned


def test_own_accuracy_reads_the_held_out_table_where_a_run_has_one(mnist):
    pd.DataFrame({"label": [0, 1], "n": [150, 150], "correct": [150, 0], "class": ["0", "1"]}).to_csv(
        mnist.path / "own.csv.gz", index=False, compression="gzip")
    assert tables.own_accuracy(mnist) == 0.5 and not learned_task(mnist)


def test_the_first_batches_alone_do_not_reach_the_criterion(mnist):
    log = mnist.log
    log["accuracy"] = [1.0] * 5 + [0.5] * (len(log) - 5)  # lucky first batches: their mean passed 0.75
    log.to_csv(mnist.path / "log.csv.gz", index=False, compression="gzip")
    assert criterion_at(mnist) is None


class _Logged:
    def __init__(self, accuracies):
        self.log = pd.DataFrame({"iteration": range(len(accuracies)), "loss": 1.0, "accuracy": accuracies})
        self.preset, self.config = SMALL, {"placement": "translated"}  # a window of 100 batches


@pytest.mark.parametrize("accuracies, first", [([0.0] * 50 + [1.0] * 200, 126), ([0.7] * 300, None)])
def test_iterations_to_criterion_use_the_running_accuracy(accuracies, first):
    assert criterion_at(_Logged(accuracies)) == first
