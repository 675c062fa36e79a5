"""The HTML report and the ``report``/``figures`` commands."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from caitlab.cli import _register_commands, app
from caitlab.cli.pictures import parse_charge
from caitlab.report import build_report, fit_figures, fit_tables, load_fit

_register_commands()
runner = CliRunner()
FIGURES = {"profiles", "profiles_log", "diffusivity", "energy_landscape", "traces", "potential"}


@pytest.fixture(scope="module")
def result(quick_result):
    return quick_result


@pytest.fixture(scope="module")
def result_dir(result, tmp_path_factory):
    return result.save(tmp_path_factory.mktemp("result"))


@pytest.fixture
def fit_dir(tmp_path):
    fit = {
        "parameters": {
            "D_Cs": {
                "value": 3.1e-23,
                "stderr": 0.2e-23,
                "initial": 2.4e-23,
                "min": 1e-24,
                "max": 1e-21,
            },
            "theta_Rb": {"value": 0.8, "stderr": None, "initial": 0.8, "min": 0.5, "max": 1.0},
        },
        "redchi": 1.23,
        "success": True,
        "correlations": {"D_Cs": {"theta_Rb": -0.42}, "theta_Rb": {"D_Cs": -0.42}},
    }
    (tmp_path / "fit.json").write_text(json.dumps(fit))
    rng = np.random.default_rng(0)
    np.save(tmp_path / "samples.npy", rng.normal([3.1e-23, 0.8], [2e-24, 0.02], (500, 2)))
    a, b = np.meshgrid([1.0, 2.0, 3.0], [0.7, 0.8, 0.9])
    rows = "\n".join(
        f"{x},{y},{(x - 2) ** 2 + (y - 0.8) ** 2 + 0.1}" for x, y in zip(a.ravel(), b.ravel())
    )
    (tmp_path / "sweep.csv").write_text("D_Cs_scale,theta_Rb,misfit\n" + rows + "\n")
    return tmp_path


def images(page: str) -> dict[str, bytes]:
    found = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', page)
    return {name: base64.b64decode(data) for name, data in found}


def test_report_has_inputs_summary_every_figure_and_the_fit(result, fit_dir):
    page = build_report(result, fit=load_fit(fit_dir), measured_charges=[2.52e-3, 2.28e-3], dpi=40)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    pictures = images(page)
    assert set(pictures) == FIGURES | {"corner", "misfit_map"}
    assert all(png.startswith(b"\x89PNG") and len(png) > 2000 for png in pictures.values())
    summary = result.summary()
    for stage in summary["stages"]:
        assert f'<td class="name">{stage["name"]}</td>' in page
        assert f"{stage['charge_C'] * 1e3:.4g}" in page  # charge per stage, mC
        assert f"{stage['conservation_rel_error']:.4g}" in page
    assert "equivalent depth at n0 (nm)" in page
    assert "measured charge (mC)" in page and "<td>2.28</td>" in page
    assert "[sample]" in page and "mobile_ion_density" in page  # the config TOML
    assert 'src="http' not in page  # self-contained
    row = re.search(r"<tr><td class=\"name\">D_Cs</td>(.*?)</tr>", page).group(1)
    assert "3.1e-23" in row and "2e-24" in row and "6.45 %" in row
    assert "reduced χ²" in page and "1.23" in page
    assert "Correlations" in page and "-0.42" in page


def test_fit_parts(result, fit_dir):
    fit = load_fit(fit_dir)
    assert fit["sample_names"] == ["D_Cs", "theta_Rb"] and fit["samples"].shape == (500, 2)
    assert set(fit_figures(fit)) == {"corner", "misfit_map"}
    assert set(fit_figures({"parameters": {}})) == set()
    table = fit_tables({"parameters": {"a": {"value": 2.0, "stderr": None}}, "success": False})
    assert '<span class="bad">no</span>' in table and "–" in table


def test_load_fit_needs_fit_json(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"fit\.json"):
        load_fit(tmp_path)


@pytest.fixture
def few_figures(monkeypatch):
    """Two figures instead of all (those are tested above and in test_plot.py)."""
    import caitlab.plot
    from caitlab.plot._common import new_figure

    calls = {}

    def quick(result, **options):
        calls.update(options)
        figures = {"profiles": new_figure((4, 3)), "traces": new_figure((4, 3))}
        caitlab.plot.profiles(result, ax=figures["profiles"].add_subplot())
        caitlab.plot.current_charge(
            result, measured_charges=options["measured_charges"], ax=figures["traces"].add_subplot()
        )
        return figures

    monkeypatch.setattr(caitlab.plot, "standard_figures", quick)
    return calls


def test_cli_report(result_dir, fit_dir, tmp_path, few_figures):
    out = tmp_path / "r" / "report.html"
    result = runner.invoke(
        app,
        [
            "report",
            str(result_dir),
            "--fit",
            str(fit_dir),
            "--out",
            str(out),
            "--charge",
            "2.52 mC",
            "--charge",
            "2280 uC",
            "--dpi",
            "30",
        ],
    )
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert set(images(page)) == {"profiles", "traces", "corner", "misfit_map"}
    assert 'id="fit"' in page and "D_Cs" in page
    assert few_figures["measured_charges"] == pytest.approx([2.52e-3, 2.28e-3])


def test_cli_figures_writes_every_figure(result_dir, tmp_path, few_figures):
    figures = tmp_path / "figs"
    result = runner.invoke(
        app,
        ["figures", str(result_dir), "--out", str(figures), "--charge", "2.52 mC", "--dpi", "30"],
    )
    assert result.exit_code == 0, result.output
    assert {p.stem for p in figures.glob("*.png")} == {"profiles", "traces"}
    assert few_figures["measured_charges"] == pytest.approx([2.52e-3])
    assert result.stdout.count("wrote") == 2


def test_cli_errors_are_one_line_exit_2(result_dir, tmp_path):
    cases = [
        ["report", str(tmp_path / "none"), "--out", str(tmp_path / "r.html")],
        ["report", str(result_dir), "--fit", str(tmp_path), "--out", str(tmp_path / "r.html")],
        ["figures", str(result_dir), "--charge", "2.5", "--out", str(tmp_path)],
    ]
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, args
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
        assert "Traceback" not in result.output


def test_parse_charge():
    assert parse_charge("2.52 mC") == pytest.approx(2.52e-3)
    assert parse_charge("2520µC") == pytest.approx(2.52e-3)


def test_report_renders_in_a_headless_browser(result, tmp_path):
    """Open the report in a real browser. Skipped on a machine without Chromium, never in CI
    (CI=true): ``.ci/run`` installs Debian's chromium, and a missing browser fails there."""
    import os
    import shutil
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but no chromium on the PATH: .ci/run must install it")
        pytest.skip("no chromium on the PATH (apt-get install chromium; see docs/pictures.md)")
    page = tmp_path / "report.html"
    page.write_text(build_report(result))
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1000,1400",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    import imageio.v3 as iio

    pixels = iio.imread(shot)
    assert pixels.shape[0] == 1400 and pixels.shape[1] == 1000
    # a rendered page: mostly white background, with dark text and coloured figure lines
    assert (pixels[..., :3] < 100).all(axis=-1).mean() > 0.001
    assert (pixels[..., :3] > 240).all(axis=-1).mean() > 0.3


