"""Reporting a fit: JSON, text, the best-fit run, and a figure of data, model and residuals.

:func:`save_fit` writes into one folder, each file atomically
(:func:`caitlab.results.write_atomic`) and each recording what produced it (the full input,
the caitlab version, the date):

``fit.json``   best values, standard errors, correlations, intervals, statistics
``report.txt`` the same for a human (lmfit's fit report plus caitlab's)
``best/``      the best-fit simulation (``result.nc``, ``summary.json``)
``fit.png``    data (with error bars) vs model, normalised residuals, fitted values

In ``fit.json`` parameters, correlations, intervals and the posterior are keyed by the
parameter's name where one was given (``name = "D_Cs"``), else by its path; each parameter
entry keeps its ``path``, its SI ``unit`` and the ``display_unit`` the reports use (nm for
lengths; values stay SI in the file).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from caitlab._json import json_safe
from caitlab._version import __version__
from caitlab.results import write_atomic

if TYPE_CHECKING:
    from caitlab.fit.fitting import FitResult


def _float(value: Any) -> float | None:
    """``value`` as a float (an integer bound is written ``0.0``), None kept."""
    return None if value is None else float(value)


#: how reports show each kind of quantity: (unit, factor from SI), in the field's natural
#: unit (nm, meV, h, mC)
DISPLAY = {
    "length": ("nm", 1e9),
    "diffusivity": ("m²/s", 1.0),
    "energy": ("meV", 1e3),
    "time": ("h", 1 / 3600.0),
    "temperature": ("K", 1.0),
    "voltage": ("V", 1.0),
    "density": ("m⁻³", 1.0),
    "charge": ("mC", 1e3),
    "current": ("A", 1.0),
    "area": ("m²", 1.0),
    "rate": ("m/s", 1.0),
    None: ("", 1.0),
}


def parameter_key(spec: Any) -> str:
    """The key of a parameter in ``fit.json``: its name where one was given, else its path."""
    from caitlab.params import safe_name

    return spec.path if spec.name == safe_name(spec.path) else spec.name


def parameter_unit(fit: FitResult, path: str) -> tuple[str, str, float]:
    """(SI unit, display unit, display factor) of the number at ``path``."""
    from caitlab.fit.config import parameter_kind
    from caitlab.units import CANONICAL

    try:
        kind = parameter_kind(dict(fit.problem.config), path)
    except (KeyError, ValueError, TypeError):
        kind = None
    unit, factor = DISPLAY.get(kind, ("", 1.0))
    return ("" if kind is None else CANONICAL.get(kind, "")), unit, factor


def format_value(value: float | None, stderr: float | None, unit: str, factor: float) -> str:
    """``3.1e-23 ± 4e-25 m²/s``, ``8.02 ± 0.11 nm``: a value in its display unit."""
    if value is None:
        return "–"
    shown = f"{value * factor:.4g}"
    if stderr is not None:
        shown += f" ± {stderr * factor:.2g}"
    return f"{shown} {unit}".rstrip()


def _parameter_entries(fit: FitResult) -> dict[str, dict[str, Any]]:
    params = fit.result.params
    out = {}
    for spec in fit.free:
        par = params[spec.name]
        unit, display, factor = parameter_unit(fit, spec.path)
        out[parameter_key(spec)] = {
            "path": spec.path,
            "name": spec.name,
            "unit": unit,
            "display_unit": display,
            "display_factor": factor,
            "value": _float(par.value),
            "stderr": _float(par.stderr),
            "initial": _float(fit.initial[spec.path]),
            "min": _float(spec.min),
            "max": _float(spec.max),
            "log": spec.log,
            "expr": spec.expr,
            "vary": spec.vary and spec.expr is None,
        }
    return out


def _correlations(fit: FitResult) -> dict[str, dict[str, float]]:
    path_of = {s.lmfit_name: parameter_key(s) for s in fit.free}
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
            "stage": p.stage,
            "species": list(p.species),
            "n_points": int(p.depth_m.size),
            "chisqr": chi2,
            "weights": "counting" if p.sigma_given else "fallback",
            "weights_estimated": fit.problem.estimated.get(p.name),
            "surface": fit.problem.surface_of(p.name),
            "min_depth_m": float(p.depth_m.min()),
            "max_depth_m": float(p.depth_m.max()),
        }
    charges = {
        c.stage: {
            "measured_C": c.charge_C,
            "sigma_C": c.sigma_C,
            "model_C": run.stage(c.stage).charge_C,
        }
        for c in fit.problem.charges
    }
    traces = {}
    for t in fit.problem.traces:
        r = t.residual(run)
        traces[t.name] = {
            "quantity": t.quantity,
            "n_points": int(t.time_s.size),
            "sigma": t.sigma,
            "source": t.log.source,
            "chisqr": float(np.sum(r**2)),
        }
    return {"profiles": profiles, "charges": charges, "electrometer": traces}


def _rekeyed(fit: FitResult, by_path: dict[str, Any]) -> dict[str, Any]:
    key = {s.path: parameter_key(s) for s in fit.free}
    return {key.get(k, k): v for k, v in by_path.items()}


def _posterior(fit: FitResult) -> dict[str, Any] | None:
    if not fit.mcmc:
        return None
    out = {k: v for k, v in fit.mcmc.items() if k != "samples"}
    key = {s.path: parameter_key(s) for s in fit.free}
    out["parameters"] = _rekeyed(fit, out.get("parameters", {}))
    out["sample_names"] = [key.get(n, n) for n in out["sample_names"]]
    return out


def fit_to_dict(fit: FitResult) -> dict[str, Any]:
    """Everything ``fit.json`` holds, JSON-ready (non-finite numbers are None)."""
    res = fit.result
    posterior = _posterior(fit)
    return json_safe(
        {
            "parameters": _parameter_entries(fit),
            "correlations": _correlations(fit),
            "redchi": _float(res.redchi),
            "chisqr": _float(res.chisqr),
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
            "covariance_scaled": fit.covariance_scaled,
            "weights_estimated": dict(fit.problem.estimated),
            "conf_intervals": _rekeyed(fit, fit.conf_intervals),
            "mcmc": posterior,
            "sample_names": None if posterior is None else list(posterior["sample_names"]),
            **_observations(fit),
            "caitlab_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "input": fit.input,
        }
    )


def fit_report(fit: FitResult) -> str:
    """A text report: caitlab's summary, parameters by path, then lmfit's fit report."""
    data = fit_to_dict(fit)
    lines = [
        f"caitlab {__version__} fit, {data['created']}",
        f"success: {data['success']} ({data['message']})",
        f"chi-square {shown(data['chisqr'], '.6g')}, reduced {shown(data['redchi'], '.6g')}, "
        f"{data['n_data']} data, {data['n_varied']} varied",
        f"simulations: {data['n_simulations']} ({data['n_failed']} failed), "
        f"wall time {data['wall_time_s']:.1f} s",
    ]
    lines += uncertainty_notes(data)
    lines += ["", "parameters:"]
    lines += ["  " + line for line in parameter_lines(data)]
    units = {k: (e["display_unit"], e["display_factor"]) for k, e in data["parameters"].items()}
    for key, rows in data["conf_intervals"].items():
        unit, factor = units.get(key, ("", 1.0))
        ranges = ", ".join(
            f"p={r['probability']:.4g} "
            f"[{shown(r['lower'], '.4g', factor)}, {shown(r['upper'], '.4g', factor)}]"
            for r in rows[1:]
        )
        lines.append(f"  interval {key} ({unit}): {ranges}")
    for failure in data["failures"]:
        lines.append(f"  failed simulation at {failure['values']}: {failure['reason']}")
    lines += ["", lmfit_report(fit), "", "[[Input]] (also in fit.json)"]
    lines.append(json.dumps(data["input"], indent=1, default=str))
    return "\n".join(lines) + "\n"


def lmfit_report(fit: FitResult, **options: Any) -> str:
    """lmfit's fit report (:func:`lmfit.fit_report`) with each parameter under its
    ``fit.json`` key: the path where no name was given (``stages.Rb-CAIT.diffusivity.Rb.d``,
    not lmfit's ``stages_Rb_CAIT_diffusivity_Rb_d``; a log parameter's varied value is
    ``log10_<key>``). Values are lmfit's, in SI (log10 of SI for a log parameter).

    Parameters
    ----------
    fit : FitResult
        The finished fit.
    **options
        Passed to :func:`lmfit.fit_report` (``show_correl``, ``min_correl``, ``sort_pars``).
    """
    import re

    import lmfit

    from caitlab.fit.parameters import LOG_PREFIX

    text = lmfit.fit_report(fit.result, **options)
    renames: dict[str, str] = {}
    for spec in fit.free:
        key, name = parameter_key(spec), str(spec.name)
        if key != name:
            renames[name] = key
            renames[LOG_PREFIX + name] = LOG_PREFIX + key
    if not renames:
        return text
    # the path has the length of its lmfit name, so lmfit's columns stay aligned
    names = "|".join(map(re.escape, sorted(renames, key=len, reverse=True)))
    pattern = re.compile(rf"(?<![\w.])({names})(?!\w)")
    return pattern.sub(lambda m: renames[m.group(1)], text)


def shown(value: float | None, spec: str, factor: float = 1.0) -> str:
    """``value * factor`` formatted, ``–`` for a number ``fit.json`` could not hold."""
    return "–" if value is None else format(value * factor, spec)


def uncertainty_notes(data: dict[str, Any]) -> list[str]:
    """Lines saying where the weights are estimates and how the errors were scaled."""
    lines = [f"note: profile {name}: {why}" for name, why in data["weights_estimated"].items()]
    if data["covariance_scaled"]:
        lines.append("standard errors scaled by sqrt(reduced chi-square) (weights relative)")
    else:
        lines.append("standard errors from the counting weights as given (not scaled)")
    return lines


def parameter_lines(data: dict[str, Any]) -> list[str]:
    """``D_Cs = 3.1e-23 ± 4e-25 m²/s  (stages.Cs-CAIT.diffusivity.Cs.d)``, one per parameter."""
    lines = []
    for key, e in data["parameters"].items():
        tag = f" = {e['expr']}" if e["expr"] else ("" if e["vary"] else " (fixed)")
        shown = format_value(e["value"], e["stderr"], e["display_unit"], e["display_factor"])
        where = "" if key == e["path"] else f"  ({e['path']})"
        lines.append(f"{key}{tag} = {shown}{where}")
    return lines


def _write_text(path: Path, text: str) -> None:
    write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _save_array(path: Path, array: np.ndarray) -> None:
    """``array`` as ``.npy`` into ``path`` (whatever its suffix), closed and checked."""
    with open(path, "wb") as handle:
        np.save(handle, array)


def save_fit(fit: FitResult, directory: str | os.PathLike, *, figure: bool = True) -> Path:
    """Write ``fit.json``, ``report.txt``, ``best/`` and (optionally) ``fit.png``.

    A rerun into the same folder removes ``samples.npy`` and ``fit.png`` of an earlier fit
    that this one does not write.

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
    _write_text(
        out / "fit.json", json.dumps(fit_to_dict(fit), indent=2, default=str, allow_nan=False)
    )
    if fit.mcmc and np.size(fit.mcmc["samples"]):
        # the flat MCMC chain: caitlab report draws its corner plot
        write_atomic(out / "samples.npy", partial(_save_array, array=fit.mcmc["samples"]))
    else:  # never a chain of an earlier fit beside this one
        (out / "samples.npy").unlink(missing_ok=True)
    _write_text(out / "report.txt", fit_report(fit))
    if figure and fit.best_run is not None:
        from caitlab.plot.style import paper

        with paper():
            canvas = fit_figure(fit)
            metadata = {
                "Software": f"caitlab {__version__}",
                "Creation Time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "Description": json.dumps(fit.input, default=str),
            }
            write_atomic(
                out / "fit.png",
                lambda tmp: canvas.savefig(tmp, format="png", dpi=120, metadata=metadata),
            )
    else:  # never the figure of an earlier fit beside this one
        (out / "fit.png").unlink(missing_ok=True)
    return out


