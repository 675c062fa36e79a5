"""A self-contained HTML report of a run (and of a fit): inputs, summary tables, all figures.

Figures are embedded as base64 PNG, so the page is one file that can be mailed or archived.
A fit folder contributes ``fit.json`` (``{"parameters": {name: {"value", "stderr",
"initial", "min", "max"}}, "redchi", "success"}``, optionally ``"mcmc": {"parameters":
{name: {"median", "lower_1sigma", "upper_1sigma"}}}``), and if present MCMC samples
(``samples.npy`` of shape (n, k), names from ``fit.json["sample_names"]`` or the parameter
order; or ``samples.csv`` with a header) and a sweep (``sweep.nc`` holding a 2-D
``misfit`` variable, or ``sweep.csv``/``table.csv`` with parameter columns and a misfit
column, as :mod:`caitlab.sweep` writes).
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

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from caitlab.results import Result

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0 1.5em; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th { background: #f3f3f3; } td.name, th.name { text-align: left; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; }
figcaption { font-size: .9em; color: #555; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: .85em; }
.bad { color: #b00; font-weight: bold; }
"""

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
    "corner": "MCMC posterior samples: marginal histograms (16/50/84 % quantiles dashed) "
              "and pairwise 2-D histograms.",
}


def figure_png(fig: Figure, dpi: int = 110) -> str:
    """A figure as base64-encoded PNG text."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
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
        table = next((folder / n for n in ("sweep.csv", "table.csv") if (folder / n).exists()),
                     None)
        if table is not None:
            import pandas as pd

            fit["sweep"] = pd.read_csv(table)
    return fit


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], names: int = 1) -> str:
    """An HTML table; the first ``names`` columns are left-aligned text."""
    def cell(tag: str, k: int, value: Any) -> str:
        cls = ' class="name"' if k < names else ""
        text = value if isinstance(value, str) else _number(value)
        return f"<{tag}{cls}>{text}</{tag}>"

    head = "".join(cell("th", k, html.escape(h)) for k, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", k, v) for k, v in enumerate(row)) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else '<span class="bad">no</span>'
    if isinstance(value, (int, np.integer)):
        return str(value)
    return f"{float(value):.4g}"


def summary_tables(result: Result,
                   measured_charges: Mapping[str, float] | Sequence[float] | None = None) -> str:
    """HTML tables of the run's summary: per stage, and inventories per species.

    Measured charges per stage (C; by stage name or in stage order) add a column.
    """
    summary = result.summary()
    stages = summary["stages"]
    if measured_charges is not None and not isinstance(measured_charges, Mapping):
        measured_charges = {s["name"]: q for s, q in zip(stages, measured_charges)}
    rows = [[html.escape(s["name"]), s["duration_s"] / SECONDS_PER_HOUR, s["temperature_K"],
             s["charge_C"] * 1e3, s["cumulative_charge_C"] * 1e3, s["surface_potential_end_V"],
             s["conservation_rel_error"], s["min_density_fraction"],
             f"{s['n_steps']} ({s['n_rejected']})", s["wall_time_s"]] for s in stages]
    header = ["stage", "duration (h)", "T (K)", "charge (mC)", "cumulative (mC)",
              "surface potential at end (V)", "conservation error (rel.)", "min n/n0",
              "steps (rejected)", "wall time (s)"]
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
            rows.append([html.escape(s["name"]), html.escape(species), inventory,
                         inventory / n0 * 1e9, s["inflow_m2"][species], s["outflow_m2"][species]])
    out += "<p>Inventories at the end of each stage; the equivalent depth is the inventory " \
           "as a layer at n0.</p>"
    out += _table(["stage", "species", "inventory (m⁻²)", "equivalent depth at n0 (nm)",
                   "in through the front (m⁻²)", "out through the back (m⁻²)"], rows, names=2)
    run = [["cells", summary.get("n_cells")], ["time steps", summary.get("n_steps")],
           ["wall time (s)", summary.get("wall_time_s")],
           ["caitlab version", html.escape(result.version)],
           ["created", html.escape(result.created)]]
    return out + _table(["run", ""], run, names=2)


def fit_tables(fit: Mapping[str, Any]) -> str:
    """HTML of a fit: the parameter table with uncertainties, reduced chi-square, success."""
    mcmc = (fit.get("mcmc") or {}).get("parameters", {})
    rows = []
    for name, p in fit.get("parameters", {}).items():
        value, stderr = p.get("value"), p.get("stderr")
        relative = (f"{100 * abs(stderr / value):.3g} %" if value and stderr is not None
                    else "–")
        row = [html.escape(name), value, stderr, relative, p.get("initial"), p.get("min"),
               p.get("max")]
        if mcmc:
            m = mcmc.get(name, {})
            row += [m.get("median"), m.get("lower_1sigma"), m.get("upper_1sigma")]
        rows.append(row)
    header = ["parameter", "value", "std. error", "rel. error", "initial", "min", "max"]
    if mcmc:
        header += ["MCMC median", "16 %", "84 %"]
    status = [["reduced χ²", fit.get("redchi")], ["converged", fit.get("success")]]
    if "message" in fit:
        status.append(["message", html.escape(str(fit["message"]))])
    out = _table(header, rows) + _table(["fit", ""], status, names=2)
    correlations = {k: v for k, v in (fit.get("correlations") or {}).items() if v}
    if correlations:
        names = list(correlations)
        rows = [[html.escape(a), *[1.0 if a == b else correlations[a].get(b) for b in names]]
                for a in names]
        out += "<p>Correlations of the varied parameters:</p>"
        out += _table(["", *names], rows)
    return out


def fit_figures(fit: Mapping[str, Any]) -> dict[str, Figure]:
    """The misfit map of a sweep and the corner plot of MCMC samples, where present."""
    from caitlab.plot import corner, misfit_map

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
        k = samples.shape[1]
        fig = figures["corner"] = new_figure((2.2 * k + 0.8, 2.2 * k + 0.8))
        corner(samples, fit.get("sample_names") or [f"p{i}" for i in range(k)], fig=fig)
    return figures


def _figures_html(figures: Mapping[str, Figure], dpi: int) -> str:
    parts = []
    for name, fig in figures.items():
        caption = CAPTIONS.get(name) or (
            f"Simulated (lines) and measured (markers) fractions, {name[9:]}."
            if name.startswith("profiles_") else name)
        parts.append(f'<figure id="fig-{html.escape(name)}"><img alt="{html.escape(name)}" '
                     f'src="data:image/png;base64,{figure_png(fig, dpi)}">'
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    return "\n".join(parts)


def build_report(
    result: Result,
    *,
    fit: Mapping[str, Any] | None = None,
    measured: Mapping[str, Any] | None = None,
    rms_nm: float | None = None,
    measured_charges: Mapping[str, float] | Sequence[float] | None = None,
    title: str | None = None,
    dpi: int = 110,
) -> str:
    """The report as one HTML string.

    Parameters
    ----------
    result : caitlab.Result
        A run.
    fit : mapping, optional
        A fit as :func:`load_fit` reads it.
    measured, rms_nm, measured_charges : optional
        Measured profiles by stage, broadening (nm rms) and charges per stage (C), passed
        to :func:`caitlab.plot.standard_figures`.
    title : str, optional
        Page title; default from the experiment name.
    dpi : int
        Resolution of the embedded figures.

    Returns
    -------
    str
        A complete HTML document.
    """
    from caitlab.plot import standard_figures

    title = title or f"caitlab report: {result.experiment.name}"
    figures = standard_figures(result, measured=measured, rms_nm=rms_nm,
                               measured_charges=measured_charges)
    sample = result.experiment.sample
    sections = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Stages: {html.escape(' → '.join(result.stage_names))}. "
        f"n0 = {sample.mobile_ion_density:.4g} m⁻³, thickness = "
        f"{sample.thickness * 1e3:.4g} mm, area = {sample.area * 1e6:.4g} mm².</p>",
        "<h2 id=\"summary\">Summary</h2>", summary_tables(result, measured_charges),
    ]
    if fit is not None:
        sections += ['<h2 id="fit">Fit</h2>', fit_tables(fit),
                     _figures_html(fit_figures(fit), dpi)]
    sections += ['<h2 id="figures">Figures</h2>', _figures_html(figures, dpi),
                 '<h2 id="inputs">Inputs</h2>',
                 f"<pre>{html.escape(result.experiment.to_toml())}</pre>"]
    body = "\n".join(sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n"
            f"<body>\n{body}\n</body></html>\n")


def write_report(result: Result, out: str | os.PathLike, *,
                 fit_dir: str | os.PathLike | None = None, **options: Any) -> Path:
    """Write :func:`build_report` to ``out`` (UTF-8); ``fit_dir`` is read with :func:`load_fit`.

    Returns
    -------
    Path
        ``out``.
    """
    fit = load_fit(fit_dir) if fit_dir is not None else None
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(build_report(result, fit=fit, **options), encoding="utf-8")
    return out


__all__ = ["build_report", "fit_tables", "load_fit", "summary_tables", "write_report"]
