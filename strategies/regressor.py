"""An ensemble of small recurrent regressors over token sequences: a mean prediction and its spread.

Each member embeds the tokens (a vocabulary of the tokens seen in training; one index for any other), runs a GRU over
the sequence and reads the score off the state after the last token with a linear layer. The members differ only in
their random initialisation, as BANANAS's ensemble does; their spread is the uncertainty that UCB and Thompson
sampling use. The members run as one GRU whose weights are block-diagonal (one block per member, the other entries
held at zero), so each one computes exactly what it would alone while the ensemble costs one recurrent pass: on a CPU
a small GRU's time goes to the per-step overhead, not to the arithmetic.

Training is full-batch Adam on the standardized targets, with ``loss``: ``mse``, ``pairwise`` (a logistic loss on
every pair of architectures ordered by their targets, which rewards the order a search needs rather than the values),
or ``both`` (their sum). Tokens that begin or end every training sequence carry no signal and only cost recurrent
steps (NAS-Bench-201's residual block and network skeleton are the same in every member), so the longest prefix and
suffix common to the training sequences are cut off every sequence the model reads.

Fitting is a deterministic function of the sequences, targets and ``seed``: every random draw comes from a
``torch.Generator`` seeded with it, never the global torch generator, and fitting and predicting run on ``threads``
torch threads (one by default: the results do not depend on the caller's thread count, and small recurrent steps
gain nothing from more threads while several processes competing for cores slow them down a hundredfold).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F  # noqa: N812

from nasbench.errors import NasbenchError
from nasbench.threads import num_threads

LOSSES = ("mse", "pairwise", "both")
PAD, UNKNOWN = 0, 1


class _Ensemble(nn.Module):
    """``members`` regressors (embedding, GRU, linear read-out) computed as one block-diagonal GRU."""

    def __init__(self, vocabulary: int, members: int, embedding: int, hidden: int,
                 generator: torch.Generator) -> None:
        super().__init__()
        self.members, self.hidden = members, hidden
        self.embed = nn.Embedding(vocabulary, members * embedding, padding_idx=PAD)
        self.gru = nn.GRU(members * embedding, members * hidden, batch_first=True)
        self.weight = nn.Parameter(torch.empty(members, hidden))
        self.bias = nn.Parameter(torch.empty(members))
        # Gates r, z, n are stacked row-wise in each GRU weight, so each gate's block diagonal repeats three times.
        self.register_buffer("mask_ih", torch.block_diag(*[torch.ones(hidden, embedding)] * members).repeat(3, 1))
        self.register_buffer("mask_hh", torch.block_diag(*[torch.ones(hidden, hidden)] * members).repeat(3, 1))
        bound = 1.0 / math.sqrt(hidden)  # PyTorch's initialisation of a GRU (and of a linear layer) of one member
        with torch.no_grad():
            self.embed.weight.normal_(generator=generator)
            self.embed.weight[PAD] = 0.0
            for parameter in (*self.gru.parameters(), self.weight, self.bias):
                parameter.uniform_(-bound, bound, generator=generator)
            self.gru.weight_ih_l0.mul_(self.mask_ih)
            self.gru.weight_hh_l0.mul_(self.mask_hh)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Every member's score of every sequence, shape (members, batch)."""
        weights = dict(self.gru.named_parameters())
        weights["weight_ih_l0"] = weights["weight_ih_l0"] * self.mask_ih
        weights["weight_hh_l0"] = weights["weight_hh_l0"] * self.mask_hh
        states, _ = functional_call(self.gru, weights, (self.embed(ids),))
        last = states[torch.arange(len(ids)), lengths - 1]  # padding comes after the last token and is never read
        return torch.einsum("bmh,mh->mb", last.view(len(ids), self.members, self.hidden), self.weight) + \
            self.bias[:, None]


def _common_prefix(sequences: Sequence[Sequence[str]]) -> int:
    shortest = min(len(sequence) for sequence in sequences)
    for i in range(shortest):
        if any(sequence[i] != sequences[0][i] for sequence in sequences):
            return i
    return shortest