def fit_figure(fit: FitResult) -> Any:
    """The figure of ``fit.png``: one column per profile (and electrometer curve)."""
    from matplotlib.figure import Figure  # no pyplot: works without a display

    n = len(fit.problem.profiles) + len(fit.problem.traces)
    canvas = Figure(figsize=(4.2 * n + 1.6, 5.2), layout="constrained")
    axes = canvas.subplots(
        2,
        n,
        squeeze=False,
        sharex="col",
        gridspec_kw={"height_ratios": [3, 1]},
    )
    plot_fit(fit, axes)
    return canvas


def _fitted_values_text(fit: FitResult) -> str:
    """The varied parameters with their units, one per line (under the fit figure)."""
    varied = {k: v for k, v in _parameter_entries(fit).items() if v["vary"]}
    return "\n".join(parameter_lines({"parameters": varied}))


def plot_fit(fit: FitResult, axes: Any = None) -> Any:
    """Measured fractions (error bars) and best-fit model (lines), normalised residuals.

    The fitted values with their standard errors are written under the first panel;
    electrometer curves, if fitted, get a column of their own.

    Parameters
    ----------
    fit : FitResult
        A fit with a best-fit simulation.
    axes : ndarray of matplotlib Axes, optional
        Shape (2, n_profiles + n_traces); new ones if None.

    Returns
    -------
    ndarray of Axes
        Row 0 data and model, row 1 residuals (model - data) / sigma.
    """
    from caitlab.plot.style import CHARGE_COLOUR, MEASURED_MARKER, legend_outside, species_colour

    profiles = fit.problem.profiles
    n = len(profiles) + len(fit.problem.traces)
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(
            2,
            n,
            figsize=(4.2 * n + 1.6, 5.2),
            squeeze=False,
            layout="constrained",
            sharex="col",
            gridspec_kw={"height_ratios": [3, 1]},
        )
    models = fit.problem.models(fit.best_run, fit.best_values)
    for k, p in enumerate(profiles):
        top, bottom = axes[0, k], axes[1, k]
        depth_nm = p.depth_m * 1e9
        for i, s in enumerate(p.species):
            colour = species_colour(s, i)
            top.plot(depth_nm, models[p.name][s], color=colour, label=f"{s} model")
            top.errorbar(
                depth_nm,
                p.fractions[s],
                yerr=p.sigma[s],
                color=colour,
                label=f"{s} measured",
                **MEASURED_MARKER,
            )
            bottom.plot(
                depth_nm, (models[p.name][s] - p.fractions[s]) / p.sigma[s], ".", color=colour, ms=3
            )
        top.set_title(p.name if p.name == p.stage else f"{p.name} (after {p.stage})")
        top.set_ylabel("fraction $n_i/n_0$")
        bottom.set_xlabel("depth (nm)")
        bottom.set_ylabel("(model − data)/σ")
    for k, t in enumerate(fit.problem.traces, start=len(profiles)):
        top, bottom = axes[0, k], axes[1, k]
        scale, unit = (1e9, "nA") if t.quantity == "current" else (1e3, "mC")
        hours = t.time_s / 3600.0
        top.errorbar(
            hours,
            t.values * scale,
            yerr=t.sigma * scale,
            color="k",
            label="measured",
            **MEASURED_MARKER | {"ms": 2},
        )
        top.plot(hours, t.model(fit.best_run) * scale, color=CHARGE_COLOUR, label="model")
        bottom.plot(hours, t.residual(fit.best_run), ".", color="k", ms=2)
        top.set_title(f"{t.name}: {t.quantity}")
        top.set_ylabel(f"{t.quantity} ({unit})")
        bottom.set_xlabel("time (h)")
        bottom.set_ylabel("(model − data)/σ")
    for k in range(n):
        axes[1, k].axhline(0.0, color="0.5", lw=0.8)
        legend_outside(axes[0, k])
    axes[0, 0].figure.text(
        0.0,
        -0.01,
        _fitted_values_text(fit),
        ha="left",
        va="top",
        fontsize="small",
        family="monospace",
    )
    return axes


__all__ = [
    "fit_figure",
    "fit_report",
    "fit_to_dict",
    "format_value",
    "lmfit_report",
    "parameter_key",
    "parameter_lines",
    "plot_fit",
    "save_fit",
]
