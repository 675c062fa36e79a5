"""The ``sims`` and ``compare`` commands, the TOML config model, and simulation results."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import stand_in_profile
from typer.testing import CliRunner

from caitlab.cli import _register_commands, app
from caitlab.results import open_result
from caitlab.sims import (
    GaussianResponse,
    MRIResponse,
    SimsError,
    SimsProfileConfig,
    compare_profiles,
    example_export_path,
    stand_in_fractions,
    write_surfacelab_export,
)

_register_commands()
runner = CliRunner()
EXAMPLE = str(example_export_path())
ELEMENT_ARGS = [
    "--element",
    "Li=^6Li+,Li+",
    "--element",
    "Rb=84.9118,86.9092",
    "--element",
    "Cs=Cs+",
]


def stand_in_export(path):
    """An export made like the shipped example, from the analytic stand-in (20 nm rms)."""
    profile = stand_in_profile(seed=7)
    return str(write_surfacelab_export(path, profile))


def invoke(*args: str):
    return runner.invoke(app, list(args))


def make_result(folder):
    """A saved Result whose stage ends are the analytic stand-in ("rb": Rb only, "cs": all)."""
    from caitlab.examples import load_example
    from caitlab.results import D_GRID, Result, StageRecord

    quick = load_example("quick-double-cait")
    experiment = quick.with_(stages=[s.with_(name=n) for s, n in zip(quick.stages, ["rb", "cs"])])
    mesh = experiment.mesh.build(experiment.sample.thickness)
    x, n0 = mesh.centres, experiment.sample.mobile_ion_density
    final = stand_in_fractions(x)
    after_rb = np.array([1 - final["Rb"], final["Rb"], 0 * x]) * n0
    after_cs = np.array([final[s] for s in ("Li", "Rb", "Cs")]) * n0

    def record(name, start, duration, states):
        time = start + np.linspace(duration, 0, len(states), endpoint=False)[::-1]
        zeros, end = np.zeros(len(states)), np.array([start + duration])
        return StageRecord(
            name=name,
            start=start,
            duration=duration,
            temperature=573.0,
            species=("Li", "Rb", "Cs"),
            x=x,
            n0=n0,
            time=time,
            density=np.array(states),
            potential=np.zeros((len(states), x.size)),
            current=zeros,
            charge=zeros,
            trace_time=end,
            trace_current=end * 0,
            trace_charge=end * 0,
            trace_surface_potential=end * 0,
            trace_beam_current=end * 0,
            diffusivity=np.full((3, D_GRID.size), np.nan),
            inflow_m2=np.zeros(3),
            outflow_m2=np.zeros(3),
            inventory_start_m2=np.zeros(3),
            inventory_end_m2=np.zeros(3),
            inventory_change_m2=np.zeros(3),
            n_steps=1,
            n_rejected=0,
            n_newton=1,
            n_factor=1,
            rejected_by={},
            min_density_fraction=0.0,
            wall_time_s=0.0,
        )

    records = [record("rb", 0.0, 20.0, [after_rb, after_rb]), record("cs", 20.0, 10.0, [after_cs])]
    return Result(experiment, mesh, tuple(records), 0.0, "2026-01-01T00:00:00+00:00").save(folder)


# ------------------------------------------------------------------ sims
def test_sims_cli_writes_fractions(tmp_path):
    out, png = tmp_path / "fractions.csv", tmp_path / "p.png"
    result = invoke(
        "sims",
        EXAMPLE,
        *ELEMENT_ARGS,
        "--crater-depth",
        "310 nm",
        "--out",
        str(out),
        "--plot",
        str(png),
    )
    assert result.exit_code == 0, result.output
    table = np.genfromtxt(out, delimiter=",", names=True)
    assert table.dtype.names == ("depth_nm", "Li", "Rb", "Cs", "Li_sigma", "Rb_sigma", "Cs_sigma")
    np.testing.assert_allclose(table["Li"] + table["Rb"] + table["Cs"], 1.0, atol=1e-15)
    assert table["depth_nm"][0] >= 0 and table["depth_nm"][-1] <= 310 + 1e-6
    assert np.all(np.isfinite(table.view((float, 7))))
    assert png.stat().st_size > 1000


def test_sims_cli_defaults_and_rate(tmp_path):
    result = invoke("sims", stand_in_export(tmp_path / "s.txt"), "--sputter-rate", "1 nm/s")
    assert result.exit_code == 0, result.output
    assert "depth 0.0-290.2 nm" in result.output
    assert "dropped 1 row(s) with all chosen channels zero (lines 204)" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--element", "Li=^6Li,Li+", "--crater-depth", "310 nm"], "close matches"),
        (["--crater-depth", "0 nm"], "must be positive"),
        (["--crater-depth", "-310 nm"], "must be positive"),
        (["--crater-depth", "310"], "give a unit"),
        (["--crater-depth", "310 s"], "cannot be converted"),
        (["--element", "Li", "--crater-depth", "310 nm"], "NAME=CHANNEL"),
        ([], "no depth"),
    ],
)
def test_sims_cli_errors(args, message):
    result = invoke("sims", EXAMPLE, *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_sims_cli_error_names_line_and_column(tmp_path):
    lines = example_export_path().read_bytes().split(b"\r\n")
    cells = lines[10].split(b"\t")
    cells[5] = b"nan"  # the ^6Li+ column of data line 11
    lines[10] = b"\t".join(cells)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\r\n".join(lines))
    result = invoke("sims", str(bad), "--crater-depth", "310 nm")
    assert result.exit_code == 2
    assert "bad.txt, line 11, column 6" in result.output
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = invoke("sims", str(empty), "--crater-depth", "310 nm")
    assert result.exit_code == 2 and "empty" in result.output


# ------------------------------------------------------------------ compare
def test_compare_cli(tmp_path):
    folder = make_result(tmp_path / "run")
    png = tmp_path / "compare.png"
    measured = stand_in_export(tmp_path / "m.txt")
    result = invoke(
        "compare",
        str(folder),
        measured,
        "--roughness",
        "20 nm",
        "--crater-depth",
        "310 nm",
        *ELEMENT_ARGS,
        "--out",
        str(png),
    )
    assert result.exit_code == 0, result.output
    assert "stage cs" in result.output
    rms = float(result.output.split("residual RMS of fractions:")[1].split()[0])
    assert rms < 0.03  # the measurement was made from the same stand-in, 20 nm roughness
    assert png.stat().st_size > 1000
    worse = invoke("compare", str(folder), measured, "--crater-depth", "310 nm", "--stage", "rb")
    assert worse.exit_code == 0
    assert float(worse.output.split("residual RMS of fractions:")[1].split()[0]) > rms


def test_compare_cli_errors(tmp_path):
    folder = make_result(tmp_path / "run")
    result = invoke("compare", str(folder), EXAMPLE, "--crater-depth", "310 nm", "--stage", "nope")
    assert result.exit_code == 2 and "stages: ['rb', 'cs']" in result.output
    result = invoke("compare", str(tmp_path / "none"), EXAMPLE, "--crater-depth", "310 nm")
    assert result.exit_code == 2 and "result.nc" in result.output


def test_compare_python_api(tmp_path):
    result = open_result(make_result(tmp_path / "run"))
    sim = result.stage("rb").fractions
    assert sim.dims == ("species", "depth") and sim.attrs["time"] == 20.0
    config = SimsProfileConfig(
        file=example_export_path(),
        crater_depth="310 nm",
        response={"model": "gaussian", "rms": "20 nm"},
    )
    measured = config.load()
    comparison = compare_profiles(result, measured, config.response.build())
    assert comparison.stage == "cs"
    assert comparison.species == ("Li", "Rb", "Cs")
    assert comparison.simulated.shape == comparison.measured.shape
    with pytest.raises(SimsError, match="fewer than two species in common"):
        compare_profiles(result, measured.assign_coords(species=["a", "b", "c"]))


# ------------------------------------------------------------------ config
def test_config_model():
    config = SimsProfileConfig.model_validate(
        {
            "file": "stage2.txt",
            "elements": {"Li": ["^6Li+", "Li+"], "Rb": [84.9118, 86.9092], "Cs": "Cs+"},
            "sputter_rate": "0.5 nm/s",
            "response": {
                "model": "mri",
                "mixing": "2 nm",
                "roughness": "5 nm",
                "information": "1 nm",
            },
        }
    )
    assert config.elements["Rb"] == ["84.9118", "86.9092"]
    assert config.elements["Cs"] == ["Cs+"]
    assert config.sputter_rate == pytest.approx(0.5e-9)
    assert config.response.build() == MRIResponse(2e-9, 5e-9, 1e-9)
    assert config.path("/data").as_posix() == "/data/stage2.txt"
    assert SimsProfileConfig(file="a", response={"rms": 5e-9}).response.build() == GaussianResponse(
        5e-9
    )
    with pytest.raises(ValueError, match="positive"):
        SimsProfileConfig(file="a", crater_depth="-3 nm")
    with pytest.raises(ValueError, match="not both"):
        SimsProfileConfig(file="a", crater_depth="3 nm", sputter_rate="1 nm/s")
    with pytest.raises(ValueError, match="extra"):
        SimsProfileConfig(file="a", crater="3 nm")


def test_compare_with_processed_csv(tmp_path):
    folder = make_result(tmp_path / "run")
    csv = tmp_path / "f.csv"
    measured = stand_in_export(tmp_path / "m.txt")
    assert invoke("sims", measured, "--crater-depth", "310 nm", "--out", str(csv)).exit_code == 0
    result = invoke("compare", str(folder), str(csv), "--roughness", "20 nm")
    assert result.exit_code == 0, result.output
    rms = float(result.output.split("residual RMS of fractions:")[1].split()[0])
    assert rms < 0.03


def test_compare_cli_with_an_electrometer_log(tmp_path, quick_result):
    folder = tmp_path / "run"
    quick_result.save(folder)
    traces = open_result(folder).traces
    time, first = np.unique(np.asarray(traces["time"].values)[1:], return_index=True)
    current = np.asarray(traces["current"].values)[1:][first]
    log = tmp_path / "log.tsv"
    for scale, name in ((1.0, "same"), (2.0, "double")):
        rows = "\n".join(f"{t:.17g}\t{i * scale * 1e9:.17g}" for t, i in zip(time, current))
        log.write_text(f"time [s]\tcurrent [nA]\n{rows}\n")
        result = invoke(
            "compare",
            str(folder),
            stand_in_export(tmp_path / "m.txt"),
            "--crater-depth",
            "310 nm",
            *ELEMENT_ARGS,
            "--electrometer",
            str(log),
            "--electrometer-sigma",
            "0.01 nA",
        )
        assert result.exit_code == 0, result.output
        deviation = float(result.output.split("RMS deviation ")[1].split()[0])
        chi2 = float(result.output.split("chi2 of the current: ")[1].split()[0])
        if name == "same":
            assert deviation < 1e-9 and chi2 < 1e-9
        else:
            assert deviation > 0.5 and chi2 > 1.0
    result = invoke(
        "compare",
        str(folder),
        stand_in_export(tmp_path / "m.txt"),
        "--crater-depth",
        "310 nm",
        *ELEMENT_ARGS,
        "--electrometer",
        str(log),
        "--electrometer-sigma",
        "0.01",
    )
    assert result.exit_code == 2 and "--electrometer-sigma" in result.output
