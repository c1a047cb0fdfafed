"""One-shot strategies on tiny supernets: bilevel data flow, the second-order hyper-gradient, Gumbel sampling,
partial channels, the ENAS controller, checkpoints and resume, derived members in the study, bad input."""

from __future__ import annotations

import subprocess
import sys

import optuna
import pytest
import torch
from torch.nn import functional as F  # noqa: N812

import search_spaces
import strategies
from nasbench.app.search import search
from nasbench.architecture import Architecture
from results.journal import jobs_study_name
from search_spaces.supernet import MixedOp
from strategies.context import SearchContext
from strategies.darts import gumbel_hard, unrolled_hypergradient
from strategies.one_shot import Job
from workers.datasets import load_dataset

DATA = load_dataset("digits")
NB201 = search_spaces.get("nb201")
TINY = {"C": 4, "layers": 1, "epochs": 2, "batch_size": 16, "fraction": 0.1}


def job_of(name: str, options: dict, data=DATA, seed: int = 0) -> tuple[strategies.Strategy, Job]:
    strategy = strategies.get(name, NB201, seed=seed, options={**TINY, **options})
    strategy.bind(SearchContext.of(data))
    return strategy, strategy.start_job(0, "test", data, torch.device("cpu"))


@pytest.mark.parametrize("name", ["darts", "pc-darts"])
def test_architecture_steps_see_only_the_architecture_data(name):
    # One minibatch per epoch and the architecture step first: alpha after the epoch depends on the architecture
    # data alone, whatever the weight data says; the weights do see the weight data.
    options = {"batch_size": 70, "warmup": 0.0} if name == "pc-darts" else {"batch_size": 70}
    labels = torch.Generator().manual_seed(1)
    runs = {}
    for variant in ("plain", "weight labels", "arch labels"):
        strategy, job = job_of(name, options)
        assert job.batches.steps == 1
        if variant == "weight labels":
            job.batches.weight_y = torch.randint(0, 10, job.batches.weight_y.shape, generator=labels)
        if variant == "arch labels":
            job.batches.arch_y = torch.randint(0, 10, job.batches.arch_y.shape, generator=labels)
        strategy.train_epoch(job, 0)
        runs[variant] = job.supernet
    assert torch.equal(runs["plain"].alpha, runs["weight labels"].alpha)
    assert not torch.equal(runs["plain"].classifier.weight, runs["weight labels"].classifier.weight)
    assert not torch.equal(runs["plain"].alpha, runs["arch labels"].alpha)


def smooth(module: torch.nn.Module) -> None:
    # DARTS's Hessian-vector product moves the weights by 0.01 in norm, which crosses ReLU kinks of a network this
    # small; with a smooth activation the check measures the algorithm rather than the kinks.
    for name, child in module.named_children():
        if isinstance(child, torch.nn.ReLU):
            setattr(module, name, torch.nn.Softplus(beta=4))
        else:
            smooth(child)


def test_second_order_hypergradient_matches_a_finite_difference_of_the_unrolled_loss():
    torch.manual_seed(0)
    net = NB201.supernet(4, 1, in_channels=1, num_classes=10).double()
    smooth(net)
    xw, yw = torch.randn(32, 1, 8, 8, dtype=torch.float64), torch.randint(0, 10, (32,))
    xa, ya = torch.randn(32, 1, 8, 8, dtype=torch.float64), torch.randint(0, 10, (32,))
    eta, decay = 0.1, 3e-4
    sgd = torch.optim.SGD(list(net.weights()), lr=eta, momentum=0.9, weight_decay=decay)
    analytic = unrolled_hypergradient(net, sgd, xw, yw, xa, ya, eta, 0.9, decay)[0]
    names = [n for n, p in net.named_parameters() if p is not net.alpha]
    weights = [p for n, p in net.named_parameters() if p is not net.alpha]

    def unrolled_loss(alpha: torch.Tensor) -> float:
        with torch.no_grad():
            net.alpha.copy_(alpha)
        loss = F.cross_entropy(net(xw), yw)
        grads = torch.autograd.grad(loss, weights)
        moved = {n: (w - eta * (g + decay * w)).detach() for n, w, g in zip(names, weights, grads)}
        buffers = {n: b.clone() for n, b in net.named_buffers()}
        with torch.no_grad():
            return float(F.cross_entropy(torch.func.functional_call(net, {**moved, **buffers}, (xa,)), ya))

    base = net.alpha.detach().clone()
    numeric = torch.zeros_like(base)
    h = 1e-5
    for index in range(base.numel()):
        step = torch.zeros_like(base).view(-1)
        step[index] = h
        step = step.view_as(base)
        numeric.view(-1)[index] = (unrolled_loss(base + step) - unrolled_loss(base - step)) / (2 * h)
    with torch.no_grad():
        net.alpha.copy_(base)
    relative = float((analytic - numeric).norm() / numeric.norm())
    assert relative < 1e-2, relative
    first_order = torch.autograd.grad(F.cross_entropy(net(xa), ya), [net.alpha])[0]
    assert float((first_order - numeric).norm() / numeric.norm()) > 10 * relative  # order 2 is not order 1


