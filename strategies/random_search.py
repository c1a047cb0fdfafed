"""Random search: every candidate is an independent uniform sample of the space."""

from __future__ import annotations

from strategies.base import Candidate, Observation, Strategy
from strategies.registry import register_strategy


@register_strategy("random")
class RandomSearch(Strategy):
    """Samples the space independently at every ask; results do not change what it proposes."""

    paper = "Bergstra & Bengio 2012, Random search for hyper-parameter optimization; Li & Talwalkar 2019"
    multi_objective = True

    def ask(self) -> Candidate:
        return Candidate(self.space.sample(self.rng), {"origin": "sample"})

    def tell(self, candidate: Candidate, observation: Observation) -> None:
        """Random search learns nothing from results."""
