"""Issue 21, a scientist's first hour: one test (or a few) per item of the issue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from caitlab.cli import _register_commands, app

_register_commands()
runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data"


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


# ------------------------------------------------------------- 1. one fractions-table rule
@pytest.mark.parametrize("name", ["double-cait-stage1.csv", "double-cait-stage2.csv"])
def test_compare_and_fit_read_a_fractions_table_alike(name):
    """The shipped tables (8 significant digits) are fractions with their sigma columns for
    ``compare`` as for ``fit``: the same values, the same weights."""
    from caitlab.cli.sims import _measured
    from caitlab.fit import read_fractions_table

    fit_profile = read_fractions_table(DATA / name, "s")
    compare_profile = _measured(DATA / name, None, None, None, 0.05, "auto")
    assert fit_profile.sigma_given and compare_profile.sigma_given
    assert compare_profile.species == fit_profile.species
    for s in fit_profile.species:
        np.testing.assert_array_equal(compare_profile.fractions[s], fit_profile.fractions[s])
        np.testing.assert_array_equal(compare_profile.sigma[s], fit_profile.sigma[s])


def test_fractions_table_tolerance_follows_the_written_digits(tmp_path):
    from caitlab.fit import read_fractions_table
    from caitlab.sims import read_table
    from caitlab.sims.measured import measured_from_table

    three = tmp_path / "three.csv"  # 8 digits: -1e-12 is a zero within the rounding
    three.write_text("depth_nm,Li,Rb\n1,-1e-12,0.99999999\n2,0.51234567,0.48765433\n")
    assert measured_from_table(read_table(three)) is not None
    counts = tmp_path / "counts.csv"  # not fractions: refused by the fit with a reason
    counts.write_text("depth_nm,Li,Rb\n1,5,6\n2,5,5\n")
    assert measured_from_table(read_table(counts)) is None
    with pytest.raises(ValueError, match="counts"):
        read_fractions_table(counts, "s")


# ------------------------------------------------- 2. examples reproduce their docs
def _doc_selection(doc: Path) -> tuple[str, dict[str, float]]:
    """The selected model and each model's chi2 from the first selection table of a page."""
    text = doc.read_text(encoding="utf-8")
    block = text[text.index("Rb in Cs-CAIT: selected") :].split("```")[0]
    lines = block.strip().splitlines()
    selected = lines[0].split("selected ")[1].split()[0]
    chi2 = {row.split()[0]: float(row.split()[1]) for row in lines[2:]}
    return selected, chi2


def test_landscape_quick_example_reproduces_its_docs_page(tmp_path):
    """``caitlab landscape examples/landscape/landscape-quick.toml`` prints what
    docs/landscape.md quotes (selected model, every model's chi2)."""
    import json

    out = tmp_path / "landscape-out"
    toml = ROOT / "examples" / "landscape" / "landscape-quick.toml"
    result = invoke("landscape", toml, "--out", out, "--no-figures")
    assert result.exit_code == 0, result.output
    target = json.loads((out / "landscape.json").read_text())["targets"][0]
    selected, chi2 = _doc_selection(ROOT / "docs" / "landscape.md")
    assert target["selected"] == selected
    computed = {row["model"]: row["chi2"] for row in target["table"]}
    assert computed.keys() == chi2.keys()
    for model, value in chi2.items():  # the free-form curve is the least reproducible
        assert computed[model] == pytest.approx(value, rel=0.05 if model == "free-form" else 0.01)


