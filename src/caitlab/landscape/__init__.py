"""Reading the energy landscape off the profiles.

Modules
-------
psed        D(n) -> Fermi level and populated site-energy distribution (PSED), its FWHM
direct      a direct estimate of D_native(n) from one travelling front, without simulation
regularise  smoothness-penalised fits; the weight by GCV or the L-curve
selection   constant / sin² / Gaussian / free-form models of one species: fits, AIC, BIC, LRT
study       the ``[landscape]`` section of a FIT.toml and :func:`run_landscape`

The free-form D(n) itself is :class:`caitlab.diffusivity.FreeFormD`.
"""

from __future__ import annotations

from caitlab.landscape.direct import DirectEstimate, direct_estimate, front_velocity
from caitlab.landscape.psed import Psed, psed_from_log_d, psed_fwhm, psed_of_model, smooth_log_d
from caitlab.landscape.regularise import (
    RegularisedFit,
    RegularisedProblem,
    SmoothnessPenalty,
    WeightCurve,
    fit_regularised,
    weight_curve,
)
from caitlab.landscape.selection import (
    SHAPES,
    Candidate,
    CurveBands,
    ModelFit,
    Target,
    build_candidate,
    compare_models,
    curve_bands,
    fit_candidate,
)

__all__ = [
    "SHAPES",
    "Candidate",
    "CurveBands",
    "DirectEstimate",
    "ModelFit",
    "Psed",
    "RegularisedFit",
    "RegularisedProblem",
    "SmoothnessPenalty",
    "Target",
    "WeightCurve",
    "build_candidate",
    "compare_models",
    "curve_bands",
    "direct_estimate",
    "fit_candidate",
    "fit_regularised",
    "front_velocity",
    "psed_from_log_d",
    "psed_fwhm",
    "psed_of_model",
    "smooth_log_d",
    "weight_curve",
]
