"""Numbers and JSON for every output l2phase writes: one formatter, one JSON sanitiser.

Both are plain Python and numpy (no sympy, torch or numba), so that the fast commands
(``l2phase theory``) and the empirical reports share them.

* :func:`format_number` - a number in a table cell or a line of text: ``missing`` ("-")
  for None, NaN and infinity; integers as integers.
* :func:`json_ready` - any result as plain JSON types; non-finite floats become null
  (strict JSON), or stay floats for the point files (``keep_nonfinite=True``).

Examples
--------
>>> format_number(0.39685026299204984, ".6f"), format_number(float("nan")), format_number(3)
('0.396850', '-', '3')
>>> import numpy as np
>>> json_ready({"g": np.float64(0.5), "v": np.array([1.0, np.inf]), "k": (1, 2)})
{'g': 0.5, 'v': [1.0, None], 'k': [1, 2]}
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["format_number", "json_ready"]


def format_number(x: Any, spec: str = ".4g", missing: str = "-") -> str:
    """``format(x, spec)`` for a number; ``missing`` for None, NaN or infinity; integers as
    integers (unless ``spec`` asks for a sign or a fixed point); booleans and strings as text."""
    if x is None or isinstance(x, bool):
        return missing if x is None else str(x)
    if isinstance(x, (int, np.integer)) and not any(c in spec for c in "+f"):
        return str(int(x))
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(v):
        return missing
    return format(v, spec)


def json_ready(obj: Any, *, keep_nonfinite: bool = False) -> Any:
    """A copy of ``obj`` made of plain JSON types: dicts (string keys), lists, str, int,
    float, bool, None; numpy scalars and arrays converted, tuples as lists, objects with a
    ``to_dict`` method through it.

    Non-finite floats become None (strict JSON, the reports), or stay floats with
    ``keep_nonfinite=True`` (the point files, written with NaN/Infinity tokens so that they
    read back bit for bit).  Anything else raises ``TypeError`` (a bug, not a user error).
    """
    if isinstance(obj, dict):
        return {str(k): json_ready(v, keep_nonfinite=keep_nonfinite) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v, keep_nonfinite=keep_nonfinite) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist(), keep_nonfinite=keep_nonfinite)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if (keep_nonfinite or math.isfinite(x)) else None
    if obj is None or isinstance(obj, str):
        return obj
    if hasattr(obj, "to_dict"):
        return json_ready(obj.to_dict(), keep_nonfinite=keep_nonfinite)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
