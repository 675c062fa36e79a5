"""Figures of CAIT results (matplotlib, imported lazily).

Every function takes a :class:`caitlab.Result` (from :meth:`caitlab.Experiment.run` or
:func:`caitlab.open_result`) and ``ax=None``, draws, and returns the axes.

Modules
-------
profiles     concentration depth profiles n_i/n0 (Figs 3, 5), measured markers, broadening
diffusivity  D(n) per species and stage (Figs 4, 6, 7); the site-energy landscape (Fig. 2)
traces       current, cumulative charge and surface potential versus time
fields       potential and space charge versus depth
fitting      a sweep's misfit map; an MCMC corner plot
style        the one species palette, stage line styles and paper layout of every figure
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from caitlab.plot._common import new_figure
from caitlab.plot.diffusivity import (
    diffusivities,
    energy_landscape,
    energy_landscapes,
    has_site_energy,
)
from caitlab.plot.fields import potential_profile, space_charge_fraction
from caitlab.plot.fitting import corner, misfit_map
from caitlab.plot.profiles import profiles
from caitlab.plot.traces import current_charge, surface_potential, traces

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from caitlab.results import Result


def standard_figures(
    result: Result,
    *,
    measured: Any = None,
    rms_nm: float | None = None,
    measured_charges: Mapping[str, float] | Sequence[float] | None = None,
    electrometer: Any = None,
) -> dict[str, Figure]:
    """Every figure of a result, by file stem (what ``caitlab figures`` writes).

    The energy landscape is left out when no stage has a site-energy model.

    Parameters
    ----------
    result : caitlab.Result
        A run.
    measured : sequence of MeasuredProfile, or mapping of str to profile, optional
        Measured profiles (:class:`caitlab.sims.MeasuredProfile`, or by stage name as
        :func:`profiles` accepts); each gives a ``profiles_<name>`` figure comparing it with
        the end of its stage, the simulation broadened by the profile's response, with the
        profile's surface treatment (:attr:`caitlab.sims.MeasuredProfile.surface`).
    rms_nm : float, optional
        Gaussian broadening (nm rms) of the simulation in those comparisons, for profiles
        without a response of their own.
    measured_charges : mapping or sequence, optional
        Measured charge per stage, C.
    electrometer : caitlab.electrometer.ElectrometerLog, optional
        The measured current and charge, overlaid on the traces.

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        Figures outside pyplot: nothing to close.
    """
    figures: dict[str, Figure] = {}

    def panel(name: str, size: tuple[float, float] = (6.4, 4.2)) -> Any:
        figures[name] = new_figure(size)
        return figures[name].add_subplot()

    for name, log in (("profiles", False), ("profiles_log", True)):
        figures[name] = profiles_by_stage(result, log=log)
    for profile in _measured_profiles(measured):
        response = None
        if rms_nm is None and any(v for k, v in profile.response.items() if k != "model"):
            from caitlab.fit.problem import build_response

            response = build_response(profile.response)
        profiles(
            result,
            [profile.stage],
            measured=profile,
            rms_nm=rms_nm,
            response=response,
            depth_max_nm=float(profile.depth_m.max() * 1e9),
            ax=panel(f"profiles_{_slug(profile.name)}", (7.4, 4.2)),
        )
    diffusivities(result, ax=panel("diffusivity"))
    if has_site_energy(result):
        n_states = 1 + len(result.stages)
        fig = figures["energy_landscape"] = new_figure((4.0 * n_states, 5.0))
        energy_landscapes(result, axes=fig.subplots(1, n_states, sharey=True, squeeze=False)[0])
    fig = figures["traces"] = new_figure((7.4, 6.0))
    traces(
        result,
        measured_charges=measured_charges,
        electrometer=electrometer,
        axes=fig.subplots(2, 1, sharex=True),
    )
    fig = figures["potential"] = new_figure((6.4, 5.2))
    potential_profile(result, axes=fig.subplots(2, 1, sharex=True, height_ratios=(3, 2)))
    return figures


def profiles_by_stage(result: Result, *, log: bool = False) -> Figure:
    """The end of each stage in a panel of its own (paper style), the legend beside the last.

    Parameters
    ----------
    result : caitlab.Result
        A run.
    log : bool
        Logarithmic fraction axis.

    Returns
    -------
    matplotlib.figure.Figure
        Outside pyplot.
    """
    from caitlab.plot._common import zone_depth
    from caitlab.plot.style import legend_outside

    names = result.stage_names
    fig = new_figure((3.4 * len(names) + 1.6, 4.0))
    axes = fig.subplots(1, len(names), sharey=True, squeeze=False)[0]
    depth_nm = zone_depth(result) * 1e9  # one depth range for all panels
    for k, (ax, stage) in enumerate(zip(axes, names)):
        profiles(result, [stage], log=log, depth_max_nm=depth_nm, ax=ax)
        ax.set_title(f"after {stage}")
        ax.get_legend().remove()
        if k == len(names) - 1:  # the panel's title names the stage: species alone
            handles, labels = ax.get_legend_handles_labels()
            legend_outside(ax, handles, [label.split(",")[0] for label in labels])
        if k:
            ax.set_ylabel("")
    return fig


def _measured_profiles(measured: Any) -> list[Any]:
    """Measured profiles as :class:`caitlab.sims.MeasuredProfile` (a mapping by stage too)."""
    from caitlab.sims.measured import as_measured_profile

    if measured is None:
        return []
    if isinstance(measured, Mapping):
        return [as_measured_profile(v, stage) for stage, v in measured.items()]
    return [as_measured_profile(m) for m in measured]


def save_figures(
    figures: Mapping[str, Figure], directory: str | Path, dpi: int = 150
) -> list[Path]:
    """Write each figure as ``directory/<name>.png`` (each atomically: a failed write, e.g.
    a full disk, raises :class:`caitlab.storage.OutputWriteError` and leaves the previous
    file); returns the paths."""
    from caitlab.storage import write_atomic

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figures.items():
        path = directory / f"{name}.png"
        write_atomic(path, partial(_save_png, figure=fig, dpi=dpi))
        paths.append(path)
    return paths


def _save_png(path: Path, figure: Figure, dpi: int) -> None:
    """``figure`` as PNG into ``path``: nothing clipped."""
    figure.savefig(path, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.05)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


__all__ = [
    "corner",
    "current_charge",
    "diffusivities",
    "energy_landscape",
    "energy_landscapes",
    "misfit_map",
    "potential_profile",
    "profiles",
    "profiles_by_stage",
    "save_figures",
    "space_charge_fraction",
    "standard_figures",
    "surface_potential",
    "traces",
]
