"""When a network counts as evidence: it learned its own training task.

Both conditions are the network's own. (1) Its running training accuracy reached the authors' criterion: the mean
over the stopping rule's window passed 0.75 (:mod:`transinv.stopping`; the rule then waits for it to stay there).
(2) It recognises held-out items of its task: its test accuracy on them (:func:`transinv.tables.own_accuracy`),
normalized so that chance is 0 and perfect 100, is at least ``LEARNED``, halfway from chance to perfect.

The criterion is the authors' definition of a trained network. A test gate at the criterion's 0.75 would reject
networks that meet it: the rule stops a network just past 0.75 on its training items, and held-out items score
lower (FashionMNIST, fully translated, 0.69-0.75 under every candidate of issue 26's study). The held-out half-way
mark rejects what the criterion alone would let through: a network that knows its training items only.
"""
from __future__ import annotations

from .evaluate import normalized_accuracy
from .runs import Run
from .stopping import THRESHOLD, StoppingRule

__all__ = ["CRITERION", "LEARNED", "criterion_at", "learned_task"]

CRITERION = THRESHOLD  # running training accuracy of the authors' criterion
LEARNED = 50           # normalized test accuracy on held-out items of its own task, from which a network learned


def criterion_at(r: Run) -> int | None:
    """The first iteration (from 1) at which the run's running training accuracy, over a whole window of the
    stopping rule, passed the criterion; None if it never did. (The first few batches alone can pass it by chance.)"""
    window = StoppingRule.for_preset(r.preset, r.config["placement"]).window
    log = r.log
    running = log["accuracy"].rolling(window).mean()
    above = log["iteration"][running > CRITERION]
    return int(above.iloc[0]) + 1 if len(above) else None


def learned_task(r: Run) -> bool:
    """Whether the run learned its own training task: it reached the criterion, and its normalized accuracy on
    held-out items of the task is at least LEARNED."""
    from .tables import own_accuracy  # tables imports this module
    return criterion_at(r) is not None and normalized_accuracy(own_accuracy(r), r.config["num_classes"]) >= LEARNED