def _load_script(path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _same_numbers(made: Path, shipped: Path) -> None:
    from caitlab.sims import read_profile

    a, b = read_profile(made), read_profile(shipped)
    assert a.channel_names == b.channel_names
    np.testing.assert_allclose(a.counts, b.counts, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize(
    ("script", "shipped"),
    [
        ("examples/make_synthetic_fit_data.py", "examples/data"),
        ("examples/make_synthetic_sims.py", "src/caitlab/examples"),
    ],
)
def test_shipped_example_data_are_what_their_scripts_write(tmp_path, monkeypatch, script, shipped):
    """Every shipped data file is regenerated, to the digits written, by its script."""
    module = _load_script(ROOT / script)
    monkeypatch.setattr(module, "OUT", tmp_path)
    module.main()
    made = sorted(tmp_path.iterdir())
    assert made
    for path in made:
        _same_numbers(path, ROOT / shipped / path.name)


def test_shipped_landscape_data_are_what_their_script_writes(tmp_path):
    from caitlab.fit import write_fractions_table

    module = _load_script(ROOT / "examples" / "landscape" / "make_landscape_data.py")
    for profile in module.synthetic_profiles("sin2"):
        name = f"sin2-{profile.stage}.csv"
        write_fractions_table(tmp_path / name, profile)
        _same_numbers(tmp_path / name, ROOT / "examples" / "landscape" / "data" / name)


# ------------------------------------------------------------- 3. numbers with units
def test_check_show_spells_numbers_in_natural_units_and_reads_back_equal():
    from caitlab import load_experiment
    from caitlab.config import experiment_from_text, experiment_to_toml

    result = invoke("check", "double-cait", "--show")
    assert result.exit_code == 0, result.output
    assert 'thickness = "2.325 mm"' in result.output
    assert 'duration = "94.46 h"' in result.output
    assert 'temperature = "323 K"' in result.output
    assert "0.0023250000000000002" not in result.output
    experiment = load_experiment("double-cait")
    assert experiment_from_text(experiment_to_toml(experiment)) == experiment


def test_spelled_reads_back_exactly():
    from caitlab.units import spelled, to_canonical

    for value, kind in [
        (0.1 + 0.2, "length"),
        (1e-6, "time"),
        (2.52e-3, "charge"),
        (0.225, "energy"),
        (1.4e28, "density"),
        (123456.789, "time"),
    ]:
        assert to_canonical(spelled(value, kind), kind) == value
    assert spelled(0.225, "energy") in ("0.225 eV", "225 meV")


def test_short_reprs(quick_experiment, quick_result):
    assert len(repr(quick_experiment)) < 200
    assert "23.615 h" in repr(quick_experiment)
    assert len(repr(quick_result)) < 300 and "mC" in repr(quick_result)
    assert len(repr(quick_result.stages[0])) < 200


def test_sweep_table_headers_carry_units_and_plots_find_columns_by_path(tmp_path, quick_result):
    """``table.csv`` names each parameter column with its unit; ``misfit_map`` and the
    report find a column by the parameter's path and label the axis with the header."""
    from caitlab.config import experiment_to_dict
    from caitlab.fit import FitProblem, synthetic_profile
    from caitlab.plot import misfit_map
    from caitlab.sweep import column_header, read_sweep_table, run_sweep

    config = experiment_to_dict(quick_result.experiment)
    depth = np.arange(1.0, 120.0) * 1e-9
    data = synthetic_profile(
        quick_result, "Cs-CAIT", depth, response={"rms": 8e-9}, counts=3000, rng=3
    )
    d_cs, rms = "stages.Cs-CAIT.diffusivity.Cs.d", "profiles.Cs-CAIT.rms"
    points = [{d_cs: d, rms: r} for d in (3e-23, 6e-23) for r in (6e-9, 10e-9)]
    run_sweep(config, points, tmp_path, problem=FitProblem(config, [data]))
    assert column_header(config, d_cs) == f"{d_cs} [m^2/s]"
    assert column_header(config, rms) == f"{rms} [m]"
    assert column_header(config, "stages.Cs-CAIT.diffusivity.Li.fwhm").endswith(" [eV]")
    assert column_header(config, "sample.species.Li.initial_fraction") == (
        "sample.species.Li.initial_fraction"
    )
    header = (tmp_path / "table.csv").read_text().splitlines()[1].split(",")
    assert f"{d_cs} [m^2/s]" in header and f"{rms} [m]" in header
    table = read_sweep_table(tmp_path / "table.csv")
    assert len(table) == 4
    ax = misfit_map(table, d_cs, rms)  # units in the labels, tiny values in a power of ten
    labels = (f"{d_cs} [$10^{{-23}}$ m^2/s]", f"{rms} [$10^{{-9}}$ m]")
    assert (ax.get_xlabel(), ax.get_ylabel()) == labels
    ax = misfit_map(table)  # the parameters found without being named
    assert {ax.get_xlabel(), ax.get_ylabel()} == set(labels)


def test_compare_names_the_stage_time_in_hours(tmp_path, quick_result):
    folder = quick_result.save(tmp_path / "run")
    result = invoke("compare", folder, DATA / "double-cait-stage2.csv")
    assert result.exit_code == 0, result.output
    hours = quick_result.stage("Cs-CAIT").end / 3600
    assert f"(t = {hours:.4g} h)" in result.output
    assert " s)" not in result.output.splitlines()[0]


@pytest.fixture(scope="module")
def small_fit(quick_result):
    from caitlab.config import experiment_to_dict
    from caitlab.fit import FitProblem, FreeParameter, fit, synthetic_profile

    profile = synthetic_profile(
        quick_result,
        "Cs-CAIT",
        np.arange(1.0, 120.0) * 1e-9,
        response={"rms": 8e-9},
        counts=3000,
        rng=3,
    )
    free = [
        FreeParameter(
            "stages.Cs-CAIT.diffusivity.Cs.d",
            value=4e-23,
            min=1e-24,
            max=1e-21,
            log=True,
            name="D_Cs",
        ),
        FreeParameter("profiles.Cs-CAIT.rms", value=6e-9, min=1e-9, max=2e-8),
    ]
    config = experiment_to_dict(quick_result.experiment)
    return fit(FitProblem(config, [profile]), free, tolerance=1e-3)


def test_fit_html_in_display_units_and_report_without_mangled_names(small_fit):
    import re

    html = small_fit._repr_html_()
    assert "<td>nm</td>" in html
    rms = re.search(r"profiles\.Cs-CAIT\.rms</td><td>([0-9.e+-]+)</td>", html)
    assert rms is not None and 4 < float(rms.group(1)) < 12  # nm, not 8e-09 m
    text = small_fit.report()
    assert "profiles_Cs_CAIT_rms" not in text and "profiles.Cs-CAIT.rms:" in text


# ------------------------------------------------------------- 7. lmfit-style access
def test_fit_result_params_and_fit_report(small_fit):
    assert small_fit.params["D_Cs"].stderr > 0
    assert small_fit.params["D_Cs"].value == pytest.approx(3.1e-23, rel=0.2)
    report = small_fit.fit_report()
    assert "[[Variables]]" in report and "D_Cs" in report
    assert "profiles.Cs-CAIT.rms" in report


# ------------------------------------------------------------ 5. progress and first run
def test_notebook_progress_without_ipywidgets_is_a_plain_html_bar(monkeypatch, quick_experiment):
    """In a notebook without ipywidgets: HTML bars updated in place, no warning."""
    import warnings

    import IPython.display

    from caitlab import _progress

    shown = []

    class Handle:
        def update(self, obj):
            shown.append(obj.data)

    def display(obj, display_id=False):
        shown.append(obj.data)
        return Handle()

    monkeypatch.setattr(_progress, "in_notebook", lambda: True)
    monkeypatch.setattr(_progress, "widgets_available", lambda: False)
    monkeypatch.setattr(IPython.display, "display", display)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quick_experiment.run(progress=True)
    assert shown and all("<progress" in html for html in shown)
    assert all(stage.name in shown[-1] for stage in quick_experiment.stages)
    assert "h simulated" in shown[-1]


def test_first_compile_is_announced_and_kept_out_of_the_wall_time(
    quick_experiment, capsys, monkeypatch, tmp_path
):
    """A compilation during a run (here a fresh numba function the observer calls) is
    announced once on stderr and reported as compile_time_s, not in wall_time_s."""
    import time

    import numba

    from caitlab import _compile
    from caitlab.results import open_result

    monkeypatch.setattr(_compile, "_announced", False)

    @numba.njit  # not cached: compiled on its first call, during the run
    def fresh(x):
        return np.sin(x) + np.cos(x) * 2.0

    def observer(stage, t, end):
        fresh(t)

    clock = time.perf_counter()
    result = quick_experiment.run(observer)
    elapsed = time.perf_counter() - clock
    summary = result.summary()
    assert summary["compile_time_s"] > 0.02
    assert summary["wall_time_s"] + summary["compile_time_s"] <= elapsed
    assert sum(s["wall_time_s"] for s in summary["stages"]) <= summary["wall_time_s"]
    err = capsys.readouterr().err
    assert err.count("compiling the solver (first run only") == 1
    again = quick_experiment.run(observer)  # compiled now: no note, no compile time
    assert again.compile_time_s < 0.02 and "compiling" not in capsys.readouterr().err
    opened = open_result(result.save(tmp_path / "run"))
    assert opened.compile_time_s == result.compile_time_s


def test_landscape_reports_progress(tmp_path):
    """``run_landscape(progress=...)`` is told of every model's fit (the command draws a
    rich bar from it)."""
    from test_landscape import _profiles, _truth

    from caitlab.fit import write_fractions_table
    from caitlab.landscape.study import run_landscape

    for profile in _profiles(_truth("sin2"), 1e4):
        write_fractions_table(tmp_path / f"{profile.stage}.csv", profile)
    (tmp_path / "fit.toml").write_text(
        'experiment = "quick-double-cait.toml"\n'
        '[[profiles]]\nstage = "Cs-CAIT"\nfile = "Cs-CAIT.csv"\n'
        'response = { rms = "3 nm" }\n'
        '[[parameters]]\npath = "profiles.Cs-CAIT.rms"\nmin = "1 nm"\nmax = "10 nm"\n'
        '[landscape]\nmodels = ["constant", "sin2"]\nsamples = 0\n'
        '[[landscape.targets]]\nstage = "Cs-CAIT"\nspecies = "Rb"\n'
    )
    told = []
    run_landscape(tmp_path / "fit.toml", None, figures=False, progress=lambda *a: told.append(a))
    assert told[0] == (0, 2, "Rb in Cs-CAIT: constant (1/2)")
    assert any(step == 1 and "sin2 (2/2)" in what for step, _, what in told)
    assert any("simulations" in what for _, _, what in told)
    assert told[-1] == (2, 2, "done")


# ------------------------------------------------ 7. what PyBaMM users reach for
def test_result_variables_list_names_units_and_descriptions(quick_result):
    variables = quick_result.variables
    assert variables["fraction"].unit == "1" and variables["fraction"].dims == (
        "time",
        "species",
        "x",
    )
    assert variables["potential"].unit == "V" and "potential" in variables["potential"].description
    assert variables["trace_current"].unit == "A"
    assert set(variables) >= set(quick_result.data.data_vars)
    text = repr(variables)
    assert "potential" in text and "[V]" in text and len(text.splitlines()) == len(variables)
    assert "<table>" in variables._repr_html_()


def test_result_plot_in_a_notebook_has_a_time_slider_with_ipywidgets(quick_experiment, monkeypatch):
    widgets = pytest.importorskip("ipywidgets")
    import IPython.display

    from caitlab import _progress
    from caitlab.experiment import OutputOptions

    result = quick_experiment.with_(output=OutputOptions(frames=4)).run()
    shown = []
    monkeypatch.setattr(_progress, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **k: shown.extend(objs))
    view = result.plot(depth_max_nm=150)
    slider = view.slider
    assert isinstance(slider, widgets.SelectionSlider)
    assert len(slider.options) == result.data.sizes["time"] > 2
    assert slider.value == result.data.sizes["time"] - 1  # the end first
    assert any(isinstance(o, widgets.Widget) for o in shown)
    first = view.ax.get_lines()[0].get_ydata().copy()
    slider.value = 1
    assert not np.array_equal(view.ax.get_lines()[0].get_ydata(), first)
    assert view.ax.get_xlim()[1] == 150  # the options reach every frame


def test_result_plot_without_ipywidgets_is_static_and_silent(quick_result, monkeypatch):
    import warnings

    from matplotlib.axes import Axes

    from caitlab import _progress

    monkeypatch.setattr(_progress, "in_notebook", lambda: True)
    monkeypatch.setattr(_progress, "widgets_available", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = quick_result.plot()
    assert isinstance(ax, Axes)


# ------------------------------------------------------------------------ 4. figures
def test_traces_share_one_linear_time_axis_and_show_the_potential_clear_of_the_frame(
    quick_result,
):
    from caitlab import plot

    axes = plot.traces(quick_result)
    top, bottom = axes
    assert bottom.get_xscale() == "linear" and bottom.get_xlim() == top.get_xlim()
    line = bottom.get_lines()[0]
    assert max(line.get_ydata()) < 0.95 * bottom.get_ylim()[1]  # not on the top frame
    names = {t.get_text() for t in bottom.texts}
    assert set(quick_result.stage_names) <= names  # stage labels on the potential panel


def test_a_broadened_profile_names_its_gaussian_rms(quick_result):
    from caitlab import plot
    from caitlab.sims import GaussianResponse

    ax = plot.profiles(quick_result, response=GaussianResponse(5e-9))
    assert ax.get_legend().get_title().get_text() == "broadened, 5 nm rms"


def test_potential_profile_is_not_stretched_by_the_space_charge(quick_result):
    from caitlab import plot

    ax = plot.potential_profile(quick_result)
    assert ax.get_ylim()[0] >= 0.0  # φ ≥ 0 in this run: no empty negative range
    assert ax.get_xlim()[0] < 0.0  # the surface layer's space charge is off the frame
    below = ax.figure.axes[1]
    rho = np.concatenate([line.get_ydata() for line in below.get_lines()[:-1]])
    low, high = below.get_ylim()
    assert low <= rho.min() and rho.max() <= high


def test_sims_figure_labels_and_colours(tmp_path):
    from caitlab.plot.style import SPECIES_COLOURS
    from caitlab.sims.plotting import channel_elements, ion_label

    assert ion_label("^6Li+") == "⁶Li⁺" and ion_label("^87Rb+") == "⁸⁷Rb⁺"
    assert ion_label("Cs+") == "Cs⁺"
    text = "Li: '^6Li+' (6.0146 u), 'Li+' (7.0155 u); Cs: 'Cs+' (132.9 u)"
    assert channel_elements(text) == {"^6Li+": "Li", "Li+": "Li", "Cs+": "Cs"}
    from caitlab.sims import example_export_path

    png = tmp_path / "f.png"
    result = invoke(
        "sims",
        example_export_path(),
        "-e",
        "Li=^6Li+,Li+",
        "-e",
        "Cs=Cs+",
        "-e",
        "Rb=Rb+",
        "--crater-depth",
        "310 nm",
        "--plot",
        png,
    )
    assert result.exit_code == 0, result.output
    assert SPECIES_COLOURS["Li"]  # the raw channels use these (checked by eye in pictures.md)


def test_compare_residual_is_model_minus_data_over_sigma(tmp_path, quick_result, monkeypatch):
    from matplotlib.figure import Figure

    from caitlab.fit import read_fractions_table
    from caitlab.sims import compare_profiles
    from caitlab.sims.plotting import plot_comparison

    drawn = []
    savefig = Figure.savefig
    monkeypatch.setattr(
        Figure, "savefig", lambda self, *a, **k: drawn.append(self) or savefig(self, *a, **k)
    )
    measured = read_fractions_table(DATA / "double-cait-stage2.csv", "Cs-CAIT")
    comparison = compare_profiles(quick_result, measured)
    plot_comparison(tmp_path / "c.png", comparison)
    residual = drawn[0].axes[1]
    assert residual.get_ylabel() == "(model − data)/σ"
    expected = (comparison.simulated[0] - comparison.measured[0]) / comparison.sigma[0]
    np.testing.assert_allclose(residual.get_lines()[0].get_ydata(), expected)


def test_energy_landscape_panels_share_their_density_ticks(quick_result):
    from caitlab import plot

    axes = plot.energy_landscapes(quick_result)
    ticks = [tuple(ax.get_xticks()) for ax in axes]
    assert len(set(ticks)) == 1 and len({ax.get_xlim() for ax in axes}) == 1
    assert "depth" in axes[0].figure.get_suptitle()
    assert all("(1)" not in ax.get_xlabel() for ax in axes)


# ----------------------------------------------------------- 6. scripts and notebooks
def test_a_fit_folder_points_to_its_best_run_and_a_corrupt_result_is_named(tmp_path):
    from caitlab.results import open_result

    (tmp_path / "fit-out" / "best").mkdir(parents=True)
    (tmp_path / "fit-out" / "best" / "result.nc").write_bytes(b"not a result")
    with pytest.raises(FileNotFoundError, match="fit-out/best"):
        open_result(tmp_path / "fit-out")
    with pytest.raises(ValueError, match="not a readable caitlab result"):
        open_result(tmp_path / "fit-out" / "best")


def test_a_script_without_a_main_guard_fails_with_one_clear_line(tmp_path):
    """``open_executor(workers=2)`` at a script's top level: one line naming the fix, not
    dask's "Nanny failed to start" under a traceback per worker."""
    import subprocess
    import sys

    script = tmp_path / "no_guard.py"
    script.write_text(
        "from caitlab.fit.executors import open_executor\n"
        "with open_executor(workers=2) as executor:\n"
        "    print(executor.map(max, [1, 2], 0))\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("caitlab.fit.executors.ClusterStartError")
    assert 'if __name__ == "__main__":' in last and "workers=0" in last
    assert "bootstrapping" not in done.stderr and len(done.stderr.splitlines()) < 15
    assert 'if __name__ == "__main__":' in (ROOT / "docs" / "fitting.md").read_text()


def test_example_lists_each_name_with_a_line_of_description():
    from caitlab.examples import example_names

    result = invoke("example")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert [line.split()[0] for line in lines] == example_names()
    assert all(len(line.split()) > 4 for line in lines)


def test_readme_names_only_files_that_ship():
    """The README's sims/compare commands read files of the repository."""
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "export.txt" not in text and "current-log.csv" not in text
    named = set(re.findall(r"(?:src|examples)/[\w./-]+\.(?:txt|csv|toml)", text))
    assert "examples/data/double-cait-current.csv" in named
    assert all((ROOT / path).is_file() for path in named), named


def test_shipped_current_log_is_what_its_script_writes(tmp_path, monkeypatch):
    from caitlab.electrometer import read_electrometer

    module = _load_script(ROOT / "examples" / "make_current_log.py")
    monkeypatch.setattr(module, "OUT", tmp_path)
    module.main()
    made = read_electrometer(tmp_path / module.NAME)
    shipped = read_electrometer(DATA / module.NAME)
    np.testing.assert_array_equal(made.time_s, shipped.time_s)
    np.testing.assert_array_equal(made.current_A, shipped.current_A)


# ------------------------------------------------------------------ the screenshots page
def test_every_screenshot_of_pictures_md_is_made_by_its_script():
    """docs/pictures.md shows exactly the pictures docs/make_screenshots.py makes, and they
    are there."""
    import re

    module = _load_script(ROOT / "docs" / "make_screenshots.py")
    text = (ROOT / "docs" / "pictures.md").read_text(encoding="utf-8")
    shown = re.findall(r"!\[[^\]]*\]\(pictures/([^)]+)\.png\)", text)
    assert shown == list(module.PICTURES)
    for name in shown:
        assert (ROOT / "docs" / "pictures" / f"{name}.png").stat().st_size > 10_000, name


def test_fit_values_show_in_the_fields_natural_units():
    """An FWHM in meV, a duration in h, a charge in mC (fit.png showed 0.2243 eV)."""
    from caitlab.fit.report import DISPLAY, format_value

    assert format_value(0.2243, 0.00072, *DISPLAY["energy"]) == "224.3 ± 0.72 meV"
    assert format_value(340056.0, None, *DISPLAY["time"]) == "94.46 h"
    assert format_value(2.52e-3, 1e-5, *DISPLAY["charge"]) == "2.52 ± 0.01 mC"
