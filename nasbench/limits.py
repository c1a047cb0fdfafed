"""Size limits of a search: the one check of a candidate's analytic parameters and MACs against them."""

from __future__ import annotations


def size_limit_error(params: int | None, macs: int | None, max_params: int | None = None,
                     max_macs: int | None = None) -> str | None:
    """Why a candidate of ``params`` parameters and ``macs`` MACs is over the limits (None when it is not)."""
    if max_params is not None and params is not None and params > max_params:
        return f"too large: {params:,} parameters > max_params {max_params:,}"
    if max_macs is not None and macs is not None and macs > max_macs:
        return f"too large: {macs:,} MACs > max_macs {max_macs:,}"
    return None
