"""The protocol as one graph, and one repetition of it at the tiny preset: scheduled by dependencies, cut by a
budget, resumed, packed."""
import json

import pytest

from transinv import protocol, repetition
from transinv.graph import PARENT, Graph
from transinv.runs import Run, RunConfig, finished_runs


def test_the_graph_is_the_papers_protocol():
    """What the paper describes, counted by hand once here; every other count comes from the graph."""
    graph = protocol.repetition("small", 0, "efficientnet_lite0")
    count = {(e, r): len(graph.tagged(e, r)) for e in ("exp1", "exp2", "exp3") for r in
             ("imagenet", "vanilla", "pretrained", "finetuned")}
    assert count[("exp1", "imagenet")] == count[("exp1", "vanilla")] == 6      # six datasets, ImageNet and untrained
    assert (count[("exp2", "pretrained")], count[("exp2", "finetuned")], count[("exp2", "vanilla")]) == (6, 36, 6)
    assert (count[("exp3", "pretrained")], count[("exp3", "finetuned")], count[("exp3", "vanilla")]) == (2, 2, 1)
    assert len(graph) == 12 + 6 + 36 + 6 + 2 + 2  # experiment 3's vanilla MNIST is experiment 2's
    assert graph.tagged("exp3", "vanilla")[0] in graph.tagged("exp2", "vanilla")
    families = [graph.family(root) for root in graph.roots()]
    assert sorted(len(f) for f in families if len(f) > 1) == [2, 2] + [7] * 6 and sum(map(len, families)) == len(graph)
    assert all(n.config.init == PARENT for f in families for n in f[1:])
    # The cosine analysis: each pretraining on its fine-tunings' items, each fine-tuning on its own, untrained nets.
    assert sum(len(n.tables) for n in graph.tagged("cosine", "pretrained")) == 36
    assert [len(n.tables) for n in graph.tagged("cosine", "finetuned")] == [1] * 36
    assert not graph.tagged("exp3")[0].tables
    assert len(graph.vanilla_tables) == 6


def test_with_the_papers_vgg16_experiment_1s_untrained_network_is_experiment_2s():
    graph = protocol.repetition("paper", 0, "vgg16")
    assert set(graph.tagged("exp1", "vanilla")) <= set(graph.tagged("exp2", "vanilla"))
    assert len(graph) == len(protocol.repetition("paper", 0, "efficientnet_lite0")) - 6


def test_beyond_the_paper_shares_experiment_2s_runs():
    pairs = [protocol.CONTROL, protocol.Pair("leek2", "mnist")]
    beyond = protocol.beyond_the_paper(pairs, "small", 1, 0)
    assert len(beyond.tagged("beyond", "pretrained")) == 2 and len(beyond) == 2 + 2 * len(protocol.CONDITIONS)
    merged = protocol.repetition("small", 0, "efficientnet_lite0", pairs)
    assert len(merged) == len(protocol.repetition("small", 0, "efficientnet_lite0")) + len(beyond) - 2
    leek2 = next(n for n in merged.tagged("beyond", "pretrained") if n.config.dataset == "leek2")
    assert ("exp2", "pretrained") in leek2.tags and len(leek2.tables) == 6  # its cosine tables, merged


def test_a_graph_refuses_a_parent_it_does_not_hold():
    other = Graph().add(RunConfig("mnist", "translated", "tiny"))
    with pytest.raises(ValueError, match="not a node of this graph: add it first"):
        Graph().add(RunConfig("mnist", "one_location", "tiny"), other)


def test_the_imagenet_model_is_a_choice_kept_with_the_runs(tmp_path):
    root = tmp_path / "paper"
    assert repetition.size("paper", tmp_path) == len(protocol.repetition("paper", 0, "vgg16"))  # the preset's
    from transinv.experiments import imagenet_model, record_imagenet_model
    record_imagenet_model(root, "efficientnet_lite0")
    assert imagenet_model("paper", root) == "efficientnet_lite0" == imagenet_model("paper", root, "recorded")
    assert repetition.size("paper", tmp_path) == len(protocol.repetition("paper", 0, "efficientnet_lite0"))
    with pytest.raises(ValueError, match="were made with imagenet_model='efficientnet_lite0'"):
        imagenet_model("paper", root, "vgg16")
    with pytest.raises(ValueError, match="unknown imagenet_model 'resnet'"):
        imagenet_model("paper", root, "resnet")


