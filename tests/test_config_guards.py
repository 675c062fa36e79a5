"""Issue 13 regressions: finite numbers, one unit rule, clean messages, one CLI error line."""

from __future__ import annotations

import math
import operator
import warnings
import zipfile

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from caitlab.config import (
    ConfigError,
    experiment_from_dict,
    experiment_from_text,
    experiment_to_dict,
    experiment_to_toml,
    load_experiment,
    quantity_kind,
)
from caitlab.examples import example_path, load_example
from caitlab.materials import Sample, Species
from caitlab.units import UnitError, article, to_canonical


def _cli(args: list[str]):
    from caitlab.cli import _register_commands, app

    _register_commands()
    return CliRunner().invoke(app, args)


def _example_text() -> str:
    return example_path("quick-double-cait").read_text()


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        experiment_from_text(text)
    return info.value.problems


# --------------------------------------------------------------------------- units
@pytest.mark.parametrize("text", ["inf mm", "-inf mm", "nan mm", "1e400 mm", "Infinity m"])
def test_non_finite_quantities_are_refused(text):
    with pytest.raises(UnitError, match="finite"):
        to_canonical(text, "length")


@pytest.mark.parametrize("value", [math.inf, math.nan, -math.inf])
def test_non_finite_python_floats_are_refused(value):
    with pytest.raises(UnitError, match="finite"):
        to_canonical(value, "length")
    with pytest.raises(ValidationError):
        Sample(
            thickness=value,
            area=1e-6,
            mobile_ion_density=1e28,
            species=[Species(name="Li", initial_fraction=1.0)],
        )


def test_a_unit_without_a_number_is_refused():
    with pytest.raises(UnitError, match="write a number and a unit"):
        to_canonical("mm", "length")


@pytest.mark.parametrize("value", ["2.325", 2.325])
def test_bare_numbers_need_a_unit_in_files(value):
    with pytest.raises(UnitError, match=r"'2\.325 m' if you meant m"):
        to_canonical(value, "length", units_required=True)


def test_python_floats_are_si():
    assert to_canonical(2.325e-3, "length") == 2.325e-3
    with pytest.raises(UnitError, match="has no unit"):
        to_canonical("2.325", "length")  # a string is read only with its unit


def test_celsius_written_as_coulomb_gets_a_hint():
    with pytest.raises(UnitError, match="'50 degC'"):
        to_canonical("50 C", "temperature")
    assert to_canonical("50 degC", "temperature") == pytest.approx(323.15)


def test_messages_use_the_right_article():
    assert article("energy") == "an energy" and article("length") == "a length"
    with pytest.raises(UnitError, match="is not an energy"):
        to_canonical("3 m", "energy")


# --------------------------------------------------------------------------- one unit rule
def test_bare_numbers_in_a_config_file_are_refused_with_the_fix():
    text = _example_text().replace('thickness = "2.325 mm"', "thickness = 2.325")
    problems = _problems(text)
    assert problems == [
        "sample.thickness: 2.325 has no unit: write a length with its unit, e.g. "
        "'2.325 m' if you meant m, or '2.325 mm'"
    ]


def test_a_unitless_string_in_a_config_file_is_refused():
    text = _example_text().replace('thickness = "2.325 mm"', 'thickness = "2.325"')
    assert any("sample.thickness: 2.325 has no unit" in p for p in _problems(text))


def test_dictionaries_from_python_keep_si_numbers():
    data = experiment_to_dict(load_example("quick-double-cait"))
    assert experiment_from_dict(data) == load_example("quick-double-cait")
    with pytest.raises(ConfigError, match="has no unit"):
        experiment_from_dict(data, units_required=True)


def test_written_toml_carries_units_and_reads_back():
    experiment = load_example("quick-double-cait")
    text = experiment_to_toml(experiment)
    assert 'thickness = "2.325 mm"' in text and 'fwhm = "0.25 eV"' in text
    assert "relative_permittivity = 7.0" in text  # dimensionless: a plain number
    assert experiment_from_text(text) == experiment


def test_quantity_kinds_follow_the_schema():
    data = experiment_to_dict(load_example("quick-double-cait"))
    assert quantity_kind(data, "stages.Cs-CAIT.diffusivity.Cs.d") == "diffusivity"
    assert quantity_kind(data, "stages.Rb-CAIT.diffusivity.Li.fwhm") == "energy"
    assert quantity_kind(data, "stages.0.beam.source_potential") == "voltage"
    assert quantity_kind(data, "stages.Rb-CAIT.diffusivity.Li.occupancy") is None
    assert quantity_kind(data, "sample.species.Li.initial_fraction") is None


