"""Regularised fits: a smoothness penalty on ln D, its weight by GCV or the L-curve.

The residual of a fit (``(model - data)/sigma`` for every profile point, see
:mod:`caitlab.fit.problem`) gets extra rows ``sqrt(λ) Δ² ln D_k``: the second differences
of the free-form knot values. The knots are spaced geometrically, so Δ² is the second
derivative of ln D with respect to ln n (times the squared spacing): the penalty prefers a
D(n) that is a power law, and does not favour any site-energy shape.

The weight λ is chosen on the Gauss-Newton linearisation at a fit: with the data Jacobian
J, data residual r and the penalty matrix L (second differences on the knot columns),
each λ gives the step δ(λ) solving ``(JᵀJ + λLᵀL) δ = -Jᵀr - λLᵀL p``, a data misfit
``ρ(λ) = |r + Jδ|²``, a roughness ``η(λ) = |L(p + δ)|²`` and an effective number of
parameters ``tr H(λ)``, ``H = J (JᵀJ + λLᵀL)⁻¹ Jᵀ``. Two documented criteria:

* **GCV** (default): minimise ``N ρ / (N - tr H)²`` (Golub, Heath, Wahba 1979);
* **L-curve**: the point of largest curvature of (ln ρ, ln η) (Hansen 1992).

The whole curve costs one Jacobian; the fit is then repeated at the chosen weight.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from caitlab.fit.fitting import Evaluator, FitResult, fit
from caitlab.fit.parameters import FreeParameter
from caitlab.fit.problem import FitProblem

_LOG = logging.getLogger("caitlab.landscape")

#: weights tried on the linearised curve
DEFAULT_WEIGHTS = tuple(float(w) for w in np.logspace(-5, 4, 46))


@dataclass(frozen=True)
class SmoothnessPenalty:
    """Penalty rows ``sqrt(weight) Δ² v`` on the numbers at ``paths`` (in this order)."""

    paths: tuple[str, ...]
    weight: float = 1.0

    def __post_init__(self) -> None:
        if len(self.paths) < 3:
            raise ValueError("a second-difference penalty needs at least 3 knots")
        if self.weight < 0:
            raise ValueError("the penalty weight must be >= 0")

    @property
    def n_rows(self) -> int:
        return len(self.paths) - 2

    def matrix(self) -> np.ndarray:
        """The second-difference operator, shape (K - 2, K)."""
        return np.diff(np.eye(len(self.paths)), 2, axis=0)

    def rows(self, values: ArrayLike) -> np.ndarray:
        return np.sqrt(self.weight) * np.diff(np.asarray(values, dtype=float), 2)


@dataclass(frozen=True, eq=False)
class RegularisedProblem(FitProblem):
    """A :class:`~caitlab.fit.FitProblem` whose residual ends with smoothness rows.

    Every other part (simulation, profiles, charges) is the parent's; :attr:`n_observed`
    counts the data rows only.
    """

    penalties: tuple[SmoothnessPenalty, ...] = field(default=())

    @classmethod
    def from_problem(
        cls,
        problem: FitProblem,
        penalties: tuple[SmoothnessPenalty, ...],
        config: Mapping | None = None,
    ) -> RegularisedProblem:
        """``problem`` (all its observations and options) with smoothness rows added, and
        optionally another experiment config."""
        parts = {f.name: getattr(problem, f.name) for f in dataclasses.fields(FitProblem)}
        if config is not None:
            parts["config"] = config
        return cls(**parts, penalties=penalties)

    @property
    def n_observed(self) -> int:
        return super().n_data

    @property
    def n_data(self) -> int:
        return super().n_data + sum(p.n_rows for p in self.penalties)

    def penalty_rows(self, values: Mapping[str, float]) -> np.ndarray:
        parts = [
            p.rows([values[k] if k in values else self.initial_value(k) for k in p.paths])
            for p in self.penalties
        ]
        return np.concatenate(parts) if parts else np.array([])

    def residual_from(self, sim: Any, values: Mapping[str, float]) -> np.ndarray:
        return np.concatenate([super().residual_from(sim, values), self.penalty_rows(values)])

    def with_weight(self, weight: float) -> RegularisedProblem:
        """The same problem with every penalty at ``weight``."""
        penalties = tuple(dataclasses.replace(p, weight=weight) for p in self.penalties)
        return dataclasses.replace(self, penalties=penalties)


@dataclass(frozen=True)
class WeightCurve:
    """The linearised regularisation curve at a fit (see the module docstring)."""

    weights: np.ndarray
    misfit: np.ndarray
    roughness: np.ndarray
    dof: np.ndarray
    gcv: np.ndarray
    curvature: np.ndarray
    criterion: str
    chosen: float

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (v.tolist() if isinstance(v, np.ndarray) else v)
            for k, v in dataclasses.asdict(self).items()
        }


def penalty_matrix(
    problem: RegularisedProblem, columns: Sequence[str], unit_weight: bool = True
) -> np.ndarray:
    """L on the varied columns (paths, in lmfit order): second differences of the knots."""
    blocks = []
    for p in problem.penalties:
        block = np.zeros((p.n_rows, len(columns)))
        op = p.matrix() * (1.0 if unit_weight else np.sqrt(p.weight))
        for k, path in enumerate(p.paths):
            if path in columns:
                block[:, columns.index(path)] = op[:, k]
        blocks.append(block)
    return np.vstack(blocks) if blocks else np.zeros((0, len(columns)))


def jacobian_at(result: FitResult, executor: Any = None, step: float = 1e-3) -> np.ndarray:
    """The full Jacobian (data and penalty rows) at a fit's best values."""
    from caitlab.fit.executors import SerialExecutor

    evaluator = Evaluator(result.problem, result.free, executor or SerialExecutor(), step)
    return evaluator.jacobian(result.result.params)