def test_gumbel_hard_samples_are_one_hot_forward_and_differentiable_backward():
    alpha = torch.nn.Parameter(1e-3 * torch.randn(6, 5))
    hard, index = gumbel_hard(alpha, 10.0, torch.Generator().manual_seed(0))
    assert torch.allclose(hard, F.one_hot(index, 5).float(), atol=1e-6)
    (hard * torch.randn(6, 5)).sum().backward()
    assert alpha.grad is not None and float(alpha.grad.abs().sum()) > 0


def test_gdas_runs_only_the_sampled_op_of_every_edge():
    strategy, job = job_of("gdas", {})
    calls: list[int] = []
    for edge in job.supernet.modules():
        if isinstance(edge, MixedOp):
            for k, op in enumerate(edge.candidates):
                op.register_forward_hook(lambda module, args, out, k=k: calls.append(k))
    weights, active = strategy.mix(job)
    edges = sum(1 for m in job.supernet.modules() if isinstance(m, MixedOp))
    job.supernet(torch.randn(2, 1, 16, 16), weights, active).sum().backward()
    assert len(calls) == edges  # one candidate per edge, not five
    assert float(job.supernet.alpha.grad.abs().sum()) > 0


def test_partial_channels_send_one_kth_of_the_channels_through_the_mixed_op():
    net = search_spaces.get("darts").supernet(8, 3, in_channels=1, num_classes=10, partial_channels=4,
                                               edge_normalization=True)
    seen: list[int] = []
    for edge in net.modules():
        if isinstance(edge, MixedOp):
            assert edge.partial == 4
            edge.candidates[4].register_forward_hook(lambda module, args, out: seen.append(args[0].shape[1]))
    net(torch.randn(2, 1, 16, 16)).sum().backward()
    full = search_spaces.get("darts").supernet(8, 3, in_channels=1, num_classes=10)
    widths = {int(s) for s in seen}
    assert widths == {2, 4, 8}  # C/4 of the cells of 8, 16 and 32 channels (reductions at 1/3 and 2/3)
    assert len(net.arch_parameters()) == 4 and all(p.grad is not None for p in net.arch_parameters())
    assert sum(p.numel() for p in net.weights()) < 0.3 * sum(p.numel() for p in full.weights())


def test_the_controller_learns_to_prefer_a_rewarded_choice():
    strategy, job = job_of("enas", {"controller_steps": 20, "controller_aggregate": 5, "controller_lr": 0.05})
    policy = job.state["policy"]
    target = strategy.choices_of[0][2]

    def probability() -> float:
        with torch.no_grad():
            _, _, _, steps = policy.run(torch.tensor([policy.greedy()], dtype=torch.long))
        return float(steps[0][0, 2].exp())

    before = probability()
    strategy.reward = lambda job, choices: 1.0 if choices[strategy.names[0]] == target else 0.0
    strategy.train_controller(job)
    assert probability() > before + 0.05


