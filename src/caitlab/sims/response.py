"""Instrument response: depth-resolution broadening of simulated profiles.

A measured profile is the true profile convolved with a depth-resolution function ``g``:
``I(z) = integral X(z') g(z - z') dz'``. Two models:

* :class:`GaussianResponse` -- Gaussian broadening with an rms width (roughness and depth
  resolution together);
* :class:`MRIResponse` -- Hofmann's mixing-roughness-information model: an exponential
  mixing term ``g_w(u) = exp(-(u + w)/w)/w`` (``u >= -w``), an exponential
  information-depth term ``g_l(u) = exp(u/l)/l`` (``u <= 0``) and a Gaussian roughness
  term, convolved.

The surface (z = 0) is handled by the method of images: whatever the convolution moves to
z < 0 is folded back into z > 0 (``out(z) = h(z) + h(-z)``). For a symmetric kernel this
is exactly the same as convolving the profile reflected at the surface, and for every
kernel it keeps the inventory: broadening does not create or lose ions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr

from caitlab.sims.errors import SimsError

_MAX_FINE_POINTS = 400_000

#: what a response kernel sees above the surface (:func:`apply_response`)
SURFACES = ("reflect", "extend", "truncate")


def _check_length(name: str, value: float) -> float:
    number = float(value)
    if not (math.isfinite(number) and number >= 0):
        raise SimsError(f"{name} must be a length >= 0 m, got {value!r}")
    return number


@dataclass(frozen=True)
class GaussianResponse:
    """Gaussian depth resolution.

    Attributes
    ----------
    rms_m : float
        Standard deviation (rms roughness / depth resolution), m; 0 means none.
    """

    rms_m: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "rms_m", _check_length("rms_m", self.rms_m))

    def scales(self) -> tuple[float, ...]:
        """Non-zero length scales of the kernel, m."""
        return tuple(s for s in (self.rms_m,) if s > 0)

    def half_width(self) -> float:
        """Half width outside which the kernel is negligible, m."""
        return 7.0 * self.rms_m

    def width(self) -> float:
        """Standard deviation of the kernel, m."""
        return self.rms_m


@dataclass(frozen=True)
class MRIResponse:
    """Hofmann's mixing-roughness-information depth-resolution function.

    Attributes
    ----------
    mixing_m : float
        Atomic mixing length w, m.
    roughness_m : float
        Roughness (Gaussian) rms sigma, m.
    information_m : float
        Information depth lambda, m.
    """

    mixing_m: float
    roughness_m: float
    information_m: float

    def __post_init__(self) -> None:
        for name in ("mixing_m", "roughness_m", "information_m"):
            object.__setattr__(self, name, _check_length(name, getattr(self, name)))

    def scales(self) -> tuple[float, ...]:
        """Non-zero length scales of the kernel, m."""
        return tuple(s for s in (self.mixing_m, self.roughness_m, self.information_m) if s > 0)

    def half_width(self) -> float:
        """Half width outside which the kernel is negligible, m."""
        return (
            self.mixing_m + 16.0 * max(self.mixing_m, self.information_m) + 7.0 * self.roughness_m
        )

    def width(self) -> float:
        """Standard deviation of the kernel, ``sqrt(w**2 + sigma**2 + lambda**2)``, m."""
        return math.sqrt(self.mixing_m**2 + self.roughness_m**2 + self.information_m**2)


Response = GaussianResponse | MRIResponse


def _delta(m: int) -> np.ndarray:
    out = np.zeros(2 * m + 1)
    out[m] = 1.0
    return out


def _gaussian(u: np.ndarray, step: float, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return _delta((u.size - 1) // 2)
    return ndtr((u + step / 2) / sigma) - ndtr((u - step / 2) / sigma)


def _mixing(u: np.ndarray, step: float, w: float) -> np.ndarray:
    if w <= 0:
        return _delta((u.size - 1) // 2)
    a = np.maximum(u - step / 2, -w)
    b = np.maximum(u + step / 2, -w)
    return np.exp(-(a + w) / w) - np.exp(-(b + w) / w)


def _information(u: np.ndarray, step: float, lam: float) -> np.ndarray:
    if lam <= 0:
        return _delta((u.size - 1) // 2)
    a = np.minimum(u - step / 2, 0.0)
    b = np.minimum(u + step / 2, 0.0)
    return np.exp(b / lam) - np.exp(a / lam)


def _centre_convolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Convolution of two centred kernels of equal odd length, cut to that length."""
    return _convolve_same(a, b)


