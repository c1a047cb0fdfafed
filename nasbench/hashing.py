"""The canonical architecture hash, used to deduplicate evaluations across a whole search.

Each layer gets a Merkle hash of its op, resolved arguments, merge and the hashes of its inputs (sorted where the merge
is commutative: add and mean; ordered for concat, whose channel order later slices, shuffles and adds depend on, and for
the gate). Names never enter, so relabelled or reordered isomorphic
networks hash equal. The digest also covers the input shape, the output and auxiliary outputs, and the multiset of
(layer hash, fan-out) pairs, which separates a shared layer from two identical copies of it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from nasbench.cell import NETWORK_INPUT
from nasbench.lowering import Lowered

_ORDERED_MERGES = {"gate", "concat", None}


def _digest(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def layer_hashes(lowered: Lowered) -> dict[str, str]:
    """Merkle hash of every layer path (and of the network input)."""
    hashes = {NETWORK_INPUT: _digest(["input", list(lowered.input_shape)])}
    for layer in lowered.layers:
        inputs = [hashes[source] for source in layer.inputs]
        if layer.merge not in _ORDERED_MERGES:
            inputs.sort()
        args = {key: list(value) if isinstance(value, tuple) else value for key, value in layer.args.items()}
        hashes[layer.path] = _digest([layer.op, args, layer.merge, inputs])
    return hashes


def architecture_hash(lowered: Lowered) -> str:
    """The canonical hash of a lowered architecture: 32 hex digits."""
    hashes = layer_hashes(lowered)
    fan_out: Counter[str] = Counter(source for layer in lowered.layers for source in layer.inputs)
    profile = sorted(f"{hashes[layer.path]}:{fan_out[layer.path]}" for layer in lowered.layers)
    aux = sorted(hashes[path] for path in lowered.aux_outputs)
    return _digest([hashes[lowered.output], aux, profile])[:32]