@pytest.mark.slow
def test_a_budget_stops_it_and_the_next_call_finishes_it(tmp_path, capsys):
    runs = repetition.size("tiny", tmp_path)
    cut = repetition.run_repetition("tiny", 0, tmp_path, budget_seconds=20, workers=2, device="cpu")
    assert not cut["complete"] and cut["left_unfinished"] > 0 and cut["finished_runs"] < runs
    whole = repetition.run_repetition("tiny", 0, tmp_path, workers=2, device="cpu")
    assert whole["complete"] and whole["finished_runs"] == runs == whole["runs_in_repetition"]
    assert whole["trained_now"] == runs - cut["finished_runs"]  # nothing trained twice
    spent = whole["where_the_time_went"]  # the second call's own seconds, though it resumed runs cut at the budget
    assert 0 < spent["runs_trained_now"] <= spent["worker_seconds"] * 1.02  # (polling: runs end up to 1 s late)
    assert spent["worker_seconds"] == pytest.approx(spent["runs_trained_now"] + spent["rest"], abs=0.2)
    ended = [line.split("] ")[1].split(":")[0] for line in capsys.readouterr().out.splitlines()
             if line.startswith("[") and " iterations (" in line]  # the runs, as they finished
    for k, run_id in enumerate(ended):  # fine-tunings start once their pretraining is done ...
        parent = Run(tmp_path / "tiny" / run_id).parent
        assert parent is None or parent.id not in ended or ended.index(parent.id) < k  # (not in: done at the cut)
    first_finetuning = min(k for k, run_id in enumerate(ended) if "-finetuned-" in run_id)
    assert any("efficientnet_lite0" in run_id for run_id in ended[first_finetuning:])  # ... not in waves

    archive = repetition.pack(tmp_path, "tiny", whole, tmp_path / "out" / "tables.tar.gz")
    names = repetition.unpack(archive, tmp_path / "elsewhere")
    assert not any(n.endswith("ckpt.pt") for n in names)
    cosine_tables = [n for n in names if "/cosine-" in n]  # computed where the models were: they do not travel
    graph = protocol.repetition("tiny", 0, "efficientnet_lite0")
    assert len(cosine_tables) == sum(len(n.tables) for n in graph) + len(graph.vanilla_tables)
    for kind in ("layers", "readout"):  # the representation tables, made beside them
        assert len([n for n in names if f"/{kind}-" in n]) == len(cosine_tables)
    assert repetition.finished_in_repetition("tiny", 0, tmp_path / "elsewhere") == runs
    note = repetition.repetitions_note("tiny", tmp_path / "elsewhere", 2)
    assert "1 of 2 repetitions complete" in note and "laptop version" in note
    assert len(finished_runs(tmp_path / "elsewhere" / "tiny")) == runs
    record = json.loads((tmp_path / "elsewhere" / "tiny" / "repetitions" / "seed-0.json").read_text())
    assert record["complete"] and record["seed"] == 0 and record["imagenet_model"] == "efficientnet_lite0"


def test_the_committed_paper_seed_0_leaves_whole_only_the_leek2_and_emnist18_families():
    """The first GPU call's runs: a forgetful call keeps the whole families and trains the others again whole."""
    from transinv.experiments import results_dir
    from transinv.scheduler import families
    rows = families(repetition.graph("paper", 0, "auto"), results_dir("auto", "paper"), device="cpu")
    pretrainings = {row["family"].split("-vanilla")[0]: row for row in rows if "-one_location-" not in row["family"]}
    assert {name for name, row in pretrainings.items() if row["whole"]} == {
        "emnist18-areas", "emnist18-translated", "leek2-translated"}
    assert {name for name, row in pretrainings.items() if not row["whole"] and row["finished"]} == {
        f"{d}-translated" for d in ("mnist", "fmnist", "kmnist", "emnist", "leek10")}
    assert sum(row["finished"] for row in rows) == repetition.finished_in_repetition("paper", 0, "auto") == 21
