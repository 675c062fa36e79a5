"""Reporting a fit: JSON, text, the best-fit run, and a figure of data, model and residuals.

:func:`save_fit` writes into one folder, each file atomically
(:func:`caitlab.results.write_atomic`) and each recording what produced it (the full input,
the caitlab version, the date):

``fit.json``   best values, standard errors, correlations, intervals, statistics
``report.txt`` the same for a human (lmfit's fit report plus caitlab's)
``best/``      the best-fit simulation (``result.nc``, ``summary.json``)
``fit.png``    data vs model with normalised residuals
"""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from caitlab._version import __version__
from caitlab.results import write_atomic

if TYPE_CHECKING:
    from caitlab.fit.fitting import FitResult


def _number(value: Any) -> float | None:
    """A JSON-safe float (None for missing or non-finite)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _parameter_entries(fit: FitResult) -> dict[str, dict[str, Any]]:
    params = fit.result.params
    out = {}
    for spec in fit.free:
        par = params[spec.name]
        out[spec.path] = {
            "name": spec.name,
            "value": _number(par.value),
            "stderr": _number(par.stderr),
            "initial": _number(fit.initial[spec.path]),
            "min": _number(spec.min),
            "max": _number(spec.max),
            "log": spec.log,
            "expr": spec.expr,
            "vary": spec.vary and spec.expr is None,
        }
    return out


def _correlations(fit: FitResult) -> dict[str, dict[str, float]]:
    path_of = {s.lmfit_name: s.path for s in fit.free}
    out: dict[str, dict[str, float]] = {}
    for name in fit.result.var_names:
        correl = fit.result.params[name].correl or {}
        out[path_of[name]] = {path_of[k]: float(v) for k, v in correl.items() if k in path_of}
    return out


def _observations(fit: FitResult) -> dict[str, Any]:
    """Per-profile chi-square and charges, measured against best-fit model."""
    run = fit.best_run
    if run is None:
        return {}
    models = fit.problem.models(run, fit.best_values)
    profiles = {}
    for p in fit.problem.profiles:
        chi2 = sum(
            float(np.sum(((models[p.name][s] - p.fractions[s]) / p.sigma[s]) ** 2))
            for s in p.species
        )
        profiles[p.name] = {
            "stage": p.stage, "species": list(p.species), "n_points": int(p.depth_m.size),
            "chisqr": chi2, "weights": "counting" if p.sigma_given else "fallback",
        }  # fmt: skip
    charges = {
        c.stage: {"measured_C": c.charge_C, "sigma_C": c.sigma_C,
                  "model_C": run.stage(c.stage).charge_C}
        for c in fit.problem.charges
    }
    return {"profiles": profiles, "charges": charges}


def fit_to_dict(fit: FitResult) -> dict[str, Any]:
    """Everything ``fit.json`` holds, JSON-ready."""
    res = fit.result
    return {
        "parameters": _parameter_entries(fit),
        "correlations": _correlations(fit),
        "redchi": _number(res.redchi),
        "chisqr": _number(res.chisqr),
        "n_data": int(res.ndata),
        "n_varied": int(res.nvarys),
        "success": bool(res.success) and fit.best_run is not None,
        "message": str(res.message),
        "method": str(res.method),
        "nfev": int(res.nfev),
        "n_simulations": fit.n_simulations,
        "n_failed": len(fit.failures),
        "failures": [{"values": f.values, "reason": f.reason} for f in fit.failures],
        "wall_time_s": fit.wall_time_s,
        "conf_intervals": fit.conf_intervals,
        "mcmc": {k: v for k, v in fit.mcmc.items() if k != "samples"} if fit.mcmc else None,
        "sample_names": fit.mcmc["sample_names"] if fit.mcmc else None,
        **_observations(fit),
        "caitlab_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "input": fit.input,
    }


def fit_report(fit: FitResult) -> str:
    """A text report: caitlab's summary, parameters by path, then lmfit's fit report."""
    data = fit_to_dict(fit)
    lines = [
        f"caitlab {__version__} fit, {data['created']}",
        f"success: {data['success']} ({data['message']})",
        f"chi-square {data['chisqr']:.6g}, reduced {data['redchi']:.6g}, "
        f"{data['n_data']} data, {data['n_varied']} varied",
        f"simulations: {data['n_simulations']} ({data['n_failed']} failed), "
        f"wall time {data['wall_time_s']:.1f} s",
        "",
        "parameters (canonical units: m, s, m^2/s, eV):",
    ]
    for path, entry in data["parameters"].items():
        err = entry["stderr"]
        shown = f" +/- {err:.3g}" if err is not None else ""
        tag = f" = {entry['expr']}" if entry["expr"] else ("" if entry["vary"] else " (fixed)")
        lines.append(
            f"  {path} [{entry['name']}{tag}]: {entry['value']:.6g}{shown} "
            f"(initial {entry['initial']:.6g})"
        )
    for path, rows in data["conf_intervals"].items():
        ranges = ", ".join(
            f"p={r['probability']:.4g} [{r['lower']:.4g}, {r['upper']:.4g}]" for r in rows[1:]
        )
        lines.append(f"  interval {path}: {ranges}")
    for failure in data["failures"]:
        lines.append(f"  failed simulation at {failure['values']}: {failure['reason']}")
    import lmfit

    lines += ["", lmfit.fit_report(fit.result), "", "[[Input]] (also in fit.json)"]
    lines.append(json.dumps(data["input"], indent=1, default=str))
    return "\n".join(lines) + "\n"


def _write_text(path: Path, text: str) -> None:
    write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def save_fit(fit: FitResult, directory: str | os.PathLike, *, figure: bool = True) -> Path:
    """Write ``fit.json``, ``report.txt``, ``best/`` and (optionally) ``fit.png``.

    Parameters
    ----------
    fit : FitResult
        The finished fit.
    directory : path-like
        Output folder (created).
    figure : bool
        Also draw ``fit.png`` (needs matplotlib).

    Returns
    -------
    Path
        The folder.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    if fit.best_run is not None:
        fit.best_run.save(out / "best")
    _write_text(out / "fit.json", json.dumps(fit_to_dict(fit), indent=2, default=str))
    if fit.mcmc and np.size(fit.mcmc["samples"]):
        # the flat MCMC chain: caitlab report draws its corner plot
        write_atomic(out / "samples.npy", lambda tmp: np.save(open(tmp, "wb"), fit.mcmc["samples"]))
    _write_text(out / "report.txt", fit_report(fit))
    if figure and fit.best_run is not None:
        from matplotlib.figure import Figure  # no pyplot: works without a display

        canvas = Figure(figsize=(5.5 * len(fit.problem.profiles), 6), layout="constrained")
        axes = canvas.subplots(
            2, len(fit.problem.profiles), squeeze=False, sharex="col",
            gridspec_kw={"height_ratios": [3, 1]},
        )  # fmt: skip
        plot_fit(fit, axes)
        metadata = {
            "Software": f"caitlab {__version__}",
            "Creation Time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "Description": json.dumps(fit.input, default=str),
        }
        write_atomic(
            out / "fit.png",
            lambda tmp: canvas.savefig(tmp, format="png", dpi=120, metadata=metadata),
        )
    return out


