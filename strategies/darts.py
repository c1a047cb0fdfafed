"""The gradient-based one-shot strategies: DARTS (first and second order, optionally DARTS-), PC-DARTS and GDAS.

All three run DARTS's bilevel optimization on the supernet: the network weights by SGD on the weight data (lr 0.025
cosine to 0.001, momentum 0.9, weight decay 3e-4, gradient clip 5), the architecture parameters by Adam on the
architecture data (lr 3e-4, betas (0.5, 0.999), weight decay 1e-3), one step of each per minibatch.

- ``darts`` (Liu et al., ICLR 2019): the softmax over ops on every edge. ``order=1`` takes the architecture gradient
  at the current weights; ``order=2`` at the weights after one virtual SGD step on the weight data,
  w' = w - eta (momentum buffer + grad_w L_train(w) + weight decay w), with the Hessian-vector product by central
  finite differences at w +- eps grad_w' L_val, eps = 0.01 / ||grad_w' L_val|| (the paper's Eq. 7-8).
  ``auxiliary_skip=true`` is DARTS- (Chu et al., ICLR 2021), the collapse fix: a skip connection outside the softmax
  on every edge, its weight decaying linearly from 1 to 0 over the search. DARTS collapses to skip connections
  because a skip lets gradients through a deep supernet more easily than any parametric op, so its weight grows
  whatever its merit; the auxiliary skip gives every edge that advantage for free, so the softmax weights compete on
  the ops' own merit, and its decay leaves the network the softmax chose at the end. It changes nothing of DARTS's
  optimization and costs one identity per edge, which is why it is the fix offered here.
- ``pc-darts`` (Xu et al., ICLR 2020): partial channel connections (1/K of the channels, K=4, through the mixed op,
  the rest bypass it, then a channel shuffle) and edge normalization; architecture updates start after a warm-up
  (epoch 15 of 50 in the paper: 30 % of the epochs). The paper's batch 256 with lr 0.1 and architecture lr 6e-4 is
  one option away; the default keeps DARTS's batch 64 and scales the learning rate with it (0.025).
- ``gdas`` (Dong & Yang, CVPR 2019): each forward pass samples one op per edge by Gumbel-softmax with the hard
  straight-through estimator (one-hot forward, soft backward); only the sampled op runs. The temperature falls
  linearly from 10 to 0.1 over the search. Weights and architecture each take a step per minibatch on fresh samples.

NAS-Bench-201 derives the strongest op per edge; DARTS the two strongest incoming edges (by their strongest non-none
op) of every node (with edge normalization, the op weight times the edge weight).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.func import functional_call
from torch.nn import functional as F  # noqa: N812 - torch's own alias

from nasbench.errors import NasbenchError
from nasbench.options import Option
from search_spaces.supernet import Supernet
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

FD_RADIUS = 0.01  # DARTS's r in eps = r / ||grad_w' L_val||


def optimizer_options(lr: float | None, arch_lr: float) -> tuple[Option, ...]:
    """The weight and architecture optimizers' options with their DARTS defaults (``lr`` None: derived)."""
    return (
        Option("lr", float, lr, "Weight SGD learning rate (cosine to lr_min over the epochs)", check=_positive,
               optional=True),
        Option("lr_min", float, 0.001, "Weight learning rate at the last epoch", minimum=0.0),
        Option("momentum", float, 0.9, "Weight SGD momentum", minimum=0.0),
        Option("weight_decay", float, 3e-4, "Weight decay of the network weights", minimum=0.0),
        Option("grad_clip", float, 5.0, "Gradient norm clip of the weights (0: none)", minimum=0.0),
        Option("arch_lr", float, arch_lr, "Adam learning rate of the architecture parameters", check=_positive),
        Option("arch_weight_decay", float, 1e-3, "Weight decay of the architecture parameters", minimum=0.0),
    )


