"""Figure functions of :mod:`caitlab.plot` on the quick double-CAIT run."""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from caitlab import plot
from caitlab.plot._common import zone_depth

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def result(quick_result):
    return quick_result


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def png_bytes(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=40)
    data = buffer.getvalue()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 2000
    return data


def labelled(ax, label):
    return next(line for line in ax.get_lines() if line.get_label() == label)


# ------------------------------------------------------------------ profiles
def test_profiles_default_is_every_stage_end_with_sum(result):
    ax = plot.profiles(result)
    png_bytes(ax.figure)
    labels = [line.get_label() for line in ax.get_lines()]
    assert len(labels) == 2 * 4  # (Li, Rb, Cs, sum) at the end of each of two stages
    assert "Rb, after Rb-CAIT" in labels and "Cs, after Cs-CAIT" in labels
    assert ax.get_xlabel() == "depth (nm)" and "n_0" in ax.get_ylabel()
    assert ax.get_ylim() == (0, 1.1) and ax.get_yscale() == "linear"
    assert 20 < ax.get_xlim()[1] < 500  # the replacement zone with a margin, in nm
    total = labelled(ax, "sum, after Cs-CAIT").get_ydata()
    np.testing.assert_allclose(total, 1.0, atol=5e-3)  # replacement is one to one


def test_a_stages_profiles_list_only_the_species_present_then(result):
    """``profiles_Rb-CAIT.png`` listed Cs, which only the second stage brings."""
    ax = plot.profiles(result, times=["Rb-CAIT"])
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["Li, after Rb-CAIT", "Rb, after Rb-CAIT", "sum, after Rb-CAIT"]


def test_profiles_log_and_chosen_times(result):
    end_of_first = float(result.data["time"].values[0]) + 1.0  # the nearest saved state
    ax = plot.profiles(
        result,
        times=["Cs-CAIT", end_of_first],
        species=["Li"],
        log=True,
        depth_max_nm=80,
        show_sum=False,
    )
    assert ax.get_yscale() == "log" and ax.get_xlim() == (0, 80)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["Li, after Cs-CAIT", "Li, after Rb-CAIT"]
    assert [line.get_linestyle() for line in ax.get_lines()] == ["-", "--"]


def test_profiles_with_measured_markers_and_broadening(result):
    fractions = result.data["density"].isel(time=-1) / float(result.data["n0"])
    near = result.data["x"].values < 60e-9
    measured = {
        "depth_m": result.data["x"].values[near],
        **{s: fractions.sel(species=s).values[near] for s in ("Li", "Rb", "Cs")},
    }
    ax = plot.profiles(result, ["Cs-CAIT"], measured=measured, rms_nm=5.0)
    png_bytes(ax.figure)
    markers = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert len(markers) == 4  # three species and their sum
    broadened = labelled(ax, "Cs").get_ydata()
    raw = fractions.sel(species="Cs").values
    assert broadened[0] < raw[0]  # the front peak is smeared out...
    np.testing.assert_allclose(labelled(ax, "sum").get_ydata(), 1.0, atol=5e-3)  # ...not lost
    assert ax.get_legend().get_title().get_text() == "broadened, 5 nm rms"


def test_profiles_accepts_sims_style_dataarray_and_a_response(result):
    depth = np.linspace(1e-9, 50e-9, 20)
    measured = xr.DataArray(
        np.full((2, 20), 0.5),
        dims=("species", "depth"),
        coords={"species": ["Li", "Cs"], "depth": depth},
    )
    from caitlab.sims import GaussianResponse

    ax = plot.profiles(result, "Cs-CAIT", measured=measured, response=GaussianResponse(5e-9))
    broadened = labelled(ax, "Li").get_ydata()
    assert broadened.shape == result.mesh.centres.shape and abs(broadened[-1] - 1.0) < 1e-6
    assert len([line for line in ax.get_lines() if line.get_marker() == "o"]) == 3


def test_profiles_unknown_stage_names_the_stages(result):
    with pytest.raises(ValueError, match="Rb-CAIT"):
        plot.profiles(result, ["K-CAIT"])


def test_zone_depth_covers_the_replacement_zone(result):
    fractions = result.data["fraction"].sel(species="Cs").isel(time=-1).values
    deepest = result.data["x"].values[fractions > 1e-3].max()
    assert zone_depth(result) > deepest


