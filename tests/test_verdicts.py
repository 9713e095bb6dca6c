"""The verdict rules of transinv.verdicts, claim by claim: each threshold at its exact value, each
sub-condition alone, the "partly" cases and the "not testable" gate.

Every test starts from one set of tables where all five claims are reproduced, and changes one
number; the verdicts of the other claims must not move. The thresholds are typed as numbers here, not
imported: a test that read them from the module would move with them.
"""
import math

import pandas as pd
import pytest

from transinv.verdicts import FORGETTING, INVARIANT, LEARNED, NEAR_CHANCE, NOT_TESTABLE, claims_table



def under(x):
    """The float just under x."""
    return math.nextafter(x, -math.inf)


def over(x):
    """The float just over x."""
    return math.nextafter(x, math.inf)


def rows(pretrain, away, own=0.9, pretrain_own=None, model="vgg16_small", pretrain_placement=None):
    """Summary rows (transinv.tables.summarize's columns) of networks pretrained on ``pretrain``: one per
    fine-tuning dataset, ``away`` = {dataset: normalized accuracy away from the trained location}."""
    if pretrain_own is None:
        pretrain_own = float("nan") if pretrain in ("vanilla", "imagenet") else 0.9
    return pd.DataFrame([{"pretrain": pretrain, "pretrain_placement": pretrain_placement, "dataset": d, "model": model,
                          "placement": "one_location", "seed": 0, "away_normalized": v, "normalized": v,
                          "own_accuracy": own, "pretrain_own_accuracy": pretrain_own} for d, v in away.items()])


def cosines(pairs, own=0.9, pretrain_own=0.9):
    """A cosine table: ``pairs`` = {(pretrain, finetune): (vanilla, pretrained, fine-tuned) cosine away}."""
    return pd.DataFrame([{"pretrain": p, "finetune": f, "condition": c, "dx": dx, "seed": 0, "label": 0,
                          "cosine": 1.0 if dx == 0 else v,
                          "own_accuracy": float("nan") if c == "vanilla" else own,
                          "pretrain_own_accuracy": pretrain_own}
                         for (p, f), values in pairs.items()
                         for c, v in zip(("vanilla", "pretrained", "fine-tuned"), values) for dx in (0, 10, 20)])


def tables(**changes):
    """The five inputs of claims_table, every claim reproduced, with some replaced by ``changes``."""
    base = {
        "exp1": pd.concat([rows("imagenet", {"mnist": 90, "leek2": 90}), rows("vanilla", {"mnist": 5, "leek2": 5})]),
        "exp2": pd.concat([rows("mnist", {"fmnist": 90, "leek2": 90}), rows("kmnist", {"fmnist": 90, "leek2": 90}),
                           rows("vanilla", {"fmnist": 5, "leek2": 5})]),
        "cosines": cosines({("mnist", "fmnist"): (0.1, 0.9, 0.5), ("mnist", "leek2"): (0.1, 0.9, 0.9)}),
        "exp3": pd.concat([rows("emnist18 (areas)", {"mnist": 5}, pretrain_placement="areas"),
                           rows("emnist18", {"mnist": 90}, pretrain_placement="translated"),
                           rows("vanilla", {"mnist": 5})]),
        "exp3_pretraining": pd.DataFrame({"placement": ["areas", "translated"], "normalized": [10, 90],
                                          "own_accuracy": [0.9, 0.9]}),
    }
    return {**base, **changes}


def verdicts(**changes):
    return claims_table(**tables(**changes))["verdict"].tolist()


def verdict(claim, **changes):
    """The verdict of one claim; the others must stay reproduced."""
    found = verdicts(**changes)
    assert [v for k, v in enumerate(found, 1) if k != claim] == ["reproduced"] * 4, found
    return found[claim - 1]


def test_the_baseline_reproduces_every_claim():
    assert verdicts() == ["reproduced"] * 5


def test_the_thresholds_are_the_stated_ones():
    assert (LEARNED, INVARIANT, NEAR_CHANCE, FORGETTING) == (0.75, 50, 20, 0.1)  # stated in the methods page


# Claim 1: vanilla networks near chance away from the trained location (< NEAR_CHANCE), in experiments 1 and 2.

