"""Parameter paths: address any number of an experiment config by a dotted path.

A path walks the dictionary of :func:`caitlab.config.experiment_to_dict` (SI numbers,
energies in eV). Tables are entered by key, lists by index *or* by the ``name`` of their
element, so these two paths are the same number::

    stages.1.diffusivity.Cs.d
    stages.Cs-CAIT.diffusivity.Cs.d

Other examples: ``stages.Rb-CAIT.diffusivity.Li.fwhm``, ``sample.species.Li.initial_fraction``,
``stages.Cs-CAIT.diffusivity.Li.falloff.threshold``.

Values given with a unit (``"3.1e-23 m^2/s"``, ``"250 meV"``) are converted to the canonical
unit of their dimension by :func:`parse_quantity`.
"""

from __future__ import annotations

import copy
import difflib
import math
from collections.abc import Iterator, Mapping
from typing import Any

from caitlab.units import CANONICAL, to_canonical

PathKey = str | int


class ParameterPathError(ValueError):
    """A path that does not address a number; ``matches`` holds close valid paths."""

    def __init__(self, path: str, reason: str, matches: list[str] | None = None) -> None:
        self.path = path
        self.matches = matches or []
        hint = f"; did you mean {', '.join(self.matches)}?" if self.matches else ""
        super().__init__(f"parameter path {path!r}: {reason}{hint}")


def split_path(path: str) -> list[str]:
    """The parts of a dotted path (empty parts are an error)."""
    parts = path.strip().split(".")
    if not path.strip() or any(not p for p in parts):
        raise ParameterPathError(path, "empty part; write parts separated by single dots")
    return parts


def _list_index(items: list[Any], part: str) -> int | None:
    if part.lstrip("-").isdigit():
        index = int(part)
        return index if -len(items) <= index < len(items) else None
    for k, item in enumerate(items):
        if isinstance(item, Mapping) and "name" in item and str(item["name"]) == part:
            return k
    return None


def path_step(node: Any, part: str) -> tuple[PathKey, Any] | None:
    """One step of a path: ``(key, child)`` of ``node`` for the path part ``part``.

    A table is entered by key; a list by index (negative counts from the end) or by the
    ``name`` of its element. None where ``node`` has no such child. The one rule every
    walk of a config by path follows (:func:`locate`,
    :func:`caitlab.config.quantity_kind`).
    """
    if isinstance(node, Mapping):
        return (part, node[part]) if part in node else None
    if isinstance(node, list):
        index = _list_index(node, part)
        return None if index is None else (index, node[index])
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def iter_numeric_paths(data: Any, prefix: str = "") -> Iterator[str]:
    """Every path to a number in ``data``; list elements by their ``name`` when they have one."""
    if isinstance(data, Mapping):
        items = [(str(k), v) for k, v in data.items()]
    elif isinstance(data, list):
        items = [
            (str(v["name"]) if isinstance(v, Mapping) and "name" in v else str(k), v)
            for k, v in enumerate(data)
        ]
    else:
        if _is_number(data):
            yield prefix
        return
    for key, value in items:
        yield from iter_numeric_paths(value, f"{prefix}.{key}" if prefix else key)


def close_matches(data: Any, path: str, n: int = 3) -> list[str]:
    """Valid numeric paths of ``data`` that look like ``path``."""
    candidates = list(iter_numeric_paths(data))
    found = difflib.get_close_matches(path, candidates, n=n, cutoff=0.5)
    if not found:
        tail = path.rsplit(".", 1)[-1]
        found = [c for c in candidates if c.endswith("." + tail)][:n]
    return found


def locate(data: Any, path: str) -> tuple[Any, PathKey]:
    """The container holding the number at ``path`` and its key there.

    Raises
    ------
    ParameterPathError
        If the path does not exist or does not end at a number; lists close matches.
    """
    node: Any = data
    parent: Any = None
    key: PathKey = ""
    for depth, part in enumerate(split_path(path)):
        found = path_step(node, part)
        if found is None:
            where = ".".join(split_path(path)[:depth]) or "the top level"
            raise ParameterPathError(path, f"no {part!r} in {where}", close_matches(data, path))
        parent, node = node, found[1]
        key = found[0]
    if not _is_number(node):
        raise ParameterPathError(path, "does not end at a number", close_matches(data, path))
    return parent, key


def get_value(data: Any, path: str) -> float:
    """The number at ``path`` in ``data``."""
    parent, key = locate(data, path)
    return float(parent[key])


def with_values(data: Any, values: Mapping[str, float]) -> Any:
    """A deep copy of ``data`` with the numbers at the given paths replaced."""
    out = copy.deepcopy(data)
    for path, value in values.items():
        parent, key = locate(out, path)
        parent[key] = float(value)
    return out


def parse_quantity(value: Any) -> float:
    """A number, or a string with a unit converted to its canonical caitlab unit.

    The dimension is recognised from the unit: ``"5 nm"`` gives 5e-9 (m), ``"250 meV"``
    0.25 (eV), ``"3e-23 m^2/s"`` 3e-23 (m²/s).

    Raises
    ------
    ValueError
        If the value is neither a number nor a quantity of a known dimension.
    """
    if _is_number(value) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return number
        for kind in CANONICAL:
            try:
                number = to_canonical(value, kind)
            except ValueError:
                continue
            if math.isfinite(number):
                return number
    raise ValueError(
        f"cannot read {value!r} as a finite number or a quantity with a unit "
        f"(known units: {', '.join(CANONICAL.values())})"
    )


def column_name(path: str, unit: str) -> str:
    """The header of a table column holding the number at ``path`` in ``unit``:
    ``"stages.Cs-CAIT.diffusivity.Cs.d [m^2/s]"``; the path alone if dimensionless (``unit``
    empty). :func:`column_path` reads the path back."""
    return f"{path} [{unit}]" if unit else path


def column_path(header: str) -> str:
    """The parameter path of a column header written by :func:`column_name`."""
    text = str(header).strip()
    if text.endswith("]") and " [" in text:
        return text[: text.rindex(" [")]
    return text


def safe_name(path: str) -> str:
    """A valid Python identifier made from a path (for lmfit parameter names)."""
    text = "".join(c if c.isalnum() else "_" for c in path)
    return text if text[:1].isalpha() else f"p_{text}"


__all__ = [
    "ParameterPathError",
    "close_matches",
    "column_name",
    "column_path",
    "get_value",
    "iter_numeric_paths",
    "locate",
    "parse_quantity",
    "path_step",
    "safe_name",
    "split_path",
    "with_values",
]