def response_kernel(response: Response, step_m: float) -> tuple[np.ndarray, np.ndarray]:
    """The depth-resolution function on a uniform grid, integrated over each grid cell.

    Parameters
    ----------
    response : GaussianResponse or MRIResponse
        The model.
    step_m : float
        Grid step, m.

    Returns
    -------
    offsets_m : ndarray, shape (2 M + 1,)
        ``u = z_measured - z_true`` at the cell centres, m (symmetric, 0 in the middle).
    weights : ndarray, shape (2 M + 1,)
        Cell weights summing to 1.
    """
    m = max(1, math.ceil(response.half_width() / step_m))
    u = step_m * np.arange(-m, m + 1)
    if isinstance(response, GaussianResponse):
        kernel = _gaussian(u, step_m, response.rms_m)
    elif isinstance(response, MRIResponse):
        kernel = _centre_convolve(
            _centre_convolve(
                _mixing(u, step_m, response.mixing_m),
                _information(u, step_m, response.information_m),
            ),
            _gaussian(u, step_m, response.roughness_m),
        )
    else:
        raise SimsError(f"unknown response model {response!r}")
    return u, kernel / kernel.sum()


def _convolve_same(data: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolution along the last axis, centred like ``mode="same"`` (odd kernel), by FFT."""
    n, k = data.shape[-1], kernel.size
    size = 1 << math.ceil(math.log2(n + k - 1))
    spectrum = np.fft.rfft(data, size, axis=-1) * np.fft.rfft(kernel, size)
    full = np.fft.irfft(spectrum, size, axis=-1)
    start = (k - 1) // 2
    return full[..., start : start + n]


def _cell_edges(depth: np.ndarray) -> np.ndarray:
    """Cell edges around cell centres, the first at 0."""
    mid = 0.5 * (depth[1:] + depth[:-1])
    last = depth[-1] + (depth[-1] - mid[-1])
    return np.concatenate(([0.0], mid, [last]))


def _fine_average(
    edges: np.ndarray, values: np.ndarray, fine_edges: np.ndarray, extend: bool
) -> np.ndarray:
    """Averages over fine cells of a piecewise-constant profile (exact: keeps inventory)."""
    widths = np.diff(edges)
    cumulative = np.concatenate(
        [np.zeros((*values.shape[:-1], 1)), np.cumsum(values * widths, axis=-1)], axis=-1
    )
    out = np.empty((*values.shape[:-1], fine_edges.size - 1))
    beyond = np.clip(fine_edges - edges[-1], 0.0, None)
    for index in np.ndindex(values.shape[:-1]):
        integral = np.interp(fine_edges, edges, cumulative[index])
        if extend:
            integral = integral + values[index][-1] * beyond
        out[index] = np.diff(integral) / np.diff(fine_edges)
    return out


def apply_response(
    depth_m: Any,
    values: Any,
    measured_depth_m: Any,
    response: Response | None = None,
    *,
    far_boundary: str = "extend",
    step_m: float | None = None,
    surface: str = "reflect",
) -> np.ndarray:
    """Broaden a simulated profile with an instrument response and sample it where measured.

    The simulated values are taken as cell averages on cells around ``depth_m`` (first edge
    at 0), averaged exactly onto a fine uniform grid, convolved with the response kernel,
    folded back at the surface (method of images, which keeps the inventory), and
    interpolated linearly at the measured depths.

    Parameters
    ----------
    depth_m : array_like, shape (n,)
        Simulation cell centres, m, increasing, >= 0 (non-uniform allowed).
    values : array_like, shape (..., n)
        Profiles, e.g. fractions (species, depth); any unit.
    measured_depth_m : array_like, shape (k,)
        Depths of the measured points, m.
    response : GaussianResponse or MRIResponse, optional
        The model; ``None`` only resamples.
    far_boundary : {"extend", "zero"}
        Beyond the last cell the profile continues with its last value (a semi-infinite bulk,
        default) or is zero.
    surface : {"reflect", "extend", "truncate"}
        What the kernel sees above the surface: the profile's mirror image (the method of
        images: the inventory is kept, default), the surface value continued, or nothing
        (the kernel truncated and renormalised).
    step_m : float, optional
        Fine-grid step, m; default a twentieth of the kernel's standard deviation (bounded
        so the grid has at most 400000 points). The kernel is integrated exactly over each
        fine cell, so shorter components (e.g. a small mixing length) remain accurate.

    Returns
    -------
    ndarray, shape (..., k)
        Broadened profiles at the measured depths, unit of ``values``.

    Raises
    ------
    SimsError
        Mismatched shapes, non-increasing or negative depths, non-finite values.
    """
    depth = np.asarray(depth_m, dtype=float)
    data = np.asarray(values, dtype=float)
    measured = np.asarray(measured_depth_m, dtype=float)
    if depth.ndim != 1 or depth.size < 2:
        raise SimsError("depth_m must be 1-D with at least two points")
    if data.shape[-1] != depth.size:
        raise SimsError(f"values have {data.shape[-1]} depths, depth_m has {depth.size}")
    if np.any(np.diff(depth) <= 0) or depth[0] < 0 or not np.all(np.isfinite(depth)):
        raise SimsError("depth_m must be finite, >= 0 and strictly increasing")
    if not np.all(np.isfinite(data)):
        raise SimsError("values must be finite")
    if surface not in SURFACES:
        raise SimsError(f"surface must be one of {SURFACES}, got {surface!r}")
    if far_boundary not in ("extend", "zero"):
        raise SimsError(f"far_boundary must be 'extend' or 'zero', got {far_boundary!r}")
    edges = _cell_edges(depth)
    if response is None or not response.scales():
        return _sample(depth, edges, data, measured, far_boundary == "extend")
    half = response.half_width()
    top = max(float(np.max(measured)) if measured.size else 0.0, 0.0) + 2.0 * half
    step = response.width() / 20.0 if step_m is None else float(step_m)
    step = max(step, top / _MAX_FINE_POINTS)
    n_fine = math.ceil(top / step) + 1
    fine_edges = step * np.arange(n_fine + 1)
    fine = _fine_average(edges, data, fine_edges, far_boundary == "extend")
    _, kernel = response_kernel(response, step)
    m = (kernel.size - 1) // 2
    above = np.zeros((*fine.shape[:-1], m))
    if surface == "extend":
        above = above + fine[..., :1]
    conv = _convolve_same(np.concatenate([above, fine], axis=-1), kernel)
    out = conv[..., m:].copy()
    if surface == "reflect":
        # method of images: fine cell -1-k (left of the surface) folds onto cell k
        out[..., :m] += conv[..., :m][..., ::-1]
    elif surface == "truncate":
        inside = np.concatenate([np.zeros(m), np.ones(fine.shape[-1])])
        out /= _convolve_same(inside, kernel)[m:]
    centres = 0.5 * (fine_edges[1:] + fine_edges[:-1])
    flat = out.reshape(-1, out.shape[-1])
    sampled = np.array([np.interp(measured, centres, row) for row in flat])
    return sampled.reshape(out.shape[:-1] + measured.shape)


def _sample(
    depth: np.ndarray, edges: np.ndarray, data: np.ndarray, measured: np.ndarray, extend: bool
) -> np.ndarray:
    flat = data.reshape(-1, data.shape[-1])
    rows = []
    for row in flat:
        sampled = np.interp(measured, depth, row)
        if not extend:
            sampled = np.where(measured > edges[-1], 0.0, sampled)
        rows.append(sampled)
    return np.array(rows).reshape(data.shape[:-1] + measured.shape)