# ------------------------------------------------------------------ D(n), energy landscape
def test_diffusivities_curves_falloffs_and_visited_ranges(result):
    ax = plot.diffusivities(result)
    png_bytes(ax.figure)
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert "m$^2$/s" in ax.get_ylabel()
    curves = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert {c.get_label() for c in curves} == {
        "Li, Rb-CAIT",
        "Rb, Rb-CAIT",
        "Li, Cs-CAIT",
        "Rb, Cs-CAIT",
        "Cs, Cs-CAIT",
    }
    li = labelled(ax, "Li, Rb-CAIT")
    d_bulk = np.interp(0.0, np.log(li.get_xdata()), np.log(li.get_ydata()))
    assert np.exp(d_bulk) == pytest.approx(5.8e-19, rel=1e-3)  # D_Li at n0
    falloffs = [line for line in ax.get_lines() if line.get_marker() == "v"]
    assert sorted(line.get_xdata()[0] for line in falloffs) == [0.03, 0.1, 0.1]
    bands = [line for line in ax.get_lines() if line.get_linewidth() > 5]
    assert len(bands) == 5


def test_diffusivities_selects_species_and_stages(result):
    ax = plot.diffusivities(result, stages=["Rb-CAIT"], visited=False)  # the paper's Fig. 4
    assert sorted(
        line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")
    ) == ["Li, Rb-CAIT", "Rb, Rb-CAIT"]


def test_energy_landscapes_before_and_after_each_stage(result):
    axes = plot.energy_landscapes(result)
    png_bytes(axes[0].figure)
    assert len(axes) == 3
    assert axes[0].get_title() == "before the first stage"
    assert axes[1].get_title().startswith("after Rb-CAIT")
    assert axes[2].get_title().startswith("after Cs-CAIT")
    # before: Li fills its distribution up to its reference Fermi level (E = 0)
    fermi = [line for line in axes[0].get_lines() if line.get_linestyle() == "--"]
    assert fermi[0].get_ydata()[0] == pytest.approx(0.0, abs=1e-9)
    # after stage 1 the Li Fermi level has dropped; Rb sits on the vacated Li sites
    fermi_1 = [line for line in axes[1].get_lines() if line.get_linestyle() == "--"]
    assert fermi_1[0].get_ydata()[0] < -0.1
    assert any("Rb on Li sites" in t.get_text() for t in axes[1].get_legend().get_texts())
    assert "eV" in axes[0].get_ylabel() and "eV" in axes[0].get_xlabel()


def test_energy_landscape_single_panel_at_a_depth(result):
    ax = plot.energy_landscape(result, "Rb-CAIT", depth_nm=200.0)
    fermi = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert fermi[0].get_ydata()[0] == pytest.approx(0.0, abs=1e-6)  # untouched bulk


# ------------------------------------------------------------------ traces, fields
def test_current_charge_ends_at_the_summary_charge(result):
    ax = plot.current_charge(result, measured_charges={"Rb-CAIT": 2.52e-3, "Cs-CAIT": 2.28e-3})
    png_bytes(ax.figure)
    twin = next(a for a in ax.figure.axes if a is not ax)
    summary = result.summary()
    charge = labelled(twin, "charge (simulated)")
    assert charge.get_ydata()[-1] == pytest.approx(
        summary["stages"][-1]["cumulative_charge_C"] * 1e3
    )
    measured = labelled(twin, "charge (measured)")
    np.testing.assert_allclose(measured.get_ydata(), [2.52, 4.80])
    assert ax.get_xlabel() == "time (h)" and "(nA)" in ax.get_ylabel()
    assert "(mC)" in twin.get_ylabel()
    end_h = result.data["trace_time"].values[-1] / 3600
    assert end_h < ax.get_xlim()[1] < 1.05 * end_h  # a margin: the last marker is not cut
    # paper style: twin axes aligned at zero, the legend off the data
    zeros = [(0 - a.get_ylim()[0]) / (a.get_ylim()[1] - a.get_ylim()[0]) for a in (ax, twin)]
    assert zeros[0] == pytest.approx(zeros[1], abs=1e-9)
    legend = twin.get_legend()
    assert legend is not None and legend.get_bbox_to_anchor().x0 > twin.bbox.x1


