"""A tiny search space and evaluators for the search-loop tests: fast, deterministic, real Architectures."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from nasbench.architecture import Architecture
from nasbench.cell import Cell
from search_spaces.base import ChoiceSpace, Variable
from workers.base import Evaluator, Result

WIDTHS = [2, 3, 4, 5]


class ToySpace(ChoiceSpace):
    """``layers`` stacked 1x1 convs whose widths are the (ordinal) variables: 4 ** layers members."""

    name = "toy"

    def __init__(self, input_shape: Sequence[int] = (1, 4, 4), num_classes: int = 3, layers: int = 4) -> None:
        super().__init__(input_shape, num_classes)
        self.layers = layers

    def variables(self) -> dict[str, Variable]:
        return {f"w{i}": Variable(tuple(WIDTHS), ordinal=True) for i in range(self.layers)}

    def build(self, choices: Mapping[str, Any]) -> Architecture:
        net = Cell(inputs=["input"], output="fc")
        previous = "input"
        for i in range(self.layers):
            previous = net.add(f"c{i}", "conv", inputs=[previous], args={"out": int(choices[f"w{i}"]), "kernel": 1})
        net.add("gap", "global_avg_pool", inputs=[previous])
        net.add("fc", "linear", inputs=["gap"], args={"out": self.num_classes})
        name = "toy-" + "".join(str(choices[f"w{i}"]) for i in range(self.layers))
        return Architecture(name, self.input_shape, net)

    def encode(self, arch: Architecture) -> dict[str, Any]:
        return {f"w{i}": arch.network.node(f"c{i}")["args"]["out"] for i in range(self.layers)}

    def seeds(self) -> list[Architecture]:
        small = self.decode({key: 2 for key in self.variables()})
        small.name = "small"
        middle = self.decode({key: 3 for key in self.variables()})
        middle.name = "middle"
        return [small, middle]


def toy_score(arch: Architecture) -> float:
    """Higher for wider early layers: a landscape with one optimum (all 5s) that mutations climb."""
    widths = [arch.network.node(f"c{i}")["args"]["out"] for i in range(len(arch.network.nodes()) - 2)]
    return float(sum(w * (len(widths) - i) for i, w in enumerate(widths)))


class ToyEvaluator(Evaluator):
    """Scores by ``toy_score``; architectures whose first two layers are both 4 wide raise, ``delay`` seconds each."""

    metrics = ("score", "double")
    objectives = "score:max"
    input_shape = (1, 4, 4)
    num_classes = 3

    def __init__(self, delay: float = 0.0, raising: bool = True) -> None:
        self.delay = delay
        self.raising = raising
        self.calls: list[str] = []

    def evaluate(self, arch: Architecture, fidelity: int | None = None, seed: int = 0) -> Result:
        time.sleep(self.delay)
        self.calls.append(arch.hash())
        widths = [arch.network.node(f"c{i}")["args"]["out"] for i in range(2)]
        if self.raising and widths == [4, 4]:
            raise RuntimeError("toy evaluator refuses 4-4")
        score = toy_score(arch)
        return Result("ok", {"score": score, "double": 2 * score}, [{"epoch": 1, "score": score / 2},
                                                                      {"epoch": 2, "score": score}], 0.01)
