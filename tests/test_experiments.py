import json

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")

from transinv import experiments as ex  # noqa: E402
from transinv import protocol, provenance, tables  # noqa: E402
from transinv.scheduler import run_all  # noqa: E402
from transinv.runs import RunConfig, finished_runs, run  # noqa: E402
from transinv.verdicts import claims_table  # noqa: E402

DIGITS = RunConfig("mnist", "one_location", classes=(0, 1, 2))


def test_choose_datasets():
    assert ex.choose_datasets("all") == list(ex.PAPER_DATASETS)
    assert ex.choose_datasets("mnist, leek2") == ["mnist", "leek2"]
    assert ex.choose_datasets(["kmnist"]) == ["kmnist"]
    with pytest.raises(ValueError, match="unknown dataset 'cifar': choose 'all' or among emnist, fmnist"):
        ex.choose_datasets("mnist,cifar")


def test_experiment_graphs():
    exp1 = [n.config for n in protocol.experiment1(["mnist", "leek2"], "small", 2, 3, "efficientnet_lite0")]
    assert len(exp1) == 8 and {c.init for c in exp1} == {"imagenet", "vanilla"}
    assert {c.model for c in exp1} == {"efficientnet_lite0"} and {c.seed for c in exp1} == {3, 4}
    assert {n.config.placement for n in protocol.experiment3("small", 1, 0).tagged("exp3", "pretrained")} == {
        "areas", "translated"}
    with pytest.raises(ValueError, match="repetitions must be a positive integer"):
        protocol.experiment2(["mnist"], ["mnist"], "small", 0, 0)


@pytest.mark.slow
def test_run_all_trains_side_by_side_then_reuses(tmp_path, capsys):
    configs = [RunConfig(d, "translated", "tiny") for d in ("mnist", "leek2")]  # a named preset: workers import it
    first = run_all(configs, tmp_path, workers=2)
    assert [r.config["dataset"] for r in first] == ["mnist", "leek2"] and all(r.finished for r in first)
    out = capsys.readouterr().out
    assert out.count(" iterations (") == 2 and "2 runs: 0 reused, 2 trained" in out
    again = run_all(configs, tmp_path, workers=2)
    assert [r.path for r in again] == [r.path for r in first]
    assert "2 runs: 2 reused, 0 trained" in capsys.readouterr().out


def test_summary_and_shared_results_without_models(tiny_preset, tmp_path):
    first = run(DIGITS, tmp_path, progress=False)
    row = tables.summarize([first]).iloc[0]
    assert row["pretrain"] == "vanilla" and row["n_classes"] == 3 and 0 <= row["away"] <= 1
    assert row["normalized"] == pytest.approx((row["accuracy"] - 1 / 3) / (2 / 3) * 100)

    kept = {p.name: p.read_bytes() for p in first.path.iterdir() if p.name != "ckpt.pt"}
    (first.path / "ckpt.pt").unlink()  # as in a clone: tables without the model
    assert run(DIGITS, tmp_path, progress=False).finished
    with pytest.raises(FileNotFoundError, match="need_model=True"):
        first.load_model()
    restored = run(DIGITS, tmp_path, progress=False, need_model=True)
    assert restored.has_model and restored.load_model().num_classes == 3
    assert {p.name: p.read_bytes() for p in first.path.iterdir() if p.name != "ckpt.pt"} == kept


def test_compute_by_kind_adds_up_the_runs_time():
    table = pd.DataFrame({
        "run": list("abcd"), "model": ["effnet", "effnet", "vgg", "vgg"],
        "pretrain": ["imagenet", "vanilla", "mnist", "kmnist"], "placement": ["one_location"] * 4,
        "iterations": [100, 300, 200, 400], "stop_reason": ["accuracy", "max_iters", "max_iters", "accuracy"],
        "seconds": [60.0, 180.0, 120.0, 240.0]})
    by_kind = tables.compute_by_kind(table)
    assert list(by_kind.index) == ["vgg, fine-tuned, one_location", "effnet, vanilla, one_location",
                                   "effnet, imagenet, one_location"]  # largest first; fine-tunings pooled
    assert by_kind.loc["vgg, fine-tuned, one_location"].tolist() == [2, 300, 1, 6.0, 0.6]
    assert by_kind["minutes"].sum() == 10 and by_kind["share"].sum() == pytest.approx(1)


def test_provenance_is_written_once(tiny_preset, tmp_path, capsys):
    run(DIGITS, tmp_path / "small", progress=False)
    provenance.main([str(tmp_path / "small")])
    record = json.loads((tmp_path / "small" / "provenance.json").read_text())
    assert record["preset"] == "small" and record["runs"] == 1 and record["run_compute_seconds"] > 0
    provenance.main([str(tmp_path / "small")])
    assert "kept" in capsys.readouterr().out


