"""Stages of a CAIT experiment: what happens to the sample, one small value each.

A stage has a name, a duration, a temperature and a diffusion model per species. A
:class:`BeamStage` illuminates the front with a :class:`Beam`; a :class:`RestStage` has no beam
(storage, relaxation). Adding a stage type means one small class with a ``type`` tag that
states its front boundary (:meth:`front_beam`, :meth:`front_aperture`), and adding it to
:data:`AnyStage`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from caitlab._model import Frozen
from caitlab.coupling import parse_pair
from caitlab.diffusivity import AnyDiffusivity
from caitlab.units import Current, Energy, Length, Temperature, Time, Voltage, at_most

DEFAULT_APERTURE_DISTANCE = 8e-3  # m, the paper's grounded aperture in front of the sample


class Beam(Frozen):
    """An alkali ion beam at the front.

    Parameters
    ----------
    species : dict of str to float
        Beam composition: species name to fraction of the landing ions (sum 1). A single
        name (``species = "Rb"``) means a pure beam.
    source_potential : float
        U_R in V: the most the surface can be charged to.
    mode : {"ideal", "finite"}
        ``ideal``: the beam supplies whatever flux holds the surface at U_R once reached.
        ``finite``: a beam ``current`` (A) whose ions reach the sample with kinetic energy
        e U_R less a Rayleigh-distributed deficit of scale ``energy_spread`` (eV, per unit
        charge); an ion
        lands only if its energy exceeds e φ_surface, so a large current holds the surface
        just below U_R, as the ideal beam does.
    aperture_distance : float or None
        Distance (m) of the grounded aperture in front of the surface: the vacuum-gap field
        φ_surface / distance enters Poisson's equation as a Robin condition. ``None``
        (``"none"`` in TOML): no field outside the sample.
    """

    species: dict[str, float]
    source_potential: Annotated[Voltage, at_most("10 kV", "voltage")] = Field(gt=0)
    mode: Literal["ideal", "finite"] = "ideal"
    current: Annotated[Current | None, at_most("1 A", "current")] = Field(default=None, gt=0)
    energy_spread: Annotated[Energy, at_most("10 keV", "energy")] = Field(default=0.5, gt=0)
    aperture_distance: Annotated[Length | None, at_most("10 m", "length")] = Field(
        default=DEFAULT_APERTURE_DISTANCE, gt=0
    )

    @field_validator("species", mode="before")
    @classmethod
    def _single_species(cls, value: object) -> object:
        return {value: 1.0} if isinstance(value, str) else value

    @field_validator("aperture_distance", mode="before")
    @classmethod
    def _no_aperture(cls, value: object) -> object:
        # TOML has no null: "none" (what the config writer uses) means no aperture
        return None if isinstance(value, str) and value.strip().lower() == "none" else value

    @model_validator(mode="after")
    def _check(self) -> Beam:
        if not self.species:
            raise ValueError("a beam needs at least one species")
        if any(f <= 0 for f in self.species.values()):
            raise ValueError("beam species fractions must be > 0")
        total = sum(self.species.values())
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"beam species fractions must sum to 1, they sum to {total:g}")
        if self.mode == "finite" and self.current is None:
            raise ValueError("a finite beam needs its current, e.g. current = '10 nA'")
        return self


class _StageBase(Frozen):
    name: str = Field(min_length=1)
    duration: Annotated[Time, at_most("30 year", "time")] = Field(gt=0)
    temperature: Annotated[Temperature, at_most("3000 K", "temperature")] = Field(gt=0)
    diffusivity: dict[str, AnyDiffusivity] = Field(default_factory=dict)
    #: Onsager coupling constants κ per species pair (``{"Rb-Cs": 0.3}``, |κ| ≤ 1): see
    #: :mod:`caitlab.coupling`; empty (the default) is the Nernst-Planck model of today
    coupling: dict[str, Annotated[float, Field(ge=-1.0, le=1.0)]] = Field(default_factory=dict)

    @field_validator("coupling")
    @classmethod
    def _check_coupling(cls, value: dict[str, float]) -> dict[str, float]:
        seen: set[frozenset[str]] = set()
        for key in value:
            pair = frozenset(parse_pair(key))
            if pair in seen:
                raise ValueError(f"coupling pair {key!r} given twice (in either order)")
            seen.add(pair)
        return value

    def front_beam(self) -> Beam | None:
        """The beam at the front during this stage, or None."""
        return None

    def front_aperture(self) -> float | None:
        """Distance (m) of the grounded aperture in front, or None for no outside field."""
        return None


class BeamStage(_StageBase):
    """A stage with an ion beam on the front (a CAIT experiment)."""

    type: Literal["beam"] = "beam"
    beam: Beam

    def front_beam(self) -> Beam | None:
        return self.beam

    def front_aperture(self) -> float | None:
        return self.beam.aperture_distance


class RestStage(_StageBase):
    """A stage without beam: storage or relaxation, back electrode still grounded."""

    type: Literal["rest"] = "rest"
    aperture_distance: Annotated[Length | None, at_most("10 m", "length")] = Field(
        default=None, gt=0
    )

    def front_aperture(self) -> float | None:
        return self.aperture_distance


AnyStage = Annotated[BeamStage | RestStage, Field(discriminator="type")]

__all__ = ["AnyStage", "Beam", "BeamStage", "RestStage"]