# ------------------------------------------------------------------ a real fit, measured data
@pytest.fixture(scope="module")
def real_fit(result, tmp_path_factory):
    """A small real fit of the quick run: D_Cs and the response width, with intervals."""
    from caitlab.config import experiment_to_dict
    from caitlab.fit import FitProblem, FreeParameter, fit, synthetic_profile

    profile = synthetic_profile(
        result,
        "Cs-CAIT",
        np.arange(2.0, 120.0, 2.0) * 1e-9,
        response={"rms": 8e-9},
        counts=3000,
        rng=3,
    )
    problem = FitProblem(experiment_to_dict(result.experiment), [profile])
    free = [
        FreeParameter(
            "stages.Cs-CAIT.diffusivity.Cs.d",
            value=4e-23,
            min=1e-24,
            max=1e-21,
            log=True,
            name="D_Cs",
        ),
        FreeParameter("profiles.Cs-CAIT.rms", value=6e-9, min=1e-9, max=30e-9, name="rms"),
    ]
    fitted = fit(problem, free, conf_interval=["D_Cs"], sigmas=[1])
    folder = fitted.save(tmp_path_factory.mktemp("fit"))
    return folder, profile


def test_report_of_a_real_fit_shows_units_intervals_chi2_and_fit_png(result, real_fit):
    folder, profile = real_fit
    page = build_report(result, fit=load_fit(folder), measured=[profile], dpi=30)
    pictures = images(page)
    assert "fit" in pictures and pictures["fit"].startswith(b"\x89PNG")  # fit.png embedded
    assert "profiles_Cs-CAIT" in pictures  # the measured profile against the model
    rms = re.search(r'<tr><td class="name">rms</td><td class="name">(.*?)</td>', page)
    assert rms.group(1) == "nm"  # a units column; lengths in nm
    d_cs = re.search(r'<tr><td class="name">D_Cs</td><td class="name">(.*?)</td>(.*?)</tr>', page)
    assert d_cs.group(1) == "m²/s" and "0.6827 interval" in page and "[" in d_cs.group(2)
    assert "χ² per observation" in page and "profile after Cs-CAIT" in page
    assert "standard errors" in page


