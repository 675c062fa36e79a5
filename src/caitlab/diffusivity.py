"""Diffusion-coefficient models D(n, T): pure, vectorised material laws.

Each model is one small frozen class with a ``model`` tag (used in TOML) and a method
:meth:`DiffusivityModel.log_diffusivity` returning ln(D / m^2 s^-1) for densities given as
fractions of the mobile-ion density n0. Every model takes an optional :class:`Falloff`
(trapping: D multiplied by a factor below a threshold density).

The site-energy-distribution (SED) law follows Gunawan, Schäfer, Weitzel, PCCP 2026,
eqs. (6)-(8): the sites of a species are filled from the bottom of a distribution S(E); the
highest filled level is the ionic Fermi level and the activation energy is its gap to the
transport threshold, so that ``n = ∫_{-inf}^{-E_act(n)} S(E) dE`` and
``D(n) = D0 exp(-E_act(n) / k_B T)``. The occupancy θ (fraction of the distribution's sites
filled at the reference density) is a parameter: the paper leaves it open.

Adding a model: subclass :class:`DiffusivityModel`, give it a ``model: Literal[...]`` tag and
``_log_d``, and add it to :data:`AnyDiffusivity`.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from numpy.typing import ArrayLike
from pydantic import Field, model_validator

from caitlab._model import Frozen
from caitlab.constants import BOLTZMANN_EV
from caitlab.units import Density, Diffusivity, Energy, Temperature, at_most

#: below this D (m^2/s) a species is treated as immobile; keeps logarithms finite
D_FLOOR = 1e-40
_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))

#: fastest D (m^2/s) accepted: beyond any solid ion conductor (and the solver's reach)
D_MAX = 1e-7

# physical ranges of the model fields (files and Python alike)
_D = Annotated[Diffusivity, at_most(f"{D_MAX:g} m^2/s", "diffusivity")]
_D0 = Annotated[Diffusivity, at_most("1 m^2/s", "diffusivity")]
_E = Annotated[Energy, at_most("10 eV", "energy")]
_T = Annotated[Temperature, at_most("3000 K", "temperature")]
_N = Annotated[Density, at_most("1e30 m^-3", "density")]


class Falloff(Frozen):
    """Trapping: D is multiplied by ``factor`` below ``threshold`` (fractions of n0).

    The step is smooth: ``ln D += ln(factor) * (1 - tanh((n/n0 - threshold) / width)) / 2``,
    so ``width`` (fraction of n0) is the half-width of the transition.
    """

    threshold: float = Field(gt=0.0, lt=1.0)
    factor: float = Field(default=1e-2, gt=0.0, le=1.0)
    width: float = Field(default=0.005, gt=0.0, le=1.0)

    def log_factor(self, n_frac: np.ndarray) -> np.ndarray:
        """ln of the multiplier at densities ``n_frac`` (fractions of n0)."""
        step = 0.5 * (1.0 - np.tanh((np.asarray(n_frac) - self.threshold) / self.width))
        return math.log(self.factor) * step


class DiffusivityModel(Frozen):
    """Base of all D models: subclasses implement ``_log_d``."""

    falloff: Falloff | None = None

    def log_diffusivity(self, n_frac: np.ndarray, temperature: float, n0: float) -> np.ndarray:
        """ln(D / (m^2/s)) at densities ``n_frac`` (fractions of n0), temperature in K.

        Parameters
        ----------
        n_frac : array_like
            Density of the species divided by the mobile-ion density n0.
        temperature : float
            Temperature in K.
        n0 : float
            Mobile-ion density in m^-3 (sets the reference density where one is implied).
        """
        n_frac = np.asarray(n_frac, dtype=float)
        log_d = np.broadcast_to(self._log_d(n_frac, temperature, n0), n_frac.shape).copy()
        if self.falloff is not None:
            log_d += self.falloff.log_factor(n_frac)
        return np.maximum(log_d, math.log(D_FLOOR))

    def diffusivity(self, n_frac: np.ndarray, temperature: float, n0: float) -> np.ndarray:
        """D in m^2/s at densities ``n_frac`` (fractions of n0) and ``temperature`` in K."""
        return np.exp(self.log_diffusivity(n_frac, temperature, n0))

    def check_temperature(self, temperature: float) -> None:
        """Raise ValueError if the model cannot give D at ``temperature`` (K)."""
        _arrhenius_shift(self, temperature)

    def _log_d(self, n_frac: np.ndarray, temperature: float, n0: float) -> np.ndarray:
        raise NotImplementedError


def _arrhenius_shift(model: DiffusivityModel, temperature: float) -> float:
    """-Ea/k_B (1/T - 1/T_ref): the ln D shift from the reference temperature."""
    t_ref = getattr(model, "reference_temperature", None)
    if t_ref is None or math.isclose(t_ref, temperature, rel_tol=1e-12):
        return 0.0
    energy = getattr(model, "activation_energy", None)
    if energy is None:
        raise ValueError(
            f"D is given at {t_ref:g} K but the stage runs at {temperature:g} K: "
            "give activation_energy to scale it (Arrhenius)"
        )
    return -energy / BOLTZMANN_EV * (1.0 / temperature - 1.0 / t_ref)


class ConstantD(DiffusivityModel):
    """A constant D (m^2/s), optionally Arrhenius-scaled from ``reference_temperature``."""

    model: Literal["constant"] = "constant"
    d: _D = Field(gt=0)
    activation_energy: _E | None = Field(default=None, ge=0)
    reference_temperature: _T | None = Field(default=None, gt=0)

    def _log_d(self, n_frac: np.ndarray, temperature: float, n0: float) -> np.ndarray:
        return np.full(n_frac.shape, math.log(self.d) + _arrhenius_shift(self, temperature))


def _sin2_filled_fraction(s: np.ndarray) -> np.ndarray:
    """Fraction of a sin² lobe filled up to phase s in [0, π]: (2s - sin 2s) / 2π."""
    s = np.asarray(s, dtype=float)
    y = 2.0 * s
    series = y**3 / 6.0 * (1.0 - y**2 / 20.0 + y**4 / 840.0)  # no cancellation near 0
    return np.where(s < 1e-2, series, y - np.sin(y)) / (2.0 * math.pi)


_PHASE_GRID = np.linspace(0.0, math.pi, 4097)
_FILLED_GRID = _sin2_filled_fraction(_PHASE_GRID)


def sin2_phase(filled: ArrayLike) -> np.ndarray:
    """Inverse of the filled fraction of a sin² lobe: the phase s in [0, π] (to ~1e-13).

    Starts from interpolation on a table (in the cube root near the bottom of the lobe,
    where the fraction grows as s³) and polishes with Newton steps.
    """
    fraction = np.clip(np.asarray(filled, dtype=float), 0.0, 1.0)
    # the lobe is symmetric, g(π - s) = 1 - g(s): solve on the lower half only
    upper = fraction > 0.5
    lower_half = np.where(upper, 1.0 - fraction, fraction)
    phase = np.interp(np.cbrt(lower_half), np.cbrt(_FILLED_GRID), _PHASE_GRID)
    for _ in range(3):
        slope = 2.0 * np.sin(phase) ** 2 / math.pi
        ok = slope > 1e-12
        update = (_sin2_filled_fraction(phase) - lower_half) / np.where(ok, slope, 1.0)
        phase = np.clip(phase - np.where(ok, update, 0.0), 0.0, 0.5 * math.pi)
    return np.where(upper, math.pi - phase, phase)


class SiteEnergyD(DiffusivityModel):
    """D(n) from a site-energy distribution (PCCP 2026, eqs. 6-8).

    Parameters
    ----------
    shape : {"sin2", "gaussian"}
        ``sin2``: S(E) ∝ sin²((E - E_lo)/Γ) on one lobe of width πΓ, FWHM = πΓ/2.
        ``gaussian``: S(E) normal with the given FWHM.
    fwhm : float
        Full width at half maximum of S(E), eV.
    occupancy : float
        θ, the fraction of the distribution's sites filled at the reference density
        (total sites = n_ref/θ). Default 0.9: the paper's "about 4 orders" drop of D_Li
        between n0 and 0.1 n0; θ = 1 puts the Fermi level at the top of the lobe.
    reference_density : float, optional
        n_ref in m^-3 at which D equals ``d_ref`` (default: n0).
    d_ref : float, optional
        D at the reference density, m^2/s. Give this or ``prefactor``.
    prefactor : float, optional
        D0 in m^2/s of eq. 6; needs ``activation_energy``.
    activation_energy : float, optional
        E_act at the reference density, eV. Needed with ``prefactor`` and to scale
        ``d_ref`` to another temperature.
    reference_temperature : float, optional
        Temperature (K) at which ``d_ref`` holds; default: every stage's own.
    """

    model: Literal["sed"] = "sed"
    shape: Literal["sin2", "gaussian"] = "sin2"
    fwhm: _E = Field(gt=0)
    occupancy: float = Field(default=0.9, gt=0.0, le=1.0)
    reference_density: _N | None = Field(default=None, gt=0)
    d_ref: _D | None = Field(default=None, gt=0)
    prefactor: _D0 | None = Field(default=None, gt=0)
    activation_energy: _E | None = Field(default=None, ge=0)
    reference_temperature: _T | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check_reference(self) -> SiteEnergyD:
        if (self.d_ref is None) == (self.prefactor is None):
            raise ValueError("give exactly one of d_ref (D at the reference density) or prefactor")
        if self.prefactor is not None and self.activation_energy is None:
            raise ValueError("prefactor needs activation_energy (E_act at the reference density)")
        if self.shape == "gaussian" and self.occupancy >= 1.0:
            raise ValueError("a gaussian distribution is never full: occupancy must be < 1")
        return self

    def filled_fraction(self, n_frac: ArrayLike, n0: float) -> np.ndarray:
        """Fraction of the species' sites filled at density ``n_frac`` (fractions of n0)."""
        n_ref = self.reference_density or n0
        return np.clip(self.occupancy * np.asarray(n_frac) * n0 / n_ref, 0.0, 1.0)

    def fermi_shift(self, n_frac: ArrayLike, n0: float) -> np.ndarray:
        """E_F(n) - E_F(n_ref) in eV (negative below the reference density)."""
        filled = self.filled_fraction(n_frac, n0)
        if self.shape == "sin2":
            gamma = 2.0 * self.fwhm / math.pi
            return gamma * (sin2_phase(filled) - sin2_phase(self.occupancy))
        from scipy.special import ndtri  # 0.1 s to import: only for gaussian shapes

        sigma = self.fwhm / _FWHM_PER_SIGMA
        tiny = np.finfo(float).tiny
        return sigma * (ndtri(np.clip(filled, tiny, 1.0 - 1e-16)) - ndtri(self.occupancy))

    def site_distribution(self, energy: np.ndarray, n0: float) -> np.ndarray:
        """S(E) in m^-3 eV^-1, energy in eV relative to the Fermi level at n_ref."""
        energy = np.asarray(energy, dtype=float)
        total_sites = (self.reference_density or n0) / self.occupancy
        if self.shape == "sin2":
            gamma = 2.0 * self.fwhm / math.pi
            phase = (energy - float(self.fermi_shift(0.0, n0))) / gamma
            inside = (phase >= 0.0) & (phase <= math.pi)
            return np.where(inside, total_sites * 2.0 / (math.pi * gamma) * np.sin(phase) ** 2, 0)
        from scipy.special import ndtri

        sigma = self.fwhm / _FWHM_PER_SIGMA
        centre = -sigma * float(ndtri(self.occupancy))
        return (
            total_sites
            * np.exp(-0.5 * ((energy - centre) / sigma) ** 2)
            / (sigma * math.sqrt(2.0 * math.pi))
        )

    def _log_d(self, n_frac: np.ndarray, temperature: float, n0: float) -> np.ndarray:
        kt = BOLTZMANN_EV * temperature
        extra_activation = -self.fermi_shift(n_frac, n0)
        if self.prefactor is not None:
            return math.log(self.prefactor) - (self.activation_energy + extra_activation) / kt
        assert self.d_ref is not None  # the validator asks for exactly one of the two
        return math.log(self.d_ref) + _arrhenius_shift(self, temperature) - extra_activation / kt


