"""A direct estimate of D_native(n) from one profile, without simulation.

Assumptions (a steadily travelling replacement front):

* two mobile species, native A and foreign B, of charge +1, with ``n_A + n_B = n0``
  (electroneutrality; a third species is ignored);
* constant current density j, so the front moves at ``v = j / (e n0)``;
* the profile is a travelling wave, ``n(x, t) = f(x - v t)``, and B's D is constant.

In the frame moving with the front, conservation gives ``J_i = v n_i`` for both species
(neither flows where it is absent). Nernst-Planck for both,
``v n_i = -D_i (n_i' + n_i ψ')`` with ψ = eφ/k_BT, and eliminating ψ' gives::

    1 / D_A(n_A) = 1 / D_B - (1 / v) d/dx ln(n_A / n_B)

So one profile gives D_A(n) up to the assumed D_B. Where it breaks: D_A must exceed D_B
for a steady front (the right side must be positive and below 1/D_B); where D_A ≫ D_B
the result is a small difference of two large numbers (noise and the instrument's
broadening, which flattens the measured slope and pulls D_A towards D_B, dominate); a
front that is not steady (a finite replacement zone, a current that changes, trapping)
breaks the travelling-wave assumption. Points where the right side is not positive are
returned as invalid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from caitlab.constants import ELEMENTARY_CHARGE


@dataclass(frozen=True)
class DirectEstimate:
    """D_native(n) read off one profile.

    Attributes
    ----------
    depth_m : ndarray
        Depths of the points used, m.
    n_frac : ndarray
        Native density there, fraction of n0.
    d : ndarray
        Estimated D of the native species, m^2/s (NaN where the estimate breaks).
    valid : ndarray of bool
        Where the travelling-front formula gave a positive D.
    """

    depth_m: np.ndarray
    n_frac: np.ndarray
    d: np.ndarray
    valid: np.ndarray

    def usable(self, d_foreign: float, low: float = 1.2, high: float = 30.0) -> np.ndarray:
        """Points whose D is informative: between ``low`` and ``high`` times D_foreign.

        Near D_foreign the slope term is lost in the noise (the estimate says only "no
        faster than the foreign ion"); far above it 1/D is a small difference of two large
        numbers.
        """
        ratio = np.where(self.valid, self.d, np.nan) / d_foreign
        with np.errstate(invalid="ignore"):
            return self.valid & (ratio > low) & (ratio < high)

    def log_d_at(self, knots: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """ln D at densities ``knots`` (of n0): the median of the points (``mask``: those
        to use, default the valid ones) near each knot, NaN where there are none."""
        use = self.valid if mask is None else mask
        n, log_d = self.n_frac[use], np.log(self.d[use])
        if n.size < 2:
            return np.full(len(knots), np.nan)
        order = np.argsort(n)
        n, log_d = n[order], log_d[order]
        out = np.full(len(knots), np.nan)
        log_knots = np.log(knots)
        edges = np.concatenate([[-np.inf], 0.5 * (log_knots[1:] + log_knots[:-1]), [np.inf]])
        for k in range(len(knots)):
            inside = (np.log(n) >= edges[k]) & (np.log(n) < edges[k + 1])
            inside &= (n >= 0.8 * knots[k]) & (n <= 1.25 * knots[k])
            if inside.any():
                out[k] = float(np.median(log_d[inside]))
        return out


def front_velocity(charge_C: float, duration_s: float, area_m2: float, n0: float) -> float:
    """Mean front velocity (m/s) of a stage: the charge as a layer at n0 over its duration."""
    return charge_C / (ELEMENTARY_CHARGE * n0 * area_m2 * duration_s)


def direct_estimate(
    depth_m: np.ndarray,
    native: np.ndarray,
    foreign: np.ndarray,
    velocity: float,
    d_foreign: float,
    *,
    lowest: float = 0.02,
) -> DirectEstimate:
    """D of the native species along a measured front (see the module docstring).

    Parameters
    ----------
    depth_m : ndarray
        Depths, m, increasing.
    native, foreign : ndarray
        Fractions n/n0 of the native (A) and foreign (B) species at those depths.
    velocity : float
        Front velocity v = j / (e n0), m/s (:func:`front_velocity`).
    d_foreign : float
        Assumed constant D of the foreign species, m^2/s.
    lowest : float
        Points where either fraction is below this are not used (ln of a ratio of
        nearly empty channels is noise).

    Returns
    -------
    DirectEstimate
    """
    from scipy.interpolate import make_smoothing_spline

    x = np.asarray(depth_m, dtype=float)
    a, b = np.asarray(native, dtype=float), np.asarray(foreign, dtype=float)
    use = (a > lowest) & (b > lowest)
    x, a, b = x[use], a[use], b[use]
    if x.size < 5:
        empty = np.array([])
        return DirectEstimate(empty, empty, empty, empty.astype(bool))
    ratio = np.log(a / b)
    scale = 1e-9  # fit in nm: a well-scaled smoothing problem
    spline = make_smoothing_spline(x / scale, ratio)  # smoothing chosen by GCV
    slope = spline.derivative()(x / scale) / scale
    inverse = 1.0 / d_foreign - slope / velocity
    valid = inverse > 0
    with np.errstate(divide="ignore"):
        d = np.where(valid, 1.0 / np.where(valid, inverse, 1.0), np.nan)
    return DirectEstimate(x, a, d, valid)


__all__ = ["DirectEstimate", "direct_estimate", "front_velocity"]
