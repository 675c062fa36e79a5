"""Units at the edges: parse "2.325 mm", "94.46 h", "250 meV" into SI floats.

One rule for dimensional quantities: **in a file or on the command line they carry their
unit** (``thickness = "2.325 mm"``); a bare number (``2.325`` or ``"2.325"``) is refused with
the fix in the message (:func:`caitlab.config.bare_numbers` finds them in a file's tables,
:func:`to_canonical` with ``units_required`` on a command line). Inside Python, objects hold
SI floats (energies in eV), so ``Sample(thickness=2.325e-3)`` is read in m. Every value must
be finite.
Parsing happens once, when an object is built; everything inside caitlab is a float.

The usual spellings ("2.325 mm", "94.46 h", "5.8e-19 m^2/s") are converted with the factors
pint computes for them (:data:`caitlab._unit_table.FACTORS`, checked against pint bit for bit
by the tests), so that most runs never import pint (0.3 s); anything else (another spelling,
an offset unit such as "50 degC", a wrong unit) goes through pint, loaded on first use.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from caitlab._unit_table import FACTORS

if TYPE_CHECKING:
    import pint

#: canonical unit of each quantity kind: Python floats are read in it
CANONICAL = {
    "length": "m",
    "area": "m^2",
    "time": "s",
    "temperature": "K",
    "voltage": "V",
    "energy": "eV",
    "diffusivity": "m^2/s",
    "density": "m^-3",
    "current": "A",
    "rate": "m/s",
    "charge": "C",
}

#: an example value of each kind, for messages
EXAMPLES = {
    "length": "2.325 mm",
    "area": "28.26 mm^2",
    "time": "94.46 h",
    "temperature": "323 K",
    "voltage": "15 V",
    "energy": "250 meV",
    "diffusivity": "5.8e-19 m^2/s",
    "density": "1.4e28 m^-3",
    "current": "10 nA",
    "rate": "0.5 nm/s",
    "charge": "2.52 mC",
}

#: the units a value of each kind may be shown in, most natural first (all in FACTORS)
DISPLAY_UNITS = {
    "length": ("m", "mm", "um", "nm"),
    "area": ("m^2", "mm^2", "cm^2"),
    "time": ("s", "h", "min", "d", "ms"),
    "temperature": ("K",),
    "voltage": ("V", "mV", "kV"),
    "energy": ("eV", "meV"),
    "diffusivity": ("m^2/s",),
    "density": ("m^-3",),
    "current": ("A", "mA", "uA", "nA", "pA"),
    "rate": ("m/s", "nm/s", "nm/min"),
    "charge": ("C", "mC", "uC", "nC"),
}


_NUMBER_THEN_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")
_NOT_FINITE = re.compile(r"^\s*[-+]?(inf(inity)?|nan)\b", re.IGNORECASE)


class UnitError(ValueError):
    """A quantity that cannot be read: no number, no unit, the wrong unit, not finite."""


def article(word: str) -> str:
    """``"an energy"``, ``"a length"``."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


@cache
def _registry() -> pint.UnitRegistry[Any]:
    """pint's unit registry, made on first use (importing pint and reading its definitions
    takes ~0.3 s; the usual spellings never need it)."""
    import pint

    return pint.UnitRegistry()


def _split(text: str) -> tuple[float, str]:
    """``"number unit"`` as (number, unit text); the number is required."""
    match = _NUMBER_THEN_UNIT.match(text)
    if match is None:
        raise UnitError(f"{text!r} does not start with a number")
    number, unit = match.groups()
    return float(number), unit


@lru_cache(maxsize=256)
def _parse(text: str) -> pint.Quantity:
    """``"number unit"`` as a pint quantity; the number is required."""
    number, unit = _split(text)
    # number and unit apart, so that offset units such as "50 degC" work
    return _registry().Quantity(number, unit or "dimensionless")


def bare_number_message(value: Any, kind: str) -> str:
    unit = CANONICAL[kind]
    number = value.strip() if isinstance(value, str) else repr(value)
    return (
        f"{number} has no unit: write {article(kind)} with its unit, e.g. "
        f"'{number} {unit}' if you meant {unit}, or '{EXAMPLES[kind]}'"
    )


def _wrong_unit_message(value: str, kind: str, quantity: pint.Quantity) -> str:
    unit = CANONICAL[kind]
    message = (
        f"{value!r} is not {article(kind)} ({unit}): its unit {quantity.units:~} cannot be "
        f"converted to {unit}"
    )
    if kind == "temperature" and str(quantity.units) == "coulomb":
        message += f"; for degrees Celsius write '{quantity.magnitude:g} degC'"
    return message


def to_canonical(value: Any, kind: str, units_required: bool = False) -> float:
    """Convert ``value`` (number or unit string) to a float in the canonical unit of ``kind``.

    Parameters
    ----------
    value : float or str
        A string such as ``"2.325 mm"``, or a number already in the canonical unit.
    kind : str
        One of the keys of :data:`CANONICAL`.
    units_required : bool
        Refuse bare numbers (files and command lines). A string without a unit is refused
        either way.

    Raises
    ------
    UnitError
        If the value cannot be read, has no unit where one is needed, has the wrong
        dimension or is not finite; the message names the expected unit.
    """
    if kind not in CANONICAL:
        raise KeyError(kind)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UnitError(f"expected {article(kind)} such as '{EXAMPLES[kind]}', got {value!r}")
    if isinstance(value, (int, float)):
        if units_required:
            raise UnitError(bare_number_message(value, kind))
        try:
            return _finite(float(value), value, kind)
        except OverflowError:  # an int beyond any float
            raise UnitError(f"a {len(str(value))}-digit number is not a finite {kind}") from None
    if _NOT_FINITE.match(value):
        raise UnitError(
            f"{value!r} is not a finite {kind}: give a number such as '{EXAMPLES[kind]}'"
        )
    try:
        number, unit_text = _split(value.strip())
    except UnitError:
        raise UnitError(
            f"cannot read {value!r} as {article(kind)}: write a number and a unit, "
            f"e.g. '{EXAMPLES[kind]}'"
        ) from None
    if not unit_text:  # what pint reads as "dimensionless"
        raise UnitError(bare_number_message(value, kind))
    known = FACTORS.get(unit_text)
    if known is not None and known[0] == kind:
        # pint converts a multiplicative unit as number * factor: the same float
        return _finite(number * known[1], value, kind)
    return _pint_to_canonical(value, kind)