class TabulatedD(DiffusivityModel):
    """A user-supplied D(n) curve, interpolated linearly in ln D, constant beyond its ends."""

    model: Literal["tabulated"] = "tabulated"
    density_fraction: tuple[Annotated[float, Field(ge=0.0, le=1e3)], ...] = Field(min_length=2)
    d: tuple[Annotated[_D, Field(gt=0)], ...] = Field(min_length=2)
    activation_energy: _E | None = Field(default=None, ge=0)
    reference_temperature: _T | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check_table(self) -> TabulatedD:
        if len(self.density_fraction) != len(self.d):
            raise ValueError(
                f"density_fraction has {len(self.density_fraction)} values but d has "
                f"{len(self.d)}: give one D per density"
            )
        if np.any(np.diff(self.density_fraction) <= 0):
            raise ValueError("density_fraction must increase strictly")
        if min(self.d) <= 0:
            raise ValueError("every tabulated d must be > 0 m^2/s")
        return self

    def _log_d(self, n_frac: np.ndarray, temperature: float, n0: float) -> np.ndarray:
        log_d = np.interp(n_frac, self.density_fraction, np.log(self.d))
        return log_d + _arrhenius_shift(self, temperature)


def geometric_knots(count: int, lowest: float = 0.02, highest: float = 1.0) -> tuple[float, ...]:
    """``count`` knots in n/n0, geometrically spaced from ``lowest`` to ``highest``.

    Geometric spacing resolves the low-density end, where D(n) of a site-energy law changes
    fastest (the Fermi level runs down the distribution's lower tail).
    """
    if count < 2 or not 0 < lowest < highest:
        raise ValueError("need count >= 2 and 0 < lowest < highest")
    return tuple(float(k) for k in np.geomspace(lowest, highest, count))