def test_values_and_kinds_walk_a_path_by_the_same_rule():
    """get_value and quantity_kind take a list element by index, negative index or name."""
    from caitlab.params import ParameterPathError, get_value, iter_numeric_paths

    data = experiment_to_dict(load_example("quick-double-cait"))
    n = len(data["stages"])
    for path in iter_numeric_paths(data):
        forms = {path}
        for k, stage in enumerate(data["stages"]):
            named = f"stages.{stage['name']}."
            if path.startswith(named):
                forms |= {path.replace(named, f"stages.{i}.", 1) for i in (k, k - n)}
        assert len({get_value(data, f) for f in forms}) == 1, forms
        assert len({quantity_kind(data, f) for f in forms}) == 1, forms
    assert quantity_kind(data, "stages.Rb-CAIT.diffusivity.Rb.d") == "diffusivity"
    # an element without a name is not the element named "None", for either walk
    del data["stages"][0]["name"]
    with pytest.raises(ParameterPathError, match="no 'None'"):
        get_value(data, "stages.None.diffusivity.Rb.d")
    assert quantity_kind(data, "stages.None.diffusivity.Rb.d") is None
    assert quantity_kind(data, "stages.0.diffusivity.Rb.d") == "diffusivity"


SWEEP = """
experiment = "{experiment}"
[[parameters]]
path = "{path}"
values = [{values}]
"""


@pytest.mark.parametrize(
    ("path", "values", "message"),
    [
        ("stages.Cs-CAIT.diffusivity.Cs.d", "3e-23, 4e-23", "3e-23 has no unit"),
        ("stages.Cs-CAIT.diffusivity.Cs.d", '"3e-23 eV"', "is not a diffusivity"),
        ("stages.Cs-CAIT.diffusivity.Li.occupancy", '"0.5 eV"', "dimensionless"),
        ("stages.Cs-CAIT.diffusivity.Cs.d", '"inf m^2/s"', "not a finite"),
    ],
)
def test_sweep_values_follow_the_unit_rule(tmp_path, path, values, message):
    from caitlab.sweep import load_sweep_config

    sweep = tmp_path / "sweep.toml"
    sweep.write_text(
        SWEEP.format(
            experiment=example_path("quick-double-cait").as_posix(), path=path, values=values
        )
    )
    with pytest.raises(ConfigError, match="parameters\\[0\\]") as info:
        load_sweep_config(sweep)
    assert message in str(info.value)


def test_sweep_values_with_units_and_plain_fractions_are_read(tmp_path):
    from caitlab.sweep import load_sweep_config

    sweep = tmp_path / "sweep.toml"
    text = SWEEP.format(
        experiment=example_path("quick-double-cait").as_posix(),
        path="stages.Cs-CAIT.diffusivity.Cs.d",
        values='"3e-23 m^2/s"',
    )
    sweep.write_text(
        text + '[[parameters]]\npath = "stages.Cs-CAIT.diffusivity.Li.occupancy"\nvalues = [0.8]\n'
    )
    _, _, points, _, _ = load_sweep_config(sweep)
    assert points == [
        {"stages.Cs-CAIT.diffusivity.Cs.d": 3e-23, "stages.Cs-CAIT.diffusivity.Li.occupancy": 0.8}
    ]


def test_cli_lengths_need_units():
    from caitlab.cli.pictures import PictureError, _depth_nm

    assert _depth_nm("50 nm") == pytest.approx(50.0)
    with pytest.raises(PictureError, match="has no unit"):
        _depth_nm("50")


# --------------------------------------------------------------------------- messages
def _mutated(old: str, new: str) -> list[str]:
    text = _example_text()
    assert old in text
    return _problems(text.replace(old, new, 1))


def test_unknown_beam_key_keeps_the_beam_in_its_path():
    problems = _mutated('source_potential = "15 V"', 'source_potential = "15 V"\nbogus_key = 1')
    assert problems[0].startswith("stages.Rb-CAIT.beam.bogus_key: unknown key")


def test_a_rest_stage_with_a_beam_names_the_key():
    problems = _mutated('type = "beam"', 'type = "rest"')
    assert problems[0].startswith("stages.Rb-CAIT.beam: unknown key")


def test_species_are_named():
    problems = _mutated("[sample.species.Rb]\ncharge = 1", "[sample.species.Rb]\ncharge = 0")
    assert problems == ["sample.species.Rb.charge: must be > 0 (got 0)"]


def test_misspelt_keys_get_did_you_mean():
    problems = _mutated('d = "3.1e-23 m^2/s"', 'D = "3.1e-23 m^2/s"')
    assert any("diffusivity.Cs.D: unknown key" in p and "did you mean 'd'?" in p for p in problems)


