"""Claim by claim: what the paper reports, what we measured, and a verdict by a rule stated in advance.

Only networks that learned their own training task are evidence (:mod:`transinv.learned`): its running training
accuracy reached the authors' criterion (0.75), and its normalized test accuracy on held-out items of the task is
at least ``LEARNED`` (50: halfway from chance to perfect); a fine-tuned network counts only if its pretraining
learned too. A claim whose networks did not learn
is "not testable at this preset", never "not reproduced".

Accuracies away from the trained location are normalized (chance 0, perfect 100), so that
datasets with 2 and 47 classes compare. "Invariant" means a normalized accuracy away from the
trained location of at least ``INVARIANT`` (50); "not invariant" means below ``NEAR_CHANCE`` (20).

Claims 3 and 4 test the pattern the paper describes, not one pair: claim 3 on the pairs off the diagonal (the
diagonal's fine-tuning items were seen translated during pretraining), with the paper's order of complexity
(:data:`transinv.datasets.BY_COMPLEXITY`); claim 4 on the linear read-out (:mod:`transinv.representation`), the
measure on which untrained networks are not already invariant (the authors' cosine scores them as high as
pretrained ones: see the cosine page).
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from .analysis import mean_cosine_away, mean_readout_away
from .datasets import BY_COMPLEXITY
from .learned import CRITERION, LEARNED

__all__ = ["CRITERION", "LEARNED", "INVARIANT", "NEAR_CHANCE", "MOST", "ASYMMETRY", "ACQUIRED", "FORGETTING", "READOUT_LAYER",
           "NOT_TESTABLE", "NOT_RUN", "PAPER_CLAIMS", "BEYOND", "ARCHITECTURES_QUESTION",
           "learned", "learning_note", "learned_cosines", "mark_unlearned_pretraining", "beyond_the_paper",
           "architectures_verdict", "claims_table"]

INVARIANT = 50      # normalized accuracy away from the trained location: invariant from here on
NEAR_CHANCE = 20    # ... and not invariant below this
MOST = 0.5          # "most": a share above this
ASYMMETRY = 20      # claim 3: complex -> simple pairs above simple -> complex ones by this much (normalized points)
ACQUIRED = 20       # claim 4: a pretrained network's read-out away above the untrained one's by this much
FORGETTING = 10     # claim 4: fine-tuning on more complex datasets lowers the read-out away this much more than on
                    # simpler ones (normalized points)
READOUT_LAYER = "fc7 relu"  # the authors' layer (transinv.models.authors_penultimate)
NOT_TESTABLE = "not testable at this preset"
NOT_RUN = "not run yet"  # no network of the claim has finished training (a repetition under way)

PAPER_CLAIMS = {  # what the paper reports, by claim (numbered as in the introduction)
    1: "A vanilla VGG16 trained at one location is at chance elsewhere on the canvas (figure 1C).",
    2: "VGG16 pretrained on ImageNet, fine-tuned at one location, recognises the new items almost everywhere, "
       "for every dataset (figure 1B-C).",
    3: "Pretraining on a fully translated simple dataset gives high accuracy over the canvas for new items "
       "trained at one location, for most pretraining / fine-tuning pairs (figures 2B and 4).",
    4: "After pretraining, penultimate-layer representations stay similar across positions (invariance almost "
       "always acquired); some fine-tunings disrupt it (catastrophic forgetting) (figure 3).",
    5: "Pretraining on EMNIST18 segregated into 9 areas does not make MNIST trained at one location recognisable "
       "elsewhere (figure 5A), and EMNIST18 itself is not recognised outside its areas (figure 5B).",
}

BEYOND = ("The discussion proposes, without testing it, that fine-tuning on complex datasets erases the invariance "
          "learned in pretraining through catastrophic forgetting, and that fine-tuning that avoids forgetting would "
          "keep it.")

ARCHITECTURES_QUESTION = ("VGG16 is not invariant to translation by design but learns it in "
                          "pretraining. Does the same hold for other architectures (VGG16 with batch norm, with "
                          "global average pooling, anti-aliased; ResNet-18; DenseNet-121; a small vision transformer)?")


def learned(table: pd.DataFrame) -> pd.Series:
    """Which rows of a :func:`transinv.tables.summarize` table are evidence: the network learned its own task,
    and so did its pretraining, if it had one."""
    parent = table["pretrain_learned"]
    return table["own_learned"].astype(bool) & (parent.isna() | (parent == True))  # noqa: E712 (NaN: no pretraining)


_GATE = (f"running training accuracy past the authors' {CRITERION}, and at least {LEARNED} normalized on held-out "
         f"items of its task")


def _whole(value: float) -> str:
    """A normalized accuracy in whole points: never "-0", and "n/a" where nothing was measured (NaN)."""
    return "n/a" if value != value else str(round(value))


def _verdict(all_hold: bool, some_hold: bool) -> str:
    return "reproduced" if all_hold else "partly" if some_hold else "not reproduced"


def _count(k: int, n: int, what: str) -> str:
    return f" ({k} of {n} {what} are evidence; the others, or their pretraining, did not learn)" if k < n else ""


def _untestable(k: int, n: int, what: str) -> tuple[str, str]:
    if n == 0:
        return f"no {what} finished yet: nothing to judge", NOT_RUN
    return f"{k} of {n} {what} learned their task: nothing to judge", f"{NOT_TESTABLE} ({k} of {n} learned)"


def _claim1(vanilla: pd.DataFrame) -> tuple[str, str]:
    evidence = vanilla[learned(vanilla)]
    if evidence.empty:
        return _untestable(0, len(vanilla), "vanilla networks")
    per_dataset = evidence.groupby(["model", "dataset"], sort=False)["away_normalized"].mean()
    near = per_dataset < NEAR_CHANCE
    text = "; ".join(f"{m}: " + ", ".join(f"{d} {_whole(v)}" for (_, d), v in part.items())
                     for m, part in per_dataset.groupby(level="model", sort=False))
    return (f"vanilla, normalized accuracy away from the trained location: {text}"
            f"{_count(len(evidence), len(vanilla), 'vanilla networks')}"), _verdict(near.all(), near.mean() >= 0.5)


def _claim2(exp1: pd.DataFrame) -> tuple[str, str]:
    imagenet = exp1[exp1["pretrain"] == "imagenet"]
    evidence, comparison = exp1[learned(exp1)], exp1[exp1["pretrain"] == "vanilla"]
    pretrained = evidence[evidence["pretrain"] == "imagenet"].groupby("dataset", sort=False)["away_normalized"].mean()
    if pretrained.empty:
        return _untestable(0, len(imagenet), "ImageNet-pretrained networks")
    vanilla = evidence[evidence["pretrain"] == "vanilla"].groupby("dataset", sort=False)["away_normalized"].mean()
    vanilla = vanilla.reindex(pretrained.index)
    invariant = pretrained >= INVARIANT
    text = ", ".join(f"{d} {_whole(v)} (vanilla {_whole(vanilla[d])})" for d, v in pretrained.items())
    k = int(learned(imagenet).sum()) + int(learned(comparison).sum())
    return (f"{_imagenet_network(imagenet)}, normalized accuracy away: {text}{_count(k, len(exp1), 'networks')}"), \
        _verdict(invariant.all(), invariant.any() or (pretrained - vanilla).mean() > NEAR_CHANCE)


MODEL_NAMES = {"vgg16": "VGG16", "vgg16_small": "VGG16 (width / 8)", "efficientnet_lite0": "EfficientNet-Lite0"}


def _imagenet_network(imagenet: pd.DataFrame) -> str:
    """Which ImageNet network claim 2 was tested on, in words: the paper's VGG16, or the one used in its place."""
    models = list(dict.fromkeys(imagenet["model"]))
    names = " and ".join(MODEL_NAMES.get(m, m) for m in models)
    if models == ["vgg16"]:
        return "ImageNet VGG16 (the paper's network)"
    return f"ImageNet {names} (in place of the paper's VGG16, whose ImageNet weights are not available offline)"


