from __future__ import annotations

import json
import statistics

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

import search_spaces
from nasbench.architecture import Architecture
from nasbench.errors import NasbenchError
from nasbench.objectives import parse_objectives
from strategies import Candidate, Observation
from strategies import get as get_strategy
from strategies.regressor import TokenRegressor
from strategies.tokens import tokens, value_text
from workers.table import TableEvaluator

NB201 = search_spaces.get("nb201", N=1)
TABLE = TableEvaluator()
ONE = parse_objectives("valid_acc_12:max")
CONV3 = "op:relu_conv_bn(out=C,kernel=3)"
FAST = {"mutants": 30, "epochs": 30, "ensemble": 3}  # a smaller search, for tests that only check behaviour


def observe(candidate: Candidate) -> Observation:
    result = TABLE.evaluate(candidate.arch)
    return Observation(True, (result.metrics["valid_acc_12"],), result.metrics)


def nb201_sample(count: int, seed: int) -> list[Architecture]:
    rng = np.random.default_rng(seed)
    return [NB201.sample(rng) for _ in range(count)]


@pytest.mark.parametrize("name", search_spaces.names())
def test_the_tokenizer_writes_every_registered_space(name):
    space = search_spaces.get(name)
    rng = np.random.default_rng(0)
    arch = space.sample(rng)
    sequence = tokens(arch)
    assert sequence and all(isinstance(token, str) and token and " " not in token for token in sequence)
    assert sum(token.startswith("node:") for token in sequence) == (
        len(arch.network.nodes()) + sum(len(cell.nodes()) for cell in arch.cells.values()))
    assert tokens(Architecture.from_dict(json.loads(arch.to_json()))) == sequence  # the stored genome reads the same
    assert tokens(space.mutate(arch, rng)) != sequence


def test_templates_are_written_once_whatever_the_repeat_count():
    arch = NB201.from_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|none~1|none~2|")
    five = search_spaces.get("nb201", N=5).from_string(arch.meta["nb201"])
    assert len(tokens(five)) == len(tokens(arch))
    assert tokens(arch).count(CONV3) == 2 and "cell:nb201_cell(C=16)*5" in tokens(five)


def test_large_integers_are_written_by_scale():
    assert [value_text(v) for v in (3, 16, 24, 64, -100, 0.25, True, None, "C", [1, 32])] == [
        "3", "16", "~2^5", "~2^6", "-~2^7", "0.25", "true", "none", "C", "[1,~2^5]"]


def test_the_regressor_learns_a_known_function_of_the_tokens():
    archs = nb201_sample(300, seed=1)
    sequences = [tokens(arch) for arch in archs]
    target = [sequence.count(CONV3) for sequence in sequences]  # how many edges are 3x3 convs
    model = TokenRegressor()
    model.fit(sequences[:100], target[:100], seed=0)
    mean, spread = model.predict(sequences[100:])
    assert spearmanr(mean, target[100:])[0] > 0.9
    assert mean.shape == spread.shape == (200,) and (spread > 0).all()


def test_a_fit_depends_only_on_its_data_and_seed():
    archs = nb201_sample(40, seed=2)
    sequences = [tokens(arch) for arch in archs]
    target = [float(TABLE.evaluate(arch).metrics["valid_acc_12"]) for arch in archs]

    def predictions(seed: int) -> np.ndarray:
        model = TokenRegressor(members=2, epochs=10)
        model.fit(sequences[:30], target[:30], seed)
        return model.predict(sequences[30:])[0]

    first = predictions(5)
    torch.manual_seed(123)  # the global generator and thread count play no part
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert np.array_equal(predictions(5), first)
    finally:
        torch.set_num_threads(threads)
    assert torch.get_num_threads() == threads and not np.array_equal(predictions(6), first)


