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
    """Open the report in a real browser; skipped where no Chromium is installed."""
    import shutil
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium on the PATH (see docs/pictures.md for the manual check)")
    page = tmp_path / "report.html"
    page.write_text(build_report(result))
    shot = tmp_path / "shot.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         "--window-size=1000,1400", f"--screenshot={shot}", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    import imageio.v3 as iio

    pixels = iio.imread(shot)
    assert pixels.shape[0] == 1400 and pixels.shape[1] == 1000
    # a rendered page: mostly white background, with dark text and coloured figure lines
    assert (pixels[..., :3] < 100).all(axis=-1).mean() > 0.001
    assert (pixels[..., :3] > 240).all(axis=-1).mean() > 0.3