class TokenRegressor:
    """An ensemble of ``members`` GRU regressors over token sequences, fitted on (sequence, target) pairs.

    ``embedding`` and ``hidden`` are each member's sizes; ``epochs`` full-batch Adam steps at learning rate ``lr``.
    """

    def __init__(self, members: int = 5, embedding: int = 16, hidden: int = 16, epochs: int = 60,
                 lr: float = 0.02, loss: str = "mse", threads: int | None = 1) -> None:
        if loss not in LOSSES:
            raise NasbenchError(f"regressor loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        self.members, self.embedding, self.hidden = members, embedding, hidden
        self.epochs, self.lr, self.loss, self.threads = epochs, lr, loss, threads
        self.vocabulary: dict[str, int] = {}
        self.prefix: list[str] = []
        self.suffix: list[str] = []
        self.network: _Ensemble | None = None
        self.mean, self.scale = 0.0, 1.0

    def fit(self, sequences: Sequence[Sequence[str]], targets: Sequence[float], seed: int) -> None:
        """Train every member on ``sequences`` and their ``targets``; the result depends only on these and ``seed``."""
        if len(sequences) != len(targets) or len(sequences) < 2:
            raise NasbenchError(f"the regressor needs at least 2 sequences with one target each, got "
                                f"{len(sequences)} sequences and {len(targets)} targets")
        start = _common_prefix(sequences)
        # The suffix may not eat into what the prefix left: every sequence keeps one token at least.
        end = min(_common_prefix([sequence[::-1] for sequence in sequences]),
                  min(len(sequence) for sequence in sequences) - start - 1)
        self.prefix = list(sequences[0][:start])
        self.suffix = list(sequences[0][len(sequences[0]) - end:]) if end > 0 else []
        seen = sorted({token for sequence in sequences for token in self._trim(sequence)})
        self.vocabulary = {token: index for index, token in enumerate(seen, start=UNKNOWN + 1)}
        y = np.asarray(targets, dtype=np.float64)
        self.mean, self.scale = float(y.mean()), float(y.std()) or 1.0
        target = torch.tensor((y - self.mean) / self.scale, dtype=torch.float32)
        above = target[:, None] > target[None, :]  # the pairs (i, j) where i should score above j
        with num_threads(self.threads):
            ids, lengths = self._batch(sequences)
            generator = torch.Generator().manual_seed(int(seed))
            network = _Ensemble(len(self.vocabulary) + UNKNOWN + 1, self.members, self.embedding, self.hidden,
                                generator)
            optimizer = torch.optim.Adam(network.parameters(), lr=self.lr)
            for _ in range(self.epochs):
                optimizer.zero_grad()
                self._loss(network(ids, lengths), target, above).backward()
                optimizer.step()
        self.network = network

    def _loss(self, predicted: torch.Tensor, target: torch.Tensor, above: torch.Tensor) -> torch.Tensor:
        """The sum over members (each member's gradient is its own loss's)."""
        loss = torch.zeros(())
        if self.loss in ("mse", "both") or not above.any():  # all targets equal: no pair to order
            loss = loss + ((predicted - target) ** 2).mean(dim=1).sum()
        if self.loss in ("pairwise", "both") and above.any():
            margins = predicted[:, :, None] - predicted[:, None, :]
            loss = loss + F.softplus(-margins[:, above]).mean(dim=1).sum()
        return loss

    def predict(self, sequences: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation over the members of each sequence's predicted target."""
        if self.network is None:
            raise NasbenchError("the regressor predicts after it is fitted")
        with num_threads(self.threads), torch.no_grad():
            scores = self.network(*self._batch(sequences)).double().numpy() * self.scale + self.mean
        return scores.mean(axis=0), scores.std(axis=0)

    def _trim(self, sequence: Sequence[str]) -> Sequence[str]:
        """``sequence`` without the training sequences' common prefix and suffix, where it has them."""
        start = len(self.prefix) if list(sequence[:len(self.prefix)]) == self.prefix else 0
        end = len(sequence)
        if self.suffix and end - len(self.suffix) > start and list(sequence[end - len(self.suffix):]) == self.suffix:
            end -= len(self.suffix)
        return sequence[start:end]

    def _batch(self, sequences: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token indices, padded after the end, and the length of every trimmed sequence."""
        trimmed = [self._trim(sequence) for sequence in sequences]
        lengths = torch.tensor([len(sequence) for sequence in trimmed])
        ids = torch.full((len(trimmed), int(lengths.max())), PAD, dtype=torch.long)
        for row, sequence in enumerate(trimmed):
            ids[row, :len(sequence)] = torch.tensor([self.vocabulary.get(token, UNKNOWN) for token in sequence])
        return ids, lengths