class GradientOneShot(OneShotStrategy):
    """DARTS's bilevel optimization; subclasses choose the relaxation and how a forward pass mixes the ops."""

    warmup_share = 0.0  # share of the epochs before the architecture is first updated
    arch_first = True  # DARTS steps the architecture before the weights on each minibatch; GDAS after

    def learning_rate(self) -> float:
        """The weights' initial learning rate."""
        return self.config["lr"]

    def setup(self, supernet: Supernet, rng: np.random.Generator) -> dict[str, Any]:
        """SGD on the weights (one group, decay on all, as DARTS), Adam on the architecture."""
        weights = torch.optim.SGD(list(supernet.weights()), lr=self.learning_rate(), momentum=self.config["momentum"],
                                  weight_decay=self.config["weight_decay"])
        arch = torch.optim.Adam(supernet.arch_parameters(), lr=self.config["arch_lr"], betas=(0.5, 0.999),
                                weight_decay=self.config["arch_weight_decay"])
        return {"weights": weights, "arch": arch}

    def warmup(self) -> int:
        """Epochs before the first architecture update."""
        return round(self.warmup_share * self.config["epochs"])

    def begin_epoch(self, job: Job, epoch: int) -> None:
        """Per-epoch schedules (the auxiliary skip's decay, GDAS's temperature)."""

    def mix(self, job: Job) -> tuple[list[torch.Tensor] | None, Any]:
        """The (weights, active) of one training forward pass (None, None: the softmax relaxation)."""
        return None, None

    def train_epoch(self, job: Job, epoch: int) -> dict[str, float]:
        """One epoch: per minibatch an architecture step on architecture data, then a weight step on weight data."""
        epochs = self.config["epochs"]
        lr = cosine_lr(self.learning_rate(), self.config["lr_min"], epoch, epochs)
        weight_opt = job.state["weights"]
        for group in weight_opt.param_groups:
            group["lr"] = lr
        self.begin_epoch(job, epoch)
        supernet, weights = job.supernet, list(job.supernet.weights())
        loss_sum, correct, seen = 0.0, 0, 0
        search = epoch >= self.warmup()
        for (xw, yw), (xa, ya) in job.batches.epoch():
            if search and self.arch_first:
                self.arch_step(job, xw, yw, xa, ya, lr)
            weight_opt.zero_grad(set_to_none=True)
            mixed, active = self.mix(job)
            loss, logits = cross_entropy_step(supernet, xw, yw, job.precision, mixed, active)
            clip_and_step(weights, weight_opt, job.precision, loss, self.config["grad_clip"])
            if search and not self.arch_first:
                self.arch_step(job, xw, yw, xa, ya, lr)
            loss_sum += float(loss.detach()) * len(yw)
            correct += int((logits.argmax(1) == yw).sum())
            seen += len(yw)
        return {"train_loss": loss_sum / seen, "train_acc": 100.0 * correct / seen, "lr": lr}

    def arch_step(self, job: Job, xw: torch.Tensor, yw: torch.Tensor, xa: torch.Tensor, ya: torch.Tensor,
                  lr: float) -> None:
        """First order: the gradient of the architecture data's loss at the current weights."""
        arch_opt = job.state["arch"]
        arch_opt.zero_grad(set_to_none=True)
        mixed, active = self.mix(job)
        loss, _ = cross_entropy_step(job.supernet, xa, ya, job.precision, mixed, active)
        job.precision.scaler.scale(loss).backward()
        job.precision.scaler.step(arch_opt)
        job.precision.scaler.update()


@register_strategy("darts")
class DartsStrategy(GradientOneShot):
    """DARTS: differentiable architecture search on the supernet (first or second order; DARTS- as an option)."""

    paper = "Liu, Simonyan & Yang, DARTS: Differentiable Architecture Search, ICLR 2019"
    options = (*COMMON_OPTIONS, *optimizer_options(0.025, 3e-4),
               Option("order", int, 1, "1: first-order approximation; 2: the unrolled second-order hyper-gradient",
                      choices=(1, 2)),
               Option("auxiliary_skip", bool, False, "DARTS-'s collapse fix: an auxiliary skip on every edge, its "
                                                     "weight decaying linearly from 1 to 0"))

    def relaxation(self) -> dict[str, Any]:
        """DARTS-'s auxiliary skips when switched on."""
        return {"auxiliary_skip": True} if self.config["auxiliary_skip"] else {}

    def begin_epoch(self, job: Job, epoch: int) -> None:
        """DARTS-'s linear decay of the auxiliary skip's weight from 1 (first epoch) to 0 (last)."""
        if self.config["auxiliary_skip"]:
            epochs = self.config["epochs"]
            job.supernet.auxiliary_weight = 1.0 - epoch / (epochs - 1) if epochs > 1 else 0.0

    def arch_step(self, job: Job, xw: torch.Tensor, yw: torch.Tensor, xa: torch.Tensor, ya: torch.Tensor,
                  lr: float) -> None:
        """First order, or DARTS's unrolled second-order hyper-gradient."""
        if self.config["order"] == 1:
            super().arch_step(job, xw, yw, xa, ya, lr)
            return
        arch_opt = job.state["arch"]
        arch_opt.zero_grad(set_to_none=True)
        grads = unrolled_hypergradient(job.supernet, job.state["weights"], xw, yw, xa, ya, lr,
                                       self.config["momentum"], self.config["weight_decay"])
        for alpha, grad in zip(job.supernet.arch_parameters(), grads):
            alpha.grad = grad
        arch_opt.step()


