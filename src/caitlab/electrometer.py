"""The electrometer log: back-electrode current I(t) and/or transferred charge Q(t), measured.

:func:`read_electrometer` reads a CSV or TSV (comma, semicolon or tab separated; ``#``
comment lines ignored) whose header names each column with its unit in brackets or
parentheses::

    time [s], current [nA], charge [mC]
    0, 0.0, 0.0
    60, 9.8, 0.00059

A time column is required (``time``/``t``; units s, min, h ...), and a current column
(``current``/``I``, e.g. nA), a charge column (``charge``/``Q``, e.g. mC) or both. A bare
header without units is refused: the reader never guesses nA from A. Time is counted from
the start of the experiment's first stage. What is missing is derived: the charge as the
trapezoidal integral of the current, the current as the derivative of the charge; the
:attr:`ElectrometerLog.derived` field says which.

The result is one small frozen :class:`ElectrometerLog` in SI (s, A, C) with its provenance;
the figures overlay it on the simulated traces and the fit uses it as an observation
(:class:`caitlab.fit.data.MeasuredTrace`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from caitlab.units import UnitError, to_canonical

_KINDS = {"time": ("time", "t"), "current": ("current", "i"), "charge": ("charge", "q")}
_HEADER = re.compile(r"^\s*([^\[\(]+?)\s*[\[\(]\s*([^\]\)]+?)\s*[\]\)]\s*$")


class ElectrometerError(ValueError):
    """An electrometer log that cannot be read; the message names the file and the fix."""


@dataclass(frozen=True, eq=False)
class ElectrometerLog:
    """A measured back-electrode current and charge versus time.

    Attributes
    ----------
    time_s : ndarray, shape (n,)
        Times from the start of the first stage, s, strictly increasing.
    current_A : ndarray, shape (n,)
        Current through the back electrode, A.
    charge_C : ndarray, shape (n,)
        Charge transferred since the start, C.
    source : str
        Where it came from (the file).
    columns : dict of str to str
        Quantity -> the header text it was read from (its unit included).
    derived : tuple of str
        Quantities computed from the other (``"charge"`` integrated from the current, or
        ``"current"`` differentiated from the charge).
    """

    time_s: np.ndarray
    current_A: np.ndarray
    charge_C: np.ndarray
    source: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    derived: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        time = np.asarray(self.time_s, dtype=float)
        if time.ndim != 1 or time.size < 2:
            raise ElectrometerError(f"{self.source}: need at least two rows")
        if not np.all(np.isfinite(time)) or np.any(np.diff(time) <= 0):
            raise ElectrometerError(f"{self.source}: times must be finite and increasing")
        for name in ("current_A", "charge_C"):
            values = np.asarray(getattr(self, name), dtype=float)
            if values.shape != time.shape or not np.all(np.isfinite(values)):
                raise ElectrometerError(
                    f"{self.source}: {name} must be {time.size} finite values, one per time"
                )
            object.__setattr__(self, name, values)
        object.__setattr__(self, "time_s", time)
        object.__setattr__(self, "derived", tuple(self.derived))

    def values(self, quantity: str) -> np.ndarray:
        """``"current"`` (A) or ``"charge"`` (C)."""
        if quantity not in ("current", "charge"):
            raise ValueError(f"quantity must be 'current' or 'charge', got {quantity!r}")
        return self.current_A if quantity == "current" else self.charge_C


def _kind(name: str) -> str | None:
    key = name.strip().lower()
    return next((k for k, names in _KINDS.items() if key in names), None)


def _header(cells: list[str], source: str) -> dict[str, tuple[int, str, str]]:
    """Quantity -> (column index, unit, header text); refuses bare or unknown columns."""
    found: dict[str, tuple[int, str, str]] = {}
    for k, cell in enumerate(cells):
        match = _HEADER.match(cell)
        if match is None:
            if _kind(cell) is not None:
                raise ElectrometerError(
                    f"{source}: column {cell.strip()!r} has no unit; write it in the header, "
                    "e.g. 'time [s]', 'current [nA]', 'charge [mC]'"
                )
            continue
        kind = _kind(match.group(1))
        if kind is not None and kind not in found:
            found[kind] = (k, match.group(2), cell.strip())
    if "time" not in found:
        raise ElectrometerError(
            f"{source}: no time column; the header needs e.g. 'time [s]' "
            f"(found {[c.strip() for c in cells]})"
        )
    if "current" not in found and "charge" not in found:
        raise ElectrometerError(
            f"{source}: no current or charge column; the header needs "
            "'current [nA]' and/or 'charge [mC]'"
        )
    return found


def _split(line: str) -> list[str]:
    for sep in ("\t", ";", ","):
        if sep in line:
            return line.split(sep)
    return line.split()


def read_electrometer(path: str | os.PathLike) -> ElectrometerLog:
    """Read an electrometer log (see the module docstring for the format).

    Parameters
    ----------
    path : path-like
        CSV or TSV file, UTF-8.

    Returns
    -------
    ElectrometerLog
        In s, A and C.

    Raises
    ------
    ElectrometerError
        No or unit-less header, a unit of the wrong kind, non-numeric or non-finite rows,
        times that do not increase.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ElectrometerError(f"{source}: not UTF-8 text; export the log as CSV") from None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if len(lines) < 3:
        raise ElectrometerError(f"{source}: need a header line and at least two rows")
    found = _header(_split(lines[0]), source)
    try:
        rows = np.array([[float(c) for c in _split(ln)] for ln in lines[1:]], dtype=float)
    except ValueError as exc:
        raise ElectrometerError(f"{source}: a row is not numbers ({exc})") from None
    if rows.ndim != 2:
        raise ElectrometerError(f"{source}: rows have different numbers of columns")
    columns: dict[str, np.ndarray] = {}
    for kind, (k, unit, _) in found.items():
        try:
            scale = to_canonical(f"1 {unit}", kind)
        except UnitError as exc:
            raise ElectrometerError(f"{source}: column {found[kind][2]!r}: {exc}") from None
        columns[kind] = rows[:, k] * scale
    time = columns["time"]
    derived: list[str] = []
    if "charge" not in columns:
        steps = 0.5 * (columns["current"][1:] + columns["current"][:-1]) * np.diff(time)
        columns["charge"] = np.concatenate(([0.0], np.cumsum(steps)))
        derived.append("charge")
    if "current" not in columns:
        columns["current"] = np.gradient(columns["charge"], time)
        derived.append("current")
    return ElectrometerLog(
        time,
        columns["current"],
        columns["charge"],
        source,
        {k: v[2] for k, v in found.items()},
        tuple(derived),
    )


__all__ = ["ElectrometerError", "ElectrometerLog", "read_electrometer"]
