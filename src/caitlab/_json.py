"""Strict JSON: the one place where NaN and infinities become ``null``.

Python's :mod:`json` writes ``NaN`` and ``Infinity`` by default, which strict readers (most
other languages, ``jq``, browsers) refuse. :func:`json_safe` makes a structure writable with
``allow_nan=False``; the sweep's records (``sweep.json``, ``failed/<key>.json``), the fit's
``fit.json`` and the landscape's ``landscape.json`` all go through it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def json_safe(value: Any) -> Any:
    """``value`` ready for ``json.dumps(..., allow_nan=False)``.

    * a non-finite float (Python or numpy) becomes None; a finite numpy float a float;
    * numpy integers and booleans become ``int`` and ``bool``; numpy arrays lists (of the
      same, cleaned);
    * dicts, lists and tuples are cleaned throughout (tuples become lists, as ``json``
      writes them); dict keys that ``json`` cannot write (a numpy scalar, a Path) become
      their ``str``, the others are kept as they are;
    * anything else is returned unchanged (``json.dumps(..., default=str)`` may still need
      to turn it into text).
    """
    if isinstance(value, dict):
        return {_key(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    return value


def _key(key: Any) -> Any:
    if isinstance(key, np.generic):
        key = key.item()
    if key is None or isinstance(key, str | int | float | bool):
        return key  # json writes these itself (a float key by its repr)
    return str(key)


__all__ = ["json_safe"]