def test_the_regressor_reads_open_ended_graphs_and_unseen_tokens():
    space = search_spaces.get("graph")
    rng = np.random.default_rng(3)
    archs = [space.sample(rng) for _ in range(12)]
    model = TokenRegressor(members=2, epochs=10)
    model.fit([tokens(arch) for arch in archs[:8]], [float(arch.params()) for arch in archs[:8]], seed=0)
    mean, spread = model.predict([tokens(arch) for arch in archs[8:]] + [["never-seen"]])
    assert np.isfinite(mean).all() and np.isfinite(spread).all()


def test_the_regressor_refuses_bad_input():
    with pytest.raises(NasbenchError, match="loss must be one of"):
        TokenRegressor(loss="mae")
    with pytest.raises(NasbenchError, match="at least 2 sequences"):
        TokenRegressor().fit([["a"]], [1.0], seed=0)
    with pytest.raises(NasbenchError, match="after it is fitted"):
        TokenRegressor().predict([["a"]])


@pytest.mark.parametrize("loss", ["pairwise", "both"])
def test_rank_losses_learn_the_order(loss):
    archs = nb201_sample(150, seed=4)
    sequences = [tokens(arch) for arch in archs]
    target = [sequence.count(CONV3) for sequence in sequences]
    model = TokenRegressor(members=2, loss=loss)
    model.fit(sequences[:100], target[:100], seed=0)
    assert spearmanr(model.predict(sequences[100:])[0], target[100:])[0] > 0.8


def test_the_strategy_never_proposes_a_told_or_pending_hash():
    strategy = get_strategy("predictor", NB201, ONE, seed=0, options={**FAST, "initial": 4, "refit": 3})
    told, acquired = set(), 0
    for arch in NB201.seeds():
        seed = Candidate(arch, {"origin": "seed", "seed": arch.name})
        strategy.tell(seed, observe(seed))
        told.add(arch.hash())
    for _ in range(15):
        pair = [strategy.ask(), strategy.ask()]  # two in flight, as with two workers
        hashes = [candidate.arch.hash() for candidate in pair]
        assert len(set(hashes)) == 2 and not told & set(hashes)
        for candidate in pair:
            strategy.tell(candidate, observe(candidate))
        told.update(hashes)
        # chosen by the acquisition: a mutant, or one of the random contenders scored with fit number "fit"
        acquired += sum(candidate.info["origin"] == "mutation" or "fit" in candidate.info for candidate in pair)
    assert strategy.fits >= 5 and acquired == 30 - 4  # after the 4 initial samples, refitted every 3 told


def test_failures_stay_out_of_training_and_a_state_restores_the_model():
    strategy = get_strategy("predictor", NB201, ONE, seed=1, options={**FAST, "initial": 6, "refit": 4})
    for step in range(14):
        candidate = strategy.ask()
        strategy.tell(candidate, Observation.failure("diverged") if step % 3 == 0 else observe(candidate))
    assert strategy.model is not None and strategy.fitted_on > strategy._trainable(strategy.fitted_on) >= 2
    restored = get_strategy("predictor", NB201, ONE, seed=7, options={**FAST, "initial": 6, "refit": 4})
    restored.load_state_dict(json.loads(json.dumps(strategy.state_dict())))
    probe = [tokens(arch) for arch in nb201_sample(20, seed=9)]
    assert all(np.array_equal(a, b) for a, b in zip(restored.model.predict(probe), strategy.model.predict(probe)))


@pytest.mark.slow
def test_the_predictor_beats_random_search_on_nas_bench_201():
    def best(name: str, seed: int) -> float:
        strategy = get_strategy(name, NB201, ONE, seed=seed, options=FAST if name == "predictor" else {})
        found = -np.inf
        for _ in range(50):
            candidate = strategy.ask()
            observation = observe(candidate)
            strategy.tell(candidate, observation)
            found = max(found, observation.values[0])
        return found

    seeds = range(3)
    assert statistics.mean(best("predictor", s) for s in seeds) > statistics.mean(best("random", s) for s in seeds)
