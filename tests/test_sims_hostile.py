"""SIMS reading at scale and under bad input: the one-pass reader, exact round trips, the
silent wrong answers of issue 10 turned into refusals, and messages that say what is wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from test_sims_cli import ELEMENT_ARGS, make_result
from test_sims_readers import profiles
from typer.testing import CliRunner

import caitlab.sims.readers as readers
from caitlab.cli import _register_commands, app
from caitlab.fit import read_fractions_table
from caitlab.results import open_result
from caitlab.sims import (
    MeasuredProfile,
    SimsError,
    SimsProfile,
    compare_profiles,
    example_export_path,
    plot_comparison,
    poisson_correct,
    process_profile,
    read_profile,
    read_surfacelab,
    read_table,
    stand_in_fractions,
    synthetic_export,
    write_fractions_csv,
    write_surfacelab_export,
)

_register_commands()
runner = CliRunner()
EXAMPLE = example_export_path()
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "sims-real"
MAPI = REAL / "iontof_sl73_profile_pos_MAPI_I241209m.txt"
needs_real = pytest.mark.skipif(
    not MAPI.exists(),
    reason=f"the real SurfaceLab 7.3 exports are not in {REAL} (a clone without ../shared): "
    "would have checked that the one-pass reader gives the same floats, lines and channels as "
    "the line-by-line reader on a real 106-channel export, and that reading only Cs+ gives "
    "that column",
)
HEADER = "#Data Point #\tSputter Time (s)\tDose (ions)\tFluence (ions/cm^2)\tIntensity\tIntensity\t"
ROWS = ["1\t0\t10\t1\t5\t1.00003", "2\t1.5\t20\t2\t3.00027\t0", "3\t3\t30\t3\t0\t0"]


def export_text(rows: list[str], trailing: str = "\t") -> str:
    lines = ["# Profile Smoothing is Disabled", "#\t\t\t\tA+\tB+\t", "#\t\t\t\t1.0\t2.0\t", HEADER]
    return "\r\n".join(lines + [row + trailing for row in rows]) + "\r\n"


def write(tmp_path: Path, text: str | bytes, name: str = "p.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def edited_example(tmp_path: Path, line: int, column: int, value: str) -> Path:
    """The shipped example with one cell (1-based line and column) replaced."""
    lines = EXAMPLE.read_bytes().split(b"\r\n")
    cells = lines[line - 1].split(b"\t")
    cells[column - 1] = value.encode()
    lines[line - 1] = b"\t".join(cells)
    return write(tmp_path, b"\r\n".join(lines), "edited.txt")


def line_by_line(monkeypatch) -> None:
    """Force the reader's line-by-line path (as when the fast path cannot vouch for rows)."""

    def refuse(*args, **kwargs):
        raise ValueError("forced")

    monkeypatch.setattr(readers, "_read_blocks", refuse)


# ------------------------------------------------------------------ the one-pass reader
def test_fast_path_matches_line_by_line(tmp_path, monkeypatch):
    fast = read_surfacelab(EXAMPLE)
    assert not fast.counts.flags.writeable
    line_by_line(monkeypatch)
    slow = read_surfacelab(EXAMPLE)
    np.testing.assert_array_equal(fast.counts, slow.counts)
    np.testing.assert_array_equal(fast.sputter_time_s, slow.sputter_time_s)
    np.testing.assert_array_equal(fast.source_lines, slow.source_lines)
    assert fast.metadata == slow.metadata


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(profile=profiles())
def test_fast_path_matches_line_by_line_property(tmp_path, monkeypatch, profile):
    path = write_surfacelab_export(tmp_path / "h.txt", profile)
    fast = read_surfacelab(path)
    with monkeypatch.context() as patch:
        line_by_line(patch)
        slow = read_surfacelab(path)
    np.testing.assert_array_equal(fast.counts, slow.counts)
    np.testing.assert_array_equal(fast.counts, profile.counts)
    np.testing.assert_array_equal(fast.source_lines, slow.source_lines)
    assert fast.metadata == slow.metadata


