"""Predictor-guided evolution, as BANANAS (White, Neiswanger & Savani, AAAI 2021) optimizes its acquisition.

An accuracy predictor, an ensemble of GRU regressors over the architecture written as tokens (``strategies.tokens``,
``strategies.regressor``), works on every space, the open-ended ``graph`` space included. The search evaluates the
seeds and ``initial`` random samples first; then each proposal mutates the ``parents`` best members evaluated so far
``mutants`` times (round robin over the parents, each mutant 1 to ``mutations`` mutations away from its parent),
adds ``samples`` random architectures (NASLib's ``mutation_random``: without them the search never leaves the basin
of its first good members, which local search leaves by restarting) and proposes the contender the acquisition ranks
first among those not yet evaluated or in flight: the predicted mean
(``mean``), an upper confidence bound (``ucb``: mean + ``ucb_kappa`` * the ensemble's spread), or independent
Thompson sampling (``its``, BANANAS's choice: one draw per contender from a normal with the ensemble's mean and spread).
The predictor is refitted after every ``refit`` evaluations, on every successful one (failures, -inf, are left out of
training), for ``epochs`` full-batch steps.

BANANAS evaluates its top 10 of 100 mutants as one batch before refitting; here every proposal mutates the current
best members, so the search follows the results told since the last refit while refits stay amortized.

Exact state: ``state_dict`` holds the members told (genome, hash, fitness) in order, the hashes in flight, the random
generator and the counters. A fit is a deterministic function of the members it was trained on and its index (its
torch generator is seeded from the strategy's seed and that index; sampling and mutation draw only from ``self.rng``),
so a restored strategy refits the model it had instead of storing its weights.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from nasbench.architecture import Architecture
from nasbench.options import Option
from strategies.base import Candidate, Observation, Strategy, draw_unknown
from strategies.evolution import Member
from strategies.registry import register_strategy
from strategies.regressor import LOSSES, TokenRegressor
from strategies.tokens import tokens

ACQUISITIONS = ("its", "ucb", "mean")


class Contender(NamedTuple):
    """An architecture the acquisition may propose: its hash, its tokens and the info it would be proposed with."""

    arch: Architecture
    hash: str
    tokens: list[str]
    info: dict[str, Any]


@register_strategy("predictor")
class PredictorSearch(Strategy):
    """BANANAS-style search: mutate the best members, evaluate the mutant a recurrent accuracy predictor ranks first."""

    paper = ("White, Neiswanger & Savani 2021, BANANAS: Bayesian optimization with neural architectures for neural "
             "architecture search (AAAI)")
    options = (
        Option("initial", int, 10, "Random samples evaluated before the predictor guides the search, besides the "
               "seeds (BANANAS: 10).", minimum=0),
        Option("mutants", int, 100, "Mutants the predictor scores for each proposal (BANANAS: 100 per batch of 10).",
               minimum=1),
        Option("parents", int, 3, "How many of the best members evaluated so far are mutated (BANANAS: the best "
               "few).", minimum=1),
        Option("mutations", int, 1, "Each mutant is 1 to this many mutations away from its parent, drawn uniformly "
               "(BANANAS: 1).", minimum=1),
        Option("samples", int, 100, "Random architectures scored beside the mutants, drawn anew at every fit "
               "(BANANAS: 0, mutants only; NASLib's mutation_random adds them: 94.24 against 94.16 on NAS-Bench-201, "
               "30 runs).", minimum=0),
        Option("acquisition", str, "its", "Which contender is proposed: its (independent Thompson sampling, BANANAS), "
               "ucb (mean + ucb_kappa * spread) or mean.", choices=ACQUISITIONS),
        Option("ucb_kappa", float, 1.0, "Weight of the ensemble's spread in the ucb acquisition.", minimum=0),
        Option("refit", int, 10, "Evaluations told between two fits of the predictor (BANANAS: 10, its batch).",
               minimum=1),
        Option("ensemble", int, 5, "Networks in the predictor's ensemble (BANANAS: 5).", minimum=1),
        Option("epochs", int, 60, "Full-batch Adam steps per fit (BANANAS trains MLPs on the path encoding "
               "instead).", minimum=1),
        Option("loss", str, "pairwise", "Training loss on the standardized accuracies: pairwise (logistic loss on "
               "every ordered pair: the search needs the order near the top, which a few failed architectures far "
               "below squash under mse; 94.31 against 94.23 on NAS-Bench-201, 50 runs), mse or both.",
               choices=LOSSES),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.members: list[Member] = []  # every architecture told, in order, once per hash
        self.told: set[str] = set()
        self.pending: set[str] = set()  # proposed and not told yet
        self.sampled = 0
        self.fits = 0
        self.fitted_on = 0  # how many members (the first ones) the current model was trained on
        self.model: TokenRegressor | None = None
        self.pools: dict[str, list[Contender]] = {}  # parent hash -> its mutants (see _pool)
        self.samples: list[Contender] = []  # the random contenders of fit number sampled_for (see _samples)
        self.sampled_for = -1

    def ask(self) -> Candidate:
        if self.sampled < self.config["initial"] or not any(math.isfinite(m.fitness[0]) for m in self.members):
            self.sampled += 1
            return self._propose(self._sample(), {"origin": "sample"})
        if self._trainable(len(self.members)) >= 2 and (
                self.model is None or len(self.members) - self.fitted_on >= self.config["refit"]):
            self.fitted_on, self.fits = len(self.members), self.fits + 1
            self.model = self._fit(self.fitted_on, self.fits)
        contenders = self._mutants() + [entry for entry in self._samples() if not self._known(entry.hash)]
        if not contenders:
            return self._propose(self._sample(), {"origin": "sample"})
        chosen = contenders[self._acquire(contenders)]
        return self._propose(chosen.arch, dict(chosen.info))

    def _propose(self, arch: Architecture, info: dict[str, Any]) -> Candidate:
        self.pending.add(arch.hash())
        return Candidate(arch, info)

    def _known(self, arch_hash: str) -> bool:
        return arch_hash in self.told or arch_hash in self.pending

    def _sample(self) -> Architecture:
        """A random member neither evaluated nor in flight (see ``draw_unknown``)."""
        arch = draw_unknown(lambda: self.space.sample(self.rng), lambda drawn: self._known(drawn.hash()))
        assert arch is not None  # sample() always returns a member
        return arch

    def _mutants(self) -> list[Contender]:
        """The unknown mutants of the ``parents`` best members that have some."""
        ranked = sorted((i for i, member in enumerate(self.members) if math.isfinite(member.fitness[0])),
                        key=lambda i: (-self.members[i].fitness[0], i))
        found: list[Contender] = []
        used = 0
        for index in ranked:
            fresh = [entry for entry in self._pool(self.members[index]) if not self._known(entry.hash)]
            found += fresh
            used += bool(fresh)
            if used == self.config["parents"]:
                break
        return found

    def _pool(self, parent: Member) -> list[Contender]:
        """The distinct mutants of ``parent``: drawn once, then remembered.

        They come from a generator seeded with the strategy's seed and the parent's hash, so they are a function of
        the two (a restored strategy draws the same ones) and a parent that stays among the best costs no new
        mutations.
        """
        found = self.pools.get(parent.hash)
        if found is None:
            rng = np.random.default_rng([self.seed, *parent.hash.encode()])
            mutants: dict[str, Contender] = {}
            for _ in range(self.config["mutants"]):
                count = 1 + int(rng.integers(self.config["mutations"]))
                child = parent.arch
                for _ in range(count):
                    child = self.space.mutate(child, rng)
                if child.hash() not in mutants:
                    mutants[child.hash()] = Contender(child, child.hash(), tokens(child),
                                                      {"origin": "mutation", "parent": parent.hash, "mutations": count})
            found = self.pools[parent.hash] = list(mutants.values())
        return found

    def _samples(self) -> list[Contender]:
        """The ``samples`` random architectures scored beside the mutants until the next fit, drawn once per fit.

        They come from a generator seeded with the strategy's seed and the fit's number, for the same reason as the
        mutants' (``_pool``).
        """
        if self.config["samples"] == 0 or self.model is None:
            return []
        if self.sampled_for != self.fits:
            rng = np.random.default_rng([self.seed, self.fits])
            drawn = [self.space.sample(rng) for _ in range(self.config["samples"])]
            self.samples = [Contender(arch, arch.hash(), tokens(arch), {"origin": "sample", "fit": self.fits})
                            for arch in drawn]
            self.sampled_for = self.fits
        return self.samples

    def _acquire(self, contenders: list[Contender]) -> int:
        """The index of the contender the acquisition ranks first (the first one while there is no model)."""
        if self.model is None:
            return 0
        mean, spread = self.model.predict([entry.tokens for entry in contenders])
        acquisition = self.config["acquisition"]
        if acquisition == "its":
            score = mean + spread * self.rng.standard_normal(len(contenders))
        elif acquisition == "ucb":
            score = mean + self.config["ucb_kappa"] * spread
        else:
            score = mean
        return int(np.argmax(score))

    def _trainable(self, count: int) -> int:
        return sum(math.isfinite(member.fitness[0]) for member in self.members[:count])

    def _fit(self, count: int, index: int) -> TokenRegressor:
        """Fit number ``index``, on the successful ones among the first ``count`` members."""
        train = [member for member in self.members[:count] if math.isfinite(member.fitness[0])]
        model = TokenRegressor(members=self.config["ensemble"], epochs=self.config["epochs"], loss=self.config["loss"])
        seed = int(np.random.SeedSequence([self.seed, index]).generate_state(1)[0])
        model.fit([tokens(member.arch) for member in train], [member.fitness[0] for member in train], seed)
        return model

    def tell(self, candidate: Candidate, observation: Observation) -> None:
        arch_hash = candidate.info.get("hash") or candidate.arch.hash()
        self.pending.discard(arch_hash)
        if arch_hash in self.told:
            return  # a duplicate proposal's stored result: the member is known already
        self.told.add(arch_hash)
        self.members.append(Member(candidate.arch, arch_hash, self.fitness(observation), len(self.members)))

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "members": [member.to_dict() for member in self.members],
                "pending": sorted(self.pending), "sampled": self.sampled, "fits": self.fits,
                "fitted_on": self.fitted_on}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.members = [Member.from_dict(data) for data in state["members"]]
        self.told = {member.hash for member in self.members}
        self.pending = set(state["pending"])
        self.sampled, self.fits, self.fitted_on = int(state["sampled"]), int(state["fits"]), int(state["fitted_on"])
        self.pools, self.samples, self.sampled_for = {}, [], -1  # they depend on the seed, which the state may change
        self.model = self._fit(self.fitted_on, self.fits) if self.fits else None