def learned_at(accuracy):
    """The fixtures' gate: a network with own accuracy 0.9 learned its task, one at 0.5 (or just under 0.75) did
    not; NaN (no network, or no pretraining) stays NaN."""
    return float("nan") if accuracy != accuracy else accuracy >= 0.75


def summary_rows(pretrain, datasets, away_normalized, model="vgg16_small", pretrain_placement=None, own=0.9,
                 placement="one_location"):
    parent = float("nan") if pretrain in ("vanilla", "imagenet") else own
    return pd.DataFrame([{"pretrain": pretrain, "pretrain_placement": pretrain_placement, "dataset": d, "model": model,
                          "placement": placement, "seed": 0, "away_normalized": away_normalized,
                          "normalized": away_normalized, "own_accuracy": own, "pretrain_own_accuracy": parent,
                          "own_learned": learned_at(own), "pretrain_learned": learned_at(parent), "criterion_at": 100}
                         for d in datasets])


def readout_rows(pretrained, finetuned, own=0.9):
    """A read-out table at the authors' layer, two classes: normalized accuracy away 5 for the untrained networks,
    ``pretrained`` for mnist's pretrained network on fmnist and leek2 items, ``finetuned`` after fine-tuning on fmnist
    (harder than mnist) and ``pretrained`` after fine-tuning on leek2 (easier)."""
    rows = []
    for finetune in ("fmnist", "leek2"):
        after = finetuned if finetune == "fmnist" else pretrained
        for condition, away in (("vanilla", 5), ("pretrained", pretrained), ("fine-tuned", after)):
            rows += [{"pretrain": "mnist", "finetune": finetune, "condition": condition, "seed": 0,
                      "layer": "fc7 relu", "x": dx, "dx": dx, "label": label, "n": 100,
                      "correct": 100 if dx == 0 else round(100 * (0.5 + away / 200)),
                      "own_accuracy": float("nan") if condition == "vanilla" else own,
                      "own_learned": float("nan") if condition == "vanilla" else learned_at(own),
                      "pretrain_own_accuracy": own, "pretrain_learned": learned_at(own)}
                     for dx in (0, 10) for label in (0, 1)]
    return pd.DataFrame(rows)


def cosine_rows(pretrained, finetuned, own=0.9):
    return pd.DataFrame([{"pretrain": "mnist", "finetune": "fmnist", "condition": c, "dx": dx, "cosine": v, "seed": 0,
                          "own_accuracy": float("nan") if c == "vanilla" else own, "pretrain_own_accuracy": own,
                          "own_learned": float("nan") if c == "vanilla" else learned_at(own),
                          "pretrain_learned": learned_at(own)}
                         for c, v in (("vanilla", 0.5), ("pretrained", pretrained), ("fine-tuned", finetuned))
                         for dx in (0, 10, 20)])


@pytest.mark.parametrize("learned", [True, False])
def test_verdicts_follow_the_measurements(learned):
    # learned: as the paper says; else pretraining teaches nothing, and segregation does not hurt
    good, segregated = (90, 5) if learned else (5, 90)
    sets = ["mnist", "leek2"]
    exp1 = pd.concat([summary_rows("imagenet", sets, good), summary_rows("vanilla", sets, 5)])
    # the paper's pattern: complex -> simple transfers, Leek2 to nothing; or nothing transfers at all
    exp2 = pd.concat([summary_rows("fmnist", sets, good), summary_rows("mnist", ["fmnist", "leek2"], good),
                      summary_rows("leek2", ["fmnist", "mnist"], 5), summary_rows("vanilla", sets, 5)])
    exp3 = pd.concat([summary_rows("emnist18 (areas)", ["mnist"], segregated, pretrain_placement="areas"),
                      summary_rows("emnist18", ["mnist"], 90, pretrain_placement="translated"),
                      summary_rows("vanilla", ["mnist"], 5)])
    exp3_pretraining = pd.DataFrame({"placement": ["areas", "translated"], "normalized": [segregated, 90],
                                     "own_accuracy": [0.9, 0.9], "own_learned": [True, True]})
    readout = readout_rows(80 if learned else 5, 40 if learned else 5)
    claims = claims_table(exp1, exp2, cosine_rows(0.9 if learned else 0.4, 0.6), exp3, exp3_pretraining,
                          readout=readout)
    assert claims.loc[1, "verdict"] == "reproduced"  # vanilla networks are at chance in both scenarios
    expected = "reproduced" if learned else "not reproduced"
    assert list(claims.loc[2:5, "verdict"]) == [expected] * 4
    assert "mnist 90" in claims.loc[2, "we measured"] or not learned


