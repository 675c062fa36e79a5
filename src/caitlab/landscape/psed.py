"""From D(n) to the populated part of the site-energy distribution (PSED).

With ``D(n) = D0 exp(-E_act(n) / k_B T)`` and ``n = ∫_{-inf}^{-E_act(n)} S(E) dE``
(spec §4 and §9, Gunawan et al., PCCP 2026, eqs. 6-8), any D(n) gives

* the ionic Fermi level at density n, relative to the one at the reference density n_ref:
  ``E_F(n) - E_F(n_ref) = k_B T [ln D(n) - ln D(n_ref)]`` (D0 only shifts the axis);
* the populated distribution ``S(E = E_F(n)) = dn/dE_F = 1 / (k_B T |d ln D/dn|)``,
  here per unit n0 (n in fractions of n0, S in eV^-1 per n0).

A fall-off (trapping) is not part of the distribution: it is taken out before the
derivative (:func:`smooth_log_d`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from caitlab.constants import BOLTZMANN_EV
from caitlab.diffusivity import DiffusivityModel


def smooth_log_d(
    model: DiffusivityModel, n_frac: np.ndarray, temperature: float, n0: float
) -> np.ndarray:
    """ln D of ``model`` at ``n_frac`` (fractions of n0) without its fall-off."""
    n_frac = np.asarray(n_frac, dtype=float)
    log_d = model.log_diffusivity(n_frac, temperature, n0)
    if model.falloff is not None:
        log_d = log_d - model.falloff.log_factor(n_frac)
    return log_d


@dataclass(frozen=True)
class Psed:
    """A populated site-energy distribution read off a D(n) curve.

    Attributes
    ----------
    n_frac : ndarray
        Densities, fractions of n0 (increasing).
    fermi_eV : ndarray
        Ionic Fermi level at each density, eV, relative to the one at ``n_ref``.
    density_per_eV : ndarray
        S(E_F(n)) / n0 in eV^-1 (NaN where D does not increase with n).
    n_ref : float
        Reference density of the energy axis, fraction of n0.
    """

    n_frac: np.ndarray
    fermi_eV: np.ndarray
    density_per_eV: np.ndarray
    n_ref: float = 1.0

    def fwhm(self) -> float:
        """Full width at half maximum (eV) of the populated part; see :func:`psed_fwhm`."""
        return psed_fwhm(self.fermi_eV, self.density_per_eV)

    def on_energies(self, energy: np.ndarray) -> np.ndarray:
        """S/n0 (eV^-1) interpolated on ``energy`` (eV); NaN outside the populated range."""
        ok = np.isfinite(self.density_per_eV) & np.isfinite(self.fermi_eV)
        e, s = self.fermi_eV[ok], self.density_per_eV[ok]
        if e.size < 2:
            return np.full(np.shape(energy), np.nan)
        if np.any(np.diff(e) <= 0):
            order = np.argsort(e)
            e, s = e[order], s[order]
        return np.interp(energy, e, s, left=np.nan, right=np.nan)


def psed_from_log_d(
    n_frac: np.ndarray, log_d: np.ndarray, temperature: float, n_ref: float = 1.0
) -> Psed:
    """The PSED of a curve ln D(n) sampled at increasing densities ``n_frac`` (of n0).

    Parameters
    ----------
    n_frac : ndarray
        Densities, fractions of n0, strictly increasing (a fine grid: the derivative is
        taken by finite differences).
    log_d : ndarray
        ln(D / (m^2/s)) at those densities, without a fall-off.
    temperature : float
        K.
    n_ref : float
        Density (of n0) whose Fermi level is the zero of the energy axis.
    """
    n_frac = np.asarray(n_frac, dtype=float)
    log_d = np.asarray(log_d, dtype=float)
    kt = BOLTZMANN_EV * temperature
    fermi = kt * (log_d - np.interp(n_ref, n_frac, log_d))
    slope = np.gradient(log_d, n_frac)
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(slope > 1e-9, 1.0 / (kt * slope), np.nan)  # flat or falling: undefined
    return Psed(n_frac, fermi, density, n_ref)


def psed_of_model(
    model: DiffusivityModel, n_frac: np.ndarray, temperature: float, n0: float, n_ref: float = 1.0
) -> Psed:
    """The PSED of a D model (its fall-off taken out) at densities ``n_frac`` (of n0)."""
    return psed_from_log_d(n_frac, smooth_log_d(model, n_frac, temperature, n0), temperature, n_ref)


def psed_fwhm(fermi_eV: np.ndarray, density_per_eV: np.ndarray) -> float:
    """FWHM (eV) of a PSED given at increasing Fermi levels.

    The maximum is the highest interior local maximum (the ends of an interpolated curve
    carry one-sided derivatives), or an end of the range where S is more than 10 % higher
    there (S rising to the end), and the half maximum is half of it. Where the curve falls to
    it on both sides, the width is the distance of the two crossings. The populated part is
    cut at the Fermi level of the highest density, so the upper crossing may lie beyond it:
    then the width is twice the half width on the lower side (exact for a symmetric
    distribution such as the sin² lobe or the Gaussian), and NaN if neither side falls.
    """
    ok = np.isfinite(density_per_eV) & np.isfinite(fermi_eV)
    e, s = np.asarray(fermi_eV)[ok], np.asarray(density_per_eV)[ok]
    if e.size < 3:
        return float("nan")
    peak = _peak(s)
    half = 0.5 * s[peak]
    lower = _crossing(e[: peak + 1][::-1], s[: peak + 1][::-1], half)
    upper = _crossing(e[peak:], s[peak:], half)
    if lower is not None and upper is not None:
        return float(upper - lower)
    if lower is not None:
        return float(2.0 * (e[peak] - lower))
    if upper is not None:
        return float(2.0 * (upper - e[peak]))
    return float("nan")


def _peak(s: np.ndarray) -> int:
    """Index of the maximum of ``s``: the highest interior local maximum unless an end of
    the range is more than 10 % higher (then S rises to the end, and the end is used)."""
    top = int(np.argmax(s))
    inner = np.nonzero((s[1:-1] >= s[:-2]) & (s[1:-1] >= s[2:]))[0] + 1
    if inner.size == 0:
        return top
    best = int(inner[np.argmax(s[inner])])
    return best if s[best] >= s[top] / 1.1 else top


def _crossing(e: np.ndarray, s: np.ndarray, level: float) -> float | None:
    """First energy (walking away from the peak) where ``s`` falls to ``level``."""
    below = np.nonzero(s <= level)[0]
    if below.size == 0:
        return None
    k = int(below[0])
    if k == 0:
        return float(e[0])
    return float(np.interp(level, [s[k], s[k - 1]], [e[k], e[k - 1]]))


__all__ = ["Psed", "psed_from_log_d", "psed_fwhm", "psed_of_model", "smooth_log_d"]
