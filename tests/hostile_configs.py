"""Hostile experiment configs, made by mutating the packaged ``quick-double-cait`` example.

* :func:`refused`: configs that must be refused by ``caitlab check`` / ``load_experiment``
  with a clean message naming the field (``expected`` is a piece of that message);
* :func:`extreme`: valid but extreme configs (short stages, a coarse mesh) that must be
  accepted; :func:`main` runs them to find hangs and runs that exit 0 with broken
  invariants.

``python tests/hostile_configs.py`` prints the counts (``--no-runs`` checks only).
"""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
import tomllib

from caitlab.examples import example_path

DELETE = object()


@dataclass(frozen=True)
class Case:
    """One config: its name, its file content and (refused cases) what the message names."""

    name: str
    content: bytes
    expected: str = ""


def base() -> dict[str, Any]:
    """The packaged quick example as a TOML dictionary (values with their units)."""
    return tomllib.loads(example_path("quick-double-cait").read_text())


def _set(data: dict[str, Any], path: tuple, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    node = data
    for key in path[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(key, {})
        else:
            node = node[key]
    if value is DELETE:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return data


def _toml(data: dict[str, Any]) -> bytes:
    return tomli_w.dumps(data).encode()


def _case(name: str, data: dict[str, Any], expected: str) -> Case:
    return Case(name, _toml(data), expected)


S0, S1 = "stages.Rb-CAIT", "stages.Cs-CAIT"

#: dimensional fields: (path in the TOML dictionary, a unit, the path in messages)
DIMENSIONAL = [
    (("sample", "thickness"), "mm", "sample.thickness"),
    (("sample", "area"), "mm^2", "sample.area"),
    (("sample", "mobile_ion_density"), "m^-3", "sample.mobile_ion_density"),
    (("stages", 0, "duration"), "h", f"{S0}.duration"),
    (("stages", 1, "temperature"), "K", f"{S1}.temperature"),
    (("stages", 0, "beam", "source_potential"), "V", f"{S0}.beam.source_potential"),
    (("stages", 1, "beam", "aperture_distance"), "mm", f"{S1}.beam.aperture_distance"),
    (("stages", 0, "beam", "energy_spread"), "eV", f"{S0}.beam.energy_spread"),
    (("stages", 0, "diffusivity", "Li", "fwhm"), "meV", f"{S0}.diffusivity.Li.fwhm"),
    (("stages", 0, "diffusivity", "Li", "d_ref"), "m^2/s", f"{S0}.diffusivity.Li.d_ref"),
    (
        ("stages", 0, "diffusivity", "Li", "activation_energy"),
        "eV",
        f"{S0}.diffusivity.Li.activation_energy",
    ),
    (
        ("stages", 0, "diffusivity", "Li", "reference_temperature"),
        "K",
        f"{S0}.diffusivity.Li.reference_temperature",
    ),
    (("stages", 1, "diffusivity", "Cs", "d"), "m^2/s", f"{S1}.diffusivity.Cs.d"),
    (("mesh", "front_cell"), "nm", "mesh.front_cell"),
    (("mesh", "fine_depth"), "nm", "mesh.fine_depth"),
    (("solver", "tolerance"), "m", "solver.tolerance"),
    (("solver", "max_step"), "s", "solver.max_step"),
]


def _dimensional_values(unit: str) -> list[tuple[str, Any]]:
    return [
        ("inf", f"inf {unit}"),
        ("minus-inf", f"-inf {unit}"),
        ("nan", f"nan {unit}"),
        ("negative", f"-1 {unit}"),
        ("overflow", f"1e400 {unit}"),
        ("bare-number", 2.5),
        ("bare-string", "2.5"),
        ("unit-only", unit),
        ("wrong-unit", "3 kg"),
        ("garbage", "abc"),
    ]


#: dimensionless fields: (path in the TOML dictionary, the path in messages)
DIMENSIONLESS = [
    (("sample", "relative_permittivity"), "sample.relative_permittivity"),
    (("sample", "species", "Li", "initial_fraction"), "sample.species.Li"),
    (("sample", "species", "Rb", "charge"), "sample.species.Rb.charge"),
    (("stages", 0, "diffusivity", "Li", "occupancy"), f"{S0}.diffusivity.Li.occupancy"),
    (
        ("stages", 0, "diffusivity", "Li", "falloff", "threshold"),
        f"{S0}.diffusivity.Li.falloff.threshold",
    ),
    (
        ("stages", 0, "diffusivity", "Li", "falloff", "width"),
        f"{S0}.diffusivity.Li.falloff.width",
    ),
    (("mesh", "growth"), "mesh.growth"),
    (("mesh", "refine"), "mesh.refine"),
    (("output", "frames"), "output.frames"),
]
_DIMENSIONLESS_VALUES = [
    ("nan", math.nan),
    ("inf", math.inf),
    ("negative", -1.0),
    ("garbage", "abc"),
    ("huge", 1e300),
]


def _structural(data: dict[str, Any]) -> list[Case]:
    li, rb = ("stages", 0, "diffusivity", "Li"), ("stages", 0, "diffusivity", "Rb")
    changes: list[tuple[str, list[tuple[tuple, Any]], str]] = [
        ("unknown-top", [(("bogus",), 1)], "bogus: unknown key"),
        ("unknown-sample", [(("sample", "bogus"), 1)], "sample.bogus: unknown key"),
        ("unknown-stage", [(("stages", 0, "bogus"), 1)], f"{S0}.bogus: unknown key"),
        (
            "unknown-beam",
            [(("stages", 0, "beam", "bogus_key"), 1)],
            f"{S0}.beam.bogus_key: unknown key",
        ),
        ("unknown-diffusivity", [((*li, "bogus"), 1)], f"{S0}.diffusivity.Li.bogus"),
        ("unknown-falloff", [((*li, "falloff", "bogus"), 1)], f"{S0}.diffusivity.Li.falloff.bogus"),
        ("unknown-mesh", [(("mesh", "bogus"), 1)], "mesh.bogus: unknown key"),
        ("unknown-solver", [(("solver", "bogus"), 1)], "solver.bogus: unknown key"),
        ("unknown-output", [(("output", "bogus"), 1)], "output.bogus: unknown key"),
        ("unknown-species", [(("sample", "species", "Li", "bogus"), 1)], "sample.species.Li.bogus"),
        ("misspelt-d", [((*rb, "d"), DELETE), ((*rb, "D"), "2.67e-22 m^2/s")], "did you mean 'd'"),
        (
            "misspelt-thickness",
            [(("sample", "thickness"), DELETE), (("sample", "thicknes"), "2.325 mm")],
            "did you mean",
        ),
        (
            "misspelt-potential",
            [(("stages", 0, "beam", "source_potental"), "15 V")],
            "did you mean 'source_potential'",
        ),
        (
            "misspelt-temperature",
            [(("stages", 0, "temperatur"), "323 K")],
            "did you mean 'temperature'",
        ),
        ("misspelt-front-cell", [(("mesh", "front_cel"), "1 nm")], "did you mean"),
        ("missing-thickness", [(("sample", "thickness"), DELETE)], "sample.thickness: required"),
        ("missing-duration", [(("stages", 0, "duration"), DELETE)], f"{S0}.duration: required"),
        (
            "missing-potential",
            [(("stages", 0, "beam", "source_potential"), DELETE)],
            f"{S0}.beam.source_potential: required",
        ),
        (
            "missing-d-model",
            [(("stages", 1, "diffusivity", "Cs"), DELETE)],
            "without a diffusion model",
        ),
        ("bad-stage-type", [(("stages", 0, "type"), "laser")], "'type' must be one of"),
        ("no-stage-type", [(("stages", 0, "type"), DELETE)], "'type' is required"),
        ("bad-d-model", [((*li, "model"), "magic")], "'model' must be one of"),
        ("rest-with-beam", [(("stages", 0, "type"), "rest")], f"{S0}.beam: unknown key"),
        ("duplicate-stage", [(("stages", 1, "name"), "Rb-CAIT")], "stage names must be unique"),
        ("empty-stage-name", [(("stages", 0, "name"), "")], "name"),
        (
            "undeclared-beam-species",
            [(("stages", 0, "beam", "species"), "K")],
            "beam species ['K'] not declared",
        ),
        (
            "fractions-not-one",
            [(("sample", "species", "Li", "initial_fraction"), 0.5)],
            "initial fractions",
        ),
        (
            "beam-fractions-not-one",
            [(("stages", 0, "beam", "species"), {"Rb": 0.5, "Cs": 0.4})],
            "sum to 1",
        ),
        (
            "beam-fraction-nan",
            [(("stages", 0, "beam", "species"), {"Rb": math.nan})],
            f"{S0}.beam.species.Rb",
        ),
        (
            "beam-fraction-inf",
            [(("stages", 0, "beam", "species"), {"Rb": math.inf})],
            f"{S0}.beam.species.Rb",
        ),
        (
            "beam-fraction-negative",
            [(("stages", 0, "beam", "species"), {"Rb": -1.0})],
            "fractions must be > 0",
        ),
        ("celsius-as-coulomb", [(("stages", 0, "temperature"), "50 C")], "degC"),
        ("output-time-outside", [(("output", "times"), ["1000 h"])], "output.times"),
        ("output-time-inf", [(("output", "times"), ["inf h"])], "output.times"),
        ("output-time-bare", [(("output", "times"), [3600])], "output.times"),
        ("finite-without-current", [(("stages", 0, "beam", "mode"), "finite")], "current"),
        (
            "finite-current-inf",
            [
                (("stages", 0, "beam", "mode"), "finite"),
                (("stages", 0, "beam", "current"), "inf nA"),
            ],
            f"{S0}.beam.current",
        ),
        (
            "finite-current-negative",
            [
                (("stages", 0, "beam", "mode"), "finite"),
                (("stages", 0, "beam", "current"), "-1 nA"),
            ],
            f"{S0}.beam.current",
        ),
        (
            "current-too-large",
            [(("stages", 0, "beam", "mode"), "finite"), (("stages", 0, "beam", "current"), "1 kA")],
            f"{S0}.beam.current",
        ),
        ("d-ref-and-prefactor", [((*li, "prefactor"), "7.8e-9 m^2/s")], "exactly one of d_ref"),
        ("gaussian-full", [((*li, "shape"), "gaussian"), ((*li, "occupancy"), 1.0)], "never full"),
        (
            "arrhenius-missing",
            [
                (("stages", 1, "temperature"), "300 K"),
                (("stages", 1, "diffusivity", "Rb", "reference_temperature"), "323 K"),
                (("stages", 1, "diffusivity", "Rb", "activation_energy"), DELETE),
            ],
            "activation_energy",
        ),
        ("thinner-than-two-cells", [(("sample", "thickness"), "0.4 nm")], "fewer than 2 cells"),
        ("front-cell-over-fine-depth", [(("mesh", "front_cell"), "1 um")], "front_cell"),
        ("tolerance-over-cell", [(("solver", "tolerance"), "1 mm")], "solver.tolerance"),
        ("max-step-endless", [(("solver", "max_step"), "1 us")], "solver.max_step"),
        (
            "first-over-max-step",
            [(("solver", "first_step"), "1 h"), (("solver", "max_step"), "1 s")],
            "solver.first_step",
        ),
        ("no-stages", [(("stages",), [])], "stages"),
        ("stages-as-table", [(("stages",), {"name": "x"})], "stages"),
        ("no-species", [(("sample", "species"), {})], "sample.species"),
        (
            "permittivity-below-vacuum",
            [(("sample", "relative_permittivity"), 0.5)],
            "sample.relative_permittivity",
        ),
        (
            "temperature-too-hot",
            [(("stages", 0, "temperature"), "1e6 K")],
            f"{S0}.temperature: must be at most",
        ),
        (
            "duration-too-long",
            [(("stages", 0, "duration"), "1e6 year")],
            f"{S0}.duration: must be at most",
        ),
        ("thickness-too-thick", [(("sample", "thickness"), "10 km")], "sample.thickness"),
        (
            "density-beyond-solids",
            [(("sample", "mobile_ion_density"), "1e35 m^-3")],
            "sample.mobile_ion_density",
        ),
        (
            "d-too-large",
            [(("stages", 1, "diffusivity", "Cs", "d"), "1e3 m^2/s")],
            f"{S1}.diffusivity.Cs.d",
        ),
        ("d-ref-too-fast", [((*li, "d_ref"), "1e-6 m^2/s")], f"{S0}.diffusivity.Li.d_ref"),
        (
            "prefactor-too-fast",
            [
                ((*li, "d_ref"), DELETE),
                ((*li, "prefactor"), "1 m^2/s"),
                ((*li, "activation_energy"), "0 eV"),
            ],
            f"{S0}.diffusivity.Li: D reaches",
        ),
        (
            "arrhenius-too-fast",
            [(("stages", 0, "temperature"), "3000 K"), ((*li, "activation_energy"), "3 eV")],
            f"{S0}.diffusivity.Li: D reaches",
        ),
        (
            "charge-too-large",
            [(("sample", "species", "Rb", "charge"), 100)],
            "sample.species.Rb.charge",
        ),
        (
            "species-fraction-inf",
            [(("sample", "species", "Li", "initial_fraction"), math.inf)],
            "sample.species.Li.initial_fraction",
        ),
    ]
    cases = []
    for name, edits, expected in changes:
        mutated = data
        for path, value in edits:
            mutated = _set(mutated, path, value)
        cases.append(_case(name, mutated, expected))
    tab = {
        "model": "tabulated",
        "density_fraction": [0.0, 0.5, 1.0],
        "d": ["1e-22 m^2/s", "2e-22 m^2/s", "3e-22 m^2/s"],
    }
    tables = [
        ("tab-nan-fraction", {"density_fraction": [0.0, math.nan, 1.0]}, "density_fraction"),
        ("tab-inf-fraction", {"density_fraction": [0.0, 0.5, math.inf]}, "density_fraction"),
        ("tab-nan-d", {"d": ["1e-22 m^2/s", "nan m^2/s", "3e-22 m^2/s"]}, ".d"),
        ("tab-bare-d", {"d": [1e-22, 2e-22, 3e-22]}, ".d"),
        ("tab-decreasing", {"density_fraction": [0.0, 0.7, 0.5]}, "increase strictly"),
        ("tab-lengths", {"d": ["1e-22 m^2/s", "2e-22 m^2/s"]}, "give one D per density"),
    ]
    for name, change, expected in tables:
        cases.append(_case(name, _set(data, rb, tab | change), expected))
    return cases


def _encodings(data: dict[str, Any]) -> list[Case]:
    text = tomli_w.dumps(_set(data, ("name",), "café"))
    return [
        Case("utf-16", text.encode("utf-16"), "UTF-16"),
        Case("utf-16-no-bom", text.encode("utf-16-le"), "UTF-16"),
        Case("latin-1", text.encode("latin-1"), "not UTF-8"),
        Case("binary", bytes(range(256)) * 4, "binary data"),
        Case("invalid-toml", b"[sample\nthickness = ", "not valid TOML"),
        Case("empty", b"", "sample: required"),
    ]


def refused() -> list[Case]:
    """Configs that must be refused, each with a piece of the message that names the field."""
    data = base()
    cases = []
    for path, unit, field in DIMENSIONAL:
        for label, value in _dimensional_values(unit):
            cases.append(_case(f"{field}={label}", _set(data, path, value), field))
    for path, field in DIMENSIONLESS:
        for label, value in _DIMENSIONLESS_VALUES:
            cases.append(_case(f"{field}={label}", _set(data, path, value), field))
    return cases + _structural(data) + _encodings(data)


def _small(data: dict[str, Any]) -> dict[str, Any]:
    """The example with 10 min stages and 2 nm cells: every run takes well under a second."""
    data = _set(data, ("stages", 0, "duration"), "10 min")
    data = _set(data, ("stages", 1, "duration"), "10 min")
    data = _set(data, ("mesh", "front_cell"), "2 nm")
    return _set(data, ("mesh", "fine_depth"), "100 nm")


def extreme() -> list[Case]:
    """Valid configs at the ends of every range (short stages, coarse mesh)."""
    data = _small(base())
    li, cs = ("stages", 0, "diffusivity", "Li"), ("stages", 1, "diffusivity", "Cs")
    beam = ("stages", 0, "beam")
    changes: list[tuple[str, list[tuple[tuple, Any]]]] = [
        ("thickness-1m", [(("sample", "thickness"), "1 m")]),
        ("thickness-5nm", [(("sample", "thickness"), "5 nm")]),
        ("area-1m2", [(("sample", "area"), "1 m^2")]),
        ("area-1um2", [(("sample", "area"), "1 um^2")]),
        ("density-1e30", [(("sample", "mobile_ion_density"), "1e30 m^-3")]),
        ("density-1e20", [(("sample", "mobile_ion_density"), "1e20 m^-3")]),
        ("permittivity-1", [(("sample", "relative_permittivity"), 1.0)]),
        ("permittivity-1e5", [(("sample", "relative_permittivity"), 1e5)]),
        ("temperature-1K", [(("stages", 0, "temperature"), "1 K")]),
        ("temperature-3000K", [(("stages", 0, "temperature"), "3000 K")]),
        ("duration-1ms", [(("stages", 0, "duration"), "1 ms")]),
        ("duration-1year", [(("stages", 1, "duration"), "1 year")]),
        ("potential-10kV", [((*beam, "source_potential"), "10 kV")]),
        ("potential-1mV", [((*beam, "source_potential"), "1 mV")]),
        ("aperture-10m", [((*beam, "aperture_distance"), "10 m")]),
        ("aperture-1nm", [((*beam, "aperture_distance"), "1 nm")]),
        ("aperture-none", [((*beam, "aperture_distance"), "none")]),
        ("finite-1A", [((*beam, "mode"), "finite"), ((*beam, "current"), "1 A")]),
        ("finite-1fA", [((*beam, "mode"), "finite"), ((*beam, "current"), "1 fA")]),
        (
            "finite-spread-10keV",
            [
                ((*beam, "mode"), "finite"),
                ((*beam, "current"), "10 nA"),
                ((*beam, "energy_spread"), "10 keV"),
            ],
        ),
        (
            "finite-spread-1ueV",
            [
                ((*beam, "mode"), "finite"),
                ((*beam, "current"), "10 nA"),
                ((*beam, "energy_spread"), "1 ueV"),
            ],
        ),
        ("fwhm-10eV", [((*li, "fwhm"), "10 eV")]),
        ("fwhm-1meV", [((*li, "fwhm"), "1 meV")]),
        ("d-ref-1e-7", [((*li, "d_ref"), "1e-7 m^2/s")]),
        ("d-ref-1e-40", [((*li, "d_ref"), "1e-40 m^2/s")]),
        ("cs-d-1e-7", [((*cs, "d"), "1e-7 m^2/s")]),
        ("cs-d-1e-35", [((*cs, "d"), "1e-35 m^2/s")]),
        ("activation-10eV", [((*li, "activation_energy"), "10 eV")]),
        ("activation-0", [((*li, "activation_energy"), "0 eV")]),
        ("occupancy-1e-6", [((*li, "occupancy"), 1e-6)]),
        ("occupancy-1", [((*li, "occupancy"), 1.0)]),
        ("falloff-factor-tiny", [((*li, "falloff", "factor"), 1e-300)]),
        ("falloff-threshold-high", [((*li, "falloff", "threshold"), 0.999)]),
        ("falloff-width-1", [((*li, "falloff", "width"), 1.0)]),
        (
            "charge-8",
            [
                (("sample", "species", "Rb", "charge"), 8),
                (("sample", "species", "Cs", "charge"), 8),
            ],
        ),
        ("growth-2", [(("mesh", "growth"), 2.0)]),
        ("growth-1.01", [(("mesh", "growth"), 1.01)]),
        ("front-cell-is-fine-depth", [(("mesh", "front_cell"), "100 nm")]),
        ("tolerance-one-cell", [(("solver", "tolerance"), "2 nm")]),
        ("first-step-1fs", [(("solver", "first_step"), "1 fs")]),
        ("max-step-1s", [(("solver", "max_step"), "1 s")]),
        ("frames-50", [(("output", "frames"), 50)]),
        ("celsius", [(("stages", 0, "temperature"), "50 degC")]),
        (
            "rest-stage",
            [
                (
                    ("stages", 1),
                    {
                        "type": "rest",
                        "name": "rest",
                        "duration": "1 h",
                        "temperature": "323 K",
                        "diffusivity": data["stages"][0]["diffusivity"],
                    },
                )
            ],
        ),
    ]
    cases = []
    for name, edits in changes:
        mutated = data
        for path, value in edits:
            mutated = _set(mutated, path, value)
        cases.append(Case(name, _toml(mutated)))
    return cases


# --------------------------------------------------------------------------- the report
def check_refused(case: Case, invoke: Callable[[list[str]], Any], folder: Path) -> str | None:
    """Why ``caitlab check`` did not refuse ``case`` cleanly, or None if it did."""
    path = folder / "config.toml"
    path.write_bytes(case.content)
    result = invoke(["check", str(path)])
    output = result.output
    if result.exit_code == 0:
        return "accepted"
    if not isinstance(result.exception, SystemExit) or "Traceback" in output:
        return f"crashed: {result.exception!r}"
    if case.expected not in output:
        return f"message does not name {case.expected!r}: {output.strip()[-300:]}"
    if "errors.pydantic.dev" in output or len(output) > 3000:
        return "message is a pydantic dump"
    return None


def _balance_closes(stage: dict[str, Any]) -> bool:
    """The stage invariant, recomputed from the summary's numbers: every species'
    imbalance within what round-off explains (:func:`caitlab.solver.allowed_imbalance`)."""
    from caitlab.solver import allowed_imbalance

    names = list(stage["inflow_m2"])
    inflow = np.array([stage["inflow_m2"][k] for k in names])
    outflow = np.array([stage["outflow_m2"][k] for k in names])
    end = np.abs([stage["inventory_m2"][k] for k in names])
    imbalance = np.abs([stage["imbalance_m2"][k] for k in names])
    inventory = np.maximum(end, np.abs(end - inflow + outflow))
    allowed = allowed_imbalance(inflow + outflow, inventory, stage["n_steps"])
    return bool(np.all(imbalance <= allowed))


def broken_invariants(summary: dict[str, Any]) -> list[str]:
    """What is wrong with the numbers of a run that exited 0 (empty: nothing found)."""
    problems = []
    try:
        json.dumps(summary, allow_nan=False)
    except ValueError:
        problems.append("non-finite numbers")
    stages = {s["name"]: s for s in summary["input"]["stages"]}
    for stage in summary["stages"]:
        name = stage["name"]
        if not _balance_closes(stage):
            problems.append(f"{name}: conservation error {stage['conservation_rel_error']:.2g}")
        if not stage["min_density_fraction"] >= -1e-6:
            problems.append(f"{name}: negative density {stage['min_density_fraction']:.2g}")
        beam = stages[name].get("beam")
        if beam is not None:
            bound = beam["source_potential"]
            surface = stage["surface_potential_end_V"]
            if not -1e-6 * bound <= surface <= bound * (1 + 1e-6):
                problems.append(f"{name}: surface potential {surface!r} V outside 0..{bound} V")
            if not stage["charge_C"] >= 0:
                problems.append(f"{name}: negative charge {stage['charge_C']:.3g} C")
    return problems


def _run_extreme(case: Case, folder: Path, timeout: float) -> tuple[str, str]:
    """``(outcome, detail)``: ok, refused, failed, crashed, hang or wrong-numbers."""
    path = folder / f"{case.name}.toml"
    path.write_bytes(case.content)
    out = folder / case.name
    command = [
        sys.executable,
        "-c",
        "from caitlab.cli import main; main()",
        "run",
        str(path),
        "--out",
        str(out),
        "--quiet",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "hang", f"no result after {timeout:g} s"
    output = done.stdout + done.stderr
    if done.returncode != 0:
        clean = "Traceback" not in output
        return ("failed" if clean else "crashed"), output.strip().splitlines()[-1][:200]
    problems = broken_invariants(json.loads((out / "summary.json").read_text()))
    return ("wrong-numbers", "; ".join(problems)) if problems else ("ok", "")


def main(argv: list[str]) -> int:
    from typer.testing import CliRunner

    from caitlab.cli import _register_commands, app

    _register_commands()
    runner = CliRunner()
    cases, extremes = refused(), extreme()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        failures = [
            (c.name, why)
            for c in cases
            if (why := check_refused(c, lambda a: runner.invoke(app, a), folder))
        ]
        print(f"must refuse: {len(cases) - len(failures)} / {len(cases)} refused cleanly")
        for name, why in failures:
            print(f"  NOT CLEAN {name}: {why}")
        accepted = 0
        for case in extremes:
            path = folder / "extreme.toml"
            path.write_bytes(case.content)
            result = runner.invoke(app, ["check", str(path)])
            accepted += result.exit_code == 0
            if result.exit_code:
                print(f"  extreme {case.name} refused: {result.output.strip()[-200:]}")
        print(f"valid but extreme: {accepted} / {len(extremes)} accepted by check")
        print(f"total configs: {len(cases) + len(extremes)}")
        if "--no-runs" in argv:
            return 0
        outcomes: dict[str, list[str]] = {}
        if "--only" in argv:  # --only NAME,NAME: run just these extreme configs
            wanted = set(argv[argv.index("--only") + 1].split(","))
            extremes = [case for case in extremes if case.name in wanted]
        for case in extremes:
            outcome, detail = _run_extreme(case, folder, timeout=120.0)
            outcomes.setdefault(outcome, []).append(case.name)
            if outcome != "ok":
                print(f"  {outcome:13s} {case.name}: {detail}")
    counts = ", ".join(f"{k}: {len(v)}" for k, v in sorted(outcomes.items()))
    print(f"extreme runs: {counts}")
    print(
        f"hangs: {len(outcomes.get('hang', []))}; exit 0 with wrong numbers: "
        f"{len(outcomes.get('wrong-numbers', []))}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
