"""``enas``: Efficient Neural Architecture Search (Pham et al., ICML 2018) on a supernet's shared weights.

An LSTM controller emits one decision per variable of the space (``variables()``: NAS-Bench-201's edge ops, the
DARTS cells' inputs and ops, the macro network's ops and skip connections). Each epoch alternates ENAS's two phases:

1. one pass over the weight data training the shared weights, one architecture sampled by the controller per
   minibatch and only its path through the supernet running (SGD, lr 0.05 cosine to 0.0005, Nesterov momentum 0.9,
   gradient clip 5);
2. ``controller_steps`` Adam steps of the controller (beta1 0, eps 1e-3), each on the REINFORCE gradient of
   ``controller_aggregate`` sampled architectures whose reward is their accuracy on a minibatch of architecture data
   with the shared weights, plus ``entropy_weight`` times the sample's entropy; the baseline is an exponential moving
   average (decay 0.99) updated before the advantage is taken, as in the reference. On the macro space a KL penalty
   pulls the skip rate toward 0.4 (weight 0.8).

Logits are divided by the temperature and bounded by ``tanh_constant * tanh``. The presets (``PRESETS``) are the
reference's: the macro search (LSTM 64, lr 0.001, tanh 1.5, skip penalty), the micro search on DARTS cells (LSTM 64,
lr 0.0035, temperature 5, tanh 1.10 divided by a further 2.5 for ops) and NAS-Bench-201's port (LSTM 32 x 2, lr 0.001,
temperature 5, tanh 2.5). A finished search samples ``candidates`` architectures, scores each on a minibatch of
architecture data with the shared weights and hands them to evaluation best first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from nasbench.options import Option
from search_spaces.supernet import Supernet
from strategies.controllers import LSTMPolicy
from strategies.one_shot import (
    COMMON_OPTIONS,
    Job,
    OneShotStrategy,
    _positive,
    clip_and_step,
    cosine_lr,
    cross_entropy_step,
)
from strategies.registry import register_strategy

# Controller settings of each space's reference search; an option left unset takes its space's value.
PRESETS: dict[str, dict[str, Any]] = {
    "enas-macro": {"width": 64, "lstm_layers": 1, "controller_lr": 0.001, "temperature": 1.0, "tanh_constant": 1.5,
                   "op_tanh_reduce": 1.0, "skip_weight": 0.8, "weight_decay": 1e-4},
    "darts": {"width": 64, "lstm_layers": 1, "controller_lr": 0.0035, "temperature": 5.0, "tanh_constant": 1.10,
              "op_tanh_reduce": 2.5, "skip_weight": 0.0, "weight_decay": 2e-4},
    "nb201": {"width": 32, "lstm_layers": 2, "controller_lr": 0.001, "temperature": 5.0, "tanh_constant": 2.5,
              "op_tanh_reduce": 1.0, "skip_weight": 0.0, "weight_decay": 2e-4},
}
DEFAULT_PRESET = "darts"


class Baseline:
    """ENAS's moving-average baseline of the rewards, with a state dict for the job's checkpoint."""

    def __init__(self, decay: float) -> None:
        self.decay = decay
        self.value = 0.0

    def update(self, reward: float) -> float:
        """Move toward ``reward`` and return the new baseline (the reference reads it after the update)."""
        self.value -= (1.0 - self.decay) * (self.value - reward)
        return self.value

    def state_dict(self) -> dict[str, float]:
        """The current value."""
        return {"value": self.value}

    def load_state_dict(self, state: Mapping[str, float]) -> None:
        """Restore ``state_dict``."""
        self.value = float(state["value"])


def _unit(value: float) -> float:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"must be in [0, 1), got {value:g}")
    return value


@register_strategy("enas")
class EnasStrategy(OneShotStrategy):
    """ENAS: an LSTM controller trained by REINFORCE on the accuracy of paths through shared weights."""

    paper = "Pham, Guan, Zoph, Le & Dean, Efficient Neural Architecture Search via Parameter Sharing, ICML 2018"
    options = (*COMMON_OPTIONS,
               Option("lr", float, 0.05, "Shared-weight SGD learning rate (cosine to lr_min)", check=_positive),
               Option("lr_min", float, 0.0005, "Shared-weight learning rate at the last epoch", minimum=0.0),
               Option("weight_decay", float, None, "Shared-weight decay; none: the preset (macro 1e-4, cells 2e-4)",
                      minimum=0.0, optional=True),
               Option("grad_clip", float, 5.0, "Gradient norm clip of the shared weights (0: none)", minimum=0.0),
               Option("controller_lr", float, None, "Controller Adam learning rate; none: the preset",
                      check=_positive, optional=True),
               Option("width", int, None, "Controller LSTM units; none: the preset (64, NB201's port 32)", minimum=1,
                      optional=True),
               Option("lstm_layers", int, None, "Controller LSTM layers; none: the preset (1, NB201's port 2)",
                      minimum=1, optional=True),
               Option("temperature", float, None, "Logit temperature; none: the preset", check=_positive,
                      optional=True),
               Option("tanh_constant", float, None, "Bound on the logits (c * tanh); none: the preset", minimum=0.0,
                      optional=True),
               Option("entropy_weight", float, 1e-4, "Weight of the sample entropy added to the reward", minimum=0.0),
               Option("baseline_decay", float, 0.99, "Decay of the reward's moving-average baseline", check=_unit),
               Option("controller_steps", int, 30, "Controller steps per epoch", minimum=0),
               Option("controller_aggregate", int, 10, "Sampled architectures per controller step", minimum=1),
               Option("skip_target", float, 0.4, "Macro space: the skip rate the KL penalty pulls toward",
                      check=_unit),
               Option("skip_weight", float, None, "Macro space: weight of the skip penalty; none: the preset "
                                                  "(0.8 macro, 0 cells)", minimum=0.0, optional=True),
               Option("candidates", int, 100, "Architectures sampled at the end and ranked on shared weights",
                      minimum=1))
    smoke_options = {**OneShotStrategy.smoke_options, "searches": 1, "controller_steps": 2,
                     "controller_aggregate": 2, "candidates": 20}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        variables = self.fixed_variables()
        self.names = list(variables)
        self.choices_of = [list(variable.choices) for variable in variables.values()]

    def setting(self, key: str) -> Any:
        """An option's value, or its space's preset when unset."""
        value = self.config.get(key)
        if value is not None:
            return value
        return PRESETS.get(self.space.name, PRESETS[DEFAULT_PRESET])[key]

    def setup(self, supernet: Supernet, rng: np.random.Generator) -> dict[str, Any]:
        """Shared-weight SGD, the controller, its Adam and the baseline."""
        scales = [1.0 / self.setting("op_tanh_reduce") if "_op" in name else 1.0 for name in self.names]
        generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
        policy = LSTMPolicy([len(c) for c in self.choices_of], generator, self.setting("lstm_layers"),
                            self.setting("width"), self.setting("temperature"), self.setting("tanh_constant"),
                            tanh_scales=scales)
        weights = torch.optim.SGD(list(supernet.weights()), lr=self.config["lr"], momentum=0.9, nesterov=True,
                                  weight_decay=self.setting("weight_decay"))
        controller = torch.optim.Adam(policy.parameters(), lr=self.setting("controller_lr"), betas=(0.0, 0.999),
                                      eps=1e-3)
        return {"weights": weights, "policy": policy, "controller": controller,
                "baseline": Baseline(self.config["baseline_decay"])}

    def decode(self, actions: list[int]) -> dict[str, Any]:
        """The flat choices of the controller's decisions."""
        return {name: choices[a] for name, choices, a in zip(self.names, self.choices_of, actions)}

    def train_epoch(self, job: Job, epoch: int) -> dict[str, float]:
        """A shared-weight pass (one sampled path per minibatch), then the controller's steps."""
        lr = cosine_lr(self.config["lr"], self.config["lr_min"], epoch, self.config["epochs"])
        optimizer, policy = job.state["weights"], job.state["policy"]
        for group in optimizer.param_groups:
            group["lr"] = lr
        supernet, weights = job.supernet, list(job.supernet.weights())
        loss_sum, correct, seen = 0.0, 0, 0
        for (xw, yw), _ in job.batches.epoch():
            actions, _ = policy.sample(job.rng)
            path, active = job.path(self.decode(actions))
            optimizer.zero_grad(set_to_none=True)
            loss, logits = cross_entropy_step(supernet, xw, yw, job.precision, path, active)
            clip_and_step(weights, optimizer, job.precision, loss, self.config["grad_clip"])
            loss_sum += float(loss.detach()) * len(yw)
            correct += int((logits.argmax(1) == yw).sum())
            seen += len(yw)
        reward = self.train_controller(job)
        return {"train_loss": loss_sum / seen, "train_acc": 100.0 * correct / seen, "lr": lr, "reward": reward}

    def reward(self, job: Job, choices: Mapping[str, Any]) -> float:
        """Accuracy (0..1) of the path of ``choices`` on one minibatch of architecture data."""
        x, y = job.batches.arch_batch()
        path, active = job.path(choices)
        job.supernet.eval()
        with torch.no_grad(), job.precision.autocast():
            logits = job.supernet(x, path, active)
        job.supernet.train()
        return float((logits.argmax(1) == y).float().mean())

    def train_controller(self, job: Job) -> float:
        """ENAS's controller phase; the mean reward of its samples."""
        policy, optimizer, baseline = job.state["policy"], job.state["controller"], job.state["baseline"]
        skip_weight, target = self.setting("skip_weight"), self.config["skip_target"]
        skips = [t for t, name in enumerate(self.names) if "_skip" in name]  # enas-macro's layer<i>_skip<j>
        rewards = []
        for _ in range(self.config["controller_steps"]):
            optimizer.zero_grad(set_to_none=True)
            for _ in range(self.config["controller_aggregate"]):
                actions, _ = policy.sample(job.rng)
                _, log_prob, entropy, steps = policy.run(torch.tensor([actions], dtype=torch.long))
                bonus = self.config["entropy_weight"] * float(entropy[0].detach())
                reward = self.reward(job, self.decode(actions)) + bonus
                rewards.append(reward)
                advantage = reward - baseline.update(reward)
                loss = -log_prob[0] * advantage
                if skip_weight and skips:
                    p = torch.stack([steps[t][0].exp()[1] for t in skips]).clamp(1e-6, 1 - 1e-6)
                    kl = p * torch.log(p / target) + (1 - p) * torch.log((1 - p) / (1 - target))
                    loss = loss + skip_weight * kl.mean()
                (loss / self.config["controller_aggregate"]).backward()
            optimizer.step()
        return float(np.mean(rewards)) if rewards else math.nan

    def current_choices(self, job: Job) -> dict[str, Any]:
        """The controller's most probable architecture."""
        return self.decode(job.state["policy"].greedy())

    def derived_weights(self, job: Job) -> tuple[list[torch.Tensor] | None, Any]:
        """The path of the controller's most probable architecture."""
        return job.path(self.current_choices(job))

    def entropy(self, job: Job) -> float:
        """The controller's entropy per decision at its most probable architecture's prefix."""
        policy = job.state["policy"]
        with torch.no_grad():
            _, _, _, steps = policy.run(torch.tensor([policy.greedy()], dtype=torch.long))
        return float(np.mean([float(-(s.exp() * s).sum()) for s in steps]))

    def final_choices(self, job: Job) -> list[dict[str, Any]]:
        """``candidates`` sampled architectures, distinct, best first by their accuracy on shared weights."""
        policy, scored, seen = job.state["policy"], [], set()
        for _ in range(self.config["candidates"]):
            actions, _ = policy.sample(job.rng)
            key = tuple(actions)
            if key in seen:
                continue
            seen.add(key)
            choices = self.decode(actions)
            scored.append((self.reward(job, choices), len(scored), choices))
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [choices for _, _, choices in scored]