def unrolled_hypergradient(supernet: Supernet, weight_opt: torch.optim.Optimizer, xw: torch.Tensor, yw: torch.Tensor,
                           xa: torch.Tensor, ya: torch.Tensor, eta: float, momentum: float,
                           weight_decay: float) -> list[torch.Tensor]:
    """DARTS's second-order gradient of L_val(w', alpha) with respect to the architecture parameters.

    w' = w - eta (momentum * buffer + grad_w L_train(w, alpha) + weight_decay * w); the implicit part
    -eta * grad^2_{alpha,w} L_train(w, alpha) grad_w' L_val(w', alpha) is a central finite difference of
    grad_alpha L_train at w +- eps v, v = grad_w' L_val, eps = 0.01 / ||v||.
    """
    alphas = supernet.arch_parameters()
    arch_ids = {id(alpha) for alpha in alphas}
    named = [(name, p) for name, p in supernet.named_parameters() if id(p) not in arch_ids]
    names, weights = [name for name, _ in named], [p for _, p in named]
    train_loss = F.cross_entropy(supernet(xw), yw)
    grads = torch.autograd.grad(train_loss, weights)
    with torch.no_grad():
        unrolled = []
        for w, g in zip(weights, grads):
            buffer = weight_opt.state.get(w, {}).get("momentum_buffer")
            moment = momentum * buffer if buffer is not None else torch.zeros_like(w)
            unrolled.append((w - eta * (moment + g + weight_decay * w)).requires_grad_())
    # A copy of the buffers: the virtual step must not move the supernet's BatchNorm statistics.
    buffers = {name: b.clone() for name, b in supernet.named_buffers()}
    val_loss = F.cross_entropy(functional_call(supernet, {**dict(zip(names, unrolled)), **buffers}, (xa,)), ya)
    direct = torch.autograd.grad(val_loss, [*alphas, *unrolled])
    d_alpha, vector = direct[:len(alphas)], direct[len(alphas):]
    implicit = finite_difference_hvp(supernet, names, weights, alphas, vector, xw, yw)
    return [d - eta * h for d, h in zip(d_alpha, implicit)]


def finite_difference_hvp(supernet: Supernet, names: Sequence[str], weights: Sequence[torch.Tensor],
                          alphas: Sequence[torch.Tensor], vector: Sequence[torch.Tensor], x: torch.Tensor,
                          y: torch.Tensor) -> list[torch.Tensor]:
    """(grad_alpha L(w + eps v) - grad_alpha L(w - eps v)) / (2 eps), eps = 0.01 / ||v|| (DARTS's Eq. 8)."""
    norm = torch.cat([v.reshape(-1) for v in vector]).norm()
    eps = FD_RADIUS / float(norm) if float(norm) > 0 else FD_RADIUS
    buffers = {name: b.clone() for name, b in supernet.named_buffers()}

    def alpha_grad(sign: float) -> tuple[torch.Tensor, ...]:
        moved = {name: (w + sign * eps * v).detach() for name, w, v in zip(names, weights, vector)}
        loss = F.cross_entropy(functional_call(supernet, {**moved, **buffers}, (x,)), y)
        return torch.autograd.grad(loss, list(alphas))

    plus, minus = alpha_grad(1.0), alpha_grad(-1.0)
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


