"""The paper's core claim, end to end at the small preset, on real MNIST digits.

A vanilla network trained on digits 5-9 at one location is near chance elsewhere on the
canvas; a network first trained on digits 0-4 fully translated, then fine-tuned on 5-9
at one location, recognises 5-9 far above chance across the canvas.
"""
import pytest

from transinv.evaluate import accuracy_at_and_away
from transinv.presets import SMALL
from transinv.runs import RunConfig, run

CHANCE = 1 / 5


@pytest.mark.science
@pytest.mark.parametrize("precision", ["float32", "bf16"])  # bf16: what a CPU with native bfloat16 trains in
def test_translation_invariance_is_learned_not_built_in(tmp_path, precision):
    def trained(config):
        return run(config, tmp_path, device="cpu", precision=precision, progress=False)
    pretrained = trained(RunConfig("mnist", "translated", classes=(0, 1, 2, 3, 4)))
    finetuned = trained(RunConfig("mnist", "one_location", classes=(5, 6, 7, 8, 9), init=pretrained.id))
    vanilla = trained(RunConfig("mnist", "one_location", classes=(5, 6, 7, 8, 9)))

    (_, pretrain_off), (finetuned_on, finetuned_off), (vanilla_on, vanilla_off) = (
        accuracy_at_and_away(r.grid, SMALL.trained_centre) for r in (pretrained, finetuned, vanilla))
    print(f"{precision}: pretrained on 0-4, translated: {pretrain_off:.3f} off the trained location\n"
          f"fine-tuned on 5-9 at one location: {finetuned_on:.3f} there, {finetuned_off:.3f} elsewhere\n"
          f"vanilla on 5-9 at one location: {vanilla_on:.3f} there, {vanilla_off:.3f} elsewhere")
    # 30 test items per centre (6 per class): at the trained centre the 95% interval is about +-0.1; away from it
    # (360 centres, 10,800 trials) about +-0.01. The spread between seeds is larger. This protocol at seeds 0-3
    # (measured with the code of this commit, CPU, one thread) gave, at the trained location, vanilla 0.80-0.93 and
    # fine-tuned 0.87-0.93; away from it vanilla 0.204-0.212 and fine-tuned 0.416, 0.487, 0.540, 0.732 (seeds 2, 1,
    # 3, 0; mean 0.54, sd 0.14), a gap of 0.212-0.527 (mean 0.34, sd 0.14). The margins below sit near the mean
    # minus 2 sd: under every seed measured, and still far from the vanilla network (0.1 above chance is over 20 of
    # vanilla's sd between seeds).
    assert vanilla_on > 0.6 and finetuned_on > 0.6              # both learned the task where they saw it
    assert vanilla_off < CHANCE + 0.1                           # vanilla: near chance away from it
    assert finetuned_off > CHANCE + 0.1                         # pretrained: far above chance everywhere
    assert finetuned_off - vanilla_off > 0.1


@pytest.mark.science
def test_canvas_statistics_let_a_translated_pretraining_leave_chance():
    """EMNIST (47 classes) fully translated on the small preset: with ImageNet's input statistics the network
    is still at chance after 500 iterations; with the canvases' own (the authors'), it has left it.

    Measured with benchmarks/recipe.py (check 4, seed 0): running training accuracy at iteration 500 was
    0.023 with ImageNet's statistics and 0.047 with the canvases' (chance 0.021; over the last 100 batches,
    3,200 canvases, the standard error at chance is 0.0025)."""
    import torch

    from benchmarks.recipe import learning_curve
    threads = torch.get_num_threads()
    try:
        imagenet = learning_curve(("emnist", "weights", SMALL.lr, 500))["emnist weights lr 0.0003"][500]
        canvas = learning_curve(("emnist", "canvas", SMALL.lr, 500))["emnist canvas lr 0.0003"][500]
    finally:
        torch.set_num_threads(threads)  # learning_curve computes on one thread, as every CPU run does
    chance = 1 / 47
    assert imagenet < chance + 0.01                  # still at chance
    assert canvas > chance + 0.015 and canvas > imagenet + 0.01
