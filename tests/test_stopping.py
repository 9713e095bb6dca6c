"""The authors' stopping rule (transinv.stopping) and the protocol constants around it, typed as numbers:
a test that read them from the module would move with them."""
import math

import pytest
import torch

from transinv import stopping, train as train_module
from transinv.presets import PAPER, SMALL, TINY
from transinv.stopping import StoppingRule
from transinv.train import Speed, train


def reasons(rule, losses, accuracies):
    return [rule.update(loss=l, accuracy=a) for l, a in zip(losses, accuracies)]


def test_stops_on_accuracy_after_patience():
    rule = StoppingRule(window=4, patience=10, max_iters=1000)
    assert reasons(rule, [1.0 / (i + 1) for i in range(10)], [0.8] * 10) == [None] * 9 + ["accuracy"]


def test_accuracy_streak_resets_when_it_drops():
    rule = StoppingRule(window=1, patience=3, max_iters=1000)
    accuracies = [0.8, 0.8, 0.5, 0.8, 0.8, 0.8]
    assert reasons(rule, [1.0 / (i + 1) for i in range(6)], accuracies) == [None] * 5 + ["accuracy"]


def test_stops_on_loss_plateau():
    rule = StoppingRule(window=2, patience=5, max_iters=1000)
    assert reasons(rule, [2.0] * 6, [0.1] * 6) == [None] * 5 + ["loss_plateau"]
    rule = StoppingRule(window=1, patience=2, max_iters=1000)  # an improvement below 0.01% does not count
    assert reasons(rule, [1.0, 0.99995, 0.9999], [0.1] * 3) == [None, None, "loss_plateau"]


def test_stops_at_max_iters():
    rule = StoppingRule(window=3, patience=100, max_iters=7)
    assert reasons(rule, [10.0 - i for i in range(7)], [0.1] * 7) == [None] * 6 + ["max_iters"]


def test_accuracy_is_the_running_mean_over_the_window_not_the_last_batch():
    # mean of (1, 1, 0.3) is 0.77 > 0.75 although the last batch is at 0.3: the streak goes on
    rule = StoppingRule(window=3, patience=3, max_iters=1000)
    assert reasons(rule, [3.0, 2.0, 1.0], [1.0, 1.0, 0.3]) == [None, None, "accuracy"]
    # a last batch at 1.0 after two at 0: the mean, 0.33, is below
    rule = StoppingRule(window=3, patience=1, max_iters=1000)
    assert reasons(rule, [3.0, 2.0, 1.0, 0.5], [0.0, 0.0, 1.0, 1.0]) == [None] * 4
    # the oldest batch leaves the window: (0, 1, 1, 1) -> (1, 1, 1, 1) over a window of 4
    rule = StoppingRule(window=4, patience=1, max_iters=1000)
    assert reasons(rule, [4.0, 3.0, 2.0, 1.0, 0.5], [0.0, 1.0, 1.0, 1.0, 1.0]) == [None] * 4 + ["accuracy"]


def test_loss_is_the_running_mean_over_the_window_not_the_last_batch():
    # one loss of 10, then 1s: the mean over 4 batches keeps falling until the 10 leaves the window (iteration 5),
    # then stays: 3 stale iterations later, at 8, it is a plateau (the last batch alone would say 5)
    rule = StoppingRule(window=4, patience=3, max_iters=1000)
    assert reasons(rule, [10.0] + [1.0] * 7, [0.1] * 8) == [None] * 7 + ["loss_plateau"]
    assert rule.running == (1.0, pytest.approx(0.1))
    # batches alternating 2, 1: the running mean (1.5) stalls although every other batch is lower than the last
    rule = StoppingRule(window=2, patience=3, max_iters=1000)
    assert reasons(rule, [2.0, 1.0, 2.0, 1.0, 2.0], [0.1] * 5) == [None] * 4 + ["loss_plateau"]


@pytest.mark.parametrize("accuracy, stops", [
    (0.5, False), (0.7, False), (0.75, False),           # exactly 0.75 is not above it
    (math.nextafter(0.75, 1), True), (0.76, True), (0.8, True), (1.0, True),
])
def test_accuracy_threshold_is_above_0_75(accuracy, stops):
    rule = StoppingRule(window=1, patience=2, max_iters=1000)
    assert reasons(rule, [2.0, 1.0], [accuracy] * 2) == [None, "accuracy" if stops else None]


def test_a_running_mean_of_exactly_0_75_is_a_tie_not_above():
    # running accuracy 0.5, 0.75, 0.67, 0.75, then 0.875 once the first 0.5 leaves the window of 4
    rule = StoppingRule(window=4, patience=1, max_iters=1000)
    assert reasons(rule, [5.0, 4.0, 3.0, 2.0, 1.0], [0.5, 1.0, 0.5, 1.0, 1.0]) == [None] * 4 + ["accuracy"]