@needs_real
def test_real_export_fast_path_and_chosen_channels(monkeypatch):
    fast = read_surfacelab(MAPI)
    cs = read_surfacelab(MAPI, channels=["Cs+"])
    k = fast.channel_names.index("Cs+")
    assert cs.channel_names == ("Cs+",) and cs.source_columns == (fast.source_columns[k],)
    np.testing.assert_array_equal(cs.counts[:, 0], fast.counts[:, k])
    assert cs.channel_masses[0] == fast.channel_masses[k]
    assert cs.metadata == fast.metadata  # shots per scan, Poisson state, polarity
    line_by_line(monkeypatch)
    slow = read_surfacelab(MAPI)
    np.testing.assert_array_equal(fast.counts, slow.counts)
    np.testing.assert_array_equal(fast.source_lines, slow.source_lines)


def test_chosen_channels_by_name_and_mass():
    whole = read_surfacelab(EXAMPLE)
    some = read_surfacelab(EXAMPLE, channels=["Cs+", 84.9118, "86.9092"])
    assert some.channel_names == ("Rb+", "^87Rb+", "Cs+")
    assert some.metadata == whole.metadata
    for k, name in enumerate(some.channel_names):
        np.testing.assert_array_equal(
            some.counts[:, k], whole.counts[:, whole.channel_names.index(name)]
        )
    with pytest.raises(SimsError, match="none of the channels"):
        read_surfacelab(EXAMPLE, channels=["zzzz"])
    # a name not in the file keeps its close matches, for the message to suggest them
    assert "^6Li+" in read_surfacelab(EXAMPLE, channels=["^6Li"]).channel_names
    result = invoke("sims", EXAMPLE, "--element", "Li=^6Li,Li+", "--crater-depth", "310 nm")
    assert result.exit_code == 2 and "close matches: '^6Li+'" in result.output


def test_the_reader_keeps_what_find_channel_can_choose(tmp_path):
    """One channel matcher (``match_channel``) serves the reader and ``find_channel``: the
    reader keeps the channels find_channel could choose on the whole file, or the ones its
    message names, so the choice and the messages are those of the whole file."""
    from caitlab.sims import find_channel

    names = ("Li+", "li+", "^6Li+", "Rb+", "X+", "^7Li2+")
    masses = (7.0155, 7.3, 6.0146, 84.9112, 100.0, 14.031)
    counts = np.arange(1.0, 19.0).reshape(3, 6)
    path = write_surfacelab_export(
        tmp_path / "p.txt",
        SimsProfile(counts, names, masses, sputter_time_s=[0.0, 1.0, 2.0]),
    )
    whole = read_surfacelab(path)
    specs = ["Li+", "LI+", "6Li+", "84.9118", 84.9118, "7.02", "7.2", 300.0, "#3", "#9", "Rb"]
    for spec in specs:
        try:
            expected = whole.channel_names[find_channel(whole, spec)]
        except SimsError as exc:
            expected = exc.message
        try:
            some = read_surfacelab(path, channels=[spec])
            got = some.channel_names[find_channel(some, spec)]
        except SimsError as exc:
            got = exc.message
        assert got == expected, spec
    # the channels kept are the matches, not everything that looks alike
    assert read_surfacelab(path, channels=["Li+"]).channel_names == ("Li+",)
    assert read_surfacelab(path, channels=["7.02", "Rb+"]).channel_names == ("Li+", "Rb+")
    # a spec that matches nothing: the reader says why, in find_channel's words
    with pytest.raises(SimsError) as info:
        read_surfacelab(path, channels=["zzzz"])
    assert info.value.message == (
        "none of the channels ['zzzz'] is in the file: channel 'zzzz' is not in the file; "
        "close matches: none"
    )
    # and it checks the tolerance as find_channel does
    with pytest.raises(SimsError, match="mass tolerance must be a positive number"):
        read_surfacelab(path, channels=["7.02"], mass_tolerance=-1)


@pytest.mark.parametrize(
    ("rows", "message", "line"),
    [
        (["1\t0\t10\t1\t5\t1", "2\t1\t20\t2\t0"], "expected 6 fields", 6),  # short row
        (["1\t0\t10\t1\t5\t1", "2\t1\t20\t2\t0\t1\t7"], "expected 6 fields", 6),  # long row
        (["1\t0\t10\t1\t5\t1", "# note", "2\t1\t20\t2\t0\t1"], "comment line", 6),
    ],
)
def test_structural_problems_named_with_line(tmp_path, rows, message, line):
    with pytest.raises(SimsError, match=message) as info:
        read_surfacelab(write(tmp_path, export_text(rows)))
    assert info.value.line == line


