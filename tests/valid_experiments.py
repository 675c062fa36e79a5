"""Generated valid experiments and the independent checks of their results.

:func:`draw_experiment` draws a physically reasonable experiment (a TOML-shaped dictionary
with units in the values) from any ``random.Random``: thickness 10 µm-5 mm, n0 1e27-5e28
m⁻³, εr 3-30, 250-700 K, 1-4 stages mixing ideal and finite beams of Li/Na/K/Rb/Cs (pure
or mixed), rest stages of 1 s-2000 h at other temperatures, aperture changes, constant,
SED and tabulated D with Arrhenius energies, one or two native species. The hypothesis
test (``tests/test_valid_experiments.py``) draws them through hypothesis' own ``Random``
on small meshes; ``benchmarks/bench_valid_experiments.py`` runs a seeded set of 500.

:func:`broken_checks` judges a finished :class:`caitlab.Result` without the solver's own
bookkeeping: inventories recomputed from the saved densities and the mesh, every
species' balance against its inventory and the boundary flows, positivity, and the
surface potential wherever a beam lands ions.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

import numpy as np

ALKALIS = ("Li", "Na", "K", "Rb", "Cs")
BOLTZMANN_EV = 8.617333262e-5  # eV/K
EPS = float(np.finfo(float).eps)


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _arrhenius(rng: random.Random, d_at_stage: float, temperature: float) -> dict[str, Any]:
    """D given at a reference temperature near the stage's, with an activation energy, so
    that the model gives ``d_at_stage`` at ``temperature``: (d_ref, keys)."""
    energy = rng.uniform(0.3, 0.9)
    reference = rng.uniform(max(250.0, temperature - 80.0), min(700.0, temperature + 80.0))
    d_ref = d_at_stage * math.exp(energy / BOLTZMANN_EV * (1 / temperature - 1 / reference))
    return {
        "d_ref": d_ref,
        "activation_energy": f"{energy:.4g} eV",
        "reference_temperature": f"{reference:.5g} K",
    }


def _diffusivity(rng: random.Random, d: float, temperature: float) -> dict[str, Any]:
    """A constant, SED or tabulated model that gives about ``d`` (m²/s) at ``temperature``."""
    kind = rng.choice(("constant", "sed", "tabulated"))
    arrhenius = _arrhenius(rng, d, temperature) if rng.random() < 0.5 else None
    d_ref = arrhenius.pop("d_ref") if arrhenius else d
    model: dict[str, Any] = {"model": kind}
    if kind == "constant":
        model["d"] = f"{d_ref:.4g} m^2/s"
    elif kind == "sed":
        model |= {
            "shape": rng.choice(("sin2", "gaussian")),
            "fwhm": f"{rng.uniform(100, 300):.4g} meV",
            "occupancy": round(rng.uniform(0.6, 0.95), 3),
            "d_ref": f"{d_ref:.4g} m^2/s",
        }
        if arrhenius is None:
            arrhenius = {}
    else:
        fractions = [0.0, 0.1, 0.5, 1.0, 1.5]
        drops = [*sorted(_log_uniform(rng, 1e-3, 1.0) for _ in fractions[:-2]), 1.0, 1.0]
        model["density_fraction"] = fractions
        model["d"] = [f"{d_ref * f:.4g} m^2/s" for f in drops]
    if arrhenius:
        model |= arrhenius
    if rng.random() < 0.3:
        model["falloff"] = {
            "threshold": round(rng.uniform(0.02, 0.1), 3),
            "factor": 1e-2,
            "width": 0.005,
        }
    return model


def _beam(rng: random.Random, natives: list[str]) -> dict[str, Any]:
    """An ideal or finite beam of one alkali or a mixture of two."""
    first = rng.choice(ALKALIS)
    species: Any = first
    if rng.random() < 0.25:
        second = rng.choice([a for a in ALKALIS if a != first])
        f = round(rng.uniform(0.2, 0.8), 3)
        species = {first: f, second: round(1.0 - f, 3)}
    beam: dict[str, Any] = {
        "species": species,
        "source_potential": f"{rng.uniform(1.0, 50.0):.4g} V",
        "aperture_distance": rng.choice(("none", f"{rng.uniform(1, 20):.3g} mm")),
    }
    if rng.random() < 0.35:
        beam["mode"] = "finite"
        beam["current"] = f"{_log_uniform(rng, 1e-10, 1e-6):.3g} A"
        beam["energy_spread"] = f"{rng.uniform(0.1, 2.0):.3g} eV"
    return beam


def _present_after(beam: dict[str, Any] | None) -> set[str]:
    if beam is None:
        return set()
    species = beam["species"]
    return {species} if isinstance(species, str) else set(species)


def draw_experiment(rng: random.Random, small_mesh: bool = True) -> dict[str, Any]:
    """One valid experiment as a TOML-shaped dictionary (units in the values).

    ``small_mesh``: coarse cells and shallow fine regions (a hypothesis test in CI);
    otherwise the defaults of :class:`caitlab.MeshSpec` or finer.
    """
    natives = rng.sample(ALKALIS, rng.choice((1, 1, 2)))
    fractions = [1.0] if len(natives) == 1 else [(f := round(rng.uniform(0.1, 0.9), 3)), 1 - f]
    stages = []
    present = set(natives)
    n_stages = rng.randint(1, 4)
    for k in range(n_stages):
        temperature = rng.uniform(250.0, 700.0)
        is_beam = k == 0 or rng.random() < 0.6
        stage: dict[str, Any] = {
            "name": f"stage-{k + 1}",
            "type": "beam" if is_beam else "rest",
            "temperature": f"{temperature:.5g} K",
        }
        if is_beam:
            stage["beam"] = _beam(rng, natives)
            stage["duration"] = f"{_log_uniform(rng, 10.0, 100 * 3600.0):.4g} s"
            present |= _present_after(stage["beam"])
        else:
            stage["duration"] = f"{_log_uniform(rng, 1.0, 2000 * 3600.0):.4g} s"
            if rng.random() < 0.5:
                stage["aperture_distance"] = f"{rng.uniform(1, 20):.3g} mm"
        stage["diffusivity"] = {
            name: _diffusivity(
                rng,
                _log_uniform(rng, 1e-21, 1e-16)
                if name in natives
                else _log_uniform(rng, 1e-24, 1e-19),
                temperature,
            )
            for name in sorted(present)
        }
        stages.append(stage)
    species = {
        name: {"charge": 1, "initial_fraction": fractions[natives.index(name)]}
        if name in natives
        else {"charge": 1, "initial_fraction": 0.0}
        for name in sorted(present)
    }
    if small_mesh:
        mesh = {
            "front_cell": f"{rng.uniform(1.0, 4.0):.3g} nm",
            "fine_depth": f"{rng.uniform(40.0, 150.0):.4g} nm",
            "growth": round(rng.uniform(1.3, 2.0), 3),
        }
    else:
        mesh = {
            "front_cell": f"{rng.uniform(0.25, 1.0):.3g} nm",
            "fine_depth": f"{rng.uniform(100.0, 300.0):.4g} nm",
            "growth": round(rng.uniform(1.1, 1.6), 3),
        }
    return {
        "name": "generated",
        "sample": {
            "thickness": f"{_log_uniform(rng, 10e-6, 5e-3):.4g} m",
            "area": f"{rng.uniform(1.0, 100.0):.4g} mm^2",
            "mobile_ion_density": f"{_log_uniform(rng, 1e27, 5e28):.4g} m^-3",
            "relative_permittivity": round(rng.uniform(3.0, 30.0), 3),
            "species": species,
        },
        "stages": stages,
        "mesh": mesh,
    }


def broken_checks(result: Any, config: dict[str, Any]) -> list[str]:
    """What is wrong with a finished run, judged independently of the solver's bookkeeping
    (empty: nothing found).

    * inventories: Σ_j n_ij w_j of the saved densities against the record's inventories;
    * balance: Δinventory - (in - out) within 1e-10 of the ions moved or 1e-15 (≈ 4.5 eps)
      of the inventory per step;
    * positivity: every saved density ≥ -1e-12 n0;
    * surface: where a beam lands (current above 1e-9 of its peak and 1 fA), the surface at most
      1e-6 U_R + 1 mV above U_R;
    * the summary is strict JSON (no NaN or infinity).
    """
    problems = []
    try:
        json.dumps(result.summary(), allow_nan=False)
    except ValueError:
        problems.append("non-finite numbers in the summary")
    widths = result.mesh.widths
    stages = {s["name"]: s for s in config["stages"]}
    previous = None
    for record in result.stages:
        name = record.name
        n0 = record.n0
        end = record.density[-1] @ widths
        start = record.inventory_start_m2 if previous is None else previous
        if not np.allclose(end, record.inventory_end_m2, rtol=1e-12, atol=1e-300):
            problems.append(f"{name}: saved densities do not give the recorded inventory")
        moved = record.inflow_m2 + record.outflow_m2
        imbalance = np.abs(end - start - (record.inflow_m2 - record.outflow_m2))
        inventory = np.maximum(np.abs(start), np.abs(end))
        allowed = np.maximum(1e-10 * moved.max(), (record.n_steps + 1) * 1e-15 * inventory)
        if not np.all(imbalance <= allowed):
            k = int(np.argmax(imbalance / (allowed + 1e-300)))
            problems.append(
                f"{name}: {record.species[k]} balance {imbalance[k]:.3g} m^-2 "
                f"({imbalance[k] / max(inventory[k], 1e-300):.2g} of the inventory)"
            )
        lowest = float(record.density.min()) / n0
        if not lowest >= -1e-12:
            problems.append(f"{name}: density {lowest:.3g} n0")
        beam = stages[name].get("beam")
        if beam is not None:
            u_r = float(beam["source_potential"].split()[0])
            current = record.trace_beam_current
            # a femtoampere is ~6000 ions/s: an ideal beam standing off carries ~1e-30 A
            landing = current > max(1e-9 * float(current.max()), 1e-15)
            surface = record.trace_surface_potential[landing]
            if surface.size and not surface.max() <= u_r * (1 + 1e-6) + 1e-3:
                problems.append(f"{name}: a beam landed with the surface at {surface.max():.6g} V")
        previous = end
    return problems