def test_electrometer_log_overlaid_on_the_traces(result, tmp_path):
    from caitlab.electrometer import read_electrometer

    time = np.linspace(10.0, result.data["trace_time"].values[-1], 50)
    current = np.interp(time, result.traces["time"].values, result.traces["current"].values)
    rows = "\n".join(f"{t / 3600:.12g},{i * 1e9:.12g}" for t, i in zip(time, current))
    (tmp_path / "log.csv").write_text("time (h),current (nA)\n" + rows + "\n")
    log = read_electrometer(tmp_path / "log.csv")
    axes = plot.traces(result, electrometer=log)
    png_bytes(axes[0].figure)
    twin = next(a for a in axes[0].figure.axes if a not in axes)
    assert labelled(axes[0], "current (electrometer)").get_xdata()[-1] == pytest.approx(
        time[-1] / 3600
    )
    assert labelled(twin, "charge (electrometer)") is not None
    assert axes[1].get_xscale() == "linear"  # one time axis for both panels


def test_surface_potential_and_traces(result):
    ax = plot.surface_potential(result, log_time=True)
    assert ax.get_xscale() == "log"
    assert ax.get_lines()[0].get_ydata()[-1] == pytest.approx(15.0, rel=1e-6)
    axes = plot.traces(result)
    png_bytes(axes[0].figure)
    assert len(axes) == 2 and "(V)" in axes[1].get_ylabel()


def test_potential_profile_front_at_the_source_potential(result):
    ax = plot.potential_profile(result)
    png_bytes(ax.figure)
    main = [line for line in ax.get_lines()]
    assert len(main) == 2 and main[0].get_ydata()[0] == pytest.approx(15.0, abs=0.1)
    rho = plot.space_charge_fraction(result)
    assert rho.shape == (result.data.sizes["time"], result.data.sizes["x"])
    assert np.abs(rho[-1, 50:]).max() < 1e-2  # neutral away from the front
    assert "(‰)" in ax.figure.axes[1].get_ylabel()


# ------------------------------------------------------------------ fits
def test_misfit_map_from_dataarray_and_tables():
    d_rb, d_cs = np.geomspace(1e-22, 1e-21, 5), np.geomspace(1e-23, 1e-22, 4)
    misfit = (np.log(d_cs)[:, None] + 52) ** 2 + (np.log(d_rb)[None, :] + 49) ** 2 + 0.1
    array = xr.DataArray(
        misfit, dims=("D_Cs", "D_Rb"), coords={"D_Cs": d_cs, "D_Rb": d_rb}, name="misfit"
    )
    ax = plot.misfit_map(array)
    png_bytes(ax.figure)
    star = next(line for line in ax.get_lines() if line.get_marker() == "*")
    j, i = np.unravel_index(np.argmin(misfit), misfit.shape)
    assert (star.get_xdata()[0], star.get_ydata()[0]) == (d_rb[i], d_cs[j])
    assert ax.get_xlabel() == "D_Rb ($10^{-22}$)" and ax.get_xscale() == "linear"
    xs, ys = np.meshgrid(d_rb, d_cs)
    table = {"D_Rb": xs.ravel(), "D_Cs": ys.ravel(), "misfit": misfit.ravel()}
    ax = plot.misfit_map(table, "D_Rb", "D_Cs")
    assert len(ax.collections) == 1  # a regular grid: cells
    rng = np.random.default_rng(1)
    scattered = {"a": rng.uniform(0, 1, 40), "b": rng.uniform(0, 1, 40)}
    scattered["misfit"] = (scattered["a"] - 0.3) ** 2 + scattered["b"] ** 2 + 0.01
    ax = plot.misfit_map(scattered)
    png_bytes(ax.figure)
    assert ax.get_xlabel() == "a" and ax.get_ylabel() == "b"


def test_misfit_map_of_a_sweep_table_skips_failed_runs():
    import pandas as pd

    table = pd.DataFrame(
        {
            "point": [0, 1, 2, 3],
            "key": ["k0", "k1", "k2", "k3"],
            "status": ["ok", "ok", "failed", "ok"],
            "stages.Cs.d": [1e-23, 2e-23, 1e-23, 2e-23],
            "stages.Rb.d": [1e-22, 1e-22, 2e-22, 2e-22],
            "charge_C.Cs": [1e-3, 1e-3, None, 1e-3],
            "chisqr": [4.0, 1.0, None, 2.0],
            "chisqr_per_point": [0.4, 0.1, None, 0.2],
        }
    )
    ax = plot.misfit_map(table)
    # tiny values in a power of ten named in the label, never an offset text on the axis
    assert (ax.get_xlabel(), ax.get_ylabel()) == (
        "stages.Cs.d ($10^{-23}$)",
        "stages.Rb.d ($10^{-22}$)",
    )
    assert ax.xaxis.get_major_formatter()(2e-23, 0) == "2"
    star = next(line for line in ax.get_lines() if line.get_marker() == "*")
    assert (star.get_xdata()[0], star.get_ydata()[0]) == (2e-23, 1e-22)
    assert "chisqr_per_point" in ax.figure.axes[-1].get_ylabel()  # the colour bar


