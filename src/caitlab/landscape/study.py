"""The ``[landscape]`` section of a FIT.toml and :func:`run_landscape`.

Example::

    [landscape]
    models = ["constant", "sin2", "gaussian", "free-form"]
    knots = 8                 # free-form: K knots, geometric from `lowest` to `highest` (n/n0)
    lowest = 0.05
    highest = 0.9
    weight = "lcurve"         # "gcv", "lcurve" or a number
    samples = 200             # draws for the bands
    select = "bic"            # the model with the smallest BIC (or "aic") is selected

    [[landscape.targets]]
    stage = "Cs-CAIT"
    species = "Rb"
    direct = { profile = "Cs-CAIT", foreign = "Cs" }   # optional: start from the direct estimate

The other free parameters of the fit file are fitted with every model.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from caitlab._json import json_safe
from caitlab._model import Frozen
from caitlab.landscape.direct import direct_estimate, front_velocity
from caitlab.landscape.selection import (
    SHAPES,
    Target,
    build_candidate,
    compare_models,
    curve_bands,
    fit_candidate,
    widened,
)
from caitlab.storage import write_atomic


class DirectSpec(Frozen):
    """Start the free-form fit from the travelling-front estimate of one profile."""

    profile: str
    foreign: str


class TargetSpec(Frozen):
    stage: str
    species: str
    tied: list[str] = Field(default_factory=list)
    direct: DirectSpec | None = None


class LandscapeSpec(Frozen):
    """The ``[landscape]`` section."""

    targets: list[TargetSpec] = Field(min_length=1)
    models: list[Literal["constant", "sin2", "gaussian", "free-form"]] = Field(
        default_factory=lambda: list(SHAPES)
    )
    knots: int = Field(default=8, ge=3)
    lowest: float = Field(default=0.05, gt=0, lt=1)
    highest: float = Field(default=1.0, gt=0, le=1.5)
    monotone: bool = True
    weight: float | Literal["gcv", "lcurve"] = "lcurve"
    weight_envelope: float = Field(default=10.0, ge=1.0)
    samples: int = Field(default=200, ge=0)
    max_spread: float = Field(default=1.0, gt=0)
    select: Literal["bic", "aic"] = "bic"


def direct_start(problem: Any, target: Target, spec: DirectSpec, knots: np.ndarray) -> Any:
    """ln D at ``knots`` from the travelling-front estimate (NaN where it breaks)."""
    from caitlab.fit.fitting import initial_values

    profile = problem.profile(spec.profile)
    config = problem.config
    stage = next(s for s in config["stages"] if s["name"] == target.stage)
    d_foreign = float(stage["diffusivity"][spec.foreign]["d"])
    result = problem.run(initial_values(problem, []))
    sample = config["sample"]
    velocity = front_velocity(
        result.stage(target.stage).charge_C,
        float(stage["duration"]),
        float(sample["area"]),
        float(sample["mobile_ion_density"]),
    )
    estimate = direct_estimate(
        profile.depth_m,
        profile.fractions[target.species],
        profile.fractions[spec.foreign],
        velocity,
        d_foreign,
    )
    return estimate, estimate.log_d_at(knots, estimate.usable(d_foreign))


#: progress(step, steps, what): before each model's fit (``what`` names target and model,
#: with the simulations run so far), and ``steps`` of ``steps`` at the end
LandscapeProgress = Callable[[int, int, str], None]


def _fit_progress(
    progress: LandscapeProgress | None, step: int, steps: int, what: str
) -> Callable[[int, float, float], None] | None:
    """The ``progress(evaluations, best_chisqr, elapsed_s)`` of one model's fits, told on as
    ``progress(step, steps, "<what>: <n> simulations")``."""
    if progress is None:
        return None
    progress(step, steps, what)

    def update(evaluations: int, best: float, elapsed_s: float) -> None:
        progress(step, steps, f"{what}: {evaluations} simulations")

    return update


def study_target(
    problem: Any,
    free: list,
    spec: LandscapeSpec,
    tspec: TargetSpec,
    executor: Any = None,
    progress: LandscapeProgress | None = None,
    steps: tuple[int, int] = (0, 0),
    **fit_options: Any,
) -> dict[str, Any]:
    """Fit every model for one target; the table, bands, weight curve and timings.

    ``progress`` (see :data:`LandscapeProgress`) is told of each model's fit as step
    ``steps[0] + k`` of ``steps[1]``."""
    from caitlab.diffusivity import geometric_knots
    from caitlab.landscape.psed import smooth_log_d

    target = Target(tspec.stage, tspec.species, tuple(tspec.tied))
    n0 = float(problem.config["sample"]["mobile_ion_density"])
    temperature = target.temperature(problem.config)
    knots = np.asarray(geometric_knots(spec.knots, spec.lowest, spec.highest))
    options: dict[str, Any] = {
        "knots": spec.knots,
        "lowest": spec.lowest,
        "highest": spec.highest,
        "monotone": spec.monotone,
    }
    record: dict[str, Any] = {
        "stage": target.stage,
        "species": target.species,
        "tied": list(target.tied),
        "models": {},
    }
    if tspec.direct is not None:
        estimate, start = direct_start(problem, target, tspec.direct, knots)
        base = smooth_log_d(target.model(problem.config), knots, temperature, n0)
        options["start_log_d"] = np.where(np.isfinite(start), start, base)
        record["direct"] = {
            "n_frac": estimate.n_frac.tolist(),
            "d": np.where(estimate.valid, estimate.d, np.nan).tolist(),
            "start_log_d": [float(v) for v in options["start_log_d"]],
        }
    grid = np.geomspace(spec.lowest, spec.highest, 120)
    fits = []
    for k, shape in enumerate(spec.models):
        clock = time.perf_counter()
        what = f"{target.species} in {target.stage}: {shape} ({k + 1}/{len(spec.models)})"
        fit_options["progress"] = _fit_progress(progress, steps[0] + k, steps[1], what)
        candidate = build_candidate(problem, free, target, shape, **options)
        model_fit = fit_candidate(
            problem, candidate, weight=spec.weight, executor=executor, **fit_options
        )
        bands = curve_bands(
            model_fit,
            candidate,
            target,
            grid,
            n_samples=spec.samples,
            max_spread=spec.max_spread,
            posterior=model_fit.fit.result.mcmc,
        )
        alternatives = _weight_alternatives(
            problem, candidate, model_fit, target, grid, spec, executor, fit_options
        )
        if alternatives:
            bands = widened(bands, [alt for _, alt in alternatives])
        fits.append(model_fit)
        result = model_fit.fit.result
        record["models"][shape] = {
            "best_values": result.best_values,
            "success": bool(result.result.success),
            "n_simulations": result.n_simulations,
            "wall_time_s": time.perf_counter() - clock,
            "weight": model_fit.fit.weight,
            "weight_curve": model_fit.fit.curve.to_dict() if model_fit.fit.curve else None,
            "bands": bands.to_dict(),
            "weight_alternatives": [
                {"weight": w, "fwhm_eV": float(alt.fwhm_eV[1])} for w, alt in alternatives
            ],
            "knots": knots.tolist() if shape == "free-form" else None,
        }
    record["table"] = compare_models(fits)
    flag = "best_bic" if spec.select == "bic" else "best"
    record["selected"] = next(r["model"] for r in record["table"] if r[flag])
    record["criterion"] = spec.select
    return record


def _weight_alternatives(
    problem: Any,
    candidate: Any,
    model_fit: Any,
    target: Target,
    grid: np.ndarray,
    spec: LandscapeSpec,
    executor: Any,
    fit_options: dict,
) -> list[tuple[float, Any]]:
    """A penalised fit refitted at its weight ÷ and × ``spec.weight_envelope``: their best
    curves, which the bands are widened to contain (the uncertainty of the weight choice,
    i.e. of the smoothing bias, which the covariance at one weight does not see)."""
    weight = model_fit.fit.weight
    if spec.weight_envelope <= 1.0 or not candidate.knot_paths or not weight > 0:
        return []
    out = []
    for factor in (1.0 / spec.weight_envelope, spec.weight_envelope):
        alt = fit_candidate(
            problem, candidate, weight=weight * factor, executor=executor, **fit_options
        )
        out.append(
            (
                weight * factor,
                curve_bands(alt, candidate, target, grid, n_samples=0, max_spread=spec.max_spread),
            )
        )
    return out


def table_text(record: dict[str, Any]) -> str:
    """The selection table of one target as aligned text."""
    head = (
        f"{record['species']} in {record['stage']}: selected {record['selected']} "
        f"(smallest {record.get('criterion', 'bic').upper()})"
    )
    lines = [
        head,
        f"{'model':<10} {'chi2':>10} {'k':>6} {'AIC':>10} {'dAIC':>8} {'BIC':>10} {'LRT p':>9}",
    ]
    for r in record["table"]:
        p = "-" if r["lrt_p"] is None else f"{r['lrt_p']:.2g}"
        lines.append(
            f"{r['model']:<10} {r['chi2']:10.2f} {r['k']:6.2f} {r['aic']:10.2f} "
            f"{r['delta_aic']:8.2f} {r['bic']:10.2f} {p:>9}"
        )
    return "\n".join(lines)


def run_landscape(
    path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    workers: int | None = 0,
    figures: bool = True,
    progress: LandscapeProgress | None = None,
) -> dict[str, Any]:
    """Read FIT.toml with its ``[landscape]`` section, study every target, write ``out``.

    ``progress(step, steps, what)`` (:data:`LandscapeProgress`) is told of every model's
    fit of every target as it goes, and once more at the end (``steps`` of ``steps``).

    Writes ``landscape.json`` (everything), ``selection.txt`` (the tables) and, with
    ``figures``, ``dn.png`` (D(n) with bands per model), ``psed.png`` (the populated
    distributions, Fig. 2 style) and ``weight.png`` (the regularisation curve).
    """
    from caitlab.config import ConfigError
    from caitlab.fit.config import load_fit_config, validate
    from caitlab.fit.executors import open_executor

    cfg, problem, free, record = load_fit_config(path)
    if cfg.landscape is None:
        raise ConfigError(str(path), ["landscape: add a [landscape] section with targets"])
    try:
        spec = validate(LandscapeSpec, cfg.landscape, str(path))
    except ConfigError as exc:
        raise ConfigError(str(path), [f"landscape.{p}" for p in exc.problems]) from None
    opts = cfg.options
    fit_options = {
        "step": opts.step,
        "tolerance": opts.tolerance,
        "max_nfev": opts.max_nfev,
        "mcmc": opts.mcmc.model_dump() if opts.mcmc else None,
    }
    clock = time.perf_counter()
    steps = len(spec.targets) * len(spec.models)
    with open_executor(opts.scheduler, workers) as executor:
        targets = [
            study_target(
                problem,
                free,
                spec,
                t,
                executor,
                progress,
                (k * len(spec.models), steps),
                **fit_options,
            )
            for k, t in enumerate(spec.targets)
        ]
    if progress is not None:
        progress(steps, steps, "done")
    data = json_safe(
        {
            "targets": targets,
            "wall_time_s": time.perf_counter() - clock,
            "landscape": spec.model_dump(),
            "input": record,
        }
    )
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        record_text = json.dumps(data, indent=1, allow_nan=False)
        write_atomic(out / "landscape.json", lambda tmp: tmp.write_text(record_text))
        selection = "\n\n".join(table_text(t) for t in targets) + "\n"
        write_atomic(out / "selection.txt", lambda tmp: tmp.write_text(selection))
        if figures:
            save_figures(data, out)
        else:  # never the figures of an earlier study beside this one
            for name in FIGURES:
                (out / f"{name}.png").unlink(missing_ok=True)
    return data


def recovery_truth(shape: str = "sin2", occupancy: float = 0.8) -> dict[str, Any]:
    """The config of a synthetic-recovery truth: the quick example with stage 2's Rb law of
    ``shape`` (``"sin2"``, ``"gaussian"`` or ``"constant"``) and ``occupancy`` (θ)."""
    from caitlab.config import experiment_to_dict
    from caitlab.examples import load_example

    config = experiment_to_dict(load_example("quick-double-cait"))
    rb = config["stages"][1]["diffusivity"]["Rb"]
    rb["occupancy"] = occupancy
    if shape == "gaussian":
        rb["shape"] = "gaussian"
    elif shape == "constant":
        config["stages"][1]["diffusivity"]["Rb"] = {
            "model": "constant",
            "d": rb["d_ref"],
            "falloff": rb["falloff"],
        }
    return config


#: the figures of a study (``<name>.png``)
FIGURES = ("dn", "psed", "weight")


def save_figures(data: dict[str, Any], out: Path) -> None:
    """``dn.png``, ``psed.png`` and ``weight.png`` of a landscape record."""
    from caitlab.plot import landscape as plots

    draws: dict[str, Any] = {
        "dn": plots.dn_bands,
        "psed": plots.psed_figure,
        "weight": plots.weight_curves,
    }
    for name in FIGURES:
        fig = draws[name](data["targets"])
        write_atomic(out / f"{name}.png", partial(_save_png, figure=fig))


def _save_png(path: Path, figure: Any) -> None:
    figure.savefig(path, format="png", dpi=110)


__all__ = [
    "LandscapeSpec",
    "TargetSpec",
    "recovery_truth",
    "run_landscape",
    "study_target",
    "table_text",
]