def claim1(exp1_vanilla, exp2_vanilla=None, own=0.9):
    """Claim 1's verdict with these vanilla networks ({dataset: normalized accuracy away}) in experiments 1 and 2."""
    exp1 = pd.concat([rows("imagenet", {"mnist": 90, "leek2": 90}), rows("vanilla", exp1_vanilla, own=own)])
    exp2 = pd.concat([rows("mnist", {"fmnist": 90, "leek2": 90}), rows("kmnist", {"fmnist": 90, "leek2": 90}),
                      rows("vanilla", exp2_vanilla or {"fmnist": 5})])
    return verdict(1, exp1=exp1, exp2=exp2)


@pytest.mark.parametrize("away, expected", [
    (under(20), "reproduced"),   # just under 20: near chance (so a threshold of 6 would fail this)
    (20, "partly"),              # exactly 20 is not near chance; the other datasets still are
])
def test_claim1_near_chance_threshold(away, expected):
    assert claim1({"mnist": away, "leek2": 5}) == expected


def test_claim1_partly_and_not():
    assert claim1({"mnist": 5, "leek2": 60}) == "partly"                  # 2 of 3 datasets near chance
    assert claim1({"mnist": 5, "leek2": 60, "kmnist": 60}) == "partly"    # 2 of 4: half is enough for "partly"
    assert claim1({"mnist": 60, "leek2": 60}) == "not reproduced"         # 1 of 3


def test_claim1_counts_experiment_2s_vanilla_networks():
    assert claim1({"mnist": 5, "leek2": 5}, {"fmnist": 5, "kmnist": 60}) == "partly"  # exp1's at chance, exp2's not
    exp2 = pd.concat([rows("mnist", {"fmnist": 90, "leek2": 90}), rows("vanilla", {"kmnist": 60})])
    assert "kmnist 60" in claims_table(**tables(exp2=exp2)).loc[1, "we measured"]


def test_claim1_counts_only_vanilla_networks_that_learned():
    assert claim1({"mnist": 60, "leek2": 60}, own=0.75) == "not reproduced"  # exactly 0.75 learned
    assert claim1({"mnist": 60, "leek2": 60}, own=under(0.75)) == "reproduced"  # left out: exp2's remain


# Claim 2: ImageNet-pretrained networks invariant (>= INVARIANT) on every dataset.

def imagenet(away, vanilla=5):
    return pd.concat([rows("imagenet", away), rows("vanilla", {d: vanilla for d in away})])


@pytest.mark.parametrize("away, expected", [
    (50, "reproduced"),      # exactly 50 is invariant (so a threshold of 80 would fail this)
    (under(50), "partly"),   # just under: not invariant, but 45 points above vanilla
])
def test_claim2_invariant_threshold(away, expected):
    assert verdict(2, exp1=imagenet({"mnist": away, "leek2": away})) == expected


def test_claim2_partly_and_not():
    assert verdict(2, exp1=imagenet({"mnist": 90, "leek2": 10})) == "partly"   # one dataset invariant
    # none invariant: partly when the mean gain over vanilla (at 5) is above 20, not reproduced at exactly 20
    assert verdict(2, exp1=imagenet({"mnist": over(25), "leek2": over(25)})) == "partly"
    assert verdict(2, exp1=imagenet({"mnist": 25, "leek2": 25})) == "not reproduced"


# Claim 3: pretraining / fine-tuning pairs invariant (>= INVARIANT) in at least 75% of them (25%: partly).

def exp2(*values):
    """Four pairs (mnist, kmnist) x (fmnist, leek2) with these normalized accuracies away, and vanilla networks."""
    a, b, c, d = values
    return pd.concat([rows("mnist", {"fmnist": a, "leek2": b}), rows("kmnist", {"fmnist": c, "leek2": d}),
                      rows("vanilla", {"fmnist": 5, "leek2": 5})])


@pytest.mark.parametrize("values, expected", [
    ((50, 50, 50, 10), "reproduced"),              # 3 of 4, each exactly at the threshold
    ((90, 90, under(50), 10), "partly"),           # 2 of 4: one is just under the threshold
    ((90, 10, 10, 10), "partly"),                  # 1 of 4 (not enough for "reproduced")
    ((under(50), 10, 10, 10), "not reproduced"),   # none
])
def test_claim3_share_of_invariant_pairs(values, expected):
    assert verdict(3, exp2=exp2(*values)) == expected


# Claim 4: invariance acquired (pretrained cosine > vanilla's) and some fine-tuning forgets (a drop >= FORGETTING).