def _complexity(dataset: str) -> int:
    """Rank in the paper's order of complexity: 0 for the most complex (EMNIST)."""
    return BY_COMPLEXITY.index(dataset)


def _direction(pairs: pd.DataFrame) -> pd.Series:
    """Per pair (``pretrain``, ``dataset`` or ``finetune`` columns): "complex -> simple" where the pretraining is the
    more complex, "simple -> complex" where it is the simpler, "" on the diagonal or for datasets out of the order."""
    finetune = pairs["finetune"] if "finetune" in pairs else pairs["dataset"]

    def direction(pretrain: str, target: str) -> str:
        if pretrain == target or pretrain not in BY_COMPLEXITY or target not in BY_COMPLEXITY:
            return ""
        return "complex -> simple" if _complexity(pretrain) < _complexity(target) else "simple -> complex"

    return pd.Series([direction(p, t) for p, t in zip(pairs["pretrain"], finetune)], index=pairs.index)


def _parts_verdict(parts: list[bool | None]) -> str:
    """A claim of several parts (None: not testable): reproduced when every part holds, partly when some does."""
    holding = [p for p in parts if p]
    return "reproduced" if len(holding) == len(parts) else "partly" if holding else "not reproduced"


def _holds(value: bool | None) -> str:
    return "not testable" if value is None else "holds" if value else "does not hold"