def test_strong_correlations_are_highlighted():
    fit = {
        "parameters": {"a": {"value": 1.0, "stderr": 0.1}, "b": {"value": 2.0, "stderr": 0.1}},
        "correlations": {"a": {"b": -0.97}, "b": {"a": -0.97}},
        "success": True,
    }
    table = fit_tables(fit)
    assert table.count('class="strong"') == 2 and "a – b" in table


def test_report_refuses_a_fit_of_another_experiment(result, real_fit, tmp_path):
    from caitlab.report import ReportError

    folder, _ = real_fit
    data = json.loads((folder / "fit.json").read_text())
    data["input"] = {
        "experiment": {
            "name": "other",
            "stages": [{"name": "X"}],
            "sample": {"species": {"Na": {}}},
        }
    }
    (tmp_path / "fit.json").write_text(json.dumps(data))
    with pytest.raises(ReportError, match="fit was made on experiment 'other'"):
        build_report(result, fit=load_fit(tmp_path))
    out = runner.invoke(
        app,
        [
            "report",
            str(result.save(tmp_path / "run")),
            "--fit",
            str(tmp_path),
            "--out",
            str(tmp_path / "r.html"),
        ],
    )
    assert out.exit_code == 2 and "fit was made on experiment" in out.stderr


def test_cli_figures_take_measured_profiles_and_the_electrometer_log(
    result_dir, result, real_fit, tmp_path
):
    from caitlab.fit import write_fractions_table

    _, profile = real_fit
    write_fractions_table(tmp_path / "cs.csv", profile)
    time = np.linspace(60.0, result.data["trace_time"].values[-1], 40)
    current = np.interp(time, result.traces["time"].values, result.traces["current"].values)
    (tmp_path / "log.csv").write_text(
        "time [s];current [A]\n"
        + "\n".join(f"{t:.12g};{i:.12g}" for t, i in zip(time, current))
        + "\n"
    )
    out = runner.invoke(
        app,
        [
            "figures",
            str(result_dir),
            "--out",
            str(tmp_path / "figs"),
            "--data",
            str(tmp_path / "cs.csv"),
            "--stage",
            "Cs-CAIT",
            "--rms",
            "8 nm",
            "--electrometer",
            str(tmp_path / "log.csv"),
            "--dpi",
            "30",
        ],
    )
    assert out.exit_code == 0, out.output
    assert (tmp_path / "figs" / "profiles_Cs-CAIT.png").exists()
    bad = runner.invoke(
        app,
        [
            "figures",
            str(result_dir),
            "--data",
            str(tmp_path / "cs.csv"),
            "--stage",
            "nope",
            "--out",
            str(tmp_path / "f2"),
        ],
    )
    assert bad.exit_code == 2 and "no such stage" in bad.stderr
    bad = runner.invoke(
        app,
        [
            "figures",
            str(result_dir),
            "--data",
            str(tmp_path / "cs.csv"),
            "--out",
            str(tmp_path / "f2"),
        ],
    )
    assert bad.exit_code == 2 and "one --stage for each --data" in bad.stderr


