"""Units at the edges: parse "2.325 mm", "94.46 h", "250 meV" into SI floats.

Every dimensional field of the parameter objects accepts either a plain number, read in the
field's canonical unit (SI; energies in eV), or a string with a unit, converted with pint.
Parsing happens once, when an object is built; everything inside caitlab is a float.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any

import pint
from pydantic import BeforeValidator

_REGISTRY = pint.UnitRegistry()

#: canonical unit of each quantity kind: bare numbers are read in it
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
}


_NUMBER_THEN_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


@lru_cache(maxsize=256)
def _parse(text: str) -> pint.Quantity:
    match = _NUMBER_THEN_UNIT.match(text)
    if match is None:
        return _REGISTRY.Quantity(text)
    number, unit = match.groups()
    # number and unit apart, so that offset units such as "50 degC" work
    return _REGISTRY.Quantity(float(number), unit or "dimensionless")


def to_canonical(value: Any, kind: str) -> float:
    """Convert ``value`` (number or unit string) to a float in the canonical unit of ``kind``.

    Parameters
    ----------
    value : float or str
        A number (already in the canonical unit) or a string such as ``"2.325 mm"``.
    kind : str
        One of the keys of :data:`CANONICAL`.

    Raises
    ------
    ValueError
        If the string cannot be parsed or has the wrong dimension; the message names the
        expected unit.
    """
    unit = CANONICAL[kind]
    if isinstance(value, bool):
        raise ValueError(f"expected a {kind} such as '1 {unit}', got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a {kind} as a number or a string like '1 {unit}'")
    try:
        quantity = _parse(value.strip())
    except Exception as exc:  # pint raises several unrelated types
        raise ValueError(f"cannot read {value!r} as a {kind} (e.g. '1 {unit}')") from exc
    if not isinstance(quantity, _REGISTRY.Quantity):
        return float(quantity)
    if quantity.dimensionless:  # "5" in a string: read in the canonical unit, as 5 would be
        return float(quantity.to("dimensionless").magnitude)
    if kind == "temperature" and quantity.dimensionality == _REGISTRY.kelvin.dimensionality:
        return float(quantity.to("kelvin").magnitude)
    try:
        return float(quantity.to(unit).magnitude)
    except pint.DimensionalityError as exc:
        raise ValueError(
            f"{value!r} is not a {kind} ({unit}): its unit {quantity.units:~} cannot be "
            f"converted to {unit}"
        ) from exc


def _validator(kind: str) -> BeforeValidator:
    return BeforeValidator(lambda value: to_canonical(value, kind))


Length = Annotated[float, _validator("length")]
Area = Annotated[float, _validator("area")]
Time = Annotated[float, _validator("time")]
Temperature = Annotated[float, _validator("temperature")]
Voltage = Annotated[float, _validator("voltage")]
Energy = Annotated[float, _validator("energy")]
Diffusivity = Annotated[float, _validator("diffusivity")]
Density = Annotated[float, _validator("density")]
Current = Annotated[float, _validator("current")]