def test_which_reason_wins_when_several_fire_at_once():
    # accuracy and loss plateau both reach their patience at the fourth iteration: accuracy
    rule = StoppingRule(window=1, patience=3, max_iters=1000)
    assert reasons(rule, [1.0] * 4, [0.1, 0.9, 0.9, 0.9]) == [None] * 3 + ["accuracy"]
    assert (rule.above_for, rule.stale_for) == (3, 3)
    # loss plateau and the cap at once: loss plateau
    rule = StoppingRule(window=1, patience=3, max_iters=4)
    assert reasons(rule, [1.0] * 4, [0.1] * 4) == [None] * 3 + ["loss_plateau"]
    # all three at once: accuracy
    rule = StoppingRule(window=1, patience=3, max_iters=4)
    assert reasons(rule, [1.0] * 4, [0.1, 0.9, 0.9, 0.9]) == [None] * 3 + ["accuracy"]


def test_the_authors_constants():
    assert (stopping.MAX_ITERS, stopping.WINDOW, stopping.PATIENCE) == (5000, 100, 800)
    assert (stopping.THRESHOLD, stopping.MIN_IMPROVEMENT) == (0.75, 1e-4)
    rule = StoppingRule(window=1, patience=1, max_iters=1)
    assert (rule.threshold, rule.min_improvement) == (0.75, 1e-4)


@pytest.mark.parametrize("preset, placement, expected", [
    (PAPER, "one_location", (100, 800, 5000)),   # the authors'
    (PAPER, "translated", (100, 800, 5000)),
    (PAPER, "areas", (100, 800, 5000)),
    (SMALL, "one_location", (30, 240, 1500)),    # iter_scale 0.3
    (SMALL, "translated", (100, 800, 5000)),     # pretrainings keep the authors' numbers
    (SMALL, "areas", (100, 800, 5000)),
    (TINY, "one_location", (1, 3, 20)),          # 0.004: 0.4 -> at least 1, 3.2 -> 3, 20
    (TINY, "translated", (1, 3, 20)),
])
def test_for_preset_gives_these_numbers(preset, placement, expected):
    rule = StoppingRule.for_preset(preset, placement)
    assert (rule.window, rule.patience, rule.max_iters, rule.threshold) == (*expected, 0.75)


def test_the_presets_protocol_constants():
    settings = ("batch_size", "lr", "warmup_iters", "iter_scale", "pretrain_iter_scale", "eval_items")
    assert {s: getattr(PAPER, s) for s in settings} == {
        "batch_size": 32, "lr": 1e-4, "warmup_iters": 0, "iter_scale": 1.0, "pretrain_iter_scale": 1.0,
        "eval_items": 100}
    assert {s: getattr(SMALL, s) for s in settings} == {
        "batch_size": 32, "lr": 3e-4, "warmup_iters": 100, "iter_scale": 0.3, "pretrain_iter_scale": 1.0,
        "eval_items": 30}
    assert (PAPER.input_stats, PAPER.imagenet_input_stats) == ("canvas", "canvas")  # the authors' normalisation


def learning_rates(monkeypatch, preset, iters, *, start=0, sync_every=1, lr=None):
    """The learning rate of every step train() takes (the step itself stubbed out) from iteration ``start``."""
    seen = []

    def step(model, optimizer, *args, **kwargs):
        seen.append(optimizer.param_groups[0]["lr"])
        return torch.tensor([1.0 / (len(seen) + start), 0.1])

    monkeypatch.setattr(train_module, "train_step", step)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=preset.lr if lr is None else lr)
    rule = StoppingRule(window=1, patience=10_000, max_iters=start + iters, iterations=start)
    reason = train(torch.nn.Linear(1, 1), None, "one_location", preset, generator=torch.Generator(),
                   optimizer=optimizer, rule=rule, log=[], progress=False, speed=Speed(channels_last=False,
                                                                                     sync_every=sync_every))
    assert reason == "max_iters" and len(seen) == iters
    return seen


def test_warm_up_is_linear_over_the_first_100_steps_at_the_small_preset(monkeypatch):
    lrs = learning_rates(monkeypatch, SMALL, 120)
    assert lrs[:3] == pytest.approx([3e-6, 6e-6, 9e-6]) and lrs[49] == pytest.approx(1.5e-4)
    assert lrs[98] == pytest.approx(2.97e-4) and lrs[99:] == [3e-4] * 21
    assert all(a < b for a, b in zip(lrs[:100], lrs[1:100]))
    assert learning_rates(monkeypatch, SMALL, 20, sync_every=7) == lrs[:20]        # read back in groups: the same
    assert learning_rates(monkeypatch, SMALL, 10, start=50) == lrs[50:60]         # a resumed run goes on from there


def test_no_warm_up_at_the_paper_preset(monkeypatch):
    assert learning_rates(monkeypatch, PAPER, 5) == [1e-4] * 5
    assert learning_rates(monkeypatch, PAPER, 5, lr=0.5) == [0.5] * 5  # train() leaves the optimizer's rate alone
