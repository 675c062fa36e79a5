"""Synthetic ToF-SIMS exports: realistic Li/Rb/Cs depth profiles with counting noise."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import erfc

from caitlab.sims.errors import SimsError
from caitlab.sims.profile import SimsMetadata, SimsProfile
from caitlab.sims.response import GaussianResponse, apply_response

_E = 0.000549  # electron mass, u

#: isotope channels of each element: (SurfaceLab name, ion mass in u, natural abundance)
ISOTOPE_CHANNELS: dict[str, tuple[tuple[str, float, float], ...]] = {
    "Li": (("^6Li+", 6.015122 - _E, 0.076), ("Li+", 7.016003 - _E, 0.924)),
    "Rb": (("Rb+", 84.911790 - _E, 0.722), ("^87Rb+", 86.909180 - _E, 0.278)),
    "Cs": (("Cs+", 132.905452 - _E, 1.0),),
}

#: matrix channels of the borate glass: (name, ion mass in u, intensity relative to scale)
MATRIX_CHANNELS: tuple[tuple[str, float, float], ...] = (
    ("B+", 11.009305 - _E, 0.35),
    ("O+", 15.994915 - _E, 0.08),
)

EXAMPLE_FILE = "synthetic_double_cait_stage2.txt"


def example_export_path() -> Path:
    """Path of the synthetic SurfaceLab export shipped in ``caitlab/examples``."""
    return Path(__file__).resolve().parents[1] / "examples" / EXAMPLE_FILE


def stand_in_fractions(depth_m: Any) -> dict[str, np.ndarray]:
    """An analytic stand-in for the Li/Rb/Cs fractions after a double (Rb+, then Cs+) CAIT.

    Cs about 57 % down to ~80 nm then an erfc decay, Li 3 % in the transport zone rising
    (erfc front) to 100 % by ~110 nm, Rb the rest: ~40 % near the surface with a bump
    between the Cs and Li fronts (~95 nm). The fractions sum to 1.

    Parameters
    ----------
    depth_m : array_like
        Depths, m.

    Returns
    -------
    dict of str to ndarray
        ``{"Li": ..., "Rb": ..., "Cs": ...}``, dimensionless.
    """
    z = np.asarray(depth_m, dtype=float) * 1e9
    cs = 0.57 * 0.5 * erfc((z - 80.0) / (np.sqrt(2) * 7.0))
    li = 0.03 + 0.97 * 0.5 * erfc(-(z - 103.0) / (np.sqrt(2) * 3.0))
    rb = np.clip(1.0 - li - cs, 0.0, None)
    total = li + rb + cs
    return {"Li": li / total, "Rb": rb / total, "Cs": cs / total}


def synthetic_export(
    depth_m: Any,
    fractions: Mapping[str, Any],
    *,
    crater_depth_m: float,
    sputter_time_per_point_s: float,
    counts_scale: float,
    roughness_m: float,
    seed: int,
    shots_per_scan: int = 16384,
    n_points: int = 200,
    sensitivity: Mapping[str, float] | None = None,
    final_zero_row: bool = True,
) -> SimsProfile:
    """A noisy SurfaceLab-like depth profile from known fractions.

    The fractions are broadened with a Gaussian of rms ``roughness_m`` (see
    :func:`~caitlab.sims.response.apply_response`) and sampled at the depths
    ``z_i = crater_depth_m * i / (n_points - 1)`` reached at sputter times
    ``t_i = i * sputter_time_per_point_s`` (constant rate). Each isotope channel's expected
    ion number is ``counts_scale * sensitivity * abundance * fraction``; the raw count over N
    shots is drawn as ``Binomial(N, 1 - exp(-lambda/N))`` (a detector that sees at most one
    ion per shot), then Poisson(dead-time) corrected as SurfaceLab does. Matrix channels
    ``B+`` and ``O+`` and a ``total`` column are added.

    Parameters
    ----------
    depth_m : array_like, shape (n,)
        Depths at which ``fractions`` are given (cell centres), m.
    fractions : mapping of str to array_like
        Element (``"Li"``, ``"Rb"``, ``"Cs"``) -> fraction at ``depth_m``.
    crater_depth_m : float
        Depth at the last data point, m.
    sputter_time_per_point_s : float
        Sputter time between data points, s.
    counts_scale : float
        Expected counts per point of an element at fraction 1, counts (keep it below N).
    roughness_m : float
        Gaussian rms broadening, m.
    seed : int
        Random seed.
    shots_per_scan : int, optional
        Primary shots per scan N (16384 = 128 x 128).
    n_points : int, optional
        Number of data points.
    sensitivity : mapping of str to float, optional
        Relative sensitivity of each element (1 by default).
    final_zero_row : bool, optional
        Make the last row all zeros, as many real exports have.

    Returns
    -------
    SimsProfile
        ``metadata.format == "synthetic"``, Poisson corrected.
    """
    unknown = sorted(set(fractions) - set(ISOTOPE_CHANNELS))
    if unknown:
        raise SimsError(f"no isotope table for {unknown}; known: {sorted(ISOTOPE_CHANNELS)}")
    if not crater_depth_m > 0 or not sputter_time_per_point_s > 0 or n_points < 2:
        raise SimsError("crater depth, sputter time per point and n_points must be positive")
    n = int(shots_per_scan)
    rng = np.random.default_rng(seed)
    time = sputter_time_per_point_s * np.arange(n_points)
    depth = crater_depth_m * time / time[-1]
    names = list(fractions)
    values = np.array([np.asarray(fractions[e], dtype=float) for e in names])
    broadened = apply_response(depth_m, values, depth, GaussianResponse(roughness_m))
    broadened = np.clip(broadened, 0.0, None)
    sens = dict(sensitivity or {})
    channels: list[tuple[str, float, np.ndarray]] = []
    for element, profile in zip(names, broadened, strict=True):
        for name, mass, abundance in ISOTOPE_CHANNELS[element]:
            expected = counts_scale * sens.get(element, 1.0) * abundance * profile
            channels.append((name, mass, expected))
    for name, mass, level in MATRIX_CHANNELS:
        wiggle = 1.0 + 0.05 * np.sin(depth / (crater_depth_m / 3.0))
        channels.append((name, mass, counts_scale * level * wiggle))
    channels.sort(key=lambda item: item[1])
    corrected = []
    for _, _, expected in channels:
        p = -np.expm1(-np.clip(expected, 0.0, None) / n)
        raw = np.minimum(rng.binomial(n, p), n - 1)
        corrected.append(-n * np.log1p(-raw / n) + 0.0)
    counts = np.array(corrected).T
    total = counts.sum(axis=1) * 1.6 + rng.poisson(200.0, size=n_points)
    counts = np.column_stack([total, counts])
    if final_zero_row:
        counts[-1] = 0.0
    counts = np.array([[float(f"{v:g}") for v in row] for row in counts])
    dose_per_point = 9.2e9
    dose = dose_per_point * np.arange(1, n_points + 1)
    return SimsProfile(
        counts=counts,
        channel_names=("total", *(name for name, _, _ in channels)),
        channel_masses=np.array([np.nan, *(round(mass, 4) for _, mass, _ in channels)]),
        sputter_time_s=time,
        metadata=SimsMetadata(
            file=None,
            format="synthetic",
            polarity="+",
            shots_per_scan=float(n),
            poisson_corrected=True,
        ),
        extra={
            "Data Point #": np.arange(1, n_points + 1, dtype=float),
            "Dose (ions)": dose,
            "Fluence (ions/cm^2)": dose / 9e-4,
        },
    )