KILL_SCRIPT = """
import os, signal, sys
from results.journal import StudyJournal
from nasbench.app.search import search
from nasbench.architecture import Architecture
if len(sys.argv) > 2:
    original = StudyJournal.epoch
    def epoch(self, job, entry):
        original(self, job, entry)
        if entry["epoch"] == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)  # after the journal, before this epoch's checkpoint
    StudyJournal.epoch = epoch
search(strategy="darts", space="nb201", evaluator="table", dataset="digits", budget=4, storage=sys.argv[1],
       study="kill", progress=False, strategy_options=dict(C=4, layers=1, epochs=4, batch_size=16, fraction=0.2,
       derive="epochs"))
"""


def epochs_of(url: str) -> list[dict]:
    return optuna.load_study(storage=url, study_name=jobs_study_name("kill")).get_trials()[0].user_attrs["epochs"]


def test_a_killed_supernet_job_resumes_from_its_last_epoch(tmp_path):
    killed_url = f"sqlite:///{tmp_path / 'killed.db'}"
    killed = subprocess.run([sys.executable, "-c", KILL_SCRIPT, killed_url, "3"], timeout=300)
    assert killed.returncode == -9
    before = epochs_of(killed_url)
    assert [e["epoch"] for e in before] == [1, 2, 3]
    assert (tmp_path / "killed.jobs" / "kill" / "darts-search0.pt").is_file()
    assert subprocess.run([sys.executable, "-c", KILL_SCRIPT, killed_url], timeout=300).returncode == 0
    after = epochs_of(killed_url)
    assert [e["epoch"] for e in after] == [1, 2, 3, 4]
    assert after[:2] == before[:2]  # epochs 1-2 came from the checkpoint, not trained again
    assert after[2]["seconds"] != before[2]["seconds"]  # epoch 3 was not checkpointed: trained again
    straight_url = f"sqlite:///{tmp_path / 'straight.db'}"
    assert subprocess.run([sys.executable, "-c", KILL_SCRIPT, straight_url], timeout=300).returncode == 0
    straight = epochs_of(straight_url)
    assert [(e["val_acc"], e["genotype"]) for e in after] == [(e["val_acc"], e["genotype"]) for e in straight]
    hashes = [[t.user_attrs["hash"] for t in optuna.load_study(storage=url, study_name="kill").get_trials()]
              for url in (killed_url, straight_url)]
    assert hashes[0] == hashes[1]


def test_derived_architectures_are_members_and_land_in_the_study():
    storage = optuna.storages.InMemoryStorage()
    results = search(strategy="gdas", space="nb201", evaluator="table", dataset="digits", budget=10, seed=1,
                     storage=storage, progress=False, strategy_options={**TINY, "derive": "epochs", "searches": 2})
    trials = results.study.get_trials()
    derived = [t for t in trials if t.user_attrs.get("origin") == "derived"]
    assert derived and all(t.state.name == "COMPLETE" for t in derived)
    for trial in derived:
        assert NB201.contains(Architecture.from_json(trial.user_attrs["genome"]))
        assert trial.user_attrs["derived"].startswith("search")
    assert len({t.user_attrs["hash"] for t in trials}) == len(trials)
    assert results.stopped and "nothing new to derive" in results.stopped
    jobs = optuna.load_study(storage=storage, study_name=jobs_study_name(results.study.study_name)).get_trials()
    assert len(jobs) == 2 and all(len(t.intermediate_values) == 2 for t in jobs)
    entry = jobs[0].user_attrs["epochs"][-1]
    assert {"train_acc", "val_acc", "entropy", "genotype", "skips", "seconds"} <= set(entry)


@pytest.mark.parametrize("arguments, message", [
    (["--strategy", "darts", "--space", "graph"], "has none"),
    (["--strategy", "darts", "--space", "nb201", "-o", "epochs=0"], "epochs"),
    (["--strategy", "pc-darts", "--space", "nb201", "-o", "C=6"], "not divisible"),
    (["--strategy", "gdas", "--space", "enas-macro"], "gdas"),
    (["--strategy", "darts", "--space", "nb201", "--evaluator-option", "resolution=1"], "does not fit"),
])
def test_bad_input_is_one_line_and_writes_nothing(cli, tmp_path, arguments, message):
    code, out, err = cli("search", *arguments, "--no-progress")
    assert code == 2, err
    assert err.startswith("error:") and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "results").exists()
