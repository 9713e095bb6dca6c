"""The layer-by-layer cosines and the linear read-out (transinv.representation): the layers read, what the
centrings remove, and that the read-out tells a network invariant by design from one that codes position."""
import pandas as pd
import pytest
import torch
from torch import nn

from transinv.analysis import mean_readout_away
from transinv.datasets import load_dataset, select_classes
from transinv.models import Classifier, create_model
from transinv.presets import SMALL
from transinv.representation import fit_readout, layer_activations, probe_layers, representation_tables


@pytest.fixture(scope="module")
def digits():
    return select_classes(load_dataset("mnist"), [0, 1, 2])


def test_vgg_layers_are_read_before_and_after_their_in_place_relu():
    torch.manual_seed(0)
    model = create_model("vgg16_small", num_classes=3, canvas_size=64).eval()
    layers = probe_layers(model)
    assert list(layers) == ["conv", "fc6", "fc6 relu", "fc7", "fc7 relu"]
    found = layer_activations(model, torch.rand(4, 3, 64, 64), layers)
    assert (found["fc6"] < 0).any() and torch.equal(found["fc6 relu"], found["fc6"].clamp(min=0))  # not overwritten
    assert torch.equal(found["fc7 relu"], found["fc7"].clamp(min=0))
    assert found["conv"].shape == (4, 64 * 2 * 2)
    assert layers["fc7 relu"] == model.penultimate  # the authors' layer


def test_the_authors_layer_is_the_penultimate_activation():
    torch.manual_seed(0)
    model = create_model("vgg16_small", num_classes=3, canvas_size=64).eval()
    canvases = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(layer_activations(model, canvases, probe_layers(model))["fc7 relu"],
                           model.penultimate_activations(canvases))


def test_the_readout_fits_separable_classes_deterministically():
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 20, generator=generator) * 4
    labels = torch.arange(3).repeat_interleave(30)
    features = centres[labels] + torch.randn(90, 20, generator=generator)
    first, second = fit_readout(features, labels, 3), fit_readout(features, labels, 3)
    assert (first(features).argmax(1) == labels).all()
    assert torch.equal(first.linear.weight, second.linear.weight)
    constant = torch.cat([features, torch.ones(90, 1)], dim=1)  # a dead unit (std 0) is no division by zero
    assert torch.isfinite(fit_readout(constant, labels, 3).linear.weight).all()


def toy(pool: bool) -> Classifier:
    """A one-convolution network: globally max-pooled (translation-invariant by design, on a black canvas with zero
    padding), or flattened (each position its own weights)."""
    torch.manual_seed(0)
    spatial = [nn.AdaptiveMaxPool2d(1), nn.Flatten()] if pool else [nn.AvgPool2d(4), nn.Flatten()]
    width = 16 if pool else 16 * 16 * 16
    net = nn.Sequential(nn.Conv2d(3, 16, 5, padding=2), nn.ReLU(), *spatial, nn.Linear(width, 32), nn.ReLU(True),
                        nn.Linear(32, 3))
    return Classifier("toy", net, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), head="6")


def test_the_readout_tells_invariance_by_design_from_position_coding(digits):
    tables = {pool: representation_tables(toy(pool), digits, SMALL, fit_per_class=20, test_per_class=5)
              for pool in (True, False)}
    cosines, readout = tables[True]
    assert set(cosines["layer"]) == {"penultimate"} and set(cosines["centring"]) == {"raw", "blank", "centred"}
    assert len(cosines) == 3 * 3 * len(SMALL.grid) and len(readout) == 3 * len(SMALL.grid)
    assert readout["n"].eq(5).all()
    assert cosines["cosine"].min() == pytest.approx(1, abs=1e-5)  # the same activations at every position
    by_x = readout.groupby("dx")["correct"].sum()
    assert by_x.nunique() == 1  # read at the trained location or anywhere else: the same answers

    def summary(table):
        conditions = dict(pretrain="-", finetune="mnist", condition="vanilla", seed=0)
        return mean_readout_away(table.assign(**conditions)).iloc[0]

    invariant, coding = summary(tables[True][1]), summary(tables[False][1])
    assert invariant["away"] == invariant["at"] > 50
    assert coding["at"] > 50 and coding["away"] < coding["at"] - 30


def test_the_blank_canvas_and_the_centring_remove_what_every_position_shares(digits):
    torch.manual_seed(0)
    model = create_model("vgg16_small", num_classes=3, canvas_size=64)
    cosines, _ = representation_tables(model, digits, SMALL, fit_per_class=5, test_per_class=3)
    away = cosines[cosines["dx"] > 0].groupby("centring")["cosine"].mean()
    assert away["raw"] > 0.9  # an untrained network: high, whatever the item
    assert away["blank"] < away["raw"] - 0.1 and away["centred"] < away["blank"]
    at = cosines[cosines["dx"] == 0]
    assert at["cosine"].to_numpy() == pytest.approx(1, abs=1e-5)  # an item against itself, whatever the centring
    assert isinstance(cosines, pd.DataFrame) and list(cosines.columns) == [
        "layer", "centring", "x", "dx", "label", "class", "cosine"]


@pytest.mark.slow
def test_the_graph_computes_the_tables_where_the_models_are(tmp_path):
    from transinv.analysis import representation_conditions, run_representation
    from transinv.graph import Graph, Items, VanillaTable
    from transinv.runs import RunConfig
    from transinv.scheduler import train_graph

    graph = Graph()
    items = Items("mnist", (3, 4))
    parent = graph.add(RunConfig("mnist", "translated", "tiny", classes=(0, 1, 2)), tables=[items])
    child = graph.add(RunConfig("mnist", "one_location", "tiny", classes=(3, 4)), parent, tables=[items])
    graph.vanilla_tables[VanillaTable(items, "tiny", 0)] = None
    runs = train_graph(graph, tmp_path, device="cpu", workers=1)
    pretrained, finetuned = runs[parent.key], runs[child.key]
    for r in (pretrained, finetuned):
        assert {"cosine-mnist-34.csv", "layers-mnist-34.csv.gz", "readout-mnist-34.csv.gz"} <= {
            p.name for p in r.path.iterdir()}
    assert (tmp_path / "vanilla-cosines" / "readout-mnist-34-seed0.csv.gz").is_file()
    tables = representation_conditions([pretrained], [finetuned])
    assert set(tables["readout"]["condition"]) == {"vanilla", "pretrained", "fine-tuned"}
    assert set(tables["layers"]["layer"]) == {"conv", "fc6", "fc6 relu", "fc7", "fc7 relu"}
    (pretrained.path / "ckpt.pt").unlink()  # shared without its model: what was kept is read, nothing computed
    assert run_representation(pretrained, "mnist", compute=False) is None  # all of mnist's classes: not kept
    assert run_representation(pretrained, "mnist", classes=(3, 4), compute=False)["readout"].equals(
        pd.read_csv(pretrained.path / "readout-mnist-34.csv.gz"))
