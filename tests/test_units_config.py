"""Units at the edges and the TOML configuration: round trips and clear errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caitlab._unit_table import FACTORS
from caitlab.config import (
    ConfigError,
    experiment_from_dict,
    experiment_from_text,
    experiment_to_dict,
    experiment_to_toml,
)
from caitlab.examples import example_names, load_example
from caitlab.units import to_canonical


@pytest.mark.parametrize(
    ("text", "kind", "si"),
    [
        ("2.325 mm", "length", 2.325e-3),
        ("94.46 h", "time", 340056.0),
        ("250 meV", "energy", 0.25),
        ("28.26 mm^2", "area", 28.26e-6),
        ("5.8e-19 m^2/s", "diffusivity", 5.8e-19),
        ("1.4e28 m^-3", "density", 1.4e28),
        ("50 degC", "temperature", 323.15),
        ("10 nA", "current", 1e-8),
    ],
)
def test_unit_strings_become_si(text, kind, si):
    assert to_canonical(text, kind) == pytest.approx(si, rel=1e-12)


@given(st.floats(min_value=1e-30, max_value=1e30), st.sampled_from(["m", "mm", "um", "nm"]))
def test_any_length_unit_scales_consistently(value, unit):
    factor = {"m": 1.0, "mm": 1e-3, "um": 1e-6, "nm": 1e-9}[unit]
    assert to_canonical(f"{value!r} {unit}", "length") == pytest.approx(value * factor)


def test_wrong_dimension_names_the_expected_unit():
    with pytest.raises(ValueError, match="not a length"):
        to_canonical("3 V", "length")


@pytest.mark.parametrize("name", example_names())
def test_examples_round_trip_through_toml(name):
    experiment = load_example(name)
    again = experiment_from_text(experiment_to_toml(experiment))
    assert again == experiment


def _paper_dict():
    return experiment_to_dict(load_example("double-cait"))


def _problems(data) -> list[str]:
    with pytest.raises(ConfigError) as info:
        experiment_from_dict(data)
    return info.value.problems


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["sample"].update(thickness="-2 mm"), "sample.thickness: must be > 0"),
        (lambda d: d["sample"].update(area=0), "sample.area: must be > 0"),
        (lambda d: d["stages"][0].update(duration="-1 h"), "stages.Rb-CAIT.duration: must be > 0"),
        (
            lambda d: d["stages"][1].update(temperature="0 K"),
            "stages.Cs-CAIT.temperature: must be > 0",
        ),
        (lambda d: d["sample"].update(colour="red"), "sample.colour: unknown key"),
        (lambda d: d["stages"][0].update(extra=1), "stages.Rb-CAIT.extra: unknown key"),
        (lambda d: d["sample"].update(thickness="3 V"), "sample.thickness: '3 V' is not a length"),
        (
            lambda d: d["sample"]["species"]["Li"].update(initial_fraction=0.5),
            "initial fractions of the species must sum to 1",
        ),
        (
            lambda d: d["stages"][0]["beam"].update(species={"K": 1.0}),
            "beam species ['K'] not declared",
        ),
        (
            lambda d: d["stages"][0]["beam"].update(species={"Rb": 0.5, "Cs": 0.4}),
            "fractions must sum to 1",
        ),
        (
            lambda d: d["stages"][1]["diffusivity"].pop("Rb"),
            "species ['Rb'] present but without a diffusion model",
        ),
        (
            lambda d: d.update(output={"times": ["400 h"]}),
            "output.times [1440000.0] s lie outside the experiment",
        ),
        (
            lambda d: d["stages"][0]["diffusivity"]["Li"].update(model="magic"),
            "stages.Rb-CAIT.diffusivity.Li",
        ),
        (
            lambda d: (
                d["stages"][1].update(temperature="278 K"),
                d["stages"][1]["diffusivity"]["Rb"].update(reference_temperature=323.0),
            ),
            "give activation_energy to scale it",
        ),
    ],
)
def test_bad_input_gets_one_clear_message_naming_the_field(mutate, expected):
    data = _paper_dict()
    mutate(data)
    problems = _problems(data)
    assert any(expected in p for p in problems), problems


def test_invalid_toml_is_reported():
    with pytest.raises(ConfigError, match="not valid TOML"):
        experiment_from_text("[sample\n")


def test_no_aperture_survives_the_toml_round_trip():
    experiment = load_example("quick-double-cait")
    stage = experiment.stages[0]
    bare = experiment.with_(stages=[stage.with_(beam=stage.beam.with_(aperture_distance=None))])
    again = experiment_from_text(experiment_to_toml(bare))
    assert again.stages[0].beam.aperture_distance is None
    assert again == bare


def test_a_sample_thinner_than_two_cells_is_refused():
    data = _paper_dict()
    data["sample"]["thickness"] = "0.4 nm"
    assert any("holds fewer than 2 cells" in p for p in _problems(data))


# the usual spellings are converted without pint, by the factors pint computes for them
_EDGE_NUMBERS = ["0", "1", "-2.5", "2.325", "94.46", "5.8e-19", "1.4e28", "1e308", "-1e-320"]


def test_the_factor_table_is_what_pint_generates():
    from pathlib import Path

    import caitlab._unit_table as table

    assert table._generate() == Path(table.__file__).read_text(encoding="utf-8"), (
        "regenerate it: python -m caitlab._unit_table"
    )


@pytest.mark.parametrize("spelling", sorted(FACTORS))
def test_a_tabulated_spelling_gives_the_float_pint_gives(spelling):
    from caitlab.units import UnitError, _pint_to_canonical

    kind = FACTORS[spelling][0]
    for number in [*_EDGE_NUMBERS, *(repr(x) for x in _random_numbers())]:
        text = f"{number} {spelling}"
        try:
            expected = _pint_to_canonical(text, kind)
        except UnitError as exc:  # 1e308 km: not finite, the same message
            with pytest.raises(UnitError) as info:
                to_canonical(text, kind)
            assert str(info.value) == str(exc)
            continue
        got = to_canonical(text, kind)
        assert got == expected and repr(got) == repr(expected), text


def _random_numbers():
    import random

    rng = random.Random(7)
    return [rng.uniform(-10, 10) * 10.0 ** rng.randint(-30, 30) for _ in range(40)]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("3 V", "length"),  # a tabulated spelling of another kind
        ("2.325 furlong", "length"),  # pint knows it, the table does not
        ("2.325 parsec", "time"),
        ("2.325 blorp", "length"),
        ("2.325", "length"),
        ("2.325 dimensionless", "length"),
        ("mm", "length"),
        ("  2.325   mm ", "length"),
        ("50 degC", "temperature"),
        ("50 C", "temperature"),
        ("1e999 mm", "length"),
    ],
)
def test_other_spellings_and_errors_are_pint_s(text, kind):
    """Outside the table, to_canonical is pint's conversion with today's messages."""
    from caitlab.units import UnitError, _pint_to_canonical

    try:
        expected: object = _pint_to_canonical(text, kind)
    except UnitError as exc:
        expected = str(exc)
    try:
        got: object = to_canonical(text, kind)
    except UnitError as exc:
        got = str(exc)
    assert got == expected


def test_loading_the_paper_config_does_not_import_pint():
    import subprocess
    import sys

    script = (
        "import sys; from caitlab.config import load_experiment; "
        "load_experiment('double-cait'); print('pint' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"