@pytest.mark.parametrize("fmnist, expected", [
    ((0.1, 0.25, 0.15), "reproduced"),                   # acquired; the drop is exactly 0.1
    ((0.1, 0.25, over(0.15)), "partly"),             # acquired; a drop just under 0.1: no forgetting
    ((0.1, 0.9, 0.9), "partly"),                         # acquired, nothing forgotten
    ((0.9, 0.5, 0.3), "partly"),                         # not acquired, but forgetting
    ((0.9, 0.5, 0.5), "not reproduced"),                 # neither
])
def test_claim4_acquired_and_forgetting(fmnist, expected):
    assert 0.25 - 0.15 == 0.1  # the exact case above is exact in floating point
    table = cosines({("mnist", "fmnist"): fmnist, ("kmnist", "fmnist"): (fmnist[0], fmnist[1], fmnist[1])})
    assert verdict(4, cosines=table) == expected


def test_claim4_acquired_means_every_pretraining():
    table = cosines({("mnist", "fmnist"): (0.1, 0.9, 0.5), ("kmnist", "fmnist"): (0.5, 0.5, 0.5)})
    assert verdict(4, cosines=table) == "partly"  # kmnist's pretrained network is no more invariant than vanilla


# Claim 5: (a) MNIST after segregated pretraining not invariant: < NEAR_CHANCE, or under half of the translated
# pretraining's; (b) EMNIST18 over the canvas after segregated pretraining > NEAR_CHANCE below the translated one.

def exp3(segregated, translated=90):
    return pd.concat([rows("emnist18 (areas)", {"mnist": segregated}, pretrain_placement="areas"),
                      rows("emnist18", {"mnist": translated}, pretrain_placement="translated"),
                      rows("vanilla", {"mnist": 5})])


def exp3_pretraining(areas, translated=90, own=0.9):
    return pd.DataFrame({"placement": ["areas", "translated"], "normalized": [areas, translated],
                         "own_accuracy": [own, 0.9]})


@pytest.mark.parametrize("segregated, translated, areas, expected", [
    (under(20), 30, 10, "reproduced"),    # (a) just under 20 (and not under half of 30)
    (20, 30, 10, "partly"),                  # (a) fails at exactly 20; (b) holds
    (under(45), 90, 10, "reproduced"),             # (a) under half of 90, though above 20
    (45, 90, 10, "partly"),                           # (a) exactly half: fails
    (5, 90, under(70), "reproduced"),              # (b) just over 20 points below the translated 90
    (5, 90, 70, "partly"),                            # (b) fails at exactly 20 points below; (a) holds
    (60, 90, 80, "not reproduced"),                   # neither
])
def test_claim5_parts_a_and_b(segregated, translated, areas, expected):
    assert verdict(5, exp3=exp3(segregated, translated), exp3_pretraining=exp3_pretraining(areas)) == expected


# Only networks that learned their own task (>= LEARNED), from a pretraining that learned, are evidence.

@pytest.mark.parametrize("claim, changes", [
    (1, {"exp1": pd.concat([rows("imagenet", {"mnist": 90}), rows("vanilla", {"mnist": 5}, own=0.5)]),
         "exp2": pd.concat([rows("mnist", {"fmnist": 90}), rows("vanilla", {"fmnist": 5}, own=0.5)])}),
    (2, {"exp1": pd.concat([rows("imagenet", {"mnist": 90, "leek2": 90}, own=under(0.75)),
                            rows("vanilla", {"mnist": 5, "leek2": 5})])}),
    (3, {"exp2": pd.concat([rows("mnist", {"fmnist": 90, "leek2": 90}, pretrain_own=0.5),  # pretraining failed
                            rows("kmnist", {"fmnist": 90, "leek2": 90}, own=0.5),          # fine-tuning failed
                            rows("vanilla", {"fmnist": 5, "leek2": 5})])}),
    (4, {"cosines": cosines({("mnist", "fmnist"): (0.1, 0.9, 0.5)}, own=0.5)}),
    (5, {"exp3_pretraining": exp3_pretraining(10, own=0.5)}),
])
def test_each_claim_is_not_testable_when_its_networks_did_not_learn(claim, changes):
    found = verdicts(**changes)
    assert found[claim - 1].startswith(NOT_TESTABLE), found
    assert [v for k, v in enumerate(found, 1) if k != claim] == ["reproduced"] * 4, found


def test_claim3_judges_only_the_pairs_that_learned():
    changed = exp2(90, 90, 10, 10)
    changed.loc[changed["pretrain"] == "kmnist", "pretrain_own_accuracy"] = 0.5  # the pairs at 10 are left out
    text = claims_table(**tables(exp2=changed)).loc[3]
    assert text["verdict"] == "reproduced" and "2 of 4 pairs of networks are evidence" in text["we measured"]