def test_corner_plot_uses_the_corner_package_without_offset_text(fit_dir):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from caitlab.report import corner_figure

    fig = corner_figure(load_fit(fit_dir))
    FigureCanvasAgg(fig).draw()  # offset texts are set when drawn
    labels = [ax.get_xlabel() for ax in fig.axes if ax.get_xlabel()]
    assert any("$10^{-23}$" in label and label.startswith("D_Cs") for label in labels)
    assert all(not ax.xaxis.get_offset_text().get_text() for ax in fig.axes)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0].startswith("D_Cs") and "0.00" not in titles[0]  # a readable median


def test_the_report_corner_plot_is_the_plot_module_one_in_display_units(fit_dir):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from caitlab.plot import corner
    from caitlab.report import corner_figure

    fit = load_fit(fit_dir)
    fit["parameters"]["D_Cs"] |= {"display_unit": "m²/s", "display_factor": 1.0}
    report = corner_figure(fit)
    direct = Figure(figsize=report.get_size_inches())
    corner(fit["samples"], ["D_Cs", "theta_Rb"], units=["m²/s", ""], factors=[1.0, 1.0], fig=direct)
    pixels = []
    for fig in (report, direct):
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        pixels.append(np.asarray(canvas.buffer_rgba()))
    assert np.array_equal(*pixels)  # one implementation: the same picture
    labels = [ax.get_xlabel() for ax in report.axes if ax.get_xlabel()]
    assert labels == ["D_Cs ($10^{-23}$ m²/s)", "theta_Rb"]


def test_cli_report_takes_the_profiles_of_a_fit_file(result_dir, real_fit, tmp_path, few_figures):
    from caitlab.fit import write_fractions_table

    _, profile = real_fit
    write_fractions_table(tmp_path / "cs.csv", profile)
    (tmp_path / "FIT.toml").write_text(
        'experiment = "quick-double-cait.toml"\n[[profiles]]\nstage = "Cs-CAIT"\n'
        'file = "cs.csv"\nmin_depth = "10 nm"\nresponse = { model = "gaussian", rms = "8 nm" }\n'
    )
    out = runner.invoke(
        app,
        [
            "report",
            str(result_dir),
            "--data",
            str(tmp_path / "FIT.toml"),
            "--out",
            str(tmp_path / "r.html"),
            "--dpi",
            "20",
        ],
    )
    assert out.exit_code == 0, out.output
    (measured,) = few_figures["measured"]
    assert measured.stage == "Cs-CAIT" and measured.depth_m.min() >= 9.99e-9
    assert measured.response["rms"] == pytest.approx(8e-9)
    assert "profile" in (tmp_path / "r.html").read_text()
    (tmp_path / "FIT.toml").write_text(
        '[[profiles]]\nstage = "Cs-CAIT"\nfile = "cs.csv"\nmin_depth = 10\n'
    )
    bad = runner.invoke(
        app,
        [
            "report",
            str(result_dir),
            "--data",
            str(tmp_path / "FIT.toml"),
            "--out",
            str(tmp_path / "r.html"),
        ],
    )
    assert bad.exit_code == 2 and "profiles[0]" in bad.stderr and "min_depth" in bad.stderr
    assert "unit" in bad.stderr  # a bare number is refused, as in FIT.toml
