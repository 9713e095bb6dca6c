"""Issue 28's experiment: its verdict's rule on tables made up to decide it, and its runs at the tiny preset (slow)."""
import pandas as pd
import pytest

from transinv.architectures import (architecture_cosines, architecture_readout, architecture_table, architectures,
                                    by_architecture, readout_layer)
from transinv.verdicts import NOT_RUN, NOT_TESTABLE, architectures_verdict, claims_table


def networks(rows):
    """A table like architecture_table's from (model, condition, away, learned) rows."""
    return pd.DataFrame([{"model": m, "condition": c, "away_normalized": a, "own_learned": ok,
                          "pretrain_learned": True if c == "fine-tuned" else float("nan")} for m, c, a, ok in rows])


def test_every_architecture_not_invariant_by_design_learns_it():
    text, verdict = architectures_verdict(networks([
        ("vgg16_small", "vanilla", 5, True), ("vgg16_small", "fine-tuned", 70, True),
        ("resnet18_small", "vanilla", 10, True), ("resnet18_small", "fine-tuned", 60, True)]))
    assert verdict == "supported" and "2 learn invariance" in text and "by design (vanilla ≥ 50): none" in text


def test_some_learn_it_and_one_is_invariant_by_design():
    text, verdict = architectures_verdict(networks([
        ("vgg16_small", "vanilla", 5, True), ("vgg16_small", "fine-tuned", 70, True),
        ("resnet18_small", "vanilla", 10, True), ("resnet18_small", "fine-tuned", 30, True),
        ("vgg16_bn_gap_small", "vanilla", 80, True), ("vgg16_bn_gap_small", "fine-tuned", 90, True)]))
    assert verdict == "partly supported" and "vgg16_bn_gap_small" in text.split(";")[0]
    assert "of the 2 not invariant from scratch" in text


def test_networks_that_did_not_learn_decide_nothing():
    table = networks([("vgg16_small", "vanilla", 5, True), ("vgg16_small", "fine-tuned", 90, False),
                      ("resnet18_small", "vanilla", 10, True), ("resnet18_small", "fine-tuned", 5, True)])
    text, verdict = architectures_verdict(table)
    assert verdict == "not supported" and "3 of 4 networks learned" in text and "1 learn" not in text
    assert architectures_verdict(networks([("vgg16_small", "vanilla", 5, False)]))[1] == NOT_TESTABLE
    assert architectures_verdict(networks([("vgg16_small", "vanilla", 60, True)]))[1] == NOT_TESTABLE
    assert architectures_verdict(networks([]))[1] == NOT_RUN


def test_the_readout_layer_is_the_authors_where_there_is_one():
    assert readout_layer(["conv", "fc6", "fc6 relu", "fc7", "fc7 relu"]) == "fc7 relu"
    assert readout_layer(["penultimate"]) == "penultimate"


@pytest.mark.slow
def test_the_experiment_at_the_tiny_preset(tmp_path):
    result = architectures("tiny", 1, 0, tmp_path, architectures=["resnet18_small", "vgg16_bn_gap_small"],
                           pretrain="mnist")
    assert [len(part) for part in result] == [6, 2, 4]
    assert {f.config["model"] for f in result.finetuned} == {"resnet18_small", "vgg16_bn_gap_small"}
    assert all(f.parent.config["model"] == f.config["model"] for f in result.finetuned)
    table = architecture_table(result)
    assert len(table) == 10 and set(table["condition"]) == {"vanilla", "fine-tuned"}
    assert set(by_architecture(table).index.get_level_values("condition")) == {"vanilla", "fine-tuned"}
    cosines = architecture_cosines(result)
    assert set(cosines["condition"]) == {"untrained", "one location", "pretrained", "fine-tuned"}
    readout = architecture_readout(result)
    assert set(readout["layer"]) == {"penultimate"} and len(readout) == 4 * 4  # 4 networks per fine-tuning
    assert readout[["at", "away"]].notna().all().all()
    assert architectures_verdict(table)[0]  # tiny networks learn nothing: which verdict does not matter here


def test_the_summary_has_a_row_for_it():
    from test_verdicts import tables  # every claim of the paper reproduced
    table = networks([("vgg16_small", "vanilla", 5, True), ("vgg16_small", "fine-tuned", 70, True)])
    claims = claims_table(**tables(), architectures=table)
    assert claims.loc["beyond the paper: architectures", "verdict"] == "supported"
    assert "beyond the paper: architectures" not in claims_table(**tables()).index
    waiting = claims_table(**tables(), architectures=table, architectures_expected=["vgg16_small", "resnet18_small"])
    assert waiting.loc["beyond the paper: architectures", "verdict"] == NOT_RUN
    assert "resnet18_small are not finished" in waiting.loc["beyond the paper: architectures", "we measured"]
