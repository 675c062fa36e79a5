"""TOML/pydantic configuration of a measured profile, for embedding in fit configs.

Example ``[profile]`` section::

    [profile]
    file = "stage2.txt"
    crater_depth = "310 nm"
    elements = { Li = ["^6Li+", "Li+"], Rb = ["84.9118", "86.9092"], Cs = ["Cs+"] }
    response = { model = "gaussian", rms = "20 nm" }
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, field_validator, model_validator

from caitlab._model import Frozen
from caitlab.sims.processing import DEFAULT_MASS_TOLERANCE, DEFAULT_N0, process_profile
from caitlab.sims.profile import SimsProfile
from caitlab.sims.readers import read_profile
from caitlab.sims.response import GaussianResponse, MRIResponse
from caitlab.units import Density, Length, to_canonical

Rate = Annotated[float, BeforeValidator(lambda value: to_canonical(value, "rate"))]


class ResponseConfig(Frozen):
    """Instrument response: ``model = "gaussian"`` (``rms``) or ``"mri"`` (``mixing``,
    ``roughness``, ``information``); lengths as numbers in m or strings like ``"5 nm"``."""

    model: Literal["gaussian", "mri"] = "gaussian"
    rms: Length = 0.0
    mixing: Length = 0.0
    roughness: Length = 0.0
    information: Length = 0.0

    @model_validator(mode="after")
    def _check(self) -> ResponseConfig:
        for name in ("rms", "mixing", "roughness", "information"):
            if getattr(self, name) < 0:
                raise ValueError(f"response {name} must not be negative")
        if self.model == "gaussian" and (self.mixing or self.roughness or self.information):
            raise ValueError("a gaussian response takes only 'rms'; use model = 'mri'")
        if self.model == "mri" and self.rms:
            raise ValueError("an mri response takes mixing, roughness and information, not rms")
        return self

    def fields(self) -> dict[str, Any]:
        """The response as a dict: the model and its lengths (m), as fit paths address them."""
        if self.model == "gaussian":
            return {"model": "gaussian", "rms": self.rms}
        return {
            "model": "mri",
            "mixing": self.mixing,
            "roughness": self.roughness,
            "information": self.information,
        }

    def build(self) -> GaussianResponse | MRIResponse:
        """The response object for :func:`~caitlab.sims.response.apply_response`."""
        if self.model == "gaussian":
            return GaussianResponse(self.rms)
        return MRIResponse(self.mixing, self.roughness, self.information)


class SimsProfileConfig(Frozen):
    """A measured depth profile and how to turn it into fractions.

    Attributes
    ----------
    file : Path
        The export (relative paths are resolved against the config file's folder by
        :meth:`load`).
    elements : dict of str to list of str, optional
        Element -> channel names or masses (u, as strings or numbers); default Li, Rb, Cs
        by mass.
    crater_depth : float, optional
        Crater depth, m (or a string such as ``"310 nm"``).
    sputter_rate : float, optional
        Sputter rate, m/s (or ``"0.5 nm/s"``).
    response : ResponseConfig, optional
        Instrument response used when comparing simulations with this profile.
    mass_tolerance : float
        For channels given by mass, u.
    format : str
        ``"auto"``, ``"surfacelab"``, ``"table"`` or ``"ita"``.
    poisson : str
        ``"auto"``, ``"correct"`` or ``"off"``.
    shots_per_scan : float, optional
        Primary shots per scan (else from the file).
    n0 : float
        Mobile-ion density, m^-3.
    """

    file: Path
    elements: dict[str, list[str]] | None = None
    crater_depth: Length | None = None
    sputter_rate: Rate | None = None
    response: ResponseConfig | None = None
    mass_tolerance: float = DEFAULT_MASS_TOLERANCE
    format: Literal["auto", "surfacelab", "table", "ita"] = "auto"
    poisson: Literal["auto", "correct", "off"] = "auto"
    shots_per_scan: float | None = None
    n0: Density = DEFAULT_N0

    @field_validator("elements", mode="before")
    @classmethod
    def _channels_as_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                str(k): [str(c) for c in (v if isinstance(v, (list, tuple)) else [v])]
                for k, v in value.items()
            }
        return value

    @model_validator(mode="after")
    def _check(self) -> SimsProfileConfig:
        if self.crater_depth is not None and self.sputter_rate is not None:
            raise ValueError("give crater_depth or sputter_rate, not both")
        if self.crater_depth is not None and not self.crater_depth > 0:
            raise ValueError(f"crater_depth must be positive, got {self.crater_depth} m")
        if self.sputter_rate is not None and not self.sputter_rate > 0:
            raise ValueError(f"sputter_rate must be positive, got {self.sputter_rate} m/s")
        if not self.mass_tolerance > 0:
            raise ValueError("mass_tolerance must be positive")
        return self

    def path(self, base_dir: str | Path | None = None) -> Path:
        """The profile file, resolved against ``base_dir`` if relative."""
        if base_dir is None or self.file.is_absolute():
            return self.file
        return Path(base_dir) / self.file

    def read(self, base_dir: str | Path | None = None) -> SimsProfile:
        """Read the profile file."""
        return read_profile(self.path(base_dir), format=self.format)

    def load(self, base_dir: str | Path | None = None) -> Any:
        """Read and process the profile into fractions (see ``process_profile``).

        Returns
        -------
        xarray.Dataset
        """
        return process_profile(
            self.read(base_dir),
            self.elements,
            crater_depth_m=self.crater_depth,
            sputter_rate_m_per_s=self.sputter_rate,
            mass_tolerance=self.mass_tolerance,
            poisson=self.poisson,
            shots_per_scan=self.shots_per_scan,
            n0=self.n0,
        )
