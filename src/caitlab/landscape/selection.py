"""Model selection for one species: constant, sin² SED, Gaussian SED and free-form D(n).

For a :class:`Target` (a species in one stage, optionally the same model tied into other
stages), each candidate model replaces the species' D model there (keeping its fall-off,
which is not part of the distribution), its parameters join the other free parameters of
the fit, and the same data are fitted. Each fit is summarised by

* its data chi-square χ² (the smoothness rows of the free-form fit excluded),
* its effective number of parameters k = tr H (H the influence matrix of the data rows;
  k equals the number of varied parameters for an unpenalised fit, and is smaller for a
  penalised one),
* AIC = χ² + 2k, BIC = χ² + k ln N (N data points), and
* a likelihood-ratio test against the constant-D model: Λ = χ²_const - χ², p = P(χ²_{Δk} > Λ)
  (Wilks; constant D is the limit of every other model, so they are nested in effect).

The smallest BIC picks the model by default (AIC on request): BIC is consistent, and a
free-form curve with a few effective parameters too many is not preferred to the true
shape by chance; ΔAIC, ΔBIC and the p-value are the confidence of the choice.
"""

from __future__ import annotations

import copy
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from caitlab.diffusivity import DiffusivityModel, SiteEnergyD, geometric_knots
from caitlab.fit.parameters import FreeParameter
from caitlab.fit.problem import FitProblem, split_values
from caitlab.landscape.psed import psed_from_log_d, psed_fwhm, smooth_log_d
from caitlab.landscape.regularise import (
    RegularisedFit,
    RegularisedProblem,
    SmoothnessPenalty,
    covariance,
    fit_regularised,
    influence_trace,
)
from caitlab.params import safe_name, with_values

Shape = Literal["constant", "sin2", "gaussian", "free-form"]
SHAPES: tuple[Shape, ...] = ("constant", "sin2", "gaussian", "free-form")
#: bounds of free-form knot values, ln(D / m^2 s^-1): 1e-32 .. 1e-14 m^2/s
LOG_D_BOUNDS = (math.log(1e-32), math.log(1e-14))


def model_adapter() -> Any:
    from pydantic import TypeAdapter

    from caitlab.diffusivity import AnyDiffusivity

    return TypeAdapter(AnyDiffusivity)


@dataclass(frozen=True)
class Target:
    """Whose D(n) is read off: ``species`` in ``stage`` (and the same model in ``tied``)."""

    stage: str
    species: str
    tied: tuple[str, ...] = ()

    @property
    def stages(self) -> tuple[str, ...]:
        return (self.stage, *self.tied)

    @property
    def label(self) -> str:
        return f"{self.species} ({self.stage})"

    def model_path(self, stage: str | None = None) -> str:
        return f"stages.{stage or self.stage}.diffusivity.{self.species}"

    def model(self, config: Mapping[str, Any]) -> DiffusivityModel:
        """The target's D model in ``config``."""
        return model_adapter().validate_python(_model_dict(config, self.stage, self.species))

    def temperature(self, config: Mapping[str, Any]) -> float:
        return float(_stage(config, self.stage)["temperature"])


