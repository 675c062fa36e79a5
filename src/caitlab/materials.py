"""The sample: geometry, mobile-ion density, permittivity and its mobile cation species."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from caitlab._model import Frozen
from caitlab.units import Area, Density, Length, at_most


class Species(Frozen):
    """A mobile cation species.

    Parameters
    ----------
    name : str
        Label used everywhere (``"Li"``, ``"Rb"``...).
    charge : int
        Charge number z, 1 to 8 (positive: caitlab models mobile cations).
    initial_fraction : float
        Fraction of the mobile-ion density n0 this species holds in the pristine sample
        (0 for a foreign ion that only arrives with a beam).
    """

    name: str = Field(min_length=1)
    charge: int = Field(default=1, gt=0, le=8)
    initial_fraction: float = Field(default=0.0, ge=0.0, le=1.0)


class Sample(Frozen):
    """A glass slab on a grounded back electrode, illuminated through a mask at the front.

    Parameters
    ----------
    thickness : float
        Slab thickness L in m (at most 1 m).
    area : float
        Illuminated area A in m^2 (at most 1 m^2).
    mobile_ion_density : float
        n0 in m^-3 (at most 1e30, beyond any solid): the initial density of mobile cations.
        The fixed negative background charge of the network is e n0 sum_i z_i f_i (f_i the
        initial fractions), so the pristine sample is neutral.
    relative_permittivity : float
        eps_r of the glass, 1 (vacuum) to 1e5.
    species : tuple of Species
        All mobile species that ever appear (native and beam); native initial fractions must
        sum to 1.
    """

    thickness: Annotated[Length, at_most("1 m", "length")] = Field(gt=0)
    area: Annotated[Area, at_most("1 m^2", "area")] = Field(gt=0)
    mobile_ion_density: Annotated[Density, at_most("1e30 m^-3", "density")] = Field(gt=0)
    relative_permittivity: float = Field(default=7.0, ge=1.0, le=1e5)
    species: tuple[Species, ...] = Field(min_length=1)

    @field_validator("species", mode="before")
    @classmethod
    def _species_from_table(cls, value: object) -> object:
        # TOML writes species as a table {Li = {...}, Rb = {...}}; accept both forms
        if isinstance(value, dict):
            return tuple({"name": name, **(spec or {})} for name, spec in value.items())
        return value

    @model_validator(mode="after")
    def _check_species(self) -> Sample:
        names = [s.name for s in self.species]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"species {duplicates} declared more than once")
        total = sum(s.initial_fraction for s in self.species)
        if abs(total - 1.0) > 1e-9:
            listed = ", ".join(f"{s.name}={s.initial_fraction:g}" for s in self.species)
            raise ValueError(
                f"initial fractions of the species must sum to 1, they sum to {total:g} "
                f"({listed}); set initial_fraction of the native species"
            )
        return self

    @property
    def species_names(self) -> tuple[str, ...]:
        """Names of all species, in declaration order."""
        return tuple(s.name for s in self.species)

    def species_index(self, name: str) -> int:
        """Index of species ``name``; a clear error if it is not declared."""
        try:
            return self.species_names.index(name)
        except ValueError:
            raise ValueError(
                f"species {name!r} is not declared in sample.species "
                f"(declared: {', '.join(self.species_names)})"
            ) from None
