"""Claim by claim: what the paper reports, what we measured, and a verdict by a rule stated in advance.

Accuracies away from the trained location are normalized (chance 0, perfect 100), so that
datasets with 2 and 47 classes compare. "Invariant" means a normalized accuracy away from the
trained location of at least ``INVARIANT`` (50); "not invariant" means below ``NEAR_CHANCE`` (20).
"""
from __future__ import annotations

import pandas as pd

from .analysis import mean_cosine_away

__all__ = ["INVARIANT", "NEAR_CHANCE", "FORGETTING", "PAPER_CLAIMS", "claims_table"]

INVARIANT = 50      # normalized accuracy away from the trained location: invariant from here on
NEAR_CHANCE = 20    # ... and not invariant below this
FORGETTING = 0.1    # fine-tuning lowered the mean cosine similarity away from the trained location this much

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


def _verdict(all_hold: bool, some_hold: bool) -> str:
    return "reproduced" if all_hold else "partly" if some_hold else "not reproduced"


def _claim1(vanilla: pd.DataFrame) -> tuple[str, str]:
    per_dataset = vanilla.groupby(["model", "dataset"], sort=False)["away_normalized"].mean()
    near = per_dataset < NEAR_CHANCE
    text = "; ".join(f"{m}: " + ", ".join(f"{d} {v:.0f}" for (_, d), v in part.items())
                     for m, part in per_dataset.groupby(level="model", sort=False))
    return f"vanilla, normalized accuracy away from the trained location: {text}", \
        _verdict(near.all(), near.mean() >= 0.5)


def _claim2(exp1: pd.DataFrame) -> tuple[str, str]:
    pretrained = exp1[exp1["pretrain"] == "imagenet"].groupby("dataset", sort=False)["away_normalized"].mean()
    vanilla = exp1[exp1["pretrain"] == "vanilla"].groupby("dataset", sort=False)["away_normalized"].mean()
    invariant = pretrained >= INVARIANT
    text = ", ".join(f"{d} {v:.0f} (vanilla {vanilla[d]:.0f})" for d, v in pretrained.items())
    return f"ImageNet-pretrained, normalized accuracy away: {text}", \
        _verdict(invariant.all(), invariant.any() or (pretrained - vanilla).mean() > NEAR_CHANCE)


def _claim3(exp2: pd.DataFrame) -> tuple[str, str]:
    pairs = exp2[exp2["pretrain"] != "vanilla"].groupby(["pretrain", "dataset"])["away_normalized"].mean()
    share = (pairs >= INVARIANT).mean()
    return (f"{(pairs >= INVARIANT).sum()} of {len(pairs)} pretraining / fine-tuning pairs invariant "
            f"(normalized accuracy away ≥ {INVARIANT}); median {pairs.median():.0f}, range {pairs.min():.0f}"
            f" to {pairs.max():.0f}"), _verdict(share >= 0.75, share >= 0.25)


def _claim4(cosines: pd.DataFrame) -> tuple[str, str]:
    by_pair = mean_cosine_away(cosines).set_index(["pretrain", "finetune", "condition"])["cosine"].unstack("condition")
    per_pretrain = by_pair.groupby("pretrain")[["vanilla", "pretrained"]].mean()
    acquired = per_pretrain["pretrained"] > per_pretrain["vanilla"]
    drops = by_pair["pretrained"] - by_pair["fine-tuned"] >= FORGETTING
    return (f"mean cosine away from the trained location, pretrained vs vanilla: "
            f"{', '.join(f'{p} {r.pretrained:.2f} vs {r.vanilla:.2f}' for p, r in per_pretrain.iterrows())}; "
            f"fine-tuning lowered it by ≥ {FORGETTING} in {drops.sum()} of {len(drops)} pairs"), \
        _verdict(acquired.all() and drops.any(), acquired.any() or drops.any())


def _claim5(exp3: pd.DataFrame, exp3_pretraining: pd.DataFrame) -> tuple[str, str]:
    mnist = exp3.groupby("pretrain_placement", sort=False, dropna=False)["away_normalized"].mean()
    segregated, translated = mnist["areas"], mnist["translated"]
    vanilla = exp3[exp3["pretrain"] == "vanilla"]["away_normalized"].mean()
    own = exp3_pretraining.groupby("placement", sort=False)["normalized"].mean()
    a = segregated < NEAR_CHANCE or segregated < translated / 2
    b = own["areas"] < own["translated"] - NEAR_CHANCE
    return (f"MNIST away, normalized: after segregated pretraining {segregated:.0f}, after translated "
            f"{translated:.0f}, vanilla {vanilla:.0f}; EMNIST18 over the canvas, "
            f"normalized: segregated {own['areas']:.0f}, translated {own['translated']:.0f}"), \
        _verdict(a and b, a or b)


def claims_table(exp1: pd.DataFrame, exp2: pd.DataFrame, cosines: pd.DataFrame, exp3: pd.DataFrame,
                 exp3_pretraining: pd.DataFrame) -> pd.DataFrame:
    """One row per claim of the introduction. Inputs are :func:`transinv.tables.summarize` tables
    (``exp3_pretraining``: experiment 3's pretrained runs) and :func:`transinv.analysis.cosine_conditions`'s table."""
    vanilla = pd.concat([exp1[exp1["pretrain"] == "vanilla"], exp2[exp2["pretrain"] == "vanilla"]])
    measured = [_claim1(vanilla), _claim2(exp1), _claim3(exp2), _claim4(cosines), _claim5(exp3, exp3_pretraining)]
    return pd.DataFrame([{"claim": k, "the paper reports": PAPER_CLAIMS[k], "we measured": text, "verdict": verdict}
                         for k, (text, verdict) in enumerate(measured, 1)]).set_index("claim")