def _stage(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    for stage in config["stages"]:
        if stage["name"] == name:
            return stage
    raise KeyError(f"no stage {name!r}; stages: {[s['name'] for s in config['stages']]}")


def _model_dict(config: Mapping[str, Any], stage: str, species: str) -> dict[str, Any]:
    models = _stage(config, stage).get("diffusivity", {})
    if species not in models:
        raise KeyError(f"stage {stage!r} has no D model for {species!r}")
    return models[species]


@dataclass(frozen=True)
class Candidate:
    """One model for the target: the config with it in place and its free parameters."""

    shape: str
    config: dict[str, Any]
    free: tuple[FreeParameter, ...]
    knot_paths: tuple[str, ...] = ()


def _reference_log_d(base: DiffusivityModel, temperature: float, n0: float) -> float:
    return float(smooth_log_d(base, np.array([1.0]), temperature, n0)[0])


def candidate_model(
    shape: str,
    base: DiffusivityModel,
    temperature: float,
    n0: float,
    *,
    knots: int = 8,
    lowest: float = 0.02,
    highest: float = 1.0,
    start_log_d: Sequence[float] | None = None,
    occupancy: float | None = None,
    fwhm: float = 0.2,
    monotone: bool = True,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A model dict of ``shape`` started from ``base``, and its free fields with bounds.

    Returns the model as a config dict and ``{field path: FreeParameter options}`` relative
    to the model (e.g. ``"d_ref"``, ``"log_d.3"``).
    """
    falloff = base.falloff.model_dump() if base.falloff is not None else None
    log_d_ref = _reference_log_d(base, temperature, n0)
    d_ref = math.exp(log_d_ref)
    bounds = {"min": d_ref * 1e-3, "max": d_ref * 1e3, "log": True}
    if shape == "constant":
        model: dict[str, Any] = {"model": "constant", "d": d_ref}
        free = {"d": bounds}
    elif shape in ("sin2", "gaussian"):
        theta = occupancy or (base.occupancy if isinstance(base, SiteEnergyD) else 0.8)
        if shape == "gaussian":
            theta = min(theta, 0.99)
        width = base.fwhm if isinstance(base, SiteEnergyD) else fwhm
        model = {"model": "sed", "shape": shape, "fwhm": width, "occupancy": theta, "d_ref": d_ref}
        free = {"d_ref": bounds, "fwhm": {"min": 0.02, "max": 1.0, "log": False}}
    elif shape == "free-form":
        grid = np.asarray(geometric_knots(knots, lowest, highest))
        start = (
            np.asarray(start_log_d, dtype=float)
            if start_log_d is not None
            else (smooth_log_d(base, grid, temperature, n0))
        )
        start = np.clip(start, LOG_D_BOUNDS[0] + 1, LOG_D_BOUNDS[1] - 1)
        if monotone:
            start = np.minimum.accumulate(start[::-1])[::-1]
        model = {
            "model": "free-form",
            "log_d": [float(v) for v in start],
            "knots": [float(k) for k in grid],
            "monotone": monotone,
        }
        free = {
            f"log_d.{k}": {"min": LOG_D_BOUNDS[0], "max": LOG_D_BOUNDS[1], "log": False}
            for k in range(knots)
        }
    else:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    if falloff is not None:
        model["falloff"] = falloff
    return model, free


def _reference_expr(shape: str, names: Mapping[str, str], knots: int) -> str:
    """An lmfit expression for the target's D at n0 under the new model."""
    if shape == "constant":
        return names["d"]
    if shape in ("sin2", "gaussian"):
        return names["d_ref"]
    return f"exp({names[f'log_d.{knots - 1}']})"


def build_candidate(
    problem: FitProblem,
    free: Sequence[FreeParameter],
    target: Target,
    shape: str,
    **model_options: Any,
) -> Candidate:
    """The config and free parameters of ``shape`` for ``target``.

    Free parameters that addressed the target's old model are dropped; a tie that used one
    of them (e.g. stage 1's constant D_Rb tied to stage 2's D_Rb at n0) is rewritten to the
    new model's D at n0.
    """
    config = copy.deepcopy(dict(problem.config))
    base = target.model(config)
    n0 = float(config["sample"]["mobile_ion_density"])
    model, fields = candidate_model(shape, base, target.temperature(config), n0, **model_options)
    for stage in target.stages:
        _stage(config, stage)["diffusivity"][target.species] = copy.deepcopy(model)
    prefixes = tuple(target.model_path(s) + "." for s in target.stages)
    dropped = {s.name for s in free if s.path.startswith(prefixes)}
    prefix = safe_name(f"{target.species}_{target.stage}")
    names = {f: f"{prefix}_{safe_name(f)}" for f in fields}
    new: list[FreeParameter] = []
    for f, opts in fields.items():
        path = f"{target.model_path()}.{f}"
        new.append(FreeParameter(path, name=names[f], **opts))
        for stage in target.tied:
            new.append(FreeParameter(f"{target.model_path(stage)}.{f}", expr=names[f]))
    reference = _reference_expr(shape, names, model_options.get("knots", 8))
    kept = []
    for spec in free:
        if spec.name in dropped:
            continue
        if spec.expr is not None and any(re.search(rf"\b{d}\b", spec.expr) for d in dropped):
            expr = spec.expr
            for d in dropped:
                expr = re.sub(rf"\b{d}\b", f"({reference})", expr)
            spec = replace(spec, expr=expr)
        kept.append(spec)
    knot_paths = tuple(f"{target.model_path()}.{f}" for f in fields if f.startswith("log_d."))
    return Candidate(shape, config, tuple(kept + new), knot_paths)


@dataclass
class ModelFit:
    """One candidate fitted, with its statistics and the samples of its D(n)."""

    shape: str
    fit: RegularisedFit
    chi2: float
    k: float
    n_points: int
    covariance: np.ndarray | None

    @property
    def aic(self) -> float:
        return self.chi2 + 2.0 * self.k

    @property
    def bic(self) -> float:
        return self.chi2 + self.k * math.log(self.n_points)


def fit_candidate(
    problem: FitProblem,
    candidate: Candidate,
    *,
    weight: float | str = "gcv",
    executor: Any = None,
    **options: Any,
) -> ModelFit:
    """Fit one candidate (penalised if it is free-form) and compute χ², k and covariance."""
    penalties = (SmoothnessPenalty(candidate.knot_paths),) if candidate.knot_paths else ()
    reg = RegularisedProblem.from_problem(problem, penalties, config=candidate.config)
    if not penalties:
        weight = 0.0
    done = fit_regularised(reg, candidate.free, weight=weight, executor=executor, **options)
    n_obs = reg.n_observed
    residual = done.result.result.residual
    chi2 = float(np.sum(residual[:n_obs] ** 2))
    jac = done.jacobian
    k = influence_trace(jac[:n_obs], jac)
    try:
        cov = covariance(jac)
    except np.linalg.LinAlgError:
        cov = None
    if cov is not None and not all(p.sigma_given for p in problem.profiles):
        cov = cov * float(done.result.result.redchi)  # fallback weights: as lmfit scales
    return ModelFit(candidate.shape, done, chi2, k, n_obs, cov)


def compare_models(fits: Sequence[ModelFit]) -> list[dict[str, Any]]:
    """The selection table: one row per model, sorted as given; ``best`` marks min AIC."""
    from scipy.stats import chi2 as chi2_law

    base = next((f for f in fits if f.shape == "constant"), None)
    best_aic = min(f.aic for f in fits)
    rows = []
    for f in fits:
        row: dict[str, Any] = {
            "model": f.shape,
            "chi2": f.chi2,
            "k": f.k,
            "n_points": f.n_points,
            "aic": f.aic,
            "bic": f.bic,
            "delta_aic": f.aic - best_aic,
            "lrt_statistic": None,
            "lrt_dof": None,
            "lrt_p": None,
            "weight": f.fit.weight if f.shape == "free-form" else None,
        }
        if base is not None and f is not base:
            stat, dof = base.chi2 - f.chi2, f.k - base.k
            row |= {
                "lrt_statistic": stat,
                "lrt_dof": dof,
                "lrt_p": float(chi2_law.sf(max(stat, 0.0), dof)) if dof > 0 else None,
            }
        rows.append(row | {"best": f.aic == best_aic})
    best_bic = min(r["bic"] for r in rows)
    for r in rows:
        r["best_bic"] = r["bic"] == best_bic
    return rows


# ---------------------------------------------------------------------- bands
@dataclass
class CurveBands:
    """ln D(n) and the PSED of a fitted model with percentile bands over samples."""

    n_frac: np.ndarray
    log_d: np.ndarray  # (3, n): 16th, 50th, 84th percentile; the middle row is the best fit
    energy_eV: np.ndarray
    density_per_eV: np.ndarray  # (3, n_energy)
    fermi_eV: np.ndarray  # (3, n): E_F at each density
    fwhm_eV: np.ndarray  # (3,)
    source: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {
            k: (v.tolist() if isinstance(v, np.ndarray) else v)
            for k, v in self.__dict__.items()
            if k != "extra"
        }
        return out | self.extra


def _model_at(candidate: Candidate, target: Target, values: Mapping[str, float]) -> Any:
    config = with_values(candidate.config, split_values(values)[0])
    return target.model(config)


def sample_values(
    model_fit: ModelFit,
    n_samples: int = 200,
    seed: int = 0,
    posterior: Mapping[str, Any] | None = None,
) -> list[dict[str, float]]:
    """Parameter draws ``{path: value}``: from the MCMC posterior if given, else from the
    Gaussian of the fit's covariance (in lmfit's parametrisation: log10 for log ones)."""
    from caitlab.fit.parameters import path_values

    result = model_fit.fit.result
    if posterior is not None and len(posterior.get("samples", [])):
        samples = np.asarray(posterior["samples"])
        rng = np.random.default_rng(seed)
        rows = samples[rng.choice(len(samples), min(n_samples, len(samples)), replace=False)]
        return [result.best_values | dict(zip(posterior["sample_names"], row)) for row in rows]
    names = list(result.result.var_names)
    best = np.array([result.result.params[n].value for n in names])
    if model_fit.covariance is None:
        return [dict(result.best_values)]
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_normal(best, model_fit.covariance, n_samples, method="eigh")
    out = []
    for row in draws:
        params = result.result.params.copy()
        for name, value in zip(names, row):
            par = params[name]
            params[name].value = float(np.clip(value, par.min, par.max))
        out.append(path_values(result.free, params))
    return out


def curve_bands(
    model_fit: ModelFit,
    candidate: Candidate,
    target: Target,
    n_frac: np.ndarray,
    *,
    n_samples: int = 200,
    seed: int = 0,
    posterior: Mapping[str, Any] | None = None,
    max_spread: float = 1.0,
) -> CurveBands:
    """ln D(n), the PSED and its FWHM with 16-84 % bands from covariance or posterior.

    The FWHM is taken on the densities where the samples' ln D scatter less than
    ``max_spread`` (standard deviation): where the data determine D(n).
    """
    temperature = target.temperature(candidate.config)
    n0 = float(candidate.config["sample"]["mobile_ion_density"])
    best = _model_at(candidate, target, model_fit.fit.result.best_values)
    draws = [best] + [
        _model_at(candidate, target, v)
        for v in sample_values(model_fit, n_samples, seed, posterior)
    ]
    log_d = np.array([smooth_log_d(m, n_frac, temperature, n0) for m in draws])
    pseds = [psed_from_log_d(n_frac, row, temperature) for row in log_d]
    fermi = np.array([p.fermi_eV for p in pseds])
    low = np.nanmin(np.percentile(fermi, 16, axis=0))
    energy = np.linspace(min(low, pseds[0].fermi_eV.min()), 0.0, 300)
    density = np.array([p.on_energies(energy) for p in pseds])
    spread = np.std(log_d[1:], axis=0) if len(log_d) > 1 else np.zeros(n_frac.size)
    determined = spread < max_spread
    fwhm = np.array(
        [psed_fwhm(p.fermi_eV[determined], p.density_per_eV[determined]) for p in pseds]
    )

    def bands(values: np.ndarray) -> np.ndarray:
        if len(values) < 2:
            return np.array([values[0], values[0], values[0]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
            lo, hi = np.nanpercentile(values[1:], [15.865, 84.135], axis=0)
        return np.array([lo, values[0], hi])

    span = n_frac[determined]
    extra = {"determined_range": [float(span.min()), float(span.max())] if span.size else None}
    return CurveBands(
        n_frac,
        bands(log_d),
        energy,
        bands(density),
        bands(fermi),
        bands(fwhm),
        "posterior" if posterior else "covariance",
        extra,
    )


def widened(bands: CurveBands, others: Sequence[CurveBands]) -> CurveBands:
    """``bands`` widened to contain the best curves (ln D, S(E), E_F, FWHM) of ``others``:
    the same model fitted with other plausible choices, such as the regularisation weight."""

    def cover(rows: np.ndarray, mids: list[np.ndarray]) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
            low = np.nanmin([rows[0], *mids], axis=0)
            high = np.nanmax([rows[2], *mids], axis=0)
        return np.array([low, rows[1], high])

    density = [np.interp(bands.energy_eV, o.energy_eV, o.density_per_eV[1]) for o in others]
    return CurveBands(
        bands.n_frac,
        cover(bands.log_d, [o.log_d[1] for o in others]),
        bands.energy_eV,
        cover(bands.density_per_eV, density),
        cover(bands.fermi_eV, [o.fermi_eV[1] for o in others]),
        cover(bands.fwhm_eV, [o.fwhm_eV[1] for o in others]),
        bands.source + " + weight choice",
        bands.extra,
    )


__all__ = [
    "SHAPES",
    "Candidate",
    "CurveBands",
    "ModelFit",
    "Target",
    "build_candidate",
    "candidate_model",
    "compare_models",
    "curve_bands",
    "fit_candidate",
    "sample_values",
]
