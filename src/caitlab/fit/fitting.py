"""Fitting on lmfit: the residual, a parallel finite-difference Jacobian, the minimiser.

The three parts stay apart, as lmfit intends:

* **parameters** -- :func:`caitlab.fit.parameters.build_parameters`;
* **residual** -- :class:`Evaluator`, which maps lmfit parameters to ``{path: value}``
  and calls :meth:`caitlab.fit.problem.FitProblem.residual` (cached, counted, and
  failure-safe: a simulation that fails is recorded with its parameters and answered with
  a large penalty, so the minimiser steps back instead of crashing);
* **minimiser** -- :class:`lmfit.Minimizer` (``least_squares`` by default, bounds handled
  by scipy's trust-region reflective method), given the Jacobian callable
  :meth:`Evaluator.jacobian`, whose columns are independent simulations run through the
  executor (in parallel on a dask cluster, or serially).

The Jacobian uses forward differences with a relative step (default 1e-3; the simulator's
adaptive time stepping is smooth at that scale); where the forward point fails, the
backward point is tried. Standard errors and correlations come from that Jacobian.

Uncertainties
-------------
With absolute weights (counting statistics known) the covariance is the inverse of
``J^T J``. Where the weights are only estimates (:attr:`FitProblem.estimated`: fallback
weights, shots per scan unknown, an export already Poisson corrected) it is scaled by the
reduced chi-square (``scale_covar``, the default then), and the MCMC posterior samples a
noise scale ``s`` with the parameters (lmfit's ``is_weighted=False`` with ``__lnsigma``:
the weighted residual is taken as ``N(0, s**2)``), so its widths agree with the scaled
covariance instead of being overconfident.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from caitlab.fit.executors import SerialExecutor
from caitlab.fit.parameters import FreeParameter, build_parameters, path_values
from caitlab.fit.problem import FitProblem, SimulationFailed, evaluate

if TYPE_CHECKING:
    import lmfit

_LOG = logging.getLogger("caitlab.fit")

#: residual element given to a failed simulation (data are weighted: |r| ~ 1 when good)
PENALTY = 1e4


@dataclass
class Failure:
    """A simulation that failed during a fit: its parameters and the reason."""

    values: dict[str, float]
    reason: str


@dataclass
class Evaluator:
    """Residual and Jacobian of a fit problem for lmfit, with bookkeeping.

    Parameters
    ----------
    problem : FitProblem
        What is fitted.
    free : sequence of FreeParameter
        The declared parameters.
    executor : SerialExecutor or DaskExecutor
        Where the Jacobian columns run.
    step : float
        Relative finite-difference step.
    progress : callable, optional
        Told ``(simulations, best chi-square so far, elapsed s)`` after each batch.
    """

    problem: FitProblem
    free: Sequence[FreeParameter]
    executor: Any = field(default_factory=SerialExecutor)
    step: float = 1e-3
    n_simulations: int = 0
    failures: list[Failure] = field(default_factory=list)
    progress: Any = None
    best_chisqr: float = math.inf
    _cache: dict[tuple, np.ndarray] = field(default_factory=dict)
    _clock: float = field(default_factory=time.perf_counter)

    def _key(self, values: Mapping[str, float]) -> tuple:
        return tuple(sorted(values.items()))

    def _run(self, batch: list[dict[str, float]]) -> list[np.ndarray]:
        """Residuals of several points (cached ones not recomputed); failures -> penalty."""
        todo = [v for v in batch if self._key(v) not in self._cache]
        unique = list({self._key(v): v for v in todo}.values())
        results = self.executor.map(evaluate, unique, self.problem)
        self.n_simulations += len(unique)
        for values, (residual, reason) in zip(unique, results, strict=True):
            if residual is None:
                self.failures.append(Failure(dict(values), reason))
                _LOG.warning("simulation failed (bad point, penalised) at %s: %s", values, reason)
                residual = np.full(self.problem.n_data, PENALTY)
            else:
                self.best_chisqr = min(self.best_chisqr, float(np.sum(residual**2)))
            self._cache[self._key(values)] = residual
        if self.progress is not None and unique:
            self.progress(self.n_simulations, self.best_chisqr, time.perf_counter() - self._clock)
        return [self._cache[self._key(v)] for v in batch]

    def failed(self, values: Mapping[str, float]) -> bool:
        key = self._key(values)
        return any(self._key(f.values) == key for f in self.failures)

    def residual(self, params: lmfit.Parameters) -> np.ndarray:
        """Weighted residual at ``params`` (the lmfit objective)."""
        return self._run([path_values(self.free, params)])[0]

    def _perturbed(self, params: lmfit.Parameters, name: str, h: float) -> dict[str, float]:
        trial = params.copy()
        trial[name].value = params[name].value + h
        return path_values(self.free, trial)

    def _step(self, par: lmfit.Parameter) -> float:
        if par.name.startswith("log10_"):
            h = self.step / math.log(10)
        elif par.value != 0:
            h = self.step * abs(par.value)
        elif math.isfinite(par.max - par.min):
            h = self.step * (par.max - par.min)
        else:
            h = self.step
        return -h if par.value + h > par.max else h

    def jacobian(self, params: lmfit.Parameters) -> np.ndarray:
        """d residual / d varied parameter, shape (n_data, n_varied), columns in parallel."""
        names = [n for n, p in params.items() if p.vary and not p.expr]
        steps = {n: self._step(params[n]) for n in names}
        base = path_values(self.free, params)
        points = [self._perturbed(params, n, steps[n]) for n in names]
        f0, *columns = self._run([base, *points])
        retry = [k for k, p in enumerate(points) if self.failed(p)]
        if retry:
            back = [self._perturbed(params, names[k], -steps[names[k]]) for k in retry]
            for k, point, col in zip(retry, back, self._run(back), strict=True):
                steps[names[k]] *= -1
                columns[k] = f0 if self.failed(point) else col  # both failed: no slope
        jac = np.column_stack(
            [(col - f0) / steps[n] for n, col in zip(names, columns, strict=True)]
        )
        return np.where(np.isfinite(jac), jac, 0.0)


@dataclass
class FitResult:
    """A finished fit: lmfit's result, the best values and the best-fit run.

    Report and save it with :mod:`caitlab.fit.report` (``to_dict``, ``report``, ``save``,
    ``plot`` are shortcuts).

    Attributes
    ----------
    problem : FitProblem
        What was fitted.
    free : tuple of FreeParameter
        The declared parameters.
    initial : dict
        Path -> starting value.
    result : lmfit.minimizer.MinimizerResult
        lmfit's result (parameters with stderr and correlations, chi-square ...).
    best_values : dict
        Path -> best value (canonical unit).
    best_run : caitlab.Result or None
        The simulation at the best values (None if it failed).
    n_simulations : int
        Simulations run, all included.
    failures : list of Failure
        Simulations that failed, with their parameters.
    wall_time_s : float
        Wall time of the whole fit, s.
    conf_intervals : dict
        Path -> profile-likelihood intervals.
    mcmc : dict or None
        Posterior summary.
    input : dict
        What produced the fit (the fit config).
    covariance_scaled : bool
        Whether the standard errors were scaled by the reduced chi-square.
    """

    problem: FitProblem
    free: tuple[FreeParameter, ...]
    initial: dict[str, float]
    result: lmfit.minimizer.MinimizerResult
    best_values: dict[str, float]
    best_run: Any
    n_simulations: int
    failures: list[Failure]
    wall_time_s: float
    conf_intervals: dict[str, Any] = field(default_factory=dict)
    mcmc: dict[str, Any] | None = None
    input: dict[str, Any] = field(default_factory=dict)
    covariance_scaled: bool = False

    def to_dict(self) -> dict[str, Any]:
        from caitlab.fit.report import fit_to_dict

        return fit_to_dict(self)

    def report(self) -> str:
        from caitlab.fit.report import fit_report

        return fit_report(self)

    @property
    def params(self) -> lmfit.Parameters:
        """lmfit's best-fit Parameters, as lmfit users reach for them:
        ``fit.params["D_Cs"].value``, ``.stderr`` (SI; a parameter declared without a
        ``name`` is under its path made an identifier, e.g.
        ``stages_Cs_CAIT_diffusivity_Cs_d``)."""
        return self.result.params

    def fit_report(self, **options: Any) -> str:
        """lmfit's fit report of the fit (:func:`lmfit.fit_report`), each parameter under
        its name or path (:func:`caitlab.fit.report.lmfit_report`); ``options`` as
        lmfit's (``show_correl``, ``min_correl``, ``sort_pars``). :meth:`report` is the
        whole ``report.txt``."""
        from caitlab.fit.report import lmfit_report

        return lmfit_report(self, **options)

    def save(self, directory: Any, figure: bool = True) -> Any:
        from caitlab.fit.report import save_fit

        return save_fit(self, directory, figure=figure)

    def plot(self, axes: Any = None) -> Any:
        from caitlab.fit.report import plot_fit

        return plot_fit(self, axes)

    def _repr_html_(self) -> str:
        from caitlab._html import fit_html

        return fit_html(self)


def initial_values(problem: FitProblem, free: Sequence[FreeParameter]) -> dict[str, float]:
    """``{path: value}`` of each declared parameter as it starts."""
    config_values = {s.path: problem.initial_value(s.path) for s in free}
    params = build_parameters(free, config_values)
    return path_values(free, params)


def minimise(
    problem: FitProblem,
    free: Sequence[FreeParameter],
    *,
    executor: Any = None,
    method: str = "least_squares",
    step: float = 1e-3,
    tolerance: float = 1e-4,
    max_nfev: int | None = None,
    scale_covar: bool | None = None,
    progress: Any = None,
) -> tuple[lmfit.Minimizer, lmfit.minimizer.MinimizerResult, Evaluator]:
    """Run the minimiser; return it (for confidence intervals), its result, the evaluator.

    Parameters
    ----------
    problem : FitProblem
        Data and experiment.
    free : sequence of FreeParameter
        Declared parameters (at least one varied).
    executor : SerialExecutor or DaskExecutor, optional
        Where Jacobian columns run; default serial.
    method : {"least_squares", "leastsq"}
        lmfit method; both get the parallel Jacobian.
    step : float
        Relative finite-difference step of the Jacobian.
    tolerance : float
        ``ftol`` of the minimiser: stop when an iteration changes the chi-square by less
        than this fraction (1e-4 of a chi-square ~ number of points is well below 1).
        ``xtol`` (relative step of the parameters) is 1e-6.
    max_nfev : int, optional
        Most residual evaluations of the minimiser (Jacobians not counted).
    scale_covar : bool, optional
        Scale the covariance by the reduced chi-square. Default: when some weights are
        only estimates (``problem.estimated``); with counting uncertainties they are
        absolute.
    progress : callable, optional
        Called as ``progress(evaluations, best_chisqr, elapsed_s)`` after each batch.
    """
    config_values = {s.path: problem.initial_value(s.path) for s in free}
    params = build_parameters(free, config_values)
    if not any(p.vary and not p.expr for p in params.values()):
        raise ValueError("no parameter is free to vary")
    evaluator = Evaluator(
        problem, tuple(free), executor or SerialExecutor(), step, progress=progress
    )
    if method not in ("least_squares", "leastsq"):
        raise ValueError(f"method must be 'least_squares' or 'leastsq', got {method!r}")
    # Dfun: understood by both methods, and by the leastsq refits of conf_interval
    kws = {"Dfun": evaluator.jacobian, "ftol": tolerance, "xtol": 1e-6}
    import lmfit

    if scale_covar is None:
        scale_covar = bool(problem.estimated)
    minimizer = lmfit.Minimizer(
        lambda p: evaluator.residual(p),
        params,
        nan_policy="raise",
        max_nfev=max_nfev,
        scale_covar=scale_covar,
        **kws,
    )
    result = minimizer.minimize(method=method)
    return minimizer, result, evaluator


def confidence_intervals(
    minimizer: lmfit.Minimizer,
    result: lmfit.minimizer.MinimizerResult,
    free: Sequence[FreeParameter],
    names: Sequence[str],
    sigmas: Sequence[float] = (1.0, 2.0),
) -> dict[str, list[dict[str, float]]]:
    """Profile-likelihood intervals (:func:`lmfit.conf_interval`) in each parameter's unit.

    Parameters
    ----------
    names : sequence of str
        Paths or names of varied parameters.

    Returns
    -------
    dict
        Path -> list of ``{"probability": p, "lower": ..., "upper": ...}``, one per level
        (``p = 0``: the best value; ``0.6827``: 1 sigma ...).
    """
    by_key = {s.path: s for s in free} | {s.name: s for s in free}
    chosen = [by_key[n] for n in names]
    import lmfit

    ci = lmfit.conf_interval(
        minimizer, result, p_names=[s.lmfit_name for s in chosen], sigmas=list(sigmas)
    )
    out = {}
    for spec in chosen:
        rows = ci[spec.lmfit_name]
        convert = (lambda v: 10.0**v) if spec.log else float
        half = len(rows) // 2
        entries = []
        for k in range(half + 1):
            lower, upper = rows[half - k], rows[half + k]
            entry = {"probability": float(upper[0]), "lower": convert(lower[1])}
            entries.append(entry | {"upper": convert(upper[1])})
        out[spec.path] = entries
    return out


def sample_posterior(
    minimizer: lmfit.Minimizer,
    result: lmfit.minimizer.MinimizerResult,
    free: Sequence[FreeParameter],
    *,
    steps: int = 200,
    burn: int = 50,
    thin: int = 1,
    walkers: int | None = None,
    seed: int = 0,
    noise_scale: bool | None = None,
) -> dict[str, Any]:
    """MCMC posterior with emcee (lmfit's ``emcee`` method), started at the best fit.

    Parameters
    ----------
    noise_scale : bool, optional
        Sample a noise scale ``s`` (the weighted residual ~ N(0, s**2)) with the parameters,
        as lmfit's ``is_weighted=False``: the posterior widths then agree with the covariance
        scaled by the reduced chi-square. Default: when that covariance is scaled
        (``minimizer.scale_covar``).

    Returns
    -------
    dict
        ``parameters``: ``median``, ``lower_1sigma``, ``upper_1sigma``, ``lower_2sigma``,
        ``upper_2sigma`` per path (in its unit); ``noise_scale`` (its median, or None),
        ``acceptance_fraction`` (mean), ``steps``, ``burn``, ``walkers``, and the flat
        chain: ``samples`` (n, k) in the parameters' units with ``sample_names`` (paths).
    """
    n_var = len(result.var_names)
    if noise_scale is None:
        noise_scale = bool(getattr(minimizer, "scale_covar", False))
    params = result.params.copy()
    if noise_scale:
        start = 0.5 * math.log(max(float(result.redchi), 1e-12))
        params.add("__lnsigma", value=start, min=start - 5.0, max=start + 5.0)
        n_var += 1
    nwalkers = walkers or max(2 * n_var + 2, 8)
    mc = minimizer.emcee(
        params=params,
        steps=steps,
        burn=burn,
        thin=thin,
        nwalkers=nwalkers,
        is_weighted=not noise_scale,
        seed=seed,
        progress=False,
    )
    summary: dict[str, Any] = {}
    columns = []
    for spec in free:
        if spec.lmfit_name not in mc.flatchain:
            continue
        chain = np.asarray(mc.flatchain[spec.lmfit_name])
        values = 10.0**chain if spec.log else chain
        columns.append(values)
        q = np.percentile(values, [2.275, 15.865, 50, 84.135, 97.725])
        summary[spec.path] = {
            "median": float(q[2]),
            "lower_1sigma": float(q[1]),
            "upper_1sigma": float(q[3]),
            "lower_2sigma": float(q[0]),
            "upper_2sigma": float(q[4]),
        }
    lnsigma = mc.flatchain.get("__lnsigma") if noise_scale else None
    return {
        "parameters": summary,
        "noise_scale": None if lnsigma is None else float(np.exp(np.median(lnsigma))),
        "acceptance_fraction": float(np.mean(mc.acceptance_fraction)),
        "steps": steps,
        "burn": burn,
        "thin": thin,
        "walkers": nwalkers,
        "sample_names": list(summary),
        "samples": np.column_stack(columns) if columns else np.empty((0, 0)),
    }


def _check_request(
    problem: FitProblem, free: Sequence[FreeParameter], conf_interval: Sequence[str]
) -> None:
    """Refuse, before any simulation, what cannot work."""
    for spec in free:
        problem.check_path(spec.path)
    n_varied = sum(1 for s in free if s.vary and s.expr is None)
    if conf_interval and n_varied < 2:
        raise ValueError(
            "confidence intervals (lmfit.conf_interval) need at least 2 varied parameters; "
            "use the standard error or the MCMC posterior for one"
        )


def _best_run(problem: FitProblem, best: dict[str, float], failures: list[Failure]) -> Any:
    """The full run at the best values (None, recorded as a failure, if it fails)."""
    try:
        return problem.run(best)
    except SimulationFailed as exc:
        failures.append(Failure(best, exc.reason))
        return None


def fit(
    problem: FitProblem,
    free: Sequence[FreeParameter],
    *,
    executor: Any = None,
    method: str = "least_squares",
    step: float = 1e-3,
    tolerance: float = 1e-4,
    max_nfev: int | None = None,
    scale_covar: bool | None = None,
    conf_interval: Sequence[str] = (),
    sigmas: Sequence[float] = (1.0, 2.0),
    mcmc: Mapping[str, Any] | None = None,
    input: Mapping[str, Any] | None = None,
    progress: Any = None,
) -> FitResult:
    """Fit the free parameters of ``problem`` jointly to all its observations.

    Parameters
    ----------
    problem : FitProblem
        The experiment config and the measured profiles/charges.
    free : sequence of FreeParameter
        What may vary.
    executor : optional
        From :func:`caitlab.fit.executors.open_executor`; default serial.
    method, step, tolerance, max_nfev, scale_covar
        See :func:`minimise`.
    conf_interval : sequence of str
        Paths (or names) for profile-likelihood confidence intervals.
    sigmas : sequence of float
        Their levels, in standard deviations.
    mcmc : dict, optional
        Keyword arguments of :func:`sample_posterior` to sample the posterior.
    input : dict, optional
        What produced the fit (the fit config), recorded in the saved files.
    progress : callable, optional
        ``progress(evaluations, best_chisqr, elapsed_s)``, see :func:`minimise`.

    Returns
    -------
    FitResult
        Report it with :class:`caitlab.fit.report.FitResult`.
    """
    clock = time.perf_counter()
    free = tuple(free)
    _check_request(problem, free, conf_interval)
    start = initial_values(problem, free)
    minimizer, result, evaluator = minimise(
        problem,
        free,
        executor=executor,
        method=method,
        step=step,
        tolerance=tolerance,
        max_nfev=max_nfev,
        scale_covar=scale_covar,
        progress=progress,
    )
    ci = (
        confidence_intervals(minimizer, result, free, conf_interval, sigmas)
        if conf_interval
        else {}
    )
    posterior = sample_posterior(minimizer, result, free, **dict(mcmc)) if mcmc else None
    best = path_values(free, result.params)
    best_run = _best_run(problem, best, evaluator.failures)
    return FitResult(
        problem=problem,
        free=free,
        initial=start,
        result=result,
        best_values=best,
        best_run=best_run,
        n_simulations=evaluator.n_simulations + 1,
        failures=evaluator.failures,
        wall_time_s=time.perf_counter() - clock,
        conf_intervals=ci,
        mcmc=posterior,
        input=dict(input or {}),
        covariance_scaled=bool(minimizer.scale_covar),
    )


__all__ = [
    "PENALTY",
    "Evaluator",
    "Failure",
    "FitResult",
    "confidence_intervals",
    "fit",
    "initial_values",
    "minimise",
    "sample_posterior",
]
