"""A self-contained HTML report of a run (and of a fit): inputs, summary tables, all figures.

Figures are embedded as base64 PNG, so the page is one file that can be mailed or archived.
A fit folder contributes ``fit.json`` (``{"parameters": {name: {"value", "stderr",
"initial", "min", "max"}}, "redchi", "success"}``, optionally ``"mcmc": {"parameters":
{name: {"median", "lower_1sigma", "upper_1sigma"}}}``), and if present MCMC samples
(``samples.npy`` of shape (n, k), names from ``fit.json["sample_names"]`` or the parameter
order; or ``samples.csv`` with a header) and a sweep (``sweep.nc`` holding a 2-D
``misfit`` variable, or ``sweep.csv``/``table.csv`` with parameter columns and a misfit
column, as :mod:`caitlab.sweep` writes), and ``fit.png``, embedded as it is.

The page is built from the Jinja2 templates ``caitlab/templates/report.html.j2`` (the page)
and ``fit.html.j2`` (the fit: parameters with their units, standard errors, profile
likelihood intervals, the posterior's medians and intervals, chi-square per observation,
correlations with the strong ones highlighted). A fit made on another experiment than the
run is refused (:class:`ReportError`): the page would mix numbers that do not belong
together.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from caitlab.plot._common import SECONDS_PER_HOUR, new_figure
from caitlab.storage import write_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from caitlab.results import Result

#: correlations at least this strong (in absolute value) are highlighted
STRONG_CORRELATION = 0.9


class ReportError(ValueError):
    """A report that cannot be made as asked (e.g. a fit of another experiment)."""


def _templates() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("caitlab", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
    )


#: figure captions of the report, by :func:`caitlab.plot.standard_figures` name
CAPTIONS = {
    "profiles": "Fractions n_i/n0 versus depth at the end of each stage (sum in black).",
    "profiles_log": "The same on a logarithmic axis: traces and tails.",
    "diffusivity": "D(n) of every species in every stage (line style: stage); triangles: "
    "fall-off thresholds; broad bands: densities visited in the run.",
    "energy_landscape": "Site-energy distributions, their filled parts and ionic Fermi "
    "levels before, and after each stage, inside the replacement zone "
    "(cf. the paper's Fig. 2).",
    "traces": "Back-electrode current, transferred charge and surface potential versus time.",
    "potential": "Potential and space charge versus depth at the end of each stage.",
    "misfit_map": "Misfit of the parameter sweep; the star is its minimum.",
    "corner": "MCMC posterior samples (corner package): marginal histograms (16/50/84 % "
    "quantiles dashed) and pairwise 2-D histograms.",
    "fit": "The fit (fit.png): measured fractions with their error bars, the best-fit model, "
    "normalised residuals and the fitted values.",
}


def figure_png(fig: Figure, dpi: int = 110) -> str:
    """A figure as base64-encoded PNG text."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.05)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def load_fit(fit_dir: str | os.PathLike) -> dict[str, Any]:
    """Read a fit folder: ``fit.json`` plus ``samples``/``sample_names`` and ``sweep`` if present.

    Raises
    ------
    FileNotFoundError
        If ``fit_dir/fit.json`` does not exist.
    """
    folder = Path(fit_dir)
    path = folder / "fit.json"
    if not path.exists():
        raise FileNotFoundError(f"no fit.json in {folder}: give the folder a fit wrote")
    fit = json.loads(path.read_text())
    if (folder / "fit.png").exists():
        fit["fit_png"] = (folder / "fit.png").read_bytes()
    if (folder / "samples.npy").exists():
        samples = np.load(folder / "samples.npy")
        fit["samples"] = samples
        fit.setdefault("sample_names", list(fit.get("parameters", {}))[: samples.shape[1]])
    elif (folder / "samples.csv").exists():
        names = (folder / "samples.csv").read_text().splitlines()[0].split(",")
        fit["samples"] = np.loadtxt(folder / "samples.csv", delimiter=",", skiprows=1, ndmin=2)
        fit["sample_names"] = [n.strip() for n in names]
    if (folder / "sweep.nc").exists():
        import xarray as xr

        with xr.open_dataset(folder / "sweep.nc") as sweep:
            fit["sweep"] = sweep["misfit"].load()
    else:
        table = next(
            (folder / n for n in ("sweep.csv", "table.csv") if (folder / n).exists()), None
        )
        if table is not None:
            from caitlab.sweep import read_sweep_table

            fit["sweep"] = read_sweep_table(table)
    return fit


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], names: int = 1) -> str:
    """An HTML table; the first ``names`` columns are left-aligned text."""

    def cell(tag: str, k: int, value: Any) -> str:
        cls = ' class="name"' if k < names else ""
        text = value if isinstance(value, str) else _number(value)
        return f"<{tag}{cls}>{text}</{tag}>"

    head = "".join(cell("th", k, html.escape(h)) for k, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(cell("td", k, v) for k, v in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else '<span class="bad">no</span>'
    if isinstance(value, (int, np.integer)):
        return str(value)
    return f"{float(value):.4g}"


def summary_tables(
    result: Result, measured_charges: Mapping[str, float] | Sequence[float] | None = None
) -> str:
    """HTML tables of the run's summary: per stage, and inventories per species.

    Measured charges per stage (C; by stage name or in stage order) add a column.
    """
    summary = result.summary()
    stages = summary["stages"]
    if measured_charges is not None and not isinstance(measured_charges, Mapping):
        measured_charges = {s["name"]: q for s, q in zip(stages, measured_charges)}
    rows = [
        [
            html.escape(s["name"]),
            s["duration_s"] / SECONDS_PER_HOUR,
            s["temperature_K"],
            s["charge_C"] * 1e3,
            s["cumulative_charge_C"] * 1e3,
            s["surface_potential_end_V"],
            s["conservation_rel_error"],
            s["min_density_fraction"],
            f"{s['n_steps']} ({s['n_rejected']})",
            s["wall_time_s"],
        ]
        for s in stages
    ]
    header = [
        "stage",
        "duration (h)",
        "T (K)",
        "charge (mC)",
        "cumulative (mC)",
        "surface potential at end (V)",
        "conservation error (rel.)",
        "min n/n0",
        "steps (rejected)",
        "wall time (s)",
    ]
    if measured_charges is not None:
        header.insert(4, "measured charge (mC)")
        for row, s in zip(rows, stages):
            q = measured_charges.get(s["name"])
            row.insert(4, None if q is None else q * 1e3)
    out = _table(header, rows, names=1)
    n0 = result.experiment.sample.mobile_ion_density
    rows = []
    for s in stages:
        for species, inventory in s["inventory_m2"].items():
            rows.append(
                [
                    html.escape(s["name"]),
                    html.escape(species),
                    inventory,
                    inventory / n0 * 1e9,
                    s["inflow_m2"][species],
                    s["outflow_m2"][species],
                ]
            )
    out += (
        "<p>Inventories at the end of each stage; the equivalent depth is the inventory "
        "as a layer at n0.</p>"
    )
    out += _table(
        [
            "stage",
            "species",
            "inventory (m⁻²)",
            "equivalent depth at n0 (nm)",
            "in through the front (m⁻²)",
            "out through the back (m⁻²)",
        ],
        rows,
        names=2,
    )
    run: list[list[Any]] = [
        ["cells", summary.get("n_cells")],
        ["time steps", summary.get("n_steps")],
        ["wall time (s)", summary.get("wall_time_s")],
        ["caitlab version", html.escape(result.version)],
        ["created", html.escape(result.created)],
    ]
    return out + _table(["run", ""], run, names=2)


def _unit(p: Mapping[str, Any]) -> tuple[str, float]:
    return p.get("display_unit", p.get("unit", "")) or "", p.get("display_factor", 1.0) or 1.0


def _scaled(value: Any, factor: float) -> str:
    return _number(None if value is None else value * factor)


def _parameter_rows(fit: Mapping[str, Any], levels: list[str]) -> list[dict[str, Any]]:
    mcmc = (fit.get("mcmc") or {}).get("parameters", {})
    rows = []
    for key, p in fit.get("parameters", {}).items():
        unit, f = _unit(p)
        value, stderr = p.get("value"), p.get("stderr")
        relative = f"{100 * abs(stderr / value):.3g} %" if value and stderr is not None else "–"
        intervals = []
        for level in levels:
            row = next(
                (
                    r
                    for r in (fit.get("conf_intervals") or {}).get(key, [])
                    if f"{r['probability']:.4g}" == level
                ),
                None,
            )
            intervals.append(
                "–" if row is None else f"[{_scaled(row['lower'], f)}, {_scaled(row['upper'], f)}]"
            )
        m = mcmc.get(key, {})
        posterior = [
            _scaled(m.get(q), f)
            for q in ("median", "lower_1sigma", "upper_1sigma", "lower_2sigma", "upper_2sigma")
        ]
        rows.append(
            {
                "key": key,
                "unit": unit or "1",
                "value": _scaled(value, f),
                "stderr": _scaled(stderr, f),
                "relative": relative,
                "intervals": intervals,
                "posterior": posterior,
                "initial": _scaled(p.get("initial"), f),
                "min": _scaled(p.get("min"), f),
                "max": _scaled(p.get("max"), f),
                "path": p.get("path", key),
            }
        )
    return rows


def _observation_rows(fit: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, o in (fit.get("profiles") or {}).items():
        n = o["n_points"] * len(o.get("species", [1]))
        weights = o.get("weights_estimated") or o.get("weights", "")
        rows.append(
            {
                "name": name,
                "kind": f"profile after {o.get('stage', '')}",
                "n": n,
                "chisqr": _number(o["chisqr"]),
                "per_point": _number(o["chisqr"] / n),
                "weights": weights,
            }
        )
    for name, o in (fit.get("electrometer") or {}).items():
        rows.append(
            {
                "name": name,
                "kind": f"electrometer {o['quantity']}",
                "n": o["n_points"],
                "chisqr": _number(o["chisqr"]),
                "per_point": _number(o["chisqr"] / o["n_points"]),
                "weights": f"σ = {o['sigma']:.3g} {_TRACE_UNIT[o['quantity']]}",
            }
        )
    for stage, c in (fit.get("charges") or {}).items():
        chi2 = ((c["model_C"] - c["measured_C"]) / c["sigma_C"]) ** 2
        rows.append(
            {
                "name": stage,
                "kind": "charge of the stage",
                "n": 1,
                "chisqr": _number(chi2),
                "per_point": _number(chi2),
                "weights": f"σ = {c['sigma_C'] * 1e3:.3g} mC",
            }
        )
    return rows


_TRACE_UNIT = {"current": "A", "charge": "C"}


def _correlation_rows(fit: Mapping[str, Any]) -> tuple[list[str], list[dict], list[str]]:
    correlations = {k: v for k, v in (fit.get("correlations") or {}).items() if v}
    names = list(correlations)
    rows, strong = [], set()
    for a in names:
        cells = []
        for b in names:
            r = 1.0 if a == b else correlations[a].get(b)
            hit = a != b and r is not None and abs(r) >= STRONG_CORRELATION
            if hit:
                strong.add(" – ".join(sorted((a, b))))
            cells.append({"text": _number(r), "strong": hit})
        rows.append({"name": a, "cells": cells})
    return names, rows, sorted(strong)


def fit_tables(fit: Mapping[str, Any]) -> str:
    """HTML of a fit (template ``fit.html.j2``): parameters with units, errors, intervals,
    the posterior, chi-square per observation, correlations (strong ones highlighted)."""
    from markupsafe import Markup

    levels = sorted(
        {
            f"{r['probability']:.4g}"
            for rows in (fit.get("conf_intervals") or {}).values()
            for r in rows[1:]
        }
    )
    status = [
        ("reduced χ²", _number(fit.get("redchi"))),
        ("converged", _number(fit.get("success"))),
    ]
    if "message" in fit:
        status.append(("message", html.escape(str(fit["message"]))))
    if fit.get("covariance_scaled") is not None:
        status.append(
            (
                "standard errors",
                "scaled by √(reduced χ²): the weights are relative"
                if fit["covariance_scaled"]
                else "from the counting weights as given",
            )
        )
    mcmc = fit.get("mcmc") or {}
    if mcmc.get("noise_scale") is not None:
        status.append(("MCMC noise scale", _number(mcmc["noise_scale"])))
    notes = [
        f"Profile {name}: {why}." for name, why in (fit.get("weights_estimated") or {}).items()
    ]
    names, rows, strong = _correlation_rows(fit)
    return (
        _templates()
        .get_template("fit.html.j2")
        .render(
            notes=notes,
            parameters=_parameter_rows(fit, levels),
            ci_levels=levels,
            mcmc=bool(mcmc.get("parameters")),
            status=[(k, Markup(v)) for k, v in status],
            observations=_observation_rows(fit),
            correlations=rows,
            correlation_names=names,
            strong=", ".join(strong),
            threshold=STRONG_CORRELATION,
        )
    )


def corner_figure(fit: Mapping[str, Any]) -> Figure:
    """Corner plot of the MCMC samples (:func:`caitlab.plot.fitting.corner`), in display
    units."""
    from matplotlib.figure import Figure

    from caitlab.plot.fitting import corner

    samples = np.asarray(fit["samples"], dtype=float)
    names = fit.get("sample_names") or [f"p{i}" for i in range(samples.shape[1])]
    params = fit.get("parameters", {})
    shown = [_unit(params.get(name, {})) for name in names]
    k = samples.shape[1]
    fig = Figure(figsize=(2.3 * k + 1.0, 2.3 * k + 1.0))
    corner(
        samples,
        names,
        units=[unit for unit, _ in shown],
        factors=[factor for _, factor in shown],
        fig=fig,
    )
    return fig


def fit_figures(fit: Mapping[str, Any]) -> dict[str, Figure]:
    """The misfit map of a sweep and the corner plot of MCMC samples, where present."""
    from caitlab.plot import misfit_map

    figures = {}
    if fit.get("sweep") is not None:
        fig = new_figure((5.6, 4.4))
        try:
            misfit_map(fit["sweep"], ax=fig.add_subplot())
        except (ValueError, StopIteration, IndexError):  # fewer than two parameters
            pass
        else:
            figures["misfit_map"] = fig
    samples = fit.get("samples")
    if samples is not None and np.ndim(samples) == 2 and len(samples):
        figures["corner"] = corner_figure(fit)
    return figures


def check_fit_matches(result: Result, fit: Mapping[str, Any]) -> None:
    """Refuse a fit made on another experiment than ``result``'s.

    Compared: the experiment's name, its stages and its species (a fit records them in
    ``fit.json["input"]["experiment"]``; older fit files without them are accepted).

    Raises
    ------
    ReportError
        Naming both experiments.
    """
    made_on = (fit.get("input") or {}).get("experiment")
    if not isinstance(made_on, Mapping):
        return
    mine = (
        result.experiment.name,
        list(result.stage_names),
        list(result.experiment.sample.species_names),
    )
    theirs = (
        made_on.get("name"),
        [s.get("name") for s in made_on.get("stages", [])],
        list((made_on.get("sample") or {}).get("species", [])),
    )
    if mine != theirs:
        raise ReportError(
            f"the fit was made on experiment {theirs[0]!r} (stages {theirs[1]}, species "
            f"{theirs[2]}), this run is {mine[0]!r} (stages {mine[1]}, species {mine[2]}): "
            "give the run the fit was made on (e.g. the fit folder's best/)"
        )


def _figure_html(name: str, png_base64: str, caption: str) -> str:
    return (
        f'<figure id="fig-{html.escape(name)}"><img alt="{html.escape(name)}" '
        f'src="data:image/png;base64,{png_base64}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _figures_html(figures: Mapping[str, Figure], dpi: int) -> str:
    parts = []
    for name, fig in figures.items():
        caption = CAPTIONS.get(name) or (
            f"Simulated (lines, broadened by the profile's response) and measured (markers "
            f"with counting error bars) fractions, {name[9:]}."
            if name.startswith("profiles_")
            else name
        )
        parts.append(_figure_html(name, figure_png(fig, dpi), caption))
    return "\n".join(parts)


def _measured_html(measured: Any, electrometer: Any) -> str:
    """A table of the measured data given to the report: what, where from, how weighted."""
    from caitlab.sims.measured import as_measured_profile

    rows = []
    for p in _profiles_of(measured):
        p = as_measured_profile(p)
        rows.append(
            [
                html.escape(p.name),
                html.escape(p.stage),
                html.escape(", ".join(p.species)),
                int(p.depth_m.size),
                float(p.depth_m.min() * 1e9),
                float(p.depth_m.max() * 1e9),
                "counting" if p.sigma_given else "fallback (estimated)",
            ]
        )
    out = (
        _table(
            ["profile", "after stage", "species", "points", "from (nm)", "to (nm)", "weights"],
            rows,
            names=3,
        )
        if rows
        else ""
    )
    if electrometer is not None:
        log = electrometer
        out += _table(
            ["electrometer log", "points", "from (h)", "to (h)", "charge at end (mC)", "derived"],
            [
                [
                    html.escape(log.source),
                    int(log.time_s.size),
                    log.time_s[0] / 3600,
                    log.time_s[-1] / 3600,
                    log.charge_C[-1] * 1e3,
                    html.escape(", ".join(log.derived) or "–"),
                ]
            ],
            names=1,
        )
    return out


def _profiles_of(measured: Any) -> list[Any]:
    if measured is None:
        return []
    if isinstance(measured, Mapping):
        from caitlab.sims.measured import as_measured_profile

        return [as_measured_profile(v, stage) for stage, v in measured.items()]
    return list(measured)


def build_report(
    result: Result,
    *,
    fit: Mapping[str, Any] | None = None,
    measured: Any = None,
    electrometer: Any = None,
    rms_nm: float | None = None,
    measured_charges: Mapping[str, float] | Sequence[float] | None = None,
    title: str | None = None,
    dpi: int = 110,
) -> str:
    """The report as one HTML string (Jinja2 template ``report.html.j2``).

    Parameters
    ----------
    result : caitlab.Result
        A run.
    fit : mapping, optional
        A fit as :func:`load_fit` reads it; it must be of the same experiment
        (:func:`check_fit_matches`).
    measured : sequence of MeasuredProfile or mapping, optional
        Measured profiles (or a mapping stage -> profile), each drawn against the model.
    electrometer : caitlab.electrometer.ElectrometerLog, optional
        The measured current and charge, overlaid on the traces.
    rms_nm, measured_charges : optional
        Broadening (nm rms, for profiles without their own response) and charges per
        stage (C), passed to :func:`caitlab.plot.standard_figures`.
    title : str, optional
        Page title; default from the experiment name.
    dpi : int
        Resolution of the embedded figures.

    Returns
    -------
    str
        A complete HTML document.

    Raises
    ------
    ReportError
        A fit of another experiment.
    """
    import caitlab.plot

    if fit is not None:
        check_fit_matches(result, fit)
    title = title or f"caitlab report: {result.experiment.name}"
    options: dict[str, Any] = {
        "measured": measured,
        "rms_nm": rms_nm,
        "measured_charges": measured_charges,
    }
    if electrometer is not None:
        options["electrometer"] = electrometer
    from caitlab.plot.style import paper

    sample = result.experiment.sample
    fit_html, fit_pictures = "", ""
    with paper():  # the paper style: no offset text, nothing clipped
        figures = _figures_html(caitlab.plot.standard_figures(result, **options), dpi)
        if fit is not None:
            fit_html = fit_tables(fit)
            if fit.get("fit_png"):
                fit_pictures = _figure_html(
                    "fit", base64.b64encode(fit["fit_png"]).decode("ascii"), CAPTIONS["fit"]
                )
            fit_pictures += _figures_html(fit_figures(fit), dpi)
    return (
        _templates()
        .get_template("report.html.j2")
        .render(
            title=title,
            stages=" → ".join(result.stage_names),
            n0=sample.mobile_ion_density,
            thickness_mm=sample.thickness * 1e3,
            area_mm2=sample.area * 1e6,
            summary=summary_tables(result, measured_charges),
            fit=fit_html,
            fit_figures=fit_pictures,
            measured=_measured_html(measured, electrometer),
            figures=figures,
            inputs=result.experiment.to_toml(),
        )
    )


def write_report(
    result: Result,
    out: str | os.PathLike,
    *,
    fit_dir: str | os.PathLike | None = None,
    **options: Any,
) -> Path:
    """Write :func:`build_report` to ``out`` (UTF-8, atomically: a failed write leaves the
    previous file); ``fit_dir`` is read with :func:`load_fit`.

    Returns
    -------
    Path
        ``out``.
    """
    fit = load_fit(fit_dir) if fit_dir is not None else None
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = build_report(result, fit=fit, **options)
    write_atomic(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return out


__all__ = [
    "ReportError",
    "build_report",
    "check_fit_matches",
    "corner_figure",
    "fit_figures",
    "fit_tables",
    "load_fit",
    "summary_tables",
    "write_report",
]