def test_empty_cell_is_nan_like_before(tmp_path):
    # the line-by-line rules stand: an empty cell in a full row reads as nan
    text = export_text(ROWS).replace("2\t1.5\t20\t2\t3.00027\t0\t", "2\t1.5\t20\t2\t\t0\t")
    p = read_surfacelab(write(tmp_path, text))
    assert np.isnan(p.counts[1, 0]) and p.counts[1, 1] == 0


def test_blank_line_and_missing_trailing_tab(tmp_path):
    text = export_text(ROWS).replace("\r\n2\t", "\r\n\r\n2\t").replace("3\t0\t0\t", "3\t0\t0")
    p = read_surfacelab(write(tmp_path, text))
    np.testing.assert_array_equal(p.source_lines, [5, 7, 8])
    np.testing.assert_array_equal(p.counts[:, 0], [5, 3.00027, 0])


def test_auto_detection_reads_only_the_head(tmp_path, monkeypatch):
    # an export far larger than the first block read: detection and the header see its head
    depth = np.linspace(0.25e-9, 499.75e-9, 1000)
    export = synthetic_export(
        depth,
        stand_in_fractions(depth),
        crater_depth_m=310e-9,
        sputter_time_per_point_s=0.1,
        roughness_m=20e-9,
        counts_scale=3000.0,
        seed=1,
        n_points=20000,
    )
    big = write_surfacelab_export(tmp_path / "big.txt", export)
    heads = []
    original = readers._read_head

    def spy(path):
        file, lines = original(path)
        heads.append(sum(len(line) + 1 for line in lines))
        return file, lines

    monkeypatch.setattr(readers, "_read_head", spy)
    assert read_profile(big).metadata.format == "surfacelab"
    assert heads and max(heads) < big.stat().st_size / 10  # never the whole file as text


# ------------------------------------------------------------------ round trips
def test_fractions_csv_round_trip_exact_with_repeated_depths(tmp_path):
    rng = np.random.default_rng(3)
    n = 4000
    # 0.1 pm apart at 12 µm: 6 significant digits would give ~30 copies of each depth
    depth_m = (12345.678 + 1e-4 * np.arange(n)) * 1e-9
    raw = rng.random((3, n))
    fraction = raw / raw.sum(axis=0)
    sigma = rng.random((3, n)) * 1e-3 + 1e-6
    data = xr.Dataset(
        {
            "fraction": (("species", "depth"), fraction),
            "fraction_sigma": (("species", "depth"), sigma),
        },
        coords={"species": ["Li", "Rb", "Cs"], "depth": depth_m},
    )
    assert np.unique([f"{d * 1e9:.6g}" for d in depth_m]).size < n / 10
    first = write_fractions_csv(tmp_path / "f.csv", data)
    table = read_table(first)
    np.testing.assert_array_equal(table.depth_m, depth_m)
    for k, name in enumerate(["Li", "Rb", "Cs"]):
        np.testing.assert_array_equal(table.channel(table.channel_names.index(name)), fraction[k])
        np.testing.assert_array_equal(
            table.channel(table.channel_names.index(f"{name}_sigma")), sigma[k]
        )
    # a fit fed from the CSV keeps the counting weights
    measured = read_fractions_table(first, "s")
    assert measured.sigma_given
    np.testing.assert_array_equal(measured.sigma["Rb"], sigma[1])
    # writing the same data again gives the same bytes
    second = write_fractions_csv(tmp_path / "g.csv", data)
    assert second.read_bytes() == first.read_bytes()


