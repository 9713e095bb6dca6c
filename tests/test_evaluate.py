import pytest
import torch
from torch import nn

from transinv.datasets import load_dataset, select_classes
from transinv.analysis import cosine_similarity
from transinv.evaluate import accuracy_at_and_away, grid_accuracy, normalized_accuracy
from transinv.models import Classifier
from transinv.presets import SMALL


def always(label, n_classes):
    """A 'model' that answers one class whatever it sees."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 64 * 64, n_classes))
    nn.init.zeros_(net[1].weight)
    with torch.no_grad():
        net[1].bias.copy_(torch.nn.functional.one_hot(torch.tensor(label), n_classes).float())
    return Classifier("constant", net, (0, 0, 0), (1, 1, 1), head="1", penultimate="0")


def test_grid_table_bookkeeping():
    digits = select_classes(load_dataset("mnist"), [3, 4, 5, 6])
    table = grid_accuracy(always(2, 4), digits, SMALL, per_class=3)
    assert len(table) == 19 * 19 * 4 and set(table.columns) >= {"x", "y", "label", "class", "n", "correct"}
    assert (table["n"] == 3).all()
    assert table.groupby("label")["correct"].sum().tolist() == [0, 0, 361 * 3, 0]
    assert sorted(table["x"].unique()) == list(SMALL.grid)


def test_class_count_mismatch():
    with pytest.raises(ValueError, match="model has 4 classes but mnist has 10"):
        grid_accuracy(always(0, 4), load_dataset("mnist"), SMALL, per_class=1)


def test_normalized_accuracy():
    assert normalized_accuracy(0.2, 5) == pytest.approx(0)
    assert normalized_accuracy(1.0, 5) == pytest.approx(100)
    assert normalized_accuracy(0.6, 5) == pytest.approx(50)


def invariant_model():
    """Convolution + global max pooling: the same features wherever the item is."""
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    return Classifier("invariant", net, (0, 0, 0), (1, 1, 1), head="4", penultimate="3")


def test_cosine_similarity():
    torch.manual_seed(0)
    mnist = load_dataset("mnist")
    table = cosine_similarity(invariant_model(), mnist, SMALL)
    assert len(table) == 10 * 19 and table["dx"].min() == 0 and table["dx"].max() == SMALL.grid[-1] - SMALL.grid[0]
    assert table["cosine"].min() > 0.9999  # invariant by construction
    pixels = Classifier("pixels", nn.Sequential(nn.Flatten(), nn.Linear(3 * 64 * 64, 64), nn.ReLU(), nn.Linear(64, 10)),
                        (0, 0, 0), (1, 1, 1), head="3", penultimate="2")
    table = cosine_similarity(pixels, mnist, SMALL)
    assert table[table["dx"] == 0]["cosine"].min() > 0.9999  # the reference itself
    assert table[table["dx"] > 20]["cosine"].mean() < 0.8    # a fully connected layer sees other pixels


def test_accuracy_at_and_away():
    import pandas as pd
    grid = pd.DataFrame({"x": [7, 7, 9], "y": [32, 32, 32], "label": [0, 1, 0], "n": [10, 10, 20], "correct": [10, 8, 5]})
    assert accuracy_at_and_away(grid, (7, 32)) == (0.9, 0.25)