def test_corner_plot_shape_and_quantiles():
    samples = np.random.default_rng(0).normal([1.0, -2.0, 5.0], [0.1, 0.5, 1.0], (4000, 3))
    axes = plot.corner(samples, ["a (1)", "b (nm)", "c (eV)"], truths=[1.0, -2.0, 5.0])
    png_bytes(axes[0, 0].figure)
    assert axes.shape == (3, 3)
    assert not axes[0, 2].axison and axes[2, 0].axison
    assert axes[2, 1].get_xlabel() == "b (nm)" and axes[1, 0].get_ylabel() == "b (nm)"
    title = axes[0, 0].get_title()  # "a (1) = ${median}_{-lower}^{+upper}$"
    found = re.search(r"= \$\{(.+)\}_\{-(.+)\}\^\{\+(.+)\}\$$", title)
    assert title.startswith("a (1) = ") and found, title
    median, lower, upper = map(float, found.groups())
    assert median == pytest.approx(1.0, abs=0.01) and upper == pytest.approx(0.1, abs=0.01)
    assert lower == pytest.approx(0.1, abs=0.01)
    with pytest.raises(ValueError, match="names"):
        plot.corner(samples, ["a", "b"])


def test_corner_plot_in_display_units_with_a_power_of_ten_and_a_constant_column():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rng = np.random.default_rng(1)
    samples = np.column_stack(
        [rng.normal(3.1e-23, 2e-24, 3000), rng.normal(8e-9, 1e-10, 3000), np.full(3000, 0.5)]
    )
    axes = plot.corner(
        samples,
        ["D", "L", "c"],
        units=["m²/s", "nm", ""],
        factors=[1.0, 1e9, 1.0],
        truths=[3e-23, 8e-9, 0.5],
        fig=Figure(),
    )
    fig = axes[0, 0].figure
    FigureCanvasAgg(fig).draw()  # offset texts are set when drawn
    assert [axes[2, j].get_xlabel() for j in range(3)] == ["D ($10^{-23}$ m²/s)", "L (nm)", "c"]
    assert all(not ax.xaxis.get_offset_text().get_text() for ax in fig.axes)
    truth_lines = [line.get_xdata()[0] for line in axes[1, 1].get_lines()]
    assert any(x == pytest.approx(8.0) for x in truth_lines)  # the truth, in nm
    lo, hi = axes[2, 2].get_xlim()
    assert lo < 0.5 < hi  # a constant column is drawn, not refused
    with pytest.raises(ValueError, match="factors"):
        plot.corner(samples, ["D", "L", "c"], factors=[1.0])


# ------------------------------------------------------------------ all at once
def test_standard_figures_all_saved_as_png(result, tmp_path):
    figures = plot.standard_figures(
        result,
        measured={
            "Rb-CAIT": {
                "depth_m": [5e-9, 20e-9, 40e-9],
                "Li": [0.1, 0.5, 1.0],
                "Rb": [0.9, 0.5, 0.0],
            }
        },
        rms_nm=2.0,
        measured_charges=[2.52e-3, 2.28e-3],
    )
    assert set(figures) == {
        "profiles",
        "profiles_log",
        "profiles_Rb-CAIT",
        "diffusivity",
        "energy_landscape",
        "traces",
        "potential",
    }
    # every figure is rendered to PNG in test_report.py; here two, to check the writer
    paths = plot.save_figures(
        {k: figures[k] for k in ("profiles_Rb-CAIT", "traces")}, tmp_path, dpi=30
    )
    assert [p.name for p in paths] == ["profiles_Rb-CAIT.png", "traces.png"]
    for path in paths:
        assert path.read_bytes().startswith(PNG_SIGNATURE) and path.stat().st_size > 2000


def test_standard_profiles_are_one_panel_per_stage(result):
    figures = plot.standard_figures(result)
    panels = [ax for ax in figures["profiles"].axes]
    assert [ax.get_title() for ax in panels] == [f"after {s}" for s in result.stage_names]
    assert panels[0].get_legend() is None and panels[-1].get_legend() is not None
    assert all("(nm)" in ax.get_xlabel() for ax in panels) and "fraction" in panels[0].get_ylabel()
    assert "(1)" not in panels[0].get_ylabel()  # a fraction has no unit to name