def spelled(value: float, kind: str) -> str:
    """The shortest ``"number unit"`` text that reads back (:func:`to_canonical`) as exactly
    ``value``, in the unit of :data:`DISPLAY_UNITS` that needs the fewest characters.

    ``spelled(0.0023250000000000002, "length")`` is ``"2.325 mm"`` and
    ``spelled(340056.0, "time")`` is ``"94.46 h"``; a value no unit spells shorter keeps
    its canonical unit (``"1.4e+28 m^-3"``).

    Parameters
    ----------
    value : float
        The value in the canonical unit of ``kind`` (:data:`CANONICAL`).
    kind : str
        One of the keys of :data:`CANONICAL`.
    """
    value = float(value)
    best = f"{value!r} {CANONICAL[kind]}"
    if not math.isfinite(value) or value == 0:
        return best

    def cost(text: str, number: float) -> int:  # numbers of 0.1 to 999 read easiest
        return len(text) + (0 if 0.1 <= abs(number) < 1000 else 2)

    best_cost = cost(best, value)
    for unit in DISPLAY_UNITS.get(kind, (CANONICAL[kind],)):
        number = value / FACTORS[unit][1]
        for digits in range(1, 18):
            shown = f"{number:.{digits}g}"
            if "e+" in shown and abs(number) < 1e6:  # "100", not "1e+02"
                shown = f"{float(shown):.0f}"
            text = f"{shown} {unit}"
            if to_canonical(text, kind) == value:
                if cost(text, number) < best_cost:
                    best, best_cost = text, cost(text, number)
                break
    return best


def rounded(value: float, kind: str, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits in its natural unit, for messages and
    headings: the first unit of :data:`DISPLAY_UNITS` that shows it between 1 and 1000
    (``rounded(1071290.4, "time")`` is ``"297.6 h"``, ``rounded(0.18, "energy")``
    ``"180 meV"``); the canonical unit where none does. Unlike :func:`spelled` the text
    need not read back exactly.

    Parameters
    ----------
    value : float
        The value in the canonical unit of ``kind`` (:data:`CANONICAL`).
    kind : str
        One of the keys of :data:`CANONICAL`.
    digits : int
        Significant digits shown.
    """
    value = float(value)
    if math.isfinite(value) and value != 0:
        for unit in DISPLAY_UNITS.get(kind, ()):
            number = value / FACTORS[unit][1]
            if 1 <= abs(float(f"{number:.{digits}g}")) < 1000:
                return f"{number:.{digits}g} {unit}"
    return f"{value:.{digits}g} {CANONICAL[kind]}"


def _pint_to_canonical(value: str, kind: str) -> float:
    """:func:`to_canonical` of a unit string by pint (any unit pint knows, and the messages
    for wrong ones)."""
    import pint

    unit = CANONICAL[kind]
    try:
        quantity = _parse(value.strip())
    except UnitError:
        raise UnitError(
            f"cannot read {value!r} as {article(kind)}: write a number and a unit, "
            f"e.g. '{EXAMPLES[kind]}'"
        ) from None
    except Exception as exc:  # pint raises several unrelated types
        raise UnitError(
            f"cannot read {value!r} as {article(kind)} (unknown unit; e.g. '{EXAMPLES[kind]}')"
        ) from exc
    if quantity.dimensionless and str(quantity.units) == "dimensionless":
        raise UnitError(bare_number_message(value, kind))
    if kind == "temperature" and quantity.dimensionality == _registry().kelvin.dimensionality:
        return _finite(float(quantity.to("kelvin").magnitude), value, kind)
    try:
        return _finite(float(quantity.to(unit).magnitude), value, kind)
    except pint.DimensionalityError:
        raise UnitError(_wrong_unit_message(value, kind, quantity)) from None


def _finite(number: float, value: Any, kind: str) -> float:
    if not math.isfinite(number):
        raise UnitError(f"{value!r} is not a finite {kind}")
    return number


@dataclass(frozen=True)
class UnitKind:
    """Marks a dimensional field in its ``Annotated`` metadata (found by the config tools)."""

    kind: str


def _validator(kind: str) -> BeforeValidator:
    return BeforeValidator(lambda value: to_canonical(value, kind))


def at_most(limit: str, kind: str) -> AfterValidator:
    """A validator refusing values above ``limit`` (a quantity such as ``"1 m"``)."""
    bound = to_canonical(limit, kind)

    def check(value: float | None) -> float | None:
        if value is not None and value > bound:
            raise ValueError(f"must be at most {limit} (got {value:g} {CANONICAL[kind]})")
        return value

    return AfterValidator(check)


def _kind(kind: str) -> Any:
    return Annotated[float, _validator(kind), UnitKind(kind)]


Length = _kind("length")
Area = _kind("area")
Time = _kind("time")
Temperature = _kind("temperature")
Voltage = _kind("voltage")
Energy = _kind("energy")
Diffusivity = _kind("diffusivity")
Density = _kind("density")
Current = _kind("current")
Rate = _kind("rate")
Charge = _kind("charge")