def test_union_errors_are_one_short_line():
    problems = _mutated('model = "constant"\nd = "2.67e-22 m^2/s"', 'model = "magic"')
    assert problems == [
        "stages.Rb-CAIT.diffusivity.Rb: 'model' must be one of 'constant', 'sed', "
        "'tabulated', 'free-form', got 'magic'"
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (_example_text().encode("utf-16"), "UTF-16"),
        (_example_text().replace("quick", "caf\u00e9").encode("latin-1"), "not UTF-8"),
        (bytes(range(256)), "binary"),
    ],
)
def test_files_that_are_not_utf8_are_refused(tmp_path, content, message):
    path = tmp_path / "config.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        load_experiment(path)
    result = _cli(["check", str(path)])
    assert result.exit_code == 2 and message in result.output


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('area = "28.26 mm^2"', 'area = "inf mm^2"', "sample.area"),
        ('duration = "23.615 h"', 'duration = "inf h"', "stages.Rb-CAIT.duration"),
        ("relative_permittivity = 7", "relative_permittivity = inf", "relative_permittivity"),
        ('temperature = "323 K"', 'temperature = "inf K"', "stages.Rb-CAIT.temperature"),
        ('thickness = "2.325 mm"', 'thickness = "1e400 mm"', "sample.thickness"),
        (
            'mobile_ion_density = "1.4e28 m^-3"',
            'mobile_ion_density = "inf m^-3"',
            "sample.mobile_ion_density",
        ),
        ('d = "3.1e-23 m^2/s"', 'd = "inf m^2/s"', "stages.Cs-CAIT.diffusivity.Cs.d"),
        ('species = "Rb"', "species = {Rb = nan}", "stages.Rb-CAIT.beam.species.Rb"),
        ('thickness = "2.325 mm"', 'thickness = "mm"', "sample.thickness"),
    ],
)
def test_issue_examples_are_refused_by_check(tmp_path, old, new, field):
    text = _example_text()
    assert old in text
    path = tmp_path / "config.toml"
    path.write_text(text.replace(old, new, 1))
    result = _cli(["check", str(path)])
    assert result.exit_code == 2 and field in result.output
    assert "Traceback" not in result.output


def test_solver_tolerance_infinity_is_refused():
    text = _example_text().replace('tolerance = "0.05 nm"', 'tolerance = "inf m"')
    assert _problems(text)[0].startswith("solver.tolerance")


# --------------------------------------------------------------------------- one error line
@pytest.mark.parametrize(
    "error",
    [
        ZeroDivisionError("float division by zero"),
        MemoryError(),
        OverflowError("math range error"),
        FloatingPointError("overflow encountered"),
        zipfile.BadZipFile("File is not a zip file"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_numeric_exceptions_become_one_line(monkeypatch, error):
    import caitlab.config

    def boom(path):
        raise error

    monkeypatch.setattr(caitlab.config, "load_experiment", boom)
    result = _cli(["check", str(example_path("quick-double-cait"))])
    assert result.exit_code in (2, 3)
    assert isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in lines[0]


def test_run_refuses_to_save_non_finite_numbers(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from caitlab.cli import _register_commands, app
    from caitlab.examples import load_example
    from caitlab.experiment import Experiment

    broken = load_example("quick-double-cait").run()
    summary = broken.summary()
    summary["stages"][0]["charge_C"] = math.inf
    broken.__dict__["_summary"] = summary  # the cached summary, as a broken run would give
    monkeypatch.setattr(Experiment, "run", lambda self, *args, **kwargs: broken)
    _register_commands()
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", "quick-double-cait", "--out", str(out), "--quiet"])
    assert result.exit_code == 3, result.output
    assert "Rb-CAIT.charge_C" in result.output and "nothing was saved" in result.output
    assert not (out / "result.nc").exists() and not (out / "summary.json").exists()


# --------------------------------------------------------------------------- dask
def test_local_cluster_takes_a_free_dashboard_port_quietly():
    import socket

    from caitlab.fit.executors import open_executor

    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 8787))
        holder.listen()
    except OSError:
        pass  # taken already: the case to test
    told = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_executor(workers=1, announce=told.append) as executor:
            assert executor.map(operator.is_, [1, None], None) == [False, True]
    holder.close()
    assert not [w for w in caught if "already in use" in str(w.message)]
    assert told and "dashboard http" in told[0]


def test_the_console_script_prints_one_error_line(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "config.toml"
    path.write_text(_example_text().replace('area = "28.26 mm^2"', 'area = "inf mm^2"'))
    done = subprocess.run(
        [sys.executable, "-c", "from caitlab.cli import main; main()", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "sample.area: 'inf mm^2' is not a finite area" in done.stderr


FIT = """
experiment = "quick-double-cait.toml"
[[profiles]]
stage = "Cs-CAIT"
file = "stage2.csv"
max_depth = 150e-9
response = { model = "gaussian", rms = 8e-9 }
[[charges]]
stage = "Rb-CAIT"
charge = 2.5e-3
sigma = "0.05 mC"
[[parameters]]
path = "stages.Cs-CAIT.diffusivity.Cs.d"
min = 1e-24
[options]
stepp = 1
"""


def test_fit_files_follow_the_unit_rule(tmp_path):
    from caitlab.fit.config import load_fit_config

    path = tmp_path / "fit.toml"
    path.write_text(FIT)
    with pytest.raises(ConfigError) as info:
        load_fit_config(path)
    heads = [p.split(":")[0] for p in info.value.problems]
    assert heads == [
        "profiles[0].max_depth",
        "profiles[0].response.rms",
        "charges[0].charge",
        "parameters[0].min",
        "options.stepp",
    ]
    assert "'1e-24 m^2/s' if you meant m^2/s" in info.value.problems[3]
    assert "did you mean 'step'?" in info.value.problems[4]