def test_surfacelab_writer_exact_for_any_float(tmp_path):
    rng = np.random.default_rng(5)
    counts = rng.lognormal(3, 4, (50, 3))
    counts[::7, 1] = 0.0
    profile = SimsProfile(
        counts=counts,
        channel_names=("A+", "B+", "C+"),
        channel_masses=[1.0, 2.0, 3.0],
        sputter_time_s=np.cumsum(rng.random(50) + 0.1),
    )
    back = read_surfacelab(write_surfacelab_export(tmp_path / "x.txt", profile))
    np.testing.assert_array_equal(back.counts, profile.counts)
    np.testing.assert_array_equal(back.sputter_time_s, profile.sputter_time_s)


def test_out_replaced_atomically_and_outputs_together(tmp_path):
    out, png = tmp_path / "f.csv", tmp_path / "p.unknownformat"
    out.write_text("old\n")
    result = invoke("sims", EXAMPLE, "--crater-depth", "310 nm", "--out", out, "--plot", png)
    assert result.exit_code == 2, result.output
    assert out.read_text() == "old\n" and not png.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.csv"]  # no temporaries left
    png = tmp_path / "p.png"
    result = invoke("sims", EXAMPLE, "--crater-depth", "310 nm", "--out", out, "--plot", png)
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("depth_nm,Li,Rb,Cs,Li_sigma")
    assert png.stat().st_size > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.csv", "p.png"]


# ------------------------------------------------------------------ silent wrong answers
def test_poisson_correct_on_corrected_export_says_already_corrected(tmp_path):
    result = invoke("sims", EXAMPLE, "--crater-depth", "310 nm", "--poisson", "correct")
    assert result.exit_code == 2
    assert "already corrected" in result.output and "saturated" not in result.output
    with pytest.raises(SimsError, match="already corrected") as info:
        poisson_correct([16400.5, 3.00027], 16384)
    assert "saturated" not in str(info.value)
    with pytest.raises(SimsError, match="saturated"):
        poisson_correct([16384.0], 16384)


def test_poisson_correct_on_unflagged_corrected_values():
    profile = read_surfacelab(EXAMPLE).with_metadata(poisson_corrected=None, shots_per_scan=16384.0)
    with pytest.raises(SimsError, match="already corrected: they are not integers such as"):
        process_profile(profile, crater_depth_m=310e-9, poisson="correct")


def test_small_negative_count_refused_with_line(tmp_path):
    bad = edited_example(tmp_path, 11, 12, "-0.25")  # Cs+ on data line 11
    with pytest.raises(SimsError, match=r"negative intensity -0\.25") as info:
        process_profile(read_profile(bad), crater_depth_m=310e-9)
    assert (info.value.line, info.value.column) == (11, 12)
    result = invoke("sims", bad, "--crater-depth", "310 nm")
    assert result.exit_code == 2 and "counts cannot be negative" in result.output


@pytest.mark.parametrize("cells", [[(6, "1e308"), (7, "1e308")], [(12, "1e308")]])
def test_huge_counts_refused_not_nan(tmp_path, cells):
    lines = EXAMPLE.read_bytes().split(b"\r\n")
    row = lines[20].split(b"\t")
    for column, value in cells:
        row[column - 1] = value.encode()
    lines[20] = b"\t".join(row)
    bad = write(tmp_path, b"\r\n".join(lines))
    out = tmp_path / "f.csv"
    result = invoke("sims", bad, "--crater-depth", "310 nm", "--out", out)
    assert result.exit_code == 2, result.output
    assert "line 21" in result.output and not out.exists()


@pytest.mark.parametrize("value", ["-1", "nan", "0", "inf"])
def test_mass_tolerance_refused(value):
    result = invoke("sims", EXAMPLE, "--crater-depth", "310 nm", "--mass-tolerance", value)
    assert result.exit_code == 2
    assert "mass tolerance must be a positive number" in result.output


# ------------------------------------------------------------------ messages
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_utf16_file(tmp_path, encoding):
    path = write(tmp_path, export_text(ROWS).encode(encoding))
    with pytest.raises(SimsError, match="UTF-16 text, save as UTF-8") as info:
        read_profile(path)
    assert "binary" not in str(info.value)
    result = invoke("sims", path, "--crater-depth", "310 nm")
    assert result.exit_code == 2 and "UTF-16 text, save as UTF-8" in result.output