def test_networks_that_did_not_learn_are_not_evidence():
    from transinv.verdicts import NOT_TESTABLE, learning_note
    sets = ["mnist", "leek2"]
    # every network at chance on its own task: nothing can be judged, whatever the numbers away say
    exp1 = pd.concat([summary_rows("imagenet", sets, 90, own=0.1), summary_rows("vanilla", sets, 5, own=0.1)])
    exp2 = pd.concat([summary_rows("mnist", sets, 5, own=0.1), summary_rows("vanilla", sets, 5, own=0.1)])
    exp3 = pd.concat([summary_rows("emnist18 (areas)", ["mnist"], 5, pretrain_placement="areas", own=0.1),
                      summary_rows("vanilla", ["mnist"], 5, own=0.1)])
    exp3_pretraining = pd.DataFrame({"placement": ["areas", "translated"], "normalized": [5, 5],
                                     "own_accuracy": [0.1, 0.1], "own_learned": [False, False]})
    claims = claims_table(exp1, exp2, cosine_rows(0.4, 0.6, own=0.1), exp3, exp3_pretraining)
    assert all(v.startswith(NOT_TESTABLE) for v in claims["verdict"]), claims["verdict"].tolist()
    assert "(0 of 4 learned)" in claims.loc[1, "verdict"]
    # one pretraining learned, the other did not: only the first is judged, and the text says so
    exp2 = pd.concat([summary_rows("mnist", sets, 90), summary_rows("kmnist", sets, 5, own=0.1),
                      summary_rows("vanilla", sets, 5)])
    claim3 = claims_table(exp1, exp2, cosine_rows(0.9, 0.6), exp3, exp3_pretraining).loc[3]
    assert "2 of 4 pairs of networks are evidence" in claim3["we measured"]
    assert "(a) 1 of 1 off-diagonal pairs invariant" in claim3["we measured"]  # mnist -> leek2; mnist -> mnist apart
    note = learning_note(exp2)
    assert note.startswith("**2 of 6 networks did not learn**") and note.count("from kmnist") == 2


def test_explorer_widgets(tiny_preset, tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from transinv import explorer
    from transinv.datasets import load_dataset, select_classes

    titles = []  # outside a kernel an Output widget captures nothing: record what each redraw draws
    monkeypatch.setattr(explorer, "_redraw", lambda output, draw: (draw(), titles.append(
        [ax.get_title() for ax in plt.gcf().axes]), plt.close("all")))
    trained = run(DIGITS, tmp_path, progress=False)
    widget = explorer.prediction_explorer({"net": trained.load_model()},
                                          select_classes(load_dataset("mnist"), [0, 1, 2]), trained.preset)
    (network, item), (x, y) = widget.children[0].children, widget.children[1].children
    x0, y0 = trained.preset.trained_centre
    assert f"at ({x0}, {y0})" in titles[-1][0] and titles[-1][1] == "net"
    x.value = x.max
    assert f"at ({x.max}, {y0})" in titles[-1][0]
    browser = explorer.heatmap_browser(finished_runs(tmp_path))
    assert [value for _, value in browser.children[0].options] == [trained.id] and "mean" in titles[-1][0]
    assert browser.children[0].label.startswith("mnist one location, seed 0")
    with pytest.raises(ValueError, match="no finished runs"):
        explorer.heatmap_browser([])


def test_a_claim_with_no_finished_network_is_not_run_yet():
    from transinv.verdicts import NOT_RUN
    sets = ["mnist", "leek2"]
    exp1 = summary_rows("vanilla", sets, 5).iloc[:0]  # a repetition under way: experiment 1 not trained yet
    exp2 = pd.concat([summary_rows("mnist", sets, 90), summary_rows("vanilla", sets, 5)])
    exp3 = pd.concat([summary_rows("emnist18 (areas)", ["mnist"], 5, pretrain_placement="areas"),
                      summary_rows("vanilla", ["mnist"], 5)])
    exp3_pretraining = pd.DataFrame({"placement": ["areas", "translated"], "normalized": [5, 90],
                                     "own_accuracy": [0.9, 0.9], "own_learned": [True, True]})
    claims = claims_table(exp1, exp2, cosine_rows(0.9, 0.6), exp3, exp3_pretraining)
    assert claims.loc[2, "verdict"] == NOT_RUN
    assert claims.loc[2, "we measured"].startswith("no ImageNet-pretrained networks finished yet")
    assert claims.loc[3, "verdict"] == "partly"  # mnist -> leek2 invariant; no pair to compare it with
