"""The protocol as a graph of runs. A node is one run: its configuration, the run it fine-tunes (its parent),
the cosine tables to compute while its model is in memory, and which experiments use it, in which role.
A family is a run from scratch with every run that descends from it: what a machine that forgets its
checkpoints must train in one go. :mod:`transinv.protocol` declares the paper's graph; :mod:`transinv.scheduler`
runs any graph.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Iterable, Iterator, NamedTuple

from .runs import Run, RunConfig

__all__ = ["PARENT", "Items", "VanillaTable", "Node", "Graph"]

PARENT = "<parent>"  # a fine-tuning's init in the graph: its parent's run id is known once the parent is located


class Items(NamedTuple):
    """The items of a cosine table (:func:`transinv.analysis.run_cosines`): a dataset, all its classes or some."""
    dataset: str
    classes: tuple[int, ...] | None = None


class VanillaTable(NamedTuple):
    """The cosine table of an untrained network (``model``, random weights from ``seed``) on ``items``."""
    items: Items
    preset: object  # a preset's name or a Preset
    seed: int
    model: str | None = None  # None: the preset's model


@dataclass(eq=False)
class Node:
    """One run of a graph. Experiments that share a run share its node: their tags, tables and priorities merge."""
    config: RunConfig                       # ``init`` is :data:`PARENT` for a fine-tuning
    parent: Node | None = None
    tables: list[Items] = field(default_factory=list)   # cosine tables, computed where the model is
    tags: set[tuple[str, str]] = field(default_factory=set)  # (experiment, role)
    priority: int = 0                       # lower starts first, among the runs that can start
    key: tuple = field(init=False, repr=False)

    def __post_init__(self):
        if (self.parent is None) != (self.config.init != PARENT):
            raise ValueError("a node fine-tunes its parent exactly when its config's init is graph.PARENT")
        self.key = (self.config, None if self.parent is None else self.parent.key)

    @property
    def is_finetuning(self) -> bool:
        return self.parent is not None

    def config_under(self, parent: Run | None) -> RunConfig:
        """The run's configuration once its parent's run is known (the config itself for a run from scratch)."""
        return self.config if parent is None else dataclasses.replace(self.config, init=parent.id)


class Graph:
    """Nodes in the order they were declared; adding a run twice merges it (a run is trained once)."""

    def __init__(self, nodes: Iterable[Node] = ()):
        self._nodes: dict[tuple, Node] = {}
        self.vanilla_tables: dict[VanillaTable, None] = {}  # the untrained networks' cosine tables, in order
        for node in nodes:
            self._merge(node)

    def add(self, config: RunConfig, parent: Node | None = None, *, tag: tuple[str, str] | None = None,
            tables: Iterable[Items] = (), priority: int = 0) -> Node:
        """The graph's node for ``config`` (fine-tuning ``parent``, a node of this graph), created or merged."""
        if parent is not None and self._nodes.get(parent.key) is not parent:
            raise ValueError(f"the parent of {config} is not a node of this graph: add it first")
        new = Node(dataclasses.replace(config, init=PARENT) if parent is not None else config, parent,
                   list(tables), {tag} if tag else set(), priority)
        return self._merge(new)

    def _merge(self, node: Node) -> Node:
        kept = self._nodes.get(node.key)
        if kept is None:
            parent = None if node.parent is None else self._nodes[node.parent.key]
            kept = self._nodes[node.key] = Node(node.config, parent, [], set(), node.priority)
        kept.tables += [t for t in node.tables if t not in kept.tables]
        kept.tags |= node.tags
        kept.priority = min(kept.priority, node.priority)
        return kept

    def __or__(self, other: Graph) -> Graph:
        merged = Graph([*self, *other])
        merged.vanilla_tables = {**self.vanilla_tables, **other.vanilla_tables}
        return merged

    def __iter__(self) -> Iterator[Node]:
        return iter(self._nodes.values())

    def __len__(self) -> int:
        return len(self._nodes)

    def children(self, node: Node) -> list[Node]:
        return [n for n in self if n.parent is node]

    def family(self, root: Node) -> list[Node]:
        """``root`` and every node that descends from it, parents before their children."""
        members = [root]
        for member in members:
            members += self.children(member)
        return members

    def roots(self) -> list[Node]:
        """The runs from scratch (or fine-tuning a run outside the graph): one per family."""
        return [n for n in self if n.parent is None]

    def tagged(self, experiment: str, role: str | None = None) -> list[Node]:
        """The nodes an experiment uses (in a role, if given), in the order they were declared."""
        return [n for n in self if any(e == experiment and role in (None, r) for e, r in n.tags)]