def varied_paths(result: FitResult) -> list[str]:
    """Path of each varied lmfit parameter, in lmfit's column order (log ones as log10)."""
    path_of = {s.lmfit_name: s.path for s in result.free}
    return [path_of[n] for n in result.result.var_names]


def column_scales(jac: np.ndarray) -> np.ndarray:
    """1 / column norms: parameters in very different units (m, ln D) made comparable."""
    norms = np.linalg.norm(jac, axis=0)
    return 1.0 / np.where(norms > 0, norms, 1.0)


def covariance(jac_full: np.ndarray) -> np.ndarray:
    """(JᵀJ)⁻¹ computed on scaled columns (pseudo-inverse for unidentified directions)."""
    scale = column_scales(jac_full)
    scaled = jac_full * scale
    return scale[:, None] * np.linalg.pinv(scaled.T @ scaled) * scale[None, :]


def influence_trace(jac_data: np.ndarray, jac_full: np.ndarray) -> float:
    """tr H, H = J_d (J_fᵀ J_f)⁻¹ J_dᵀ: the effective number of fitted parameters."""
    return float(np.trace(jac_data @ covariance(jac_full) @ jac_data.T))


def weight_curve(
    jac_data: np.ndarray,
    residual: np.ndarray,
    penalty: np.ndarray,
    params: np.ndarray,
    weights: Sequence[float] = DEFAULT_WEIGHTS,
    criterion: str = "gcv",
) -> WeightCurve:
    """GCV and L-curve of the linearised problem; the chosen weight by ``criterion``.

    Parameters
    ----------
    jac_data : ndarray (N, P)
        Jacobian of the data rows.
    residual : ndarray (N,)
        Data residual at ``params``.
    penalty : ndarray (M, P)
        Unit-weight penalty operator L.
    params : ndarray (P,)
        The varied parameters (lmfit values) where the linearisation is taken.
    weights : sequence of float
        λ values to evaluate.
    criterion : {"gcv", "lcurve"}
    """
    if criterion not in ("gcv", "lcurve"):
        raise ValueError(f"criterion must be 'gcv' or 'lcurve', got {criterion!r}")
    lambdas = np.asarray(weights, dtype=float)
    n = residual.size
    scale = column_scales(np.vstack([jac_data, penalty]))
    jac_data, penalty, params = jac_data * scale, penalty * scale, params / scale
    jtj, jtr = jac_data.T @ jac_data, jac_data.T @ residual
    ltl = penalty.T @ penalty
    misfit, rough, dof = (np.empty(lambdas.size) for _ in range(3))
    for k, lam in enumerate(lambdas):
        inverse = np.linalg.pinv(jtj + lam * ltl)
        delta = -inverse @ (jtr + lam * ltl @ params)
        misfit[k] = float(np.sum((residual + jac_data @ delta) ** 2))
        rough[k] = float(np.sum((penalty @ (params + delta)) ** 2))
        dof[k] = float(np.trace(jac_data @ inverse @ jac_data.T))
    gcv = n * misfit / np.maximum(n - dof, 1e-9) ** 2
    curvature = _curvature(np.log(misfit), np.log(np.maximum(rough, 1e-300)))
    if criterion == "lcurve" and np.any(np.isfinite(curvature)):
        best = int(np.nanargmax(curvature))
    else:  # a flat L-curve has no corner: fall back on GCV
        best, criterion = int(np.argmin(gcv)), "gcv"
    _LOG.info("weight curve: misfit %s, roughness %s", misfit, rough)
    return WeightCurve(lambdas, misfit, rough, dof, gcv, curvature, criterion, float(lambdas[best]))