def _claim3(exp2: pd.DataFrame) -> tuple[str, str]:
    """Three parts, on the off-diagonal pairs that learned: (a) most of them invariant (share above ``MOST``);
    (b) complex -> simple above simple -> complex by at least ``ASYMMETRY``; (c) the Leek2 pretraining transfers
    to nothing (mean below ``NEAR_CHANCE``) while the others do (their mean at least ``ASYMMETRY`` higher). The
    diagonal is reported apart."""
    transfer = exp2[exp2["pretrain"] != "vanilla"]
    evidence = transfer[learned(transfer)]
    if evidence.empty:
        return _untestable(0, len(transfer), "pretrained and fine-tuned network pairs")
    pairs = evidence.groupby(["pretrain", "dataset"], sort=False)["away_normalized"].mean().reset_index()
    diagonal, off = pairs[pairs["pretrain"] == pairs["dataset"]], pairs[pairs["pretrain"] != pairs["dataset"]]
    if off.empty:
        return _untestable(0, len(transfer), "off-diagonal pairs of networks")
    invariant = off["away_normalized"] >= INVARIANT
    most = bool(invariant.mean() > MOST)
    by_direction = off.groupby(_direction(off))["away_normalized"].mean()
    down, up = by_direction.get("complex -> simple"), by_direction.get("simple -> complex")
    asymmetric = None if down is None or up is None else bool(down - up >= ASYMMETRY)
    leek2 = off.loc[off["pretrain"] == "leek2", "away_normalized"]
    others = off.loc[off["pretrain"] != "leek2", "away_normalized"]
    leek2_row = (None if leek2.empty or others.empty
                 else bool(leek2.mean() < NEAR_CHANCE and others.mean() - leek2.mean() >= ASYMMETRY))
    diagonal_invariant = int((diagonal["away_normalized"] >= INVARIANT).sum())
    on_diagonal = (f"; apart, the diagonal (items already seen translated): {diagonal_invariant} of {len(diagonal)} "
                   f"invariant" if len(diagonal) else "")
    text = (f"(a) {int(invariant.sum())} of {len(off)} off-diagonal pairs invariant (normalized accuracy away "
            f"≥ {INVARIANT}; most: over {MOST:.0%}): {_holds(most)}; "
            f"(b) complex → simple {_whole(down) if down is not None else 'n/a'} vs simple → complex "
            f"{_whole(up) if up is not None else 'n/a'} (mean away; ≥ {ASYMMETRY} points apart): {_holds(asymmetric)}; "
            f"(c) Leek2 pretraining, mean away {_whole(leek2.mean()) if len(leek2) else 'n/a'}, the other pretrainings "
            f"{_whole(others.mean()) if len(others) else 'n/a'} (below {NEAR_CHANCE} and ≥ {ASYMMETRY} points under "
            f"them: transfers to nothing): {_holds(leek2_row)}{on_diagonal}"
            f"{_count(len(evidence), len(transfer), 'pairs of networks')}")
    return text, _parts_verdict([most, asymmetric, leek2_row])


