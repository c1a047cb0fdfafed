"""Imports every built-in search space module so that each registers itself (one import line per space module)."""

from __future__ import annotations

import search_spaces.darts  # noqa: F401
import search_spaces.enas_macro  # noqa: F401
import search_spaces.graph  # noqa: F401
import search_spaces.mobilenet_space  # noqa: F401
import search_spaces.nasnet  # noqa: F401
import search_spaces.nb101  # noqa: F401
import search_spaces.nb201  # noqa: F401