def plot_fit(fit: FitResult, axes: Any = None) -> Any:
    """Measured fractions (points) and best-fit model (lines), with normalised residuals.

    Parameters
    ----------
    fit : FitResult
        A fit with a best-fit simulation.
    axes : ndarray of matplotlib Axes, optional
        Shape (2, n_profiles); new ones if None.

    Returns
    -------
    ndarray of Axes
        Row 0 profiles, row 1 residuals (model - data) / sigma, per profile.
    """
    import matplotlib.pyplot as plt

    profiles = fit.problem.profiles
    if axes is None:
        _, axes = plt.subplots(
            2, len(profiles), figsize=(5.5 * len(profiles), 6), squeeze=False,
            sharex="col", gridspec_kw={"height_ratios": [3, 1]},
        )  # fmt: skip
    models = fit.problem.models(fit.best_run, fit.best_values)
    for k, p in enumerate(profiles):
        top, bottom = axes[0, k], axes[1, k]
        depth_nm = p.depth_m * 1e9
        for s in p.species:
            (line,) = top.plot(depth_nm, models[p.name][s], label=f"{s} model")
            top.plot(depth_nm, p.fractions[s], ".", color=line.get_color(), ms=3,
                     label=f"{s} measured")  # fmt: skip
            bottom.plot(depth_nm, (models[p.name][s] - p.fractions[s]) / p.sigma[s], ".",
                        color=line.get_color(), ms=3)  # fmt: skip
        top.set_title(p.name if p.name == p.stage else f"{p.name} (after {p.stage})")
        top.set_ylabel("fraction")
        top.legend(fontsize="small", ncol=2)
        bottom.axhline(0.0, color="0.5", lw=0.8)
        bottom.set_xlabel("depth (nm)")
        bottom.set_ylabel("(model - data) / σ")
    return axes


__all__ = ["fit_report", "fit_to_dict", "plot_fit", "save_fit"]
