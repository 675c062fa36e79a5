"""Base class of caitlab's immutable, validated parameter objects."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """An immutable parameter object: unknown fields are errors, values are validated.

    Dimensional fields accept numbers in SI (energies in eV) or strings with units (files
    must give the units: :func:`caitlab.config.bare_numbers`). Every number must be finite
    (NaN and infinity are refused).
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False
    )

    def with_(self, **changes: Any) -> Frozen:
        """Return a validated copy with some fields replaced."""
        data = self.model_dump()
        data.update(changes)
        return type(self).model_validate(data)
