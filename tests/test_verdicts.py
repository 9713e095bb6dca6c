"""The verdict rules of transinv.verdicts, claim by claim: each threshold at its exact value, each
sub-condition alone, the "partly" cases and the "not testable" gate.

Every test starts from one set of tables where all five claims are reproduced, and changes one
number; the verdicts of the other claims must not move. The thresholds are typed as numbers here, not
imported: a test that read them from the module would move with them.
"""
import math

import pandas as pd
import pytest

from transinv.verdicts import (ACQUIRED, ASYMMETRY, CRITERION, FORGETTING, INVARIANT, LEARNED, MOST, NEAR_CHANCE,
                               NOT_TESTABLE, claims_table)


def under(x):
    """The float just under x."""
    return math.nextafter(x, -math.inf)


def over(x):
    """The float just over x."""
    return math.nextafter(x, math.inf)


def learned_at(accuracy):
    """The fixtures' gate: a network with own accuracy 0.9 learned its task, one at 0.5 (or just under 0.75) did
    not; NaN (no network, or no pretraining) stays NaN."""
    return float("nan") if accuracy != accuracy else accuracy >= 0.75


def rows(pretrain, away, own=0.9, pretrain_own=None, model="vgg16_small", pretrain_placement=None):
    """Summary rows (transinv.tables.summarize's columns) of networks pretrained on ``pretrain``: one per
    fine-tuning dataset, ``away`` = {dataset: normalized accuracy away from the trained location}."""
    if pretrain_own is None:
        pretrain_own = float("nan") if pretrain in ("vanilla", "imagenet") else 0.9
    return pd.DataFrame([{"pretrain": pretrain, "pretrain_placement": pretrain_placement, "dataset": d, "model": model,
                          "placement": "one_location", "seed": 0, "away_normalized": v, "normalized": v,
                          "own_accuracy": own, "pretrain_own_accuracy": pretrain_own, "own_learned": learned_at(own),
                          "pretrain_learned": learned_at(pretrain_own), "criterion_at": 100} for d, v in away.items()])


def cosines(pairs, own=0.9, pretrain_own=0.9):
    """A cosine table: ``pairs`` = {(pretrain, finetune): (vanilla, pretrained, fine-tuned) cosine away}."""
    return pd.DataFrame([{"pretrain": p, "finetune": f, "condition": c, "dx": dx, "seed": 0, "label": 0,
                          "cosine": 1.0 if dx == 0 else v,
                          "own_accuracy": float("nan") if c == "vanilla" else own,
                          "pretrain_own_accuracy": pretrain_own,
                          "own_learned": float("nan") if c == "vanilla" else learned_at(own),
                          "pretrain_learned": learned_at(pretrain_own)}
                         for (p, f), values in pairs.items()
                         for c, v in zip(("vanilla", "pretrained", "fine-tuned"), values) for dx in (0, 10, 20)])


def readouts(pairs, own=0.9, pretrain_own=0.9, per_label=1000):
    """A read-out table (transinv.analysis.representation_conditions): ``pairs`` = {(pretrain, finetune):
    (vanilla, pretrained, fine-tuned) normalized read-out accuracy away}, on two classes, at the authors' layer
    (and the same numbers reversed at another layer, which the verdict must not read). Counts are whole: values
    in steps of 0.2."""
    table = []
    for (p, f), values in pairs.items():
        for c, v in zip(("vanilla", "pretrained", "fine-tuned"), values):
            for layer, value in (("fc7 relu", v), ("fc6", 100 - v)):
                for dx, label in ((0, 0), (0, 1), (10, 0), (10, 1)):
                    correct = per_label if dx == 0 else round(per_label * (0.5 + value / 200))
                    table.append({"pretrain": p, "finetune": f, "condition": c, "seed": 0, "layer": layer, "x": dx,
                                  "dx": dx, "label": label, "n": per_label, "correct": correct,
                                  "own_accuracy": {"vanilla": float("nan"), "pretrained": pretrain_own}.get(c, own),
                                  "pretrain_own_accuracy": pretrain_own,
                                  "own_learned": learned_at({"vanilla": float("nan"),
                                                             "pretrained": pretrain_own}.get(c, own)),
                                  "pretrain_learned": learned_at(pretrain_own)})
    return pd.DataFrame(table)