class FreeFormD(DiffusivityModel):
    """A free-form D(n): ln D on knots in n/n0, shape-preserving (PCHIP) in ln n.

    Meant to be fitted: every ``log_d`` value is a parameter with a path such as
    ``stages.Cs-CAIT.diffusivity.Rb.log_d.3``. Between the knots ln D is a monotone-cubic
    (PCHIP, :class:`scipy.interpolate.PchipInterpolator`) function of ln(n/n0), so it
    overshoots nowhere; beyond the end knots it is constant.

    Parameters
    ----------
    log_d : tuple of float
        ln(D / (m^2/s)) at the knots (K values).
    knots : tuple of float, optional
        Knot densities n/n0, strictly increasing; default K geometric knots from
        ``lowest`` to 1 (:func:`geometric_knots`).
    lowest : float
        Lowest default knot, fraction of n0.
    monotone : bool
        Make D non-decreasing in n, as every site-energy law is: each knot value is capped
        by those above it (a running minimum from the top, so a poorly determined knot at
        low density cannot lift the well-determined ones).
    activation_energy, reference_temperature : float, optional
        Arrhenius scaling of the whole curve to another temperature (eV, K).
    """

    model: Literal["free-form"] = "free-form"
    log_d: tuple[float, ...] = Field(min_length=2)
    knots: tuple[float, ...] | None = None
    lowest: float = Field(default=0.02, gt=0.0, lt=1.0)
    monotone: bool = False
    activation_energy: Energy | None = Field(default=None, ge=0)
    reference_temperature: Temperature | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check_knots(self) -> FreeFormD:
        knots = self.knot_fractions
        if len(knots) != len(self.log_d):
            raise ValueError(f"knots has {len(knots)} values but log_d has {len(self.log_d)}")
        if knots[0] <= 0 or np.any(np.diff(knots) <= 0):
            raise ValueError("knots must be positive and increase strictly")
        if not np.all(np.isfinite(self.log_d)):
            raise ValueError("every log_d must be finite")
        return self

    @property
    def knot_fractions(self) -> tuple[float, ...]:
        """The knot densities n/n0 (given or default)."""
        if self.knots is not None:
            return self.knots
        return geometric_knots(len(self.log_d), self.lowest)

    def knot_values(self) -> np.ndarray:
        """ln D at the knots as used (monotone: capped by every knot above)."""
        values = np.asarray(self.log_d, dtype=float)
        return np.minimum.accumulate(values[::-1])[::-1] if self.monotone else values

    def _log_d(self, n_frac: np.ndarray, temperature: float, n0: float) -> np.ndarray:
        from scipy.interpolate import PchipInterpolator

        x = np.log(np.asarray(self.knot_fractions))
        curve = PchipInterpolator(x, self.knot_values(), extrapolate=False)
        where = np.clip(np.log(np.maximum(n_frac, 1e-300)), x[0], x[-1])
        return curve(where) + _arrhenius_shift(self, temperature)


AnyDiffusivity = Annotated[
    ConstantD | SiteEnergyD | TabulatedD | FreeFormD, Field(discriminator="model")
]

__all__ = [
    "D_FLOOR",
    "AnyDiffusivity",
    "ConstantD",
    "DiffusivityModel",
    "Falloff",
    "FreeFormD",
    "SiteEnergyD",
    "TabulatedD",
    "geometric_knots",
    "sin2_phase",
]
