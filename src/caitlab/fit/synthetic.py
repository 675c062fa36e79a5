"""Synthetic measurements made by the simulator: for recovery tests and tutorials.

A profile is the simulated fractions after a stage, broadened by the instrument response,
sampled at chosen depths, and counted: ``counts`` ions per depth point are drawn from a
Poisson law per species, and the fractions and their counting uncertainties follow
(:func:`caitlab.sims.fraction_uncertainty`), as for a measured ToF-SIMS profile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from caitlab.fit.data import MeasuredProfile
from caitlab.fit.problem import model_profile
from caitlab.results import Result


def synthetic_profile(
    result: Result,
    stage: str,
    depth_m: np.ndarray,
    *,
    response: Mapping[str, Any] | None = None,
    counts: float = 1e4,
    species: Sequence[str] | None = None,
    rng: np.random.Generator | int | None = 0,
    name: str = "",
    sigma_from: str = "observed",
    surface: str = "reflect",
) -> MeasuredProfile:
    """A noisy profile of ``result`` after ``stage``, with Poisson counting noise.

    Parameters
    ----------
    result : caitlab.Result
        The "true" run.
    stage : str
        Stage after which it is "measured".
    depth_m : ndarray
        Depths of the points, m.
    response : dict, optional
        Instrument response fields (e.g. ``{"model": "gaussian", "rms": 5e-9}``); it is
        also stored in the profile as its starting response.
    counts : float
        Expected ions counted per depth point over all species.
    species : sequence of str, optional
        Species measured; default those present after the stage.
    rng : numpy Generator or int, optional
        Random source or seed.
    name : str
        Profile name; default the stage name.
    sigma_from : {"observed", "expected"}
        Counting uncertainties from the drawn counts (as from a measurement; biased low
        where counts are few) or from the expected counts (the true variances).
    surface : {"reflect", "extend", "truncate"}
        How the response treats the surface when the data are made
        (:mod:`caitlab.fit.problem`). The profile returned keeps the default ``surface``
        (``"reflect"``), the convention a fit of it uses unless told otherwise: data made
        with another convention than the fit's show the fit's surface bias.

    Returns
    -------
    MeasuredProfile
    """
    from caitlab.sims import fraction_uncertainty, poisson_uncertainty

    rng = np.random.default_rng(rng)
    response = dict(response or {"model": "gaussian", "rms": 0.0})
    final = result.stage(stage).fractions
    present = [str(s) for s in final["species"].values if np.any(final.sel(species=s) > 0)]
    chosen = tuple(species or present)
    template = MeasuredProfile(stage, depth_m, {s: np.zeros(len(depth_m)) for s in chosen})
    truth = model_profile(result, template, response, surface)
    expected = np.clip(np.array([truth[s] for s in chosen]), 0.0, None) * counts
    counted = rng.poisson(expected).astype(float)
    total = counted.sum(axis=0)
    total[total == 0] = 1.0
    if sigma_from not in ("observed", "expected"):
        raise ValueError(f"sigma_from must be 'observed' or 'expected', got {sigma_from!r}")
    basis = counted if sigma_from == "observed" else np.maximum(expected, 1.0)
    sigma = fraction_uncertainty(np.maximum(basis, 1e-12), poisson_uncertainty(basis))
    return MeasuredProfile(
        stage,
        np.asarray(depth_m, dtype=float),
        dict(zip(chosen, counted / total, strict=True)),
        dict(zip(chosen, sigma, strict=True)),
        response,
        name,
    )


__all__ = ["synthetic_profile"]
