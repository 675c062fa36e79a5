"""Figures of a landscape study (:mod:`caitlab.landscape`): D(n) with bands per model, the
populated site-energy distributions on one energy axis (the paper's Fig. 2), and the
regularisation curve. Each takes the ``targets`` records of ``landscape.json``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from caitlab.plot._common import new_figure, species_colour

MODEL_STYLES = {"constant": ":", "sin2": "--", "gaussian": "-.", "free-form": "-"}


def _panels(n: int, size: tuple[float, float]) -> tuple[Any, list[Any]]:
    fig = new_figure((size[0] * n, size[1]))
    return fig, list(np.atleast_1d(fig.subplots(1, n)))


def dn_bands(targets: Sequence[Mapping[str, Any]], axes: Sequence[Any] | None = None) -> Any:
    """D(n) of every fitted model per target, 16-84 % bands shaded; returns the Figure."""
    fig, axes = (None, list(axes)) if axes is not None else _panels(len(targets), (5.0, 4.0))
    for ax, target in zip(axes, targets):
        colour = species_colour(target["species"])
        for shape, entry in target["models"].items():
            bands = entry["bands"]
            n = np.asarray(bands["n_frac"])
            low, mid, high = (np.exp(np.asarray(r, dtype=float)) for r in bands["log_d"])
            chosen = shape == target["selected"]
            ax.plot(
                n,
                mid,
                MODEL_STYLES.get(shape, "-"),
                color=colour if chosen else "0.3",
                lw=2 if chosen else 1,
                label=shape + (" (selected)" if chosen else ""),
            )
            if shape == "free-form":
                ax.fill_between(
                    n, low, high, color=colour, alpha=0.25, lw=0, label="free-form 16-84 %"
                )
                knots = np.asarray(entry["knots"])
                values = [
                    entry["best_values"][p]
                    for p in sorted(
                        (p for p in entry["best_values"] if ".log_d." in p),
                        key=lambda p: int(p.rsplit(".", 1)[1]),
                    )
                ]
                ax.plot(knots, np.exp(values), "o", color=colour, ms=4)
        if "direct" in target:
            d = np.asarray(target["direct"]["d"], dtype=float)
            ax.plot(target["direct"]["n_frac"], d, ".", color="0.5", ms=3, label="direct estimate")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"density $n_{{{target['species']}}}/n_0$")
        ax.set_ylabel("D without fall-off (m$^2$/s)")
        ax.set_title(f"{target['species']} in {target['stage']}", fontsize="medium")
        ax.legend(fontsize="x-small")
    return fig or axes[0].figure


def psed_figure(
    targets: Sequence[Mapping[str, Any]], model: str = "free-form", ax: Any = None
) -> Any:
    """Populated distributions of every target on one energy axis (Fig. 2 style).

    Energy runs upwards, each species relative to its own Fermi level at n0 (D0 unknown:
    only differences are measured). The occupied part is filled; the band is 16-84 %.
    """
    if ax is None:
        fig = new_figure((4.6, 5.0))
        ax = fig.add_subplot()
    for target in targets:
        entry = target["models"].get(model) or target["models"][target["selected"]]
        bands = entry["bands"]
        colour = species_colour(target["species"])
        energy = np.asarray(bands["energy_eV"], dtype=float)
        low, mid, high = (np.asarray(r, dtype=float) for r in bands["density_per_eV"])
        ok = np.isfinite(mid)
        ax.fill_betweenx(
            energy[ok],
            0,
            mid[ok],
            color=colour,
            alpha=0.35,
            lw=0,
            label=f"{target['species']} ({target['stage']}), occupied",
        )
        ax.plot(mid[ok], energy[ok], color=colour, lw=1.5)
        band = np.isfinite(low) & np.isfinite(high)
        ax.fill_betweenx(energy[band], low[band], high[band], color=colour, alpha=0.15, lw=0)
        fwhm = bands["fwhm_eV"][1]
        if fwhm is not None:
            ax.text(
                0.98,
                0.02 + 0.06 * targets.index(target),
                f"{target['species']}: FWHM {1e3 * fwhm:.0f} meV",
                color=colour,
                transform=ax.transAxes,
                ha="right",
                fontsize="small",
            )
    ax.axhline(0.0, color="0.4", ls="--", lw=1)
    ax.set_xlim(left=0)
    ax.set_xlabel("populated sites $S(E)/n_0$ (eV$^{-1}$)")
    ax.set_ylabel("site energy $E - E_F(n_0)$ (eV)")
    ax.legend(fontsize="x-small", loc="upper right")
    return ax.figure


def weight_curves(targets: Sequence[Mapping[str, Any]]) -> Any:
    """L-curve and GCV of each free-form fit, the chosen weight marked."""
    with_curve = [t for t in targets if (t["models"].get("free-form") or {}).get("weight_curve")]
    fig, axes = _panels(max(len(with_curve), 1), (4.0, 3.6))
    if not with_curve:
        axes[0].text(0.5, 0.5, "no weight was chosen", ha="center", transform=axes[0].transAxes)
        return fig
    fig.clear()
    grid = fig.subplots(2, len(with_curve), squeeze=False)
    for k, target in enumerate(with_curve):
        curve = target["models"]["free-form"]["weight_curve"]
        w, chosen = np.asarray(curve["weights"]), curve["chosen"]
        at = int(np.argmin(np.abs(np.log(w / chosen))))
        top, bottom = grid[0][k], grid[1][k]
        top.loglog(curve["misfit"], curve["roughness"], ".-", color="0.3")
        top.plot(curve["misfit"][at], curve["roughness"][at], "o", color="tab:red")
        top.set_xlabel(r"data misfit $\chi^2$")
        top.set_ylabel(r"roughness $|\Delta^2 \ln D|^2$")
        top.set_title(
            f"{target['species']} ({target['stage']}): {curve['criterion']}", fontsize="medium"
        )
        bottom.loglog(w, curve["gcv"], ".-", color="0.3")
        bottom.axvline(chosen, color="tab:red", lw=1)
        bottom.set_xlabel(r"weight $\lambda$")
        bottom.set_ylabel("GCV")
    return fig


__all__ = ["dn_bands", "psed_figure", "weight_curves"]