def _cosine_evidence(cosines: pd.DataFrame) -> pd.Series:
    """Rows of a cosine table that are evidence: vanilla networks; pretrained ones that learned; fine-tuned ones
    that learned, from a pretraining that learned."""
    own, parent = cosines["own_learned"] == True, cosines["pretrain_learned"] == True  # noqa: E712 (NaN: vanilla)
    condition = cosines["condition"]
    return (condition == "vanilla") | ((condition == "pretrained") & own) | ((condition == "fine-tuned") & own & parent)


def _cosine_networks(cosines: pd.DataFrame) -> pd.DataFrame:
    """One row per trained network in a cosine table: each pretrained network (it appears once per fine-tuning
    dataset) and each fine-tuned one."""
    trained = cosines[cosines["condition"] != "vanilla"]
    finetune = trained["finetune"].where(trained["condition"] == "fine-tuned", "")
    return trained.assign(finetune=finetune).drop_duplicates(["condition", "pretrain", "finetune", "seed"])


def _cosine_separation(cosines: pd.DataFrame) -> str:
    """The authors' cosine away from the trained location, untrained vs pretrained, in words."""
    kept = cosines[_cosine_evidence(cosines)]
    if kept.empty:
        return ""
    by_pair = mean_cosine_away(kept).groupby("condition")["cosine"].mean()
    if "vanilla" not in by_pair or "pretrained" not in by_pair:
        return ""
    return (f"; the authors' cosine, mean away: untrained {by_pair['vanilla']:.2f}, pretrained "
            f"{by_pair['pretrained']:.2f}")


def _readout_networks(readout: pd.DataFrame) -> pd.DataFrame:
    """One row per network and items of a read-out conditions table
    (:func:`transinv.analysis.representation_conditions`) at :data:`READOUT_LAYER`: normalized read-out accuracy away, and whether it is evidence."""
    if readout is None or readout.empty:
        return pd.DataFrame(columns=["pretrain", "finetune", "condition", "seed", "away", "evidence"])
    layer = readout[readout["layer"] == READOUT_LAYER]
    flags = layer.drop_duplicates(["pretrain", "finetune", "condition", "seed"]).assign(
        evidence=lambda t: _cosine_evidence(t))[["pretrain", "finetune", "condition", "seed", "evidence"]]
    means = mean_readout_away(layer).drop(columns="layer")
    return means.merge(flags, on=["pretrain", "finetune", "condition", "seed"])


