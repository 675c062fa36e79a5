"""Compact HTML tables for notebooks (``_repr_html_`` of experiments, results and fits)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A small HTML table; numbers with 4 significant digits."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return (
        f"<div><strong>{html.escape(title)}</strong><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def experiment_html(experiment: Any) -> str:
    """Sample and stages of an experiment."""
    sample = experiment.sample
    species = ", ".join(f"{s.name} ({s.initial_fraction:g})" for s in sample.species)
    head = table(
        f"Experiment {experiment.name}",
        ["sample", "value"],
        [
            ["thickness (mm)", sample.thickness * 1e3],
            ["area (mm²)", sample.area * 1e6],
            ["n0 (m⁻³)", sample.mobile_ion_density],
            ["species (initial fraction)", species],
        ],
    )
    rows = []
    for stage in experiment.stages:
        beam = stage.front_beam()
        what = "rest" if beam is None else ", ".join(f"{k} {v:g}" for k, v in beam.species.items())
        rows.append([stage.name, stage.duration / 3600.0, stage.temperature, what])
    return head + table("stages", ["stage", "duration (h)", "T (K)", "beam"], rows)


def result_html(result: Any) -> str:
    """Per-stage charge, surface potential, conservation and steps of a result."""
    rows = [
        [
            r.name,
            r.duration / 3600.0,
            r.temperature,
            r.charge_C * 1e3,
            float(r.trace_surface_potential[-1]),
            r.conservation_rel_error,
            r.n_steps,
        ]
        for r in result.stages
    ]
    return table(
        f"Result of {result.experiment.name} ({result.mesh.n_cells} cells, "
        f"{result.wall_time_s:.3g} s, caitlab {result.version}, {result.created})",
        [
            "stage",
            "duration (h)",
            "T (K)",
            "charge (mC)",
            "surface potential (V)",
            "conservation (rel.)",
            "steps",
        ],
        rows,
    )


def fit_html(fit: Any) -> str:
    """Parameter values and standard errors of a fit, in the units the reports use (nm for
    lengths; ``display_unit`` in ``fit.json``)."""
    from caitlab.fit.report import shown

    data = fit.to_dict()

    def scaled(value: Any, factor: float) -> Any:
        return "–" if value is None else value * factor

    rows = [
        [
            name if name == p.get("path", name) else f"{name} ({p['path']})",
            scaled(p.get("value"), p.get("display_factor", 1.0)),
            scaled(p.get("stderr"), p.get("display_factor", 1.0)),
            scaled(p.get("initial"), p.get("display_factor", 1.0)),
            p.get("display_unit") or "–",
        ]
        for name, p in data["parameters"].items()
    ]
    state = "converged" if data["success"] else "NOT converged"
    return table(
        f"Fit: reduced χ² = {shown(data['redchi'], '.4g')}, {state}",
        ["parameter", "value", "std. error", "initial", "unit"],
        rows,
    )


def experiment_repr(experiment: Any) -> str:
    """One line: ``<Experiment 'double-cait': Li, Rb, Cs in 2.325 mm; Rb-CAIT 94.46 h,
    Cs-CAIT 203.12 h>``."""
    from caitlab.units import spelled

    sample = experiment.sample
    species = ", ".join(s.name for s in sample.species)
    stages = ", ".join(f"{s.name} {spelled(s.duration, 'time')}" for s in experiment.stages)
    return (
        f"<Experiment {experiment.name!r}: {species} in {spelled(sample.thickness, 'length')}; "
        f"{stages}>"
    )


def result_repr(result: Any) -> str:
    """One line: the experiment, the stages with their charges, the mesh and wall time."""
    from caitlab.units import spelled

    stages = ", ".join(
        f"{r.name} {spelled(r.duration, 'time')} ({r.charge_C * 1e3:.4g} mC)" for r in result.stages
    )
    return (
        f"<Result of {result.experiment.name!r}: {stages}; {result.mesh.n_cells} cells, "
        f"species {', '.join(result.species)}, {result.wall_time_s:.3g} s>"
    )


def stage_record_repr(record: Any) -> str:
    """One line for a stage's record."""
    from caitlab.units import spelled

    return (
        f"<StageRecord {record.name!r}: {spelled(record.duration, 'time')} at "
        f"{record.temperature:g} K, {len(record.time)} saved states, {record.n_steps} steps, "
        f"charge {record.charge_C * 1e3:.4g} mC>"
    )


__all__ = [
    "experiment_html",
    "experiment_repr",
    "fit_html",
    "result_html",
    "result_repr",
    "stage_record_repr",
    "table",
]