def exp2(fm_mn=90, fm_l2=90, mn_l2=90, mn_fm=60, l2_fm=5, l2_mn=5, diagonal=None):
    """Experiment 2 with pretrainings fmnist, mnist, leek2 (most complex first) fine-tuned on the other two:
    complex -> simple pairs fm_mn, fm_l2, mn_l2; simple -> complex mn_fm, l2_fm, l2_mn; ``diagonal``: each
    pretraining also fine-tuned on its own dataset, at that value."""
    same = (lambda d: {d: diagonal}) if diagonal is not None else (lambda d: {})
    return pd.concat([rows("fmnist", {"mnist": fm_mn, "leek2": fm_l2, **same("fmnist")}),
                      rows("mnist", {"fmnist": mn_fm, "leek2": mn_l2, **same("mnist")}),
                      rows("leek2", {"fmnist": l2_fm, "mnist": l2_mn, **same("leek2")}),
                      rows("vanilla", {"fmnist": 5, "mnist": 5, "leek2": 5})])


READOUT = {("mnist", "fmnist"): (5, 80, 40), ("mnist", "leek2"): (5, 80, 80),     # a harder fine-tuning forgets,
           ("kmnist", "fmnist"): (5, 80, 40), ("kmnist", "leek2"): (5, 80, 80)}   # an easier one does not