def _claim4(cosines: pd.DataFrame, readout: pd.DataFrame | None) -> tuple[str, str]:
    """Two parts, on the read-out at the authors' layer (normalized accuracy away from the trained location):
    (a) acquired: for most pretrainings (share above ``MOST``), the pretrained network above the untrained one on
    the same items by at least ``ACQUIRED``, on new items (the diagonal's were seen translated in pretraining);
    (b) forgetting: fine-tuning on a more complex dataset than the pretraining lowers it by at least ``FORGETTING``
    more, on average, than fine-tuning on a simpler one.
    Not testable where no network has a read-out, or where untrained networks are already invariant on it."""
    separation = _cosine_separation(cosines)
    networks = _readout_networks(readout)
    if (networks["condition"] == "vanilla").all():  # untrained networks' tables at most
        return (f"no read-out computed for the trained networks yet (it is made while a model is in memory, for the "
                f"runs trained from now on){separation}"), f"{NOT_TESTABLE} (no read-out yet)"
    evidence = networks[networks["evidence"].astype(bool)]
    keys = ["finetune", "seed"]
    vanilla = evidence[evidence["condition"] == "vanilla"].groupby(keys)["away"].mean()  # listed once per pair
    pretrained = evidence[evidence["condition"] == "pretrained"]
    trained = networks[networks["condition"] != "vanilla"]  # a pretrained network is listed once per items
    trained = trained.assign(finetune=trained["finetune"].where(trained["condition"] == "fine-tuned", ""))
    trained = trained.drop_duplicates(["condition", "pretrain", "finetune", "seed"])
    n, k = len(trained), int(trained["evidence"].sum())
    if pretrained.empty or vanilla.empty:
        text, verdict = _untestable(k, n, "pretrained and fine-tuned networks with a read-out")
        return text + separation, verdict
    untrained_level = vanilla.mean()
    if untrained_level >= INVARIANT:
        return (f"the read-out scores untrained networks as invariant ({_whole(untrained_level)} away): it cannot "
                f"separate them from pretrained ones{separation}"), NOT_TESTABLE
    new_items = pretrained[pretrained["pretrain"] != pretrained["finetune"]]  # not the items it saw translated
    gain = new_items.set_index(keys + ["pretrain"])["away"] - vanilla.reindex(
        new_items.set_index(keys).index).to_numpy()
    per_pretrain = gain.groupby(level="pretrain", sort=False).mean()
    acquired = bool((per_pretrain >= ACQUIRED).mean() > MOST)
    finetuned = evidence[evidence["condition"] == "fine-tuned"].set_index(["pretrain"] + keys)["away"]
    before = pretrained.set_index(["pretrain"] + keys)["away"]
    drops = (before.reindex(finetuned.index) - finetuned).dropna().reset_index(name="drop")
    by_direction = drops.groupby(_direction(drops))["drop"].mean()
    harder, easier = by_direction.get("simple -> complex"), by_direction.get("complex -> simple")
    forgetting = None if harder is None or easier is None else bool(harder - easier >= FORGETTING)
    text = (f"linear read-out at {READOUT_LAYER}, normalized accuracy away from the trained location; untrained "
            f"{_whole(untrained_level)}; (a) pretrained minus untrained on new items, per pretraining: "
            f"{', '.join(f'{p} {_whole(v)}' for p, v in per_pretrain.items())} (≥ {ACQUIRED} for most): "
            f"{_holds(acquired)}; (b) drop in fine-tuning on a more complex dataset "
            f"{_whole(harder) if harder is not None else 'n/a'} vs on a simpler one "
            f"{_whole(easier) if easier is not None else 'n/a'} (≥ {FORGETTING} points more): {_holds(forgetting)}"
            f"{separation}{_count(k, n, 'pretrained and fine-tuned networks with a read-out')}")
    return text, _parts_verdict([acquired, forgetting])


def _claim5(exp3: pd.DataFrame, exp3_pretraining: pd.DataFrame) -> tuple[str, str]:
    pretraining = exp3_pretraining[exp3_pretraining["own_learned"].astype(bool)]
    own = pretraining.groupby("placement", sort=False)["normalized"].mean()
    n = len(exp3_pretraining) + len(exp3)
    k = len(pretraining) + int(learned(exp3).sum())
    if "areas" not in own:
        return _untestable(k, n, "networks (EMNIST18 segregated pretraining not learned)")
    mnist = exp3[learned(exp3)].groupby("pretrain_placement", sort=False, dropna=False)["away_normalized"].mean()
    segregated, translated = mnist.get("areas", float("nan")), mnist.get("translated", float("nan"))
    vanilla = exp3[learned(exp3) & (exp3["pretrain"] == "vanilla")]["away_normalized"].mean()
    a = segregated < NEAR_CHANCE or segregated < translated / 2  # False where segregated is NaN (not learned)
    b = own["areas"] < own.get("translated", float("nan")) - NEAR_CHANCE
    return (f"MNIST away, normalized: after segregated pretraining {_whole(segregated)}, after translated "
            f"{_whole(translated)}, vanilla {_whole(vanilla)}; EMNIST18 over the canvas, normalized: segregated "
            f"{_whole(own['areas'])}, translated {_whole(own.get('translated', float('nan')))}{_count(k, n, 'networks')}"), \
        _verdict(a and b, a or b)


