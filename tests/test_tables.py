"""Tables for the pages: no "-0", "1 run" instead of an empty spread, run ids in full."""
import math

import pandas as pd

from transinv import experiments as ex
from transinv import tables
from transinv.verdicts import _whole


def test_nothing_reads_minus_zero():
    shown = tables.rounded(pd.DataFrame({"normalized": [-0.001, -3.456, 0.004], "run": ["a", "b", "c"]}))
    assert [math.copysign(1, v) for v in shown["normalized"]] == [1, -1, 1] and shown["normalized"][1] == -3.46
    assert _whole(-0.3) == "0" and _whole(-0.6) == "-1" and _whole(float("nan")) == "n/a"


def test_one_run_says_so_instead_of_nan():
    table = pd.DataFrame({"pretrain": ["a", "b", "b"], "accuracy": [0.5, 0.6, 0.8]})
    shown = tables.mean_std(table, "pretrain", ["accuracy"])
    assert shown.loc["a", "accuracy"] == "0.50 (1 run)" and shown.loc["b", "accuracy"] == "0.70 ± 0.14"
    assert shown["runs"].tolist() == [1, 2]


def test_a_grid_of_means_gives_the_spread_over_repetitions_in_the_paper_s_order():
    table = pd.DataFrame({"pretrain": ["leek2", "mnist", "mnist", "emnist"], "dataset": ["mnist"] * 4,
                          "away": [0.1, 0.5, 0.7, -0.0001]})
    shown = tables.mean_std_grid(table, "pretrain", "dataset", "away")
    assert shown["mnist"].tolist() == ["0.00", "0.60 ± 0.14", "0.10"] and list(shown.index) == ["emnist", "mnist",
                                                                                               "leek2"]


def test_run_ids_are_shown_in_full():
    long_id = "emnist-one_location-finetuned-vgg16_small-s0-89a10d8bfa"
    row = {c: 0 for c in tables.SUMMARY_COLUMNS} | {"run": long_id}
    assert long_id in tables.runs_table(pd.DataFrame([row])).to_html()


def test_results_root_auto_is_the_clone_from_its_root_and_from_notebooks(monkeypatch):
    root = ex.project_root()
    for folder in (root, root / "notebooks"):
        monkeypatch.chdir(folder)
        assert ex.results_dir("auto", "small") == root / "results" / "small"


def test_a_missing_value_reads_as_a_dash():
    shown = tables.rounded(pd.DataFrame({"a": [0.5, float("nan")], "b": [1.0, 2.0]}))
    assert shown["a"].tolist() == [0.5, "—"] and shown["b"].tolist() == [1.0, 2.0]
    assert "NaN" not in shown.to_html()


def test_rounded_takes_pivot_tables():
    table = pd.DataFrame({"d": ["a", "b"], "c": ["x", "y"], "v": [-0.001, 0.5]})
    shown = tables.rounded(table.pivot_table(index="d", columns="c", values=["v"]))
    assert math.copysign(1, shown.loc["a", ("v", "x")]) == 1


def test_datasets_come_in_the_papers_order_everywhere():
    table = pd.DataFrame({"pretrain": ["mnist", "leek2", "vanilla", "emnist (not learned)", "fmnist"],
                          "dataset": ["kmnist", "emnist", "mnist", "leek10", "fmnist"], "v": [1.0, 2, 3, 4, 5]})
    shown = tables.rounded(table.pivot_table(index="pretrain", columns="dataset", values="v"))
    assert list(shown.index) == ["emnist (not learned)", "fmnist", "mnist", "leek2", "vanilla"]
    assert list(shown.columns) == ["emnist", "fmnist", "kmnist", "mnist", "leek10"]
    assert list(tables.mean_std(table, "pretrain", ["v"]).index) == list(shown.index)