def _curvature(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Signed curvature of the parametric curve (x(t), y(t)) on equally spaced t."""
    dx, dy = np.gradient(x), np.gradient(y)
    ddx, ddy = np.gradient(dx), np.gradient(dy)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (dx * ddy - dy * ddx) / (dx**2 + dy**2) ** 1.5
    kappa[[0, -1]] = np.nan  # one-sided differences at the ends
    return kappa


def restarted(free: Sequence[FreeParameter], values: Mapping[str, float]) -> list[FreeParameter]:
    """``free`` starting at ``values`` (tied ones untouched)."""
    out = []
    for spec in free:
        if spec.expr is None and spec.path in values:
            start = min(max(values[spec.path], spec.min), spec.max)
            spec = dataclasses.replace(spec, value=start)
        out.append(spec)
    return out


@dataclass
class RegularisedFit:
    """A regularised fit: the fit at the chosen weight, and the curve that chose it."""

    result: FitResult
    weight: float
    curve: WeightCurve | None
    jacobian: np.ndarray
    columns: list[str]

    @property
    def problem(self) -> RegularisedProblem:
        problem = self.result.problem
        assert isinstance(problem, RegularisedProblem)  # fit_regularised fits only these
        return problem


def fit_regularised(
    problem: RegularisedProblem,
    free: Sequence[FreeParameter],
    *,
    weight: float | str = "gcv",
    start_weight: float = 1.0,
    weights: Sequence[float] = DEFAULT_WEIGHTS,
    executor: Any = None,
    **options: Any,
) -> RegularisedFit:
    """Fit with the smoothness penalty; choose its weight by ``"gcv"`` or ``"lcurve"``.

    With a number, fit once at that weight. With a criterion: fit at ``start_weight``,
    build the linearised curve there, refit at the chosen weight (starting from the first
    fit), and return the Jacobian at the end (for the covariance and tr H).

    ``options`` go to :func:`caitlab.fit.fit` (``step``, ``tolerance``, ``max_nfev`` ...).
    """
    step = options.get("step", 1e-3)
    if not isinstance(weight, str):
        result = fit(problem.with_weight(float(weight)), free, executor=executor, **options)
        jac = jacobian_at(result, executor, step)
        return RegularisedFit(result, float(weight), None, jac, varied_paths(result))
    first_options = {k: v for k, v in options.items() if k != "mcmc"}  # sample the last only
    first = fit(problem.with_weight(start_weight), free, executor=executor, **first_options)
    jac = jacobian_at(first, executor, step)
    columns = varied_paths(first)
    n_obs = problem.n_observed
    values = np.array([first.result.params[n].value for n in first.result.var_names])
    residual = first.result.residual[:n_obs]
    curve = weight_curve(
        jac[:n_obs], residual, penalty_matrix(problem, columns), values, weights, weight
    )
    result = fit(
        problem.with_weight(curve.chosen),
        restarted(free, first.best_values),
        executor=executor,
        **options,
    )
    return RegularisedFit(result, curve.chosen, curve, jacobian_at(result, executor, step), columns)


__all__ = [
    "DEFAULT_WEIGHTS",
    "RegularisedFit",
    "RegularisedProblem",
    "SmoothnessPenalty",
    "WeightCurve",
    "fit_regularised",
    "influence_trace",
    "jacobian_at",
    "penalty_matrix",
    "varied_paths",
    "weight_curve",
]