def beyond_the_paper(table: pd.DataFrame) -> tuple[str, str]:
    """What we measured, and a verdict, on :data:`BEYOND`, from :func:`transinv.forgetting.forgetting_table`'s
    table. The rule, fixed before the runs: only networks that learned (:func:`learned`) count, averaged over
    seeds per pair and condition. A pair tests the hypothesis when it is not the control and plain fine-tuning
    is not invariant there (normalized accuracy away below ``NEAR_CHANCE``). A condition preserves invariance on
    such a pair when its normalized accuracy away is at least ``INVARIANT``. "supported": some condition
    preserves it on every such pair; "partly supported": on some; "not supported": on none. Not testable when
    no such pair, or no network of another condition learned on them."""
    if table.empty:
        return "no network finished yet: nothing to judge", NOT_RUN
    evidence = table[learned(table)]
    means = evidence.groupby(["pair", "condition"], sort=False)["away_normalized"].mean().unstack("condition")
    means = means.reindex(index=list(dict.fromkeys(table["pair"])), columns=list(dict.fromkeys(table["condition"])))
    control = set(table.loc[table["control"], "pair"])
    plain = means["plain"] if "plain" in means else pd.Series(float("nan"), index=means.index)
    tested = [p for p in means.index if p not in control and plain[p] < NEAR_CHANCE]
    k, n = len(evidence), len(table)

    def row(pair: str) -> str:
        return f"{pair}: " + ", ".join(f"{c} {_whole(v)}" for c, v in means.loc[pair].items())

    shown = "; ".join(row(p) for p in means.index)
    counted = f" ({k} of {n} fine-tuned networks learned their task and count)" if k < n else ""
    if not tested:
        return (f"plain fine-tuning was not below {NEAR_CHANCE} away on any pair whose networks learned: nothing to "
                f"judge. Normalized accuracy away, mean over seeds: {shown or 'none learned'}{counted}",
                NOT_TESTABLE)
    others = means.loc[tested].drop(columns="plain")
    judged = others.columns[others.notna().any()]  # a condition none of whose networks learned judges nothing
    unlearned = [c for c in others.columns if c not in judged]
    silent = f"; no network learned under {', '.join(unlearned)}" if unlearned else ""
    lost = f"plain fine-tuning lost invariance (away < {NEAR_CHANCE}) on {len(tested)} pair(s)"
    if judged.empty:
        ran = table[table["pair"].isin(tested) & (table["condition"] != "plain")]
        if ran.empty:
            return f"{lost}; no other condition has finished there yet: nothing to judge", NOT_RUN
        return (f"{lost}, but no network fine-tuned otherwise learned its task there: nothing to judge. Normalized "
                f"accuracy away, mean over seeds: {shown}{counted}"), NOT_TESTABLE
    preserved = (others[judged] >= INVARIANT).sum()  # pairs on which each condition is invariant (NaN: not)
    kept = ", ".join(f"{c} on {int(v)} of {len(tested)}" for c, v in preserved.items())
    verdict = ("supported" if (preserved == len(tested)).any() else "partly supported" if preserved.any()
               else "not supported")
    return (f"{lost}; invariance kept (away ≥ {INVARIANT}) by {kept}{silent}. Normalized accuracy away, mean over "
            f"seeds: {shown}{counted}"), verdict


