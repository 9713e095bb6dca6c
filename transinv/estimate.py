"""How long a run will take here, predicted before it starts: what a forgetful call (:mod:`transinv.scheduler`)
weighs before it starts a family it must finish inside its budget."""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from .graph import Graph, Node
from .presets import get_preset
from .runs import Run, finished_runs
from .stopping import StoppingRule
from .train import resolve_device

__all__ = ["Estimate"]


@dataclass
class Estimate:
    """Seconds a run will take here. Its iterations: the mean of the finished runs of its preset most like it
    (same placement, start and dataset; else same placement and start; else same placement), else the stopping
    rule's cap. Its rate: ``images_per_second`` where given (the GPU probe's, per run side by side, measured with
    the switches the call trains with), else the mean of those runs' (as they trained, side by side); plus their
    mean setup and evaluation seconds (else ``overhead_seconds``, the probe's). Unknown (None) without a rate."""
    history: list[Run]
    images_per_second: float | None = None
    overhead_seconds: float = 0.0

    @classmethod
    def from_results(cls, results_root: str | Path, device: str = "auto", images_per_second: float | None = None,
                     overhead_seconds: float = 0.0) -> Estimate:
        """From the runs finished in ``results_root`` on this kind of device."""
        kind = resolve_device(device).type
        return cls([r for r in finished_runs(results_root) if r.result.get("device", "cpu").split(":")[0] == kind],
                   images_per_second, overhead_seconds)

    def _like(self, node: Node) -> list[Run]:
        def traits(placement, finetuning, init, dataset):
            return placement, "finetuned" if finetuning else init, dataset
        wanted = traits(node.config.placement, node.is_finetuning, node.config.init, node.config.dataset)
        have = [(r, traits(r.config["placement"], r.is_finetuning, r.config["init"], r.config["dataset"]))
                for r in self.history]
        for shared in (3, 2, 1):
            like = [r for r, t in have if t[:shared] == wanted[:shared]]
            if like:
                return like
        return []

    def seconds(self, node: Node) -> float | None:
        preset, like = get_preset(node.config.preset), self._like(node)
        iterations = (statistics.mean(r.result["iterations"] for r in like) if like
                      else StoppingRule.for_preset(preset, node.config.placement).max_iters)
        known = like or self.history
        rate = self.images_per_second or (statistics.mean(r.result["train_images_per_second"] for r in known)
                                          if known else None)
        if rate is None:
            return None
        overhead = statistics.mean(r.result.get("eval_seconds", 0) + r.result.get("setup_seconds", 0)
                                   for r in known) if known else self.overhead_seconds
        return iterations * preset.batch_size / rate + overhead

    def family_seconds(self, graph: Graph, root: Node, workers: int) -> float | None:
        """A family's wall time: each generation after the one before, its runs side by side."""
        total, generation = 0.0, [root]
        while generation:
            times = [self.seconds(n) for n in generation]
            if None in times:
                return None
            total += max(max(times), sum(times) / workers)
            generation = [c for n in generation for c in graph.children(n)]
        return total
