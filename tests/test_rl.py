"""Behaviour of the ``rl`` strategy: learning on a toy reward, PPO's clipping, off-policy samples, every space."""

from __future__ import annotations

import pytest
import torch
from search_toys import ToySpace

import search_spaces
from nasbench.errors import NasbenchError
from nasbench.objectives import parse_objectives
from strategies import Candidate, Observation
from strategies import get as get_strategy
from strategies.rl import Sample

SCORE = parse_objectives("score:max")
VARIANTS = [{"controller": "lstm", "algorithm": "ppo"}, {"controller": "lstm", "algorithm": "reinforce"},
            {"controller": "logits", "algorithm": "reinforce"}, {"controller": "logits", "algorithm": "ppo"}]


def first_choice_probabilities(strategy) -> list[float]:
    """The policy's probabilities for the first variable (it depends on no earlier decision)."""
    with torch.no_grad():
        logits, _ = strategy.policy.step(0, None, None, 1)
        return torch.softmax(strategy.policy.transform(logits), -1)[0].tolist()


@pytest.mark.parametrize("options", VARIANTS, ids=lambda o: f"{o['controller']}-{o['algorithm']}")
def test_the_probability_of_a_rewarded_choice_rises(options):
    space = ToySpace()
    strategy = get_strategy("rl", space, SCORE, seed=0, options={**options, "batch_size": 4, "lr": 0.05})
    rewarded = space.variables()["w0"].choices.index(5)
    before = first_choice_probabilities(strategy)[rewarded]
    assert before == pytest.approx(0.25, abs=0.05)
    for _ in range(60):
        candidate = strategy.ask()
        reward = 1.0 if space.encode(candidate.arch)["w0"] == 5 else 0.0
        strategy.tell(candidate, Observation(True, (reward,), {}))
    assert strategy.updates == 15
    assert first_choice_probabilities(strategy)[rewarded] > max(0.5, before + 0.2)


def ppo_step(behaviour_shift: float, reward: float):
    """A PPO update on one drawn sample whose behaviour log-probability is the policy's minus ``behaviour_shift``.

    The baseline stands at 50, so the advantage has the sign of ``reward - 50``. Returns (weights before, after).
    """
    strategy = get_strategy("rl", ToySpace(), SCORE, seed=0,
                            options={"algorithm": "ppo", "batch_size": 1, "epochs": 3, "entropy_weight": 0.0})
    strategy.baseline.numerator, strategy.baseline.denominator = 50.0, 1.0
    actions, log_prob = strategy.policy.sample(strategy.rng)
    before = [p.detach().clone() for p in strategy.policy.parameters()]
    strategy.learn(Sample(actions, log_prob - behaviour_shift, reward))
    return before, list(strategy.policy.parameters())


@pytest.mark.parametrize("shift, reward", [(1.0, 100.0), (-1.0, 0.0)],
                         ids=["ratio-above-1+clip-positive-advantage", "ratio-below-1-clip-negative-advantage"])
def test_ppo_ignores_a_sample_whose_ratio_is_already_past_the_clip(shift, reward):
    # ratio = exp(shift): e or 1/e, far outside [0.8, 1.2]; the clipped term is the min, its gradient is zero
    before, after = ppo_step(shift, reward)
    assert all(torch.equal(a, b) for a, b in zip(before, after))


@pytest.mark.parametrize("shift, reward", [(0.0, 100.0), (1.0, 0.0), (-1.0, 100.0)],
                         ids=["on-policy", "ratio-above-negative-advantage", "ratio-below-positive-advantage"])
def test_ppo_moves_on_samples_inside_the_clip_or_against_it(shift, reward):
    before, after = ppo_step(shift, reward)
    assert not all(torch.equal(a, b) for a, b in zip(before, after))


def test_seeds_and_duplicates_are_learnt_from_and_failures_get_the_worst_reward():
    space = ToySpace()
    strategy = get_strategy("rl", space, SCORE, seed=0, options={"batch_size": 3})
    seed = space.seeds()[0]
    strategy.tell(Candidate(seed, {"origin": "seed"}), Observation(True, (80.0,), {}))
    assert strategy.batch == [Sample([0, 0, 0, 0], None, 80.0)]  # off-policy: no behaviour probability
    drawn = strategy.ask()
    strategy.tell(drawn, Observation(True, (90.0,), {}))
    assert strategy.batch[1].log_prob is not None and not strategy.drawn
    again = strategy.ask()
    strategy.tell(again, Observation.failure("diverged"))
    assert strategy.updates == 1 and strategy.batch == [] and strategy.worst == 80.0
    ema = 0.0
    weights = 0.0
    for reward in (80.0, 90.0, 80.0):  # the failure counts as the worst reward seen
        ema, weights = 0.95 * ema + 0.05 * reward, 0.95 * weights + 0.05
    assert strategy.baseline.numerator / strategy.baseline.denominator == pytest.approx(ema / weights)


@pytest.mark.parametrize("name", [name for name in search_spaces.names()
                                  if search_spaces.get(name).variables() is not None])
def test_works_on_every_space_with_variables(name):
    space = search_spaces.get(name)
    strategy = get_strategy("rl", space, SCORE, seed=1, options={"batch_size": 3, "width": 16})
    for step in range(7):
        candidate = strategy.ask()
        assert space.contains(candidate.arch)
        strategy.tell(candidate, Observation(True, (float(step),), {}))
    assert strategy.updates >= 2  # and more where draws decode to no member (nb101), which count as failures


def test_refuses_an_open_ended_space_and_bad_options():
    with pytest.raises(NasbenchError, match="needs a space with a fixed-length encoding"):
        get_strategy("rl", search_spaces.get("graph"), SCORE)
    with pytest.raises(NasbenchError, match="option 'baseline_decay': a decay is in"):
        get_strategy("rl", ToySpace(), SCORE, options={"baseline_decay": 1.5})
    with pytest.raises(NasbenchError, match="option 'controller' must be one of lstm, logits"):
        get_strategy("rl", ToySpace(), SCORE, options={"controller": "gru"})


def trained_weights(scale: float, offset: float, normalize: bool) -> list[torch.Tensor]:
    """The LSTM's weights after 12 PPO updates on the toy reward ``scale * w0 + offset``."""
    space = ToySpace()
    strategy = get_strategy("rl", space, SCORE, seed=0, options={"normalize": normalize, "batch_size": 4})
    for _ in range(48):
        candidate = strategy.ask()
        strategy.tell(candidate, Observation(True, (scale * space.encode(candidate.arch)["w0"] + offset,), {}))
    return [p.detach().clone() for p in strategy.policy.parameters()]


def test_normalized_advantages_make_the_updates_blind_to_the_rewards_scale_and_offset():
    # The baseline is linear in the rewards, so standardizing the advantages of a batch removes any a * r + b (up to
    # rounding, which standardizing a batch of nearly equal advantages magnifies). Unnormalized, the steps differ.
    reference = trained_weights(1.0, 0.0, normalize=True)
    affine = trained_weights(70.0, 10.0, normalize=True)
    assert all(torch.allclose(a, b, atol=0.01) for a, b in zip(reference, affine))
    raw = trained_weights(70.0, 10.0, normalize=False)
    assert max(float((a - b).abs().max()) for a, b in zip(reference, raw)) > 0.1
