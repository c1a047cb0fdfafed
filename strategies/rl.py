"""``rl``: a controller trained by reinforcement learning emits an architecture one decision per variable.

Zoph & Le (2017) train a recurrent controller with REINFORCE and a moving-average baseline; NASNet (Zoph et al. 2018)
uses one LSTM layer of 100 units trained with PPO's clipped surrogate; NAS-Bench-201's REINFORCE baseline drops the
LSTM for one independent logit vector per variable. All three are here: ``controller=lstm|logits`` and
``algorithm=reinforce|ppo``; every option left unset takes the value of its controller's preset (``PRESETS``): the LSTM
runs NASNet's algorithm, the logits NAS-Bench-201's.

The reward is the first objective, oriented so that higher is better. The baseline is an exponential moving average
of the rewards, bias-corrected as NAS-Bench-201's ``ExponentialMovingAverage``; each reward first updates it, then its
advantage is ``reward - baseline``; with ``normalize`` (the LSTM's preset) the advantages of a batch are then
standardized, as PPO's implementations do, so that the one failed architecture 70 points below the rest does not set
the size of every step. Failures (and proposals that decode to no member) get the worst reward seen.

Asynchronous, as the search loop runs W evaluations at once: results are gathered as they are told and the controller
updates on every ``batch_size`` of them. A sample's behaviour log-probability is the one it was drawn with, so the
samples of an older policy (drawn before an update, told after it) are off-policy, and so are seeds and the stored
results of anything the controller did not draw, which are scored under the policy at the update. Off-policy samples
are importance-weighted: PPO's surrogate clips the ratio ``pi/mu`` to [1 - clip, 1 + clip] inside its min, and
REINFORCE multiplies each log-probability gradient by the clipped ratio (1 for an on-policy sample, which is then
plain REINFORCE). A draw of an architecture already told (or in flight) is drawn again (``draw_unknown``), so that a
converging policy spends the budget on members it has not tried; a duplicate the loop still sees is told its stored
result and learnt from like any draw.

The state (weights, Adam's moments, the baseline, the gathered batch, the draws in flight, the generator) is JSON,
tensors as exact bytes, so a restored controller proposes exactly what the original would have.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from nasbench.architecture import Architecture
from nasbench.errors import NasbenchError
from nasbench.options import Option
from strategies.base import MAX_INVALID, Candidate, Observation, Strategy, draw_unknown
from strategies.controllers import LogitsPolicy, LSTMPolicy, Policy
from strategies.registry import register_strategy
from strategies.torch_state import load_training_state, training_state

ALGORITHMS = ("reinforce", "ppo")
CONTROLLERS = ("lstm", "logits")
# What the unset options are for each controller. The LSTM follows NASNet (PPO, baseline decay 0.95, entropy weight
# 1e-5) except for the learning rate and batch, which NASNet sized for 20,000 samples from 450 workers (3.5e-4):
# at the budgets of a benchmark search it would barely move; the tanh constant of ENAS's NAS-Bench-201 port keeps the
# faster policy from collapsing. The logits follow NAS-Bench-201's REINFORCE script.
PRESETS: dict[str, dict[str, Any]] = {
    "lstm": {"algorithm": "ppo", "lr": 0.01, "tanh_constant": 2.5, "baseline_decay": 0.95, "entropy_weight": 1e-5,
             "batch_size": 5, "epochs": 4, "normalize": True},
    "logits": {"algorithm": "reinforce", "lr": 0.01, "tanh_constant": 0.0, "baseline_decay": 0.9,
               "entropy_weight": 0.0, "batch_size": 1, "epochs": 1, "normalize": False},
}


def _preset_help(key: str) -> str:
    return ", ".join(f"{controller} {_shown(values[key])}" for controller, values in PRESETS.items())


def _shown(value: Any) -> str:
    """A preset value as the user would type it."""
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, str) else f"{value:g}"


def _positive(value: float, name: str) -> float:
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value:g}")
    return value


def _decay(value: float) -> float:
    if not 0 <= value < 1:
        raise ValueError(f"a decay is in [0, 1), got {value:g}")
    return value


@dataclass
class Sample:
    """One told architecture as the controller learns from it.

    ``actions`` are the indices of its choices; ``log_prob`` the behaviour log-probability it was drawn with (None:
    not drawn by the controller, scored under the policy at the update); ``reward`` None for a failure.
    """

    actions: list[int] | None
    log_prob: float | None
    reward: float | None

    def to_list(self) -> list[Any]:
        """JSON form."""
        return [self.actions, self.log_prob, self.reward]

    @classmethod
    def from_list(cls, data: list[Any]) -> Sample:
        """Inverse of ``to_list``."""
        return cls(None if data[0] is None else [int(a) for a in data[0]], data[1], data[2])


class Baseline:
    """The bias-corrected exponential moving average of the rewards (NAS-Bench-201's, momentum ``decay``)."""

    def __init__(self, decay: float) -> None:
        self.decay = decay
        self.numerator = 0.0
        self.denominator = 0.0

    def update(self, reward: float) -> float:
        """Fold in ``reward`` and return the new average."""
        self.numerator = self.decay * self.numerator + (1 - self.decay) * reward
        self.denominator = self.decay * self.denominator + (1 - self.decay)
        return self.numerator / self.denominator


@register_strategy("rl")
class ReinforcementLearning(Strategy):
    """A recurrent controller (or independent logits) trained with REINFORCE or PPO emits one choice per variable."""

    paper = ("Zoph & Le 2017, Neural architecture search with reinforcement learning (ICLR); Zoph et al. 2018, "
             "Learning transferable architectures (CVPR, PPO); Dong & Yang 2020, NAS-Bench-201 (REINFORCE)")
    options = (
        Option("controller", str, "lstm", "lstm: NASNet's LSTM controller; logits: NAS-Bench-201's independent "
               "logits per variable.", choices=CONTROLLERS),
        Option("algorithm", str, None, f"reinforce or ppo (preset: {_preset_help('algorithm')}; NASNet: ppo).",
               choices=ALGORITHMS, optional=True),
        Option("layers", int, 1, "LSTM layers (NASNet: 1; Zoph & Le: 2).", minimum=1),
        Option("width", int, 100, "LSTM units per layer and embedding size (NASNet: 100; Zoph & Le: 35).",
               minimum=1),
        Option("temperature", float, 1.0, "Logits are divided by it before the softmax (ENAS's NB201 port: 5).",
               check=lambda value: _positive(value, "temperature")),
        Option("tanh_constant", float, None, f"If positive, logits become c * tanh(logits) (preset: "
               f"{_preset_help('tanh_constant')}; ENAS 1.5 macro, 1.1 micro, its NAS-Bench-201 port 2.5; NASNet: "
               "none).", optional=True, minimum=0),
        Option("lr", float, None, f"Adam's learning rate (preset: {_preset_help('lr')}; NASNet 3.5e-4, Zoph & Le "
               "6e-4).", optional=True, check=lambda value: _positive(value, "lr")),
        Option("baseline_decay", float, None, f"Momentum of the reward baseline (preset: "
               f"{_preset_help('baseline_decay')}; NASNet 0.95, NAS-Bench-201 0.9).", optional=True,
               check=_decay),
        Option("entropy_weight", float, None, f"Weight of the entropy bonus (preset: "
               f"{_preset_help('entropy_weight')}; NASNet 1e-5).", optional=True, minimum=0),
        Option("batch_size", int, None, f"Results per controller update (preset: {_preset_help('batch_size')}; "
               "NAS-Bench-201: 1).", optional=True, minimum=1),
        Option("epochs", int, None, f"PPO: optimization epochs over each batch (preset: {_preset_help('epochs')}; "
               "NNI: 5).", optional=True, minimum=1),
        Option("normalize", bool, None, f"Standardize the advantages within each batch (mean 0, std 1), as PPO's "
               f"implementations do (OpenAI baselines' ppo2); a batch of one stays reward - baseline (preset: "
               f"{_preset_help('normalize')}).", optional=True),
        Option("clip", float, 0.2, "Ratio clipping of PPO's surrogate and of off-policy weights (NASNet: 0.2).",
               minimum=0),
        Option("init_range", float, 0.1, "LSTM weights start uniform in [-r, r] (NASNet, ENAS: 0.1).", minimum=0),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.variables = self.fixed_variables()
        preset = PRESETS[self.config["controller"]]
        self.settings = {key: preset[key] if self.config[key] is None else self.config[key] for key in preset}
        sizes = [len(variable) for variable in self.variables.values()]
        generator = torch.Generator().manual_seed(self.seed)
        self.policy: Policy
        if self.config["controller"] == "lstm":
            self.policy = LSTMPolicy(sizes, generator, self.config["layers"], self.config["width"],
                                     self.config["temperature"], self.settings["tanh_constant"],
                                     self.config["init_range"])
        else:
            self.policy = LogitsPolicy(sizes, generator, self.config["temperature"], self.settings["tanh_constant"])
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=self.settings["lr"])
        self.baseline = Baseline(self.settings["baseline_decay"])
        self.batch: list[Sample] = []
        self.drawn: dict[str, list[list[Any]]] = {}  # hash -> [actions, log_prob] of each draw not yet told
        self.told: set[str] = set()  # hashes of every told architecture
        self.worst: float | None = None
        self.updates = 0

    def ask(self) -> Candidate:
        # Its learning stays on evaluations: a draw told or in flight is drawn again (draw_unknown).
        member = draw_unknown(self._draw, lambda drawn: drawn[1] in self.told or drawn[1] in self.drawn, MAX_INVALID)
        if member is None:
            raise NasbenchError(f"strategy {self.name!r}: {MAX_INVALID} proposals in a row were not members of "
                                f"space {self.space.name!r}")
        arch, arch_hash, actions, log_prob = member
        self.drawn.setdefault(arch_hash, []).append([actions, log_prob])
        return Candidate(arch, {"origin": "sample"})

    def _draw(self) -> tuple[Architecture, str, list[int], float] | None:
        """One draw of the policy: (member, hash, actions, log-probability); None, learnt as a failure, if no member."""
        actions, log_prob = self.policy.sample(self.rng)
        choices = {key: variable.choices[index] for (key, variable), index in zip(self.variables.items(), actions)}
        try:
            arch = self.space.decode(choices)
        except NasbenchError:
            self.learn(Sample(actions, log_prob, None))
            return None
        return arch, arch.hash(), actions, log_prob

    def tell(self, candidate: Candidate, observation: Observation) -> None:
        arch_hash = candidate.info.get("hash") or candidate.arch.hash()
        reward = self.fitness(observation)[0]
        self.told.add(arch_hash)
        draws = self.drawn.get(arch_hash)
        if draws:
            actions, log_prob = draws.pop(0)
            if not draws:
                del self.drawn[arch_hash]
        else:
            actions, log_prob = self.actions_of(candidate.arch), None
        self.learn(Sample(actions, log_prob, reward if math.isfinite(reward) else None))

    def actions_of(self, arch: Architecture) -> list[int] | None:
        """The choice indices of a member (None for an architecture the space cannot encode)."""
        try:
            choices = self.space.encode(arch)
        except (NasbenchError, KeyError):
            return None
        return [variable.choices.index(choices[key]) for key, variable in self.variables.items()]

    def learn(self, sample: Sample) -> None:
        """Gather ``sample`` and update on a full batch; one the space cannot encode only moves the baseline."""
        if sample.reward is not None:
            self.worst = sample.reward if self.worst is None else min(self.worst, sample.reward)
        if sample.actions is None:
            if sample.reward is not None:
                self.baseline.update(sample.reward)
            return
        self.batch.append(sample)
        if len(self.batch) >= self.settings["batch_size"]:
            self.update()

    def update(self) -> None:
        """One controller update (REINFORCE: one step; PPO: ``epochs`` steps) on the gathered batch."""
        samples = [sample for sample in self.batch if sample.reward is not None or self.worst is not None]
        self.batch = []
        if not samples:
            return  # only failures so far: there is no worst reward to give them yet
        advantages = []
        for sample in samples:
            reward = sample.reward if sample.reward is not None else self.worst
            advantages.append(reward - self.baseline.update(reward))
        advantage = torch.tensor(advantages)
        if self.settings["normalize"] and len(advantages) > 1:
            # An architecture that fails to learn (10 % on CIFAR-10) is 70 points below the rest: unscaled, such
            # outliers set the size of every step and the fine differences near the top hardly move the policy.
            advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
        actions = [sample.actions for sample in samples]
        with torch.no_grad():
            current, _ = self.policy.evaluate(actions)
        behaviour = torch.tensor([current[i].item() if sample.log_prob is None else sample.log_prob
                                  for i, sample in enumerate(samples)])
        low, high = 1 - self.config["clip"], 1 + self.config["clip"]
        steps = self.settings["epochs"] if self.settings["algorithm"] == "ppo" else 1
        for _ in range(steps):
            log_prob, entropy = self.policy.evaluate(actions)
            ratio = torch.exp(log_prob - behaviour)
            if self.settings["algorithm"] == "ppo":
                objective = torch.minimum(ratio * advantage, ratio.clamp(low, high) * advantage)
            else:
                objective = ratio.detach().clamp(low, high) * log_prob * advantage
            loss = -objective.mean() - self.settings["entropy_weight"] * entropy.mean()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "training": training_state(self.policy, self.optimizer),
                "baseline": [self.baseline.numerator, self.baseline.denominator],
                "batch": [sample.to_list() for sample in self.batch], "drawn": self.drawn, "told": sorted(self.told),
                "worst": self.worst,
                "updates": self.updates}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        load_training_state(self.policy, self.optimizer, state["training"])
        self.baseline.numerator, self.baseline.denominator = state["baseline"]
        self.batch = [Sample.from_list(data) for data in state["batch"]]
        self.drawn = {key: [[list(actions), log_prob] for actions, log_prob in draws]
                      for key, draws in state["drawn"].items()}
        self.told = set(state["told"])
        self.worst = state["worst"]
        self.updates = int(state["updates"])
