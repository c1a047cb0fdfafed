"""The ``graph`` space: the open-ended space of whole networks, in which every zoo network lives.

Members are valid networks for the space's input shape with output ``(num_classes,)`` (within optional parameter and
MAC limits). Seeds are the zoo networks adapted to the input shape at a small width. Mutation edits the networkx
graphs as the seeds' evolutionary search does (Piergiovanni et al., Algorithm 1 and Figure 5: layer type change,
filter size change, layer addition) plus layer removal, residual/dense edges, inception-style branches and width
changes; see ``search_spaces.graph_mutations``. Edits inside a cell instance go to a private copy of its template.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

from nasbench.architecture import Architecture
from nasbench.cell import NETWORK_INPUT, Cell
from nasbench.errors import GenomeError, NasbenchError, error_line
from nasbench.limits import size_limit_error
from search_spaces import zoo
from search_spaces.base import SearchSpace
from search_spaces.graph_mutations import (
    LAYER_TYPES,
    MUTATIONS,
    Site,
    drop_unused_templates,
    layer_args,
    node_shapes,
    op_count,
    privatize,
    reorder,
    site_chains,
)
from search_spaces.registry import register_space

log = logging.getLogger(__name__)

# The seed individuals the main job evaluates first: one quick network per design idea (plain stacks, residual,
# gated, inception/fire branches, depthwise separable); deep ones (DenseNet, ResNeXt-50) train several times slower
# on a CPU and are left to ``seeds="all"`` or a list of names.
DEFAULT_SEEDS = ("lenet5", "alexnet", "vgg11_bn", "resnet18", "highway", "squeezenet1_1", "googlenet", "mobilenet_v1")


@register_space("graph")
class GraphSpace(SearchSpace):
    """Whole networks as graphs; seeds are adapted zoo networks, mutations edit the graph.

    ``seeds``: zoo names, ``"all"`` for the whole zoo, or None for ``DEFAULT_SEEDS`` (those registered). ``width_mult``
    scales the adapted seeds (small by default so that they train in seconds on a CPU). ``max_params``/``max_macs``
    bound the members. ``walk`` is the longest mutation walk of ``sample``; ``max_tries`` bounds the attempts of one
    mutation before it gives up.
    """

    name = "graph"

    def __init__(self, input_shape: Sequence[int] = (3, 32, 32), num_classes: int = 10,
                 seeds: Sequence[str] | str | None = None, width_mult: float = 0.25,
                 max_params: int | None = None, max_macs: int | None = None, walk: int = 3,
                 max_tries: int = 50, mutations: Mapping[str, float] | None = None) -> None:
        super().__init__(input_shape, num_classes)
        self.seed_names = seeds
        self.width_mult = float(width_mult)
        self.max_params = max_params
        self.max_macs = max_macs
        self.walk = max(1, int(walk))
        self.max_tries = max(1, int(max_tries))
        weights = dict(mutations) if mutations is not None else dict.fromkeys(MUTATIONS.names(), 1.0)
        for kind in weights:
            MUTATIONS.get(kind)  # an unknown name is a NasbenchError with close matches
        total = sum(weights.values())
        if total <= 0:
            raise NasbenchError("graph mutation weights must have a positive sum")
        self.mutation_names = list(weights)
        self.mutation_weights = np.array([weights[n] / total for n in self.mutation_names])
        self._seeds: list[Architecture] | None = None

    # ------------------------------------------------------------------------------------------- membership

    def check(self, arch: Architecture) -> str | None:
        """Why ``arch`` is not a member (None if it is)."""
        if tuple(arch.input_shape) != self.input_shape:
            return f"input shape {list(arch.input_shape)} is not the space's {list(self.input_shape)}"
        try:
            Architecture.from_dict(arch.to_dict())
            lowered = arch.lower()
        except GenomeError as error:
            return str(error)
        if lowered.output_shape != (self.num_classes,):
            return f"output shape {lowered.output_shape} is not ({self.num_classes},)"
        return size_limit_error(lowered.params, lowered.macs, self.max_params, self.max_macs)

    def contains(self, arch: Architecture) -> bool:
        """A valid network for the space's input shape and classes, within the limits."""
        return self.check(arch) is None

    # ----------------------------------------------------------------------------------------------- seeds

    def seeds(self) -> list[Architecture]:
        """The chosen zoo networks adapted to the space; ones that fail to adapt are skipped with a logged reason."""
        if self._seeds is None:
            self._seeds = []
            for name in self._seed_list():
                try:
                    self._seeds.append(self.make_seed(name))
                except NasbenchError as error:
                    log.warning("graph space: skipped: %s", error)
        return [arch.copy() for arch in self._seeds]

    def seed_catalog(self) -> list[str]:
        """Every zoo network: any of them can be a seed, once adapted to the space's task."""
        return zoo.names()

    def make_seed(self, name: str) -> Architecture:
        """Zoo network ``name`` adapted to the space (``zoo.adapt`` at ``width_mult``)."""
        try:
            zoo.entry(name)
        except NasbenchError as error:
            raise NasbenchError(f"unknown seed {name!r}: {error}") from None
        try:
            arch = zoo.adapt(zoo.get(name), self.input_shape, self.num_classes, self.width_mult)
        except Exception as error:  # noqa: BLE001 -- a zoo factory may fail in any way on an unusual input shape
            raise NasbenchError(f"seed {name} does not adapt to {'x'.join(map(str, self.input_shape))} inputs: "
                                f"{error_line(error)}") from None
        reason = self.check(arch)
        if reason is not None:
            raise NasbenchError(f"seed {name} is not a member of the space: {reason}")
        arch.name = name
        arch.meta["origin"] = name
        return arch

    def _seed_list(self) -> list[str]:
        available = zoo.names()
        if self.seed_names is None:
            return [name for name in DEFAULT_SEEDS if name in available]
        if self.seed_names == "all":
            return available
        names = [self.seed_names] if isinstance(self.seed_names, str) else list(self.seed_names)
        for name in names:
            zoo.entry(name)  # an unknown name is a NasbenchError with close matches
        return names

    # ------------------------------------------------------------------------------------------ moving around

    def sample(self, rng: np.random.Generator) -> Architecture:
        """A random mutation walk (1 to ``walk`` steps) from a random seed or a random small network."""
        seeds = self.seeds()
        if seeds and rng.random() < 0.5:
            arch = seeds[int(rng.integers(len(seeds)))]
        else:
            arch = self.random_network(rng)
        for _ in range(int(rng.integers(1, self.walk + 1))):
            arch = self.mutate(arch, rng)
        return arch

    def random_network(self, rng: np.random.Generator) -> Architecture:
        """A small random plain network: a stem conv, one to four random layers (one may reduce), a linear head."""
        network = Cell(inputs=[NETWORK_INPUT])
        width = int(rng.choice([8, 16]))
        previous = network.add("stem", "conv_bn_relu", inputs=[NETWORK_INPUT], args={"out": width})
        layers = int(rng.integers(1, 5))
        reduce_at = int(rng.integers(layers)) if min(self.input_shape[1:]) >= 4 else -1
        for i in range(layers):
            op = str(rng.choice(list(LAYER_TYPES)))
            kernel = int(rng.choice(LAYER_TYPES[op]))
            width = int(rng.choice([8, 16, 32]))
            args = layer_args(op, width, kernel, 2 if i == reduce_at else 1)
            previous = network.add(f"layer{i}", op, inputs=[previous], args=args)
        network.add("gap", "global_avg_pool", inputs=[previous])
        network.add("fc", "linear", inputs=["gap"], args={"out": self.num_classes})
        network.output = "fc"
        arch = Architecture("random", self.input_shape, network, meta={"origin": "random"})
        reason = self.check(arch)
        if reason is not None:  # only the limits can reject this network
            raise NasbenchError(f"graph space: a random small network is not a member: {reason}")
        return arch

    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        """A valid member that differs from ``arch`` (by canonical hash) by one graph edit."""
        parent_hash = arch.hash()
        chains = site_chains(arch)
        weights = np.array([max(op_count(arch, chain), 1) for chain in chains], dtype=float)
        failures: list[str] = []
        for _ in range(self.max_tries):
            kind = self.mutation_names[int(rng.choice(len(self.mutation_names), p=self.mutation_weights))]
            chain = chains[int(rng.choice(len(chains), p=weights / weights.sum()))]
            child = arch.copy()
            try:
                description = self._apply(child, chain, kind, rng)
            except GenomeError as error:  # an edit that the genome itself refuses (e.g. an input listed twice)
                failures.append(f"{kind}: {error}")
                continue
            if description is None:
                continue
            reason = self.check(child)
            if reason is None and child.hash() == parent_hash:
                reason = "same network"
            if reason is not None:
                failures.append(f"{description}: {reason}")
                continue
            return self._child(arch, child, parent_hash, description)
        last = f" (last: {failures[-1]})" if failures else ""
        raise NasbenchError(f"graph space: no valid mutation of {arch.name!r} in {self.max_tries} tries{last}")

    @staticmethod
    def _apply(child: Architecture, chain: tuple[str, ...], kind: str, rng: np.random.Generator) -> str | None:
        key, cell = privatize(child, chain)
        shapes = node_shapes(child.lower()).get(key, {})
        description = MUTATIONS.get(kind)(Site(key, cell, shapes), rng)
        if description is None:
            return None
        drop_unused_templates(child)
        reorder(cell)
        return description if key == "network" else f"{description} (in {'.'.join(chain)})"

    @staticmethod
    def _child(parent: Architecture, child: Architecture, parent_hash: str, description: str) -> Architecture:
        origin = parent.meta.get("origin") or parent.meta.get("zoo", {}).get("name") or parent.name
        child.meta = {"origin": origin, "parent": parent_hash, "mutation": description}
        child.name = f"{origin}-{child.hash()[:8]}"
        return child
