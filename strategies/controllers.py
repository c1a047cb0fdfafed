"""Policies over a fixed-length space's variables: NASNet's LSTM controller and NAS-Bench-201's independent logits.

A policy emits one decision per variable of ``variables()``, in order. ``sample`` draws one architecture's decisions
with a numpy generator (so that a strategy's whole randomness is one generator it can save), ``evaluate`` gives the
log-probability and entropy of given decisions under the current weights. Both run the same step-by-step code, so the
log-probability recorded when a decision was sampled is the one ``evaluate`` gives for unchanged weights.

Logits pass through ENAS's sampling transform: divided by ``temperature``, then ``tanh_constant * tanh(logits)`` when
``tanh_constant`` is set (Pham et al. 2018), which bounds how peaked the policy can become; ``tanh_scales`` scales
the constant per decision (ENAS's micro controller divides it by 2.5 for the ops).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 - torch's own alias


class Policy(nn.Module):
    """A distribution over one choice per variable; subclasses give the logits of step ``t``."""

    def __init__(self, sizes: Sequence[int], temperature: float = 1.0, tanh_constant: float = 0.0,
                 tanh_scales: Sequence[float] | None = None) -> None:
        super().__init__()
        self.sizes = [int(size) for size in sizes]
        self.temperature = float(temperature)
        self.tanh_constant = float(tanh_constant)
        self.tanh_scales = [float(scale) for scale in tanh_scales] if tanh_scales is not None else [1.0] * len(sizes)

    def transform(self, logits: torch.Tensor, t: int = 0) -> torch.Tensor:
        """ENAS's temperature and tanh constant (scaled for decision ``t``) applied to raw logits."""
        logits = logits / self.temperature
        constant = self.tanh_constant * self.tanh_scales[t]
        return constant * torch.tanh(logits) if constant > 0 else logits

    def step(self, t: int, state: object, previous: torch.Tensor | None, batch: int) -> tuple[torch.Tensor, object]:
        """Raw logits ``[batch, sizes[t]]`` of decision ``t`` given the previous decision, and the next state.

        ``state`` is what the previous step returned (None before the first decision).
        """
        raise NotImplementedError

    def run(self, actions: torch.Tensor | None, rng: np.random.Generator | None = None
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """(decisions ``[batch, T]``, summed log-probability and entropy ``[batch]``, each step's log-probabilities).

        With ``actions`` given they are scored; without, one sequence is drawn with ``rng`` (the most probable
        decision at every step when ``rng`` is None too).
        """
        batch = 1 if actions is None else actions.shape[0]
        state: object = None
        previous: torch.Tensor | None = None
        taken, log_prob, entropy, steps = [], torch.zeros(batch), torch.zeros(batch), []
        for t in range(len(self.sizes)):
            logits, state = self.step(t, state, previous, batch)
            log_probs = F.log_softmax(self.transform(logits, t), dim=-1)
            if actions is None and rng is None:
                choice = log_probs.detach().argmax(-1)
            elif actions is None:
                probs = log_probs[0].detach().exp().double().numpy()
                choice = torch.tensor([int(rng.choice(len(probs), p=probs / probs.sum()))])
            else:
                choice = actions[:, t]
            log_prob = log_prob + log_probs.gather(1, choice[:, None])[:, 0]
            entropy = entropy - (log_probs.exp() * log_probs).sum(-1)
            taken.append(choice)
            steps.append(log_probs)
            previous = choice
        return torch.stack(taken, 1), log_prob, entropy, steps

    def sample(self, rng: np.random.Generator) -> tuple[list[int], float]:
        """One draw: the index of every decision, and its log-probability."""
        with torch.no_grad():
            actions, log_prob, _, _ = self.run(None, rng)
        return actions[0].tolist(), float(log_prob[0])

    def greedy(self) -> list[int]:
        """The most probable decision at every step."""
        with torch.no_grad():
            actions, _, _, _ = self.run(None, None)
        return actions[0].tolist()

    def evaluate(self, actions: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability and entropy (each ``[batch]``, differentiable) of given decision sequences."""
        _, log_prob, entropy, _ = self.run(torch.tensor([list(a) for a in actions], dtype=torch.long))
        return log_prob, entropy


class LogitsPolicy(Policy):
    """NAS-Bench-201's REINFORCE policy: one independent logit vector per variable, initialised ``1e-3 * randn``."""

    def __init__(self, sizes: Sequence[int], generator: torch.Generator, temperature: float = 1.0,
                 tanh_constant: float = 0.0) -> None:
        super().__init__(sizes, temperature, tanh_constant)
        self.logits = nn.ParameterList(
            nn.Parameter(1e-3 * torch.randn(size, generator=generator)) for size in self.sizes)

    def step(self, t: int, state: object, previous: torch.Tensor | None, batch: int) -> tuple[torch.Tensor, object]:
        return self.logits[t].expand(batch, -1), state


class LSTMPolicy(Policy):
    """NASNet's controller: an LSTM that reads the embedding of each decision and emits the next one's logits.

    Every weight is initialised uniformly in [-``init_range``, ``init_range``] (NASNet and ENAS: 0.1). Each variable has
    its own embedding table (the input for the next step) and its own softmax head; the first step reads a learned
    start embedding.
    """

    def __init__(self, sizes: Sequence[int], generator: torch.Generator, layers: int = 1, width: int = 100,
                 temperature: float = 1.0, tanh_constant: float = 0.0, init_range: float = 0.1,
                 tanh_scales: Sequence[float] | None = None) -> None:
        super().__init__(sizes, temperature, tanh_constant, tanh_scales)
        self.lstm = nn.LSTM(width, width, num_layers=layers)
        self.start = nn.Parameter(torch.empty(1, width))
        self.embeddings = nn.ModuleList(nn.Embedding(size, width) for size in self.sizes)
        self.heads = nn.ModuleList(nn.Linear(width, size) for size in self.sizes)
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.uniform_(-init_range, init_range, generator=generator)

    def step(self, t: int, state: object, previous: torch.Tensor | None, batch: int) -> tuple[torch.Tensor, object]:
        inputs = self.start.expand(batch, -1) if previous is None else self.embeddings[t - 1](previous)
        output, state = self.lstm(inputs[None], state)  # type: ignore[arg-type]
        return self.heads[t](output[0]), state
