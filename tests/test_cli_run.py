"""The simulation commands: run, check, example, plot; clean errors, atomic files."""

from __future__ import annotations

import json

import pytest
import xarray as xr
from typer.testing import CliRunner

from caitlab.cli import _register_commands, app

_register_commands()
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_example_lists_and_prints():
    listed = invoke("example")
    assert listed.exit_code == 0
    assert "double-cait" in listed.output
    printed = invoke("example", "double-cait")
    assert "94.46 h" in printed.output


def test_check_accepts_the_examples():
    result = invoke("check", "double-cait")
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


def test_check_shows_the_full_config_with_defaults():
    from caitlab.config import experiment_from_text
    from caitlab.examples import load_example

    result = invoke("check", "double-cait", "--show")
    assert result.exit_code == 0, result.output
    assert "occupancy = 0.9" in result.output and "tolerance = " in result.output
    assert experiment_from_text(result.output) == load_example("double-cait")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[sample]\nthickness = '-1 mm'\n", "sample.thickness: must be > 0"),
        ("[sample\n", "not valid TOML"),
        ("colour = 'red'\n", "colour: unknown key"),
    ],
)
def test_check_explains_errors_without_traceback(tmp_path, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    result = invoke("check", str(config))
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_config_file_is_a_clear_error():
    result = invoke("check", "no-such-file.toml")
    assert result.exit_code == 2
    assert "no config file" in result.output


def test_run_writes_result_and_summary(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", "quick-double-cait", "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert [s["name"] for s in summary["stages"]] == ["Rb-CAIT", "Cs-CAIT"]
    for key in (
        "duration_s",
        "charge_C",
        "surface_potential_end_V",
        "inventory_m2",
        "conservation_rel_error",
    ):
        assert key in summary["stages"][0]
    for key in ("wall_time_s", "n_cells", "n_steps", "caitlab_version", "created", "input"):
        assert key in summary
    with xr.open_dataset(out / "result.nc", engine="h5netcdf") as ds:
        assert ds["density"].dims == ("time", "species", "x")
        assert list(ds["species"].values) == ["Li", "Rb", "Cs"]
        assert list(ds["stage"].values) == ["Rb-CAIT", "Cs-CAIT"]
        assert set(ds["time_stage"].values) == {"Rb-CAIT", "Cs-CAIT"}
        assert ds.attrs["caitlab_version"]
        assert "created" in ds.attrs
        assert "[sample]" in ds.attrs["config_toml"]
        # the end of every stage is a saved time
        ends = [s["duration_s"] for s in summary["stages"]]
        assert float(ds["time"][-1]) == pytest.approx(sum(ends))
        assert any(abs(float(t) - ends[0]) < 1e-6 for t in ds["time"].values)
    assert not list(out.glob("*.tmp"))


def test_a_stage_that_cannot_converge_is_reported(tmp_path, monkeypatch):
    from caitlab import solver

    monkeypatch.setattr(solver, "_newton", lambda *args: (-1, 0))
    result = invoke("run", "quick-double-cait", "--out", str(tmp_path / "x"), "--quiet")
    assert result.exit_code == 3
    assert "stage 'Rb-CAIT' could not be integrated at t = " in result.output
    assert "Try:" in result.output
    assert not (tmp_path / "x" / "result.nc").exists()


def test_an_output_folder_that_cannot_be_made_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = invoke("run", "quick-double-cait", "--out", str(blocker / "run"), "--quiet")
    assert result.exit_code == 2
    assert "error:" in result.output and "Traceback" not in result.output