def architectures_verdict(table: pd.DataFrame, expected: Sequence[str] | None = None) -> tuple[str, str]:
    """What we measured, and a verdict, on :data:`ARCHITECTURES_QUESTION`, from
    :func:`transinv.architectures.architecture_table`'s table. The rule, fixed before the runs: only networks that
    learned count (:func:`learned`); per architecture, the mean over datasets and seeds of the normalized accuracy
    away from the trained location, of the networks trained there from scratch ("vanilla") and of those
    fine-tuned there after a fully translated pretraining. An architecture is invariant by design when its vanilla
    networks are at least ``INVARIANT``; it tests the question when they are below ``NEAR_CHANCE``, and learns
    invariance when its fine-tuned networks are then at least ``INVARIANT``. "supported": every architecture that
    tests it learns invariance; "partly supported": some do; "not supported": none does. With ``expected`` (the
    experiment's architectures), nothing is judged until each has finished networks in both conditions."""
    if table.empty:
        return "no network finished yet: nothing to judge", NOT_RUN
    missing = [m for m in expected or () if set(table.loc[table["model"] == m, "condition"]) < {"vanilla", "fine-tuned"}]
    evidence = table[learned(table)]
    means = evidence.groupby(["model", "condition"], sort=False)["away_normalized"].mean().unstack("condition")
    means = means.reindex(index=list(dict.fromkeys(table["model"])), columns=["vanilla", "fine-tuned"])
    k, n = len(evidence), len(table)
    counted = f" ({k} of {n} networks learned their task and count)" if k < n else ""
    shown = "; ".join(f"{m}: vanilla {_whole(v['vanilla'])}, fine-tuned {_whole(v['fine-tuned'])}"
                      for m, v in means.iterrows())
    by_design = [m for m in means.index if means.loc[m, "vanilla"] >= INVARIANT]
    tested = [m for m in means.index if means.loc[m, "vanilla"] < NEAR_CHANCE and means.loc[m, "fine-tuned"] ==
              means.loc[m, "fine-tuned"]]
    design = f"invariant by design (vanilla ≥ {INVARIANT}): {', '.join(by_design) or 'none'}"
    if missing:
        return (f"the runs of {', '.join(missing)} are not finished in both conditions yet: nothing judged. So far, "
                f"normalized accuracy away, mean over datasets and seeds: {shown}{counted}"), NOT_RUN
    if not tested:
        return (f"{design}; no architecture both below {NEAR_CHANCE} from scratch and with a fine-tuned network "
                f"that learned: nothing to judge. Normalized accuracy away, mean over datasets and seeds: "
                f"{shown}{counted}"), NOT_TESTABLE
    learns = [m for m in tested if means.loc[m, "fine-tuned"] >= INVARIANT]
    verdict = ("supported" if len(learns) == len(tested) else "partly supported" if learns else "not supported")
    return (f"{design}; of the {len(tested)} not invariant from scratch (vanilla < {NEAR_CHANCE}), "
            f"{len(learns)} learn invariance after pretraining (fine-tuned ≥ {INVARIANT}): "
            f"{', '.join(learns) or 'none'}. Normalized accuracy away, mean over datasets and seeds: "
            f"{shown}{counted}"), verdict


