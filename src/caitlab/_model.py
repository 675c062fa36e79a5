"""Base class of caitlab's immutable, validated parameter objects."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, model_validator


def quantities_as_text(value: Any) -> Any:
    """``value`` with every pint Quantity in it written as text (``"2.325 millimeter"``).

    The text goes through the unit parser like any unit string; a Quantity from any pint
    registry works.
    """
    if hasattr(value, "units") and hasattr(value, "magnitude") and not isinstance(value, type):
        return f"{value.magnitude!r} {value.units}"
    if isinstance(value, dict):
        return {k: quantities_as_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(quantities_as_text(v) for v in value)
    return value


_Model = TypeVar("_Model", bound="Frozen")


class Frozen(BaseModel):
    """An immutable parameter object: unknown fields are errors, values are validated.

    Dimensional fields accept numbers in SI (energies in eV), strings with units, or pint
    Quantities (files must give the units: :func:`caitlab.config.bare_numbers`). Every
    number must be finite (NaN and infinity are refused).
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False
    )

    @model_validator(mode="before")
    @classmethod
    def _quantities(cls, data: Any) -> Any:
        return quantities_as_text(data) if isinstance(data, dict) else data

    def with_(self: _Model, **changes: Any) -> _Model:
        """Return a validated copy with some fields replaced."""
        data = self.model_dump()
        data.update(changes)
        return type(self).model_validate(data)