@pytest.mark.parametrize("sep", [",", ";"])
def test_surfacelab_layout_with_other_separator(tmp_path, sep):
    path = write(tmp_path, export_text(ROWS).replace("\t", sep))
    with pytest.raises(SimsError, match=f"separated by '{sep}'") as info:
        read_profile(path)
    assert "no depth or sputter-time column" not in str(info.value)
    with pytest.raises(SimsError, match=f"a SurfaceLab export saved with '{sep}'"):
        read_profile(path, format="table")


@pytest.mark.parametrize(
    "text",
    [
        "# Mass Spectrum\r\n#Mass (u)\tIntensity\t\r\n1.0078\t5\t\r\n2.0141\t3\t\r\n",
        "#Channel\tMass (u)\tIntensity\t\r\n0\t0.5\t0\t\r\n1\t0.6\t2\t\r\n",
        "Mass (u),Intensity\n1.0078,5\n2.0141,3\n",
    ],
)
def test_mass_spectrum_export(tmp_path, text):
    with pytest.raises(SimsError, match="this is a mass spectrum, not a depth profile"):
        read_profile(write(tmp_path, text))


def test_profile_mentioning_a_spectrum_is_still_a_profile(tmp_path):
    text = export_text(ROWS).replace(
        "# Profile Smoothing is Disabled", "# Spectrum calibration: H, C, CH3"
    )
    assert read_profile(write(tmp_path, text)).n_points == 3


# ------------------------------------------------------------------ compare
def _measured(species: dict[str, np.ndarray], depth_m: np.ndarray) -> MeasuredProfile:
    return MeasuredProfile("cs", depth_m, species)


def test_compare_species_sets(tmp_path):
    result = open_result(make_result(tmp_path / "run"))
    depth = np.linspace(5e-9, 250e-9, 40)
    half = np.full(depth.size, 0.5)
    with pytest.raises(SimsError, match=r"fewer than two species in common.*common: \['Cs'\]"):
        compare_profiles(result, _measured({"Pb": half, "Cs": half}, depth))
    third = np.full(depth.size, 0.25)
    four = compare_profiles(
        result, _measured({"Li": third, "Rb": third, "Cs": third, "Na": third}, depth)
    )
    assert four.species == ("Li", "Rb", "Cs") and four.renormalised
    assert any("Na" in note for note in four.notes)
    np.testing.assert_allclose(four.measured, 1 / 3)
    np.testing.assert_allclose(four.simulated.sum(axis=0), 1.0)
    two = compare_profiles(result, _measured({"Li": half, "Rb": half}, depth))
    assert two.species == ("Li", "Rb") and two.renormalised
    assert any("Cs" in note and "simulated but not measured" in note for note in two.notes)
    np.testing.assert_allclose(two.simulated.sum(axis=0), 1.0)
    full = compare_profiles(result, _measured({"Li": third, "Rb": third, "Cs": 2 * third}, depth))
    assert not full.renormalised and full.notes == ("species compared: Li, Rb, Cs",)
    expected = ((full.simulated - full.measured) / full.sigma) ** 2
    assert full.chi2 == pytest.approx(expected.sum())
    assert full.species_chi2["Rb"] == pytest.approx(expected[1].sum())
    assert "fallback" in full.weights
    png = plot_comparison(tmp_path / "c.png", full)
    assert png.stat().st_size > 1000


def test_compare_cli_prints_chi2_and_weights(tmp_path):
    folder = make_result(tmp_path / "run")
    csv = tmp_path / "f.csv"
    assert (
        invoke("sims", EXAMPLE, *ELEMENT_ARGS, "--crater-depth", "310 nm", "--out", csv).exit_code
        == 0
    )
    png = tmp_path / "c.png"
    result = invoke("compare", folder, csv, "--roughness", "20 nm", "--out", png)
    assert result.exit_code == 0, result.output
    assert "species compared: Li, Rb, Cs" in result.output
    assert "weights: sigma given with the measured profile" in result.output
    assert "chi2 total:" in result.output and "per value" in result.output
    assert png.stat().st_size > 1000
    raw = invoke(
        "compare", folder, EXAMPLE, "--crater-depth", "310 nm", "-e", "Rb=Rb+", "-e", "Pb=Cs+"
    )
    assert raw.exit_code == 2 and "fewer than two species in common" in raw.output
