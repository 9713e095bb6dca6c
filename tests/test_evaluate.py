import sys

import pytest
import torch
from torch import nn

from transinv import evaluate
from transinv.analysis import cosine_similarity
from transinv.datasets import ItemSet, load_dataset, select_classes
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


# A position-sensitive stub: it reads where the item sits and how bright it is, and answers from that.

TRAIN_VALUE, TEST_VALUE, STEP = 60, 160, 20  # squares of class k: 60 + 20k in the training split, 160 + 20k in test


def squares(n_classes=3, per_class=4):
    """An ItemSet of uniform squares whose brightness says their class and their split."""
    labels = torch.arange(n_classes).repeat_interleave(per_class)

    def images(base):
        return (base + STEP * labels).to(torch.uint8)[:, None, None].expand(-1, 28, 28).contiguous()
    return ItemSet("squares", tuple("abcdefghij"[:n_classes]), images(TRAIN_VALUE), labels, images(TEST_VALUE),
                   labels.clone(), "uniform squares", False)


class Where(nn.Module):
    """(B, 3, H, W) canvases -> (B, 3): the item's centre (x, y) from its top-left pixel, its brightness in [0, 1]."""

    def __init__(self, item_size):
        super().__init__()
        self.item_size = item_size

    def forward(self, canvases):
        mask = canvases[:, 0] > 0                                         # (B, H, W)
        left = mask.any(1).int().argmax(1)                                # first column with a pixel
        top = mask.any(2).int().argmax(1)
        half = self.item_size // 2
        return torch.stack([(left + half).float(), (top + half).float(), canvases[:, 0].amax((1, 2))], 1)


class Answer(nn.Module):
    """(B, 3) -> one-hot logits of rule(x, y, brightness)."""

    def __init__(self, n_classes, rule):
        super().__init__()
        self.out_features, self.rule = n_classes, rule

    def forward(self, where):
        x, y, value = where.unbind(1)
        x, y, value = x.long(), y.long(), (value * 255).round().long()
        return nn.functional.one_hot(self.rule(x, y, value) % self.out_features, self.out_features).float()


def stub(rule, n_classes=3, preset=SMALL):
    net = nn.Sequential(Where(preset.item_size), Answer(n_classes, rule))
    return Classifier("stub", net, (0, 0, 0), (1, 1, 1), head="1", penultimate="0")


def test_squares_keep_their_brightness_when_resized():
    from transinv.stimuli import resize_items
    items = squares()
    assert resize_items(items.test_images, SMALL.item_size).unique().tolist() == [160, 180, 200]


def test_every_grid_row_is_where_the_item_was_shown():
    """The stub answers (x + 2y) mod 3 from where the item sits: right exactly where that is the item's class."""
    table = grid_accuracy(stub(lambda x, y, value: x + 2 * y), squares(), SMALL, per_class=2)
    assert len(table) == 19 * 19 * 3 and (table["n"] == 2).all()
    expected = ((table["x"] + 2 * table["y"]) % 3 == table["label"]) * 2
    assert (table["correct"] == expected).all()
    assert not ((table["y"] + 2 * table["x"]) % 3 == table["label"]).eq(expected > 0).all()  # a swap would show
    assert accuracy_at_and_away(table, (7, 32))[0] == pytest.approx(1 / 3)  # at (7, 32) it answers 2 (71 mod 3)


def test_test_items_come_from_the_test_split_only():
    """The stub reads the class from the brightness of test squares, and answers wrong for training squares."""
    def rule(x, y, value):
        return torch.where(value >= TEST_VALUE, (value - TEST_VALUE) // STEP, (value - TRAIN_VALUE) // STEP + 1)
    table = grid_accuracy(stub(rule), squares(per_class=6), SMALL, per_class=4)
    assert (table["correct"] == table["n"]).all() and (table["n"] == 4).all()
    images, labels = evaluate.test_items(squares(per_class=6), 4)
    assert (images[:, 0, 0] == TEST_VALUE + STEP * labels).all() and torch.bincount(labels).tolist() == [4, 4, 4]


def test_cosine_reference_sits_at_the_trained_location():
    """With the item's (x, y, brightness) as penultimate layer, every cosine is known: the reference at the trained
    centre (x0, y0), the moved item at (x, y0) along the trained row."""
    items = squares()
    table = cosine_similarity(stub(lambda x, y, value: x), items, SMALL)
    x0, y0 = SMALL.trained_centre
    assert (x0, y0) == (7, 32) and len(table) == 3 * 19
    for row in table.itertuples():
        value = TEST_VALUE + STEP * row.label
        moved, reference = torch.tensor([row.x, y0, value / 255]), torch.tensor([x0, y0, value / 255])
        expected = float(torch.nn.functional.cosine_similarity(moved, reference, dim=0))
        assert row.dx == row.x - x0 and row.cosine == pytest.approx(expected, abs=1e-6)
    assert table[table["dx"] == 0]["cosine"].min() > 0.9999 and table["cosine"].min() < 0.7


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's allocator")
def test_keeping_freed_buffers_leaves_the_grid_table_as_it_was():
    from transinv.models import create_model
    from transinv.runs.lifecycle import keep_freed_buffers
    digits = load_dataset("mnist")
    torch.manual_seed(0)
    model = create_model("vgg16_small", num_classes=10, canvas_size=64)
    default = grid_accuracy(model, digits, SMALL, per_class=1)
    assert keep_freed_buffers()
    assert grid_accuracy(model, digits, SMALL, per_class=1).equals(default)