def tables(**changes):
    """The six inputs of claims_table, every claim reproduced, with some replaced by ``changes``."""
    base = {
        "exp1": pd.concat([rows("imagenet", {"mnist": 90, "leek2": 90}), rows("vanilla", {"mnist": 5, "leek2": 5})]),
        "exp2": exp2(),
        "cosines": cosines({("mnist", "fmnist"): (0.97, 0.9, 0.5), ("mnist", "leek2"): (0.97, 0.9, 0.9)}),
        "readout": readouts(READOUT),
        "exp3": pd.concat([rows("emnist18 (areas)", {"mnist": 5}, pretrain_placement="areas"),
                           rows("emnist18", {"mnist": 90}, pretrain_placement="translated"),
                           rows("vanilla", {"mnist": 5})]),
        "exp3_pretraining": pd.DataFrame({"placement": ["areas", "translated"], "normalized": [10, 90],
                                          "own_accuracy": [0.9, 0.9], "own_learned": [True, True]}),
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


def test_the_thresholds_are_the_stated_ones():  # stated in the methods page
    assert (CRITERION, LEARNED, INVARIANT, NEAR_CHANCE, MOST, ASYMMETRY, ACQUIRED, FORGETTING) == (
        0.75, 50, 50, 20, 0.5, 20, 20, 10)


# Claim 1: vanilla networks near chance away from the trained location (< NEAR_CHANCE), in experiments 1 and 2.

def claim1(exp1_vanilla, exp2_vanilla=None, own=0.9):
    """Claim 1's verdict with these vanilla networks ({dataset: normalized accuracy away}) in experiments 1 and 2."""
    exp1 = pd.concat([rows("imagenet", {"mnist": 90, "leek2": 90}), rows("vanilla", exp1_vanilla, own=own)])
    exp2_ = pd.concat([exp2().query("pretrain != 'vanilla'"), rows("vanilla", exp2_vanilla or {"fmnist": 5})])
    return verdict(1, exp1=exp1, exp2=exp2_)


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
    exp2_ = pd.concat([exp2().query("pretrain != 'vanilla'"), rows("vanilla", {"kmnist": 60})])
    assert "kmnist 60" in claims_table(**tables(exp2=exp2_)).loc[1, "we measured"]


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


def test_claim2_names_the_network_it_tested():
    lite = pd.concat([rows("imagenet", {"mnist": 90}, model="efficientnet_lite0"), rows("vanilla", {"mnist": 5})])
    text = claims_table(**tables(exp1=lite)).loc[2, "we measured"]
    assert text.startswith("ImageNet EfficientNet-Lite0 (in place of the paper's VGG16, whose ImageNet weights are "
                           "not available offline)")
    vgg = pd.concat([rows("imagenet", {"mnist": 90}, model="vgg16"), rows("vanilla", {"mnist": 5})])
    assert claims_table(**tables(exp1=vgg)).loc[2, "we measured"].startswith("ImageNet VGG16 (the paper's network)")


# Claim 3, on the off-diagonal pairs: (a) most invariant (a share above 0.5 at >= INVARIANT); (b) complex -> simple
# above simple -> complex by >= 20 points; (c) the Leek2 pretraining below 20, and >= 20 under the other
# pretrainings. All three: reproduced; some: partly.

@pytest.mark.parametrize("pairs, expected", [
    ({"mn_fm": 50}, "reproduced"),                  # 4 of 6 invariant, one exactly at 50
    ({"mn_fm": under(50)}, "partly"),               # 3 of 6: exactly half is not most; (b), (c) hold
    ({"fm_mn": 60, "fm_l2": 60, "mn_l2": 60, "mn_fm": 100, "l2_fm": 10, "l2_mn": 10}, "reproduced"),  # (b) at 20
    ({"fm_mn": 60, "fm_l2": 60, "mn_l2": 59.97, "mn_fm": 100, "l2_fm": 10, "l2_mn": 10}, "partly"),  # 19.99 apart
    ({"l2_fm": under(20), "l2_mn": under(20)}, "reproduced"),   # (c): the Leek2 row just under 20
    ({"l2_fm": 20, "l2_mn": 20}, "partly"),                     # (c) fails at exactly 20
    ({k: 30 for k in ("fm_mn", "fm_l2", "mn_l2", "mn_fm", "l2_fm", "l2_mn")}, "not reproduced"),  # none holds
    # nothing transfers: a low Leek2 row alone (19 under the others) is not the paper's pattern
    ({"fm_mn": 24, "fm_l2": 24, "mn_l2": 24, "mn_fm": 24, "l2_fm": 5, "l2_mn": 5}, "not reproduced"),
    ({"fm_mn": 25, "fm_l2": 25, "mn_l2": 25, "mn_fm": 25, "l2_fm": 5, "l2_mn": 5}, "partly"),  # 20 under: (c) holds
])
def test_claim3_parts(pairs, expected):
    assert verdict(3, exp2=exp2(**pairs)) == expected


def test_claim3_leaves_the_diagonal_apart():
    # 3 of 6 off-diagonal pairs invariant: (a) fails, however invariant the diagonal is
    text = claims_table(**tables(exp2=exp2(mn_fm=10, diagonal=100))).loc[3]
    assert text["verdict"] == "partly" and "3 of 6 off-diagonal pairs invariant" in text["we measured"]
    assert "the diagonal (items already seen translated): 3 of 3 invariant" in text["we measured"]


def test_claim3_without_a_leek2_pretraining_is_at_most_partly():
    no_leek2 = exp2()
    no_leek2 = no_leek2[no_leek2["pretrain"] != "leek2"]
    text = claims_table(**tables(exp2=no_leek2)).loc[3]
    assert text["verdict"] == "partly" and "(c) Leek2 pretraining, mean away n/a" in text["we measured"]
    assert "the other pretrainings 82" in text["we measured"]
    assert "transfers to nothing): not testable" in text["we measured"]


# Claim 4, on the linear read-out at fc7 after its ReLU: (a) acquired, pretrained minus untrained >= 20 for most
# pretrainings; (b) forgetting, fine-tuning on a more complex dataset drops it >= 10 points more than on a simpler one.

def claim4(pairs, **options):
    return verdict(4, readout=readouts({**READOUT, **pairs}, **options))


@pytest.mark.parametrize("pairs, expected", [
    ({("mnist", "fmnist"): (5, 25.2, 5), ("mnist", "leek2"): (5, 25.2, 25.2)}, "reproduced"),  # mnist: 20.2 over
    ({("mnist", "fmnist"): (5, 24.8, 5), ("mnist", "leek2"): (5, 24.8, 24.8),                 # 19.8 for both:
      ("kmnist", "fmnist"): (5, 24.8, 5), ("kmnist", "leek2"): (5, 24.8, 24.8)}, "partly"),   # not acquired
    ({("mnist", "fmnist"): (5, 24.8, 5), ("mnist", "leek2"): (5, 24.8, 24.8)}, "partly"),     # 1 of 2 is not most
])
def test_claim4_acquired_threshold(pairs, expected):
    assert claim4(pairs) == expected


@pytest.mark.parametrize("harder, expected", [
    (69.8, "reproduced"),    # drops: 10.2 on fmnist (harder), 0 on leek2
    (70.2, "partly"),        # 9.8: no forgetting; acquired holds
])
def test_claim4_forgetting_threshold(harder, expected):
    pairs = {(p, "fmnist"): (5, 80, harder) for p in ("mnist", "kmnist")}
    assert claim4(pairs) == expected


def test_claim4_acquired_reads_new_items_only():
    seen = {(p, p): (5, 100, 100) for p in ("mnist", "kmnist")}  # the items each pretraining saw translated
    low = {pair: (5, 24.8, 5 if pair[1] == "fmnist" else 24.8) for pair in READOUT}  # 19.8 over untrained
    assert claim4({**low, **seen}) == "partly"  # forgetting holds; acquired does not, however high the diagonal


def test_claim4_neither_part_and_the_layer_read():
    flat = {pair: (40, 50, 50) for pair in READOUT}  # 10 over untrained, nothing forgotten
    assert claim4(flat) == "not reproduced"
    text = claims_table(**tables()).loc[4, "we measured"]
    assert text.startswith("linear read-out at fc7 relu") and "untrained 5" in text
    assert "mnist 75, kmnist 75" in text and "the authors' cosine, mean away: untrained 0.97, pretrained 0.90" in text


def test_claim4_needs_a_measure_that_separates_untrained_networks():
    saturated = {pair: (50, 100, 60 if pair[1] == "fmnist" else 100) for pair in READOUT}
    assert claim4(saturated).startswith(NOT_TESTABLE)                         # untrained at exactly 50 away
    assert verdict(4, readout=readouts(READOUT).iloc[:0]) == NOT_TESTABLE + " (no read-out yet)"
    assert verdict(4, readout=None) == NOT_TESTABLE + " (no read-out yet)"
    untrained_only = readouts(READOUT).query("condition == 'vanilla'")  # trained before the read-out existed
    assert verdict(4, readout=untrained_only) == NOT_TESTABLE + " (no read-out yet)"


def test_claim4_counts_only_networks_that_learned():
    assert claim4({}, own=0.75) == "reproduced"
    assert claim4({}, own=under(0.75)) == "partly"  # fine-tunings left out: (b) is not testable, (a) holds
    text = claims_table(**tables(readout=readouts(READOUT, own=under(0.75)))).loc[4, "we measured"]
    assert "(≥ 10 points more): not testable" in text and "2 of 6 pretrained and fine-tuned networks" in text
    assert claim4({}, pretrain_own=under(0.75)).startswith(NOT_TESTABLE)


# Claim 5: (a) MNIST after segregated pretraining not invariant: < NEAR_CHANCE, or under half of the translated
# pretraining's; (b) EMNIST18 over the canvas after segregated pretraining > NEAR_CHANCE below the translated one.

def exp3(segregated, translated=90):
    return pd.concat([rows("emnist18 (areas)", {"mnist": segregated}, pretrain_placement="areas"),
                      rows("emnist18", {"mnist": translated}, pretrain_placement="translated"),
                      rows("vanilla", {"mnist": 5})])


def exp3_pretraining(areas, translated=90, own=0.9):
    return pd.DataFrame({"placement": ["areas", "translated"], "normalized": [areas, translated],
                         "own_accuracy": [own, 0.9], "own_learned": [learned_at(own), True]})


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
         "exp2": pd.concat([exp2().query("pretrain != 'vanilla'"), rows("vanilla", {"fmnist": 5}, own=0.5)])}),
    (2, {"exp1": pd.concat([rows("imagenet", {"mnist": 90, "leek2": 90}, own=under(0.75)),
                            rows("vanilla", {"mnist": 5, "leek2": 5})])}),
    (3, {"exp2": pd.concat([rows("mnist", {"fmnist": 90, "leek2": 90}, pretrain_own=0.5),  # pretraining failed
                            rows("kmnist", {"fmnist": 90, "leek2": 90}, own=0.5),          # fine-tuning failed
                            rows("vanilla", {"fmnist": 5, "leek2": 5})])}),
    (4, {"readout": readouts(READOUT, own=0.5, pretrain_own=0.5)}),
    (5, {"exp3_pretraining": exp3_pretraining(10, own=0.5)}),
])
def test_each_claim_is_not_testable_when_its_networks_did_not_learn(claim, changes):
    found = verdicts(**changes)
    assert found[claim - 1].startswith(NOT_TESTABLE), found
    assert [v for k, v in enumerate(found, 1) if k != claim] == ["reproduced"] * 4, found


def test_claim3_judges_only_the_pairs_that_learned():
    changed = exp2(l2_fm=90, l2_mn=90)
    changed.loc[changed["pretrain"] == "leek2", ["pretrain_own_accuracy", "pretrain_learned"]] = 0.5, False  # left out
    text = claims_table(**tables(exp2=changed)).loc[3]
    assert text["verdict"] == "partly" and "4 of 6 pairs of networks are evidence" in text["we measured"]
    assert "4 of 4 off-diagonal pairs invariant" in text["we measured"]  # the Leek2 row at 90 is not counted
