"""Issue 28's runs as a graph: per architecture, vanilla at one location on three datasets, one pretraining, two
fine-tunings; the preset's own model's runs are experiment 2's."""
import pytest

from transinv import protocol
from transinv.architectures import best_pretraining, chosen_pretraining
from transinv.experiments import Transfer, read_choices
from transinv.graph import Items, VanillaTable


def test_each_architecture_has_its_runs():
    graph = protocol.architectures("laptop", 0)
    n = len(protocol.ARCHITECTURES)
    assert len(graph) == n * (3 + 1 + 2)
    assert (len(graph.tagged("architectures", "vanilla")), len(graph.tagged("architectures", "pretrained")),
            len(graph.tagged("architectures", "finetuned"))) == (3 * n, n, 2 * n)
    families = [graph.family(root) for root in graph.roots()]
    assert sorted(map(len, families)) == [1] * 3 * n + [3] * n
    pretrainings = graph.tagged("architectures", "pretrained")
    assert {p.config.dataset for p in pretrainings} == {"emnist"} and {p.config.placement for p in pretrainings} == {
        "translated"}
    assert {p.config.model for p in pretrainings} == {None, *protocol.ARCHITECTURES} - {"vgg16_bn_small"}
    for p in pretrainings:
        children = graph.children(p)
        assert [c.config.dataset for c in children] == ["mnist", "kmnist"]
        assert all(c.config.placement == "one_location" and c.config.model is None for c in children)
        assert p.tables == [Items("mnist"), Items("kmnist")] and all(c.tables == [Items(c.config.dataset)] for c in children)
    assert len(graph.vanilla_tables) == 3 * n
    assert VanillaTable(Items("fmnist"), "laptop", 0, "resnet18_small") in graph.vanilla_tables
    assert VanillaTable(Items("fmnist"), "laptop", 0, None) in graph.vanilla_tables  # the preset's model's


def test_the_presets_own_model_shares_experiment_2s_runs():
    graph = protocol.architectures("laptop", 0, architectures=["vgg16_bn_small", "resnet18_small"])
    exp2 = protocol.experiment2(protocol.PAPER_DATASETS, protocol.PAPER_DATASETS, "laptop", 1, 0)
    both = exp2 | graph
    assert len(both) == len(exp2) + 6  # only resnet18_small's runs are new
    assert len(protocol.repetition("laptop", 0, "efficientnet_lite0") | graph) == len(
        protocol.repetition("laptop", 0, "efficientnet_lite0")) + 6


def test_other_pretrainings_seeds_and_bad_requests():
    graph = protocol.architectures("tiny", 3, architectures=["densenet121_small"], pretrain="mnist", repetitions=2)
    assert len(graph) == 2 * 6 and {n.config.seed for n in graph} == {3, 4}
    assert [c.config.dataset for c in graph.children(graph.tagged("architectures", "pretrained")[0])] == [
        "kmnist", "fmnist"]
    with pytest.raises(ValueError, match="architectures must be some of .* but got \\['vit'\\]"):
        protocol.architectures("tiny", 0, architectures=["vit"])
    with pytest.raises(ValueError, match="architectures must be some of"):
        protocol.architectures("tiny", 0, architectures=[])


def test_the_pretraining_defaults_and_is_kept(tmp_path):
    empty = Transfer([], [], [])
    assert best_pretraining(empty) is None
    assert chosen_pretraining(empty, tmp_path, record=True)[0] == protocol.DEFAULT_PRETRAINING
    assert "architectures_pretraining" not in read_choices(tmp_path)  # a default is not a choice: nothing kept
    (tmp_path / "protocol.json").write_text('{"architectures_pretraining": "kmnist"}')
    assert chosen_pretraining(empty, tmp_path)[0] == "kmnist"