@register_strategy("pc-darts")
class PCDartsStrategy(GradientOneShot):
    """PC-DARTS: partial channel connections and edge normalization, memory-light DARTS (first order)."""

    paper = "Xu et al., PC-DARTS: Partial Channel Connections for Memory-Efficient Architecture Search, ICLR 2020"
    options = (*COMMON_OPTIONS, *optimizer_options(None, 6e-4),
               Option("partial_channels", int, 4, "K: 1/K of the channels go through the mixed op", minimum=1),
               Option("warmup", float, 0.3, "Share of the epochs before the architecture is updated (15 of 50)",
                      minimum=0.0))
    smoke_options = {**OneShotStrategy.smoke_options, "partial_channels": 2}
    paper_lr, paper_batch = 0.1, 256

    def relaxation(self) -> dict[str, Any]:
        """Partial channels and edge normalization."""
        return {"partial_channels": self.config["partial_channels"], "edge_normalization": True}

    def learning_rate(self) -> float:
        """The paper's 0.1 at batch 256, scaled linearly to the batch size unless ``lr`` is set."""
        return self.config["lr"] or self.paper_lr * self.config["batch_size"] / self.paper_batch

    def warmup(self) -> int:
        """``warmup`` of the epochs (the paper's 15 of 50)."""
        return round(min(1.0, self.config["warmup"]) * self.config["epochs"])


@register_strategy("gdas")
class GdasStrategy(GradientOneShot):
    """GDAS: one op per edge sampled by hard Gumbel-softmax, only it runs; temperature annealed 10 -> 0.1."""

    paper = "Dong & Yang, Searching for a Robust Neural Architecture in Four GPU Hours, CVPR 2019"
    arch_first = False
    options = (*COMMON_OPTIONS, *optimizer_options(0.025, 3e-4),
               Option("tau_max", float, 10.0, "Gumbel-softmax temperature at the first epoch", check=_positive),
               Option("tau_min", float, 0.1, "Temperature at the last epoch", check=_positive))

    def check_supernet(self, supernet: Supernet) -> None:
        """GDAS samples ops only where each choice of the supernet is a softmax over ops."""
        if not supernet.categorical:
            raise NasbenchError(f"strategy 'gdas' samples one op per edge; the {self.space.name} supernet's "
                                "choices are not all over ops (nb201 and darts are)")

    def temperature(self, epoch: int) -> float:
        """GDAS's linear temperature schedule from ``tau_max`` at the first epoch to ``tau_min`` at the last."""
        epochs = self.config["epochs"]
        high, low = self.config["tau_max"], self.config["tau_min"]
        return high - (high - low) * epoch / (epochs - 1) if epochs > 1 else low

    def mix(self, job: Job) -> tuple[list[torch.Tensor] | None, Any]:
        """A hard Gumbel-softmax sample of every op parameter: one-hot weights and the sampled op of each edge."""
        tau = self.temperature(job.epoch)
        weights, active = [], []
        for alpha in job.supernet.op_parameters():
            hard, index = gumbel_hard(alpha, tau, job.batches.generator)
            weights.append(hard)
            active.append([[k] for k in index.tolist()])
        return weights, active

    def derived_weights(self, job: Job) -> tuple[list[torch.Tensor] | None, Any]:
        """The path of the genotype derived now: GDAS's network is discrete."""
        return job.path(job.supernet.choices())



def gumbel_hard(alpha: torch.Tensor, tau: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """GDAS's sample: one-hot rows in the forward pass, the Gumbel-softmax's gradient in the backward pass."""
    while True:
        noise = torch.empty(alpha.shape).exponential_(generator=generator).to(alpha.device)
        gumbels = -noise.log()
        logits = (F.log_softmax(alpha, dim=-1) + gumbels) / tau
        probs = F.softmax(logits, dim=-1)
        index = probs.argmax(dim=-1)
        if not (torch.isinf(gumbels).any() or torch.isinf(probs).any() or torch.isnan(probs).any()):
            break
    one_hot = torch.zeros_like(probs).scatter_(-1, index[:, None], 1.0)
    return one_hot - probs.detach() + probs, index