def claims_table(exp1: pd.DataFrame, exp2: pd.DataFrame, cosines: pd.DataFrame, exp3: pd.DataFrame,
                 exp3_pretraining: pd.DataFrame, forgetting: pd.DataFrame | None = None,
                 readout: pd.DataFrame | None = None, architectures: pd.DataFrame | None = None,
                 architectures_expected: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per claim of the introduction. Inputs are :func:`transinv.tables.summarize` tables
    (``exp3_pretraining``: experiment 3's pretrained runs), :func:`transinv.analysis.cosine_conditions`'s table and
    the read-out table of :func:`transinv.analysis.representation_conditions`; with ``forgetting``
    (:func:`transinv.forgetting.forgetting_table`), a row "beyond the paper"; with ``architectures``
    (:func:`transinv.architectures.architecture_table`; ``architectures_expected``: its architectures, see
    :func:`architectures_verdict`), a row "beyond the paper: architectures"."""
    vanilla = pd.concat([exp1[exp1["pretrain"] == "vanilla"], exp2[exp2["pretrain"] == "vanilla"]])
    measured = [_claim1(vanilla), _claim2(exp1), _claim3(exp2), _claim4(cosines, readout),
                _claim5(exp3, exp3_pretraining)]
    rows = [{"claim": k, "the paper reports": PAPER_CLAIMS[k], "we measured": text, "verdict": verdict}
            for k, (text, verdict) in enumerate(measured, 1)]
    if forgetting is not None:
        text, verdict = beyond_the_paper(forgetting)
        rows.append({"claim": "beyond the paper", "the paper reports": BEYOND, "we measured": text,
                     "verdict": verdict})
    if architectures is not None:
        text, verdict = architectures_verdict(architectures, architectures_expected)
        rows.append({"claim": "beyond the paper: architectures", "the paper reports": ARCHITECTURES_QUESTION,
                     "we measured": text, "verdict": verdict})
    return pd.DataFrame(rows).set_index("claim")


def learning_note(table: pd.DataFrame) -> str:
    """Markdown for a page: which networks of a :func:`transinv.tables.summarize` table did not learn their
    own task (or whose pretraining did not), and so are not evidence for or against the paper."""
    if table.empty:
        return "No finished runs to show yet."
    failed = table[~learned(table)]
    if failed.empty:
        return f"All {len(table)} networks learned their own training task ({_GATE})."
    lines = [f"- {r.dataset}, {r.placement}, from {r.pretrain} (seed {r.seed}): {r.own_accuracy:.2f} on its own task"
             + ("" if r.criterion_at == r.criterion_at else ", criterion never reached")
             + (f", its pretraining {r.pretrain_own_accuracy:.2f}" if r.pretrain_own_accuracy == r.pretrain_own_accuracy
                else "") for r in failed.itertuples()]
    return (f"**{len(failed)} of {len(table)} networks did not learn** their own training task, or their pretraining "
            f"did not (learned: {_GATE}): they are not evidence for or against the paper, and the verdicts leave them "
            f"out.\n\n" + "\n".join(lines))


def learned_cosines(cosines: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The rows of :func:`transinv.analysis.cosine_conditions`'s table for networks that learned their own task
    (vanilla networks always stay), and a Markdown note counting the networks left out."""
    kept = cosines[_cosine_evidence(cosines)]
    kept = mark_unlearned_pretraining(kept)
    networks = _cosine_networks(cosines)
    left_out = networks[~_cosine_evidence(networks)]
    if networks.empty:
        return kept, "No finished runs to show yet."
    if left_out.empty:
        return kept, f"All {len(networks)} pretrained and fine-tuned networks learned their own task ({_GATE})."
    listed = ", ".join(f"{r.condition} {r.pretrain}" + (f" → {r.finetune}" if r.condition == "fine-tuned" else "")
                       + f" ({r.own_accuracy:.2f})" for r in left_out.itertuples())
    return kept, (f"**{len(left_out)} of {len(networks)} networks are left out of the curves**: they did not learn "
                  f"their own task, or their pretraining did not (learned: {_GATE}): {listed}.")


def mark_unlearned_pretraining(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of a :func:`transinv.tables.summarize` (or cosine) table whose ``pretrain`` labels say "(not learned)"
    where the pretraining did not learn its own task: for figures, which keep those rows, marked."""
    failed = table["pretrain_learned"] == False  # noqa: E712 (NaN, no pretraining, is not marked)
    return table.assign(pretrain=table["pretrain"].where(~failed, table["pretrain"] + " (not learned)"))
