"""Exact JSON form of a torch module's weights and its optimizer's state, for strategies whose state is a network.

A tensor becomes its raw bytes in base64 with its dtype and shape: exact (no decimal rounding of float32) and a
quarter of the size of a list of decimals. An optimizer's per-parameter state is keyed by position, which JSON would
turn into text, so it is stored as a list of pairs.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import torch
from torch import nn


def tensor_to_json(tensor: torch.Tensor) -> dict[str, Any]:
    """``tensor`` as {dtype, shape, data (base64 of its bytes)}."""
    array = tensor.detach().cpu().contiguous().numpy()
    return {"dtype": str(array.dtype), "shape": list(array.shape), "data": base64.b64encode(array.tobytes()).decode()}


def tensor_from_json(data: dict[str, Any]) -> torch.Tensor:
    """The inverse of ``tensor_to_json``."""
    array = np.frombuffer(base64.b64decode(data["data"]), dtype=np.dtype(data["dtype"])).reshape(data["shape"])
    return torch.from_numpy(array.copy())


def _encode(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return {"tensor": tensor_to_json(value)}
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(item) for item in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"tensor"}:
            return tensor_from_json(value["tensor"])
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def training_state(module: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The weights of ``module`` and the state of its ``optimizer``, as JSON."""
    optimizer_state = optimizer.state_dict()
    return {"weights": {name: tensor_to_json(tensor) for name, tensor in module.state_dict().items()},
            "optimizer": {"state": [[index, _encode(state)] for index, state in optimizer_state["state"].items()],
                          "param_groups": _encode(optimizer_state["param_groups"])}}


def load_training_state(module: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Restore what ``training_state`` saved into ``module`` and ``optimizer``."""
    module.load_state_dict({name: tensor_from_json(data) for name, data in state["weights"].items()})
    optimizer.load_state_dict({"state": {int(index): _decode(item) for index, item in state["optimizer"]["state"]},
                               "param_groups": _decode(state["optimizer"]["param_groups"])})
