"""Readers and the SurfaceLab writer: real exports, round trips, bad input."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caitlab.sims import (
    SimsError,
    SimsMetadata,
    SimsProfile,
    example_export_path,
    read_ita,
    read_profile,
    read_surfacelab,
    read_table,
    write_surfacelab_export,
)

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "sims-real"
MAPI = REAL / "iontof_sl73_profile_pos_MAPI_I241209m.txt"
PCBM = REAL / "iontof_sl73_profile_pos_PCBM_2D_I241213e.txt"
needs_real = pytest.mark.skipif(
    not MAPI.exists(), reason=f"real SurfaceLab exports not found in {REAL}"
)

HEADER = "#Data Point #\tSputter Time (s)\tDose (ions)\tFluence (ions/cm^2)\t"


def export_text(
    rows: list[str],
    names: str = "A+\tB+",
    masses: str | None = "1.0\t2.0",
    header: str | None = None,
    n_lead: int = 4,
) -> str:
    """A small SurfaceLab-like export (CRLF, trailing TABs)."""
    lines = ["# Profile Smoothing is Disabled", "#" + "\t" * n_lead + names + "\t"]
    if masses is not None:
        lines.append("#" + "\t" * n_lead + masses + "\t")
    lines.append(header or HEADER + "Intensity\tIntensity\t")
    lines += [row + "\t" for row in rows]
    return "\r\n".join(lines) + "\r\n"


def write(tmp_path: Path, text: str, name: str = "p.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


GOOD_ROWS = ["1\t0\t10\t1\t5\t1.00003", "2\t1.5\t20\t2\t3.00027\t0", "3\t3\t30\t3\t0\t0"]


# ------------------------------------------------------------------ real files
@needs_real
def test_real_mapi_export():
    p = read_surfacelab(MAPI)
    assert p.n_points == 165 and p.n_channels == 106
    assert p.channel_names[0] == "total" and math.isnan(p.channel_masses[0])
    cs = p.channel_names.index("Cs+")
    assert p.channel_masses[cs] == pytest.approx(132.9082)
    assert p.channel_masses[p.channel_names.index("O+")] == pytest.approx(15.9945)
    assert p.sputter_time_s[0] == 0.0 and p.sputter_time_s[-1] == pytest.approx(240.522)
    assert p.counts[0, 0] == pytest.approx(1.22647e6) and p.counts[0, 1] == pytest.approx(11.0097)
    assert np.all(p.counts[-1][np.isfinite(p.counts[-1])] == 0)
    assert np.isinf(p.counts[-1]).sum() > 0
    assert p.channel_names.count("SnO+") == 2
    assert list(p.extra) == ["Data Point #", "Dose (ions)", "Fluence (ions/cm^2)"]
    assert p.extra["Dose (ions)"][0] == pytest.approx(2.47442e6)
    assert p.source_lines[0] == 5 and p.source_lines[-1] == 169
    assert p.metadata.polarity == "+" and p.metadata.poisson_corrected is True
    assert p.metadata.shots_per_scan == 16384


@needs_real
def test_real_pcbm_export():
    p = read_profile(PCBM)
    assert p.metadata.format == "surfacelab"
    assert p.n_points == 47 and p.n_channels == 106
    assert p.sputter_time_s[0] == pytest.approx(1.6384)
    assert p.sputter_time_s[-1] == pytest.approx(152.371)
    assert p.counts[0, 0] == pytest.approx(266926) and p.counts[-1, 0] == pytest.approx(18315.2)
    assert p.channel_masses[p.channel_names.index("Cs+")] == pytest.approx(132.9082)


@needs_real
def test_real_export_rewritten_is_identical(tmp_path):
    p = read_surfacelab(PCBM)
    out = write_surfacelab_export(tmp_path / "copy.txt", p)
    q = read_surfacelab(out)
    assert q.channel_names == p.channel_names
    np.testing.assert_array_equal(q.counts, p.counts)
    np.testing.assert_array_equal(q.channel_masses, p.channel_masses)
    # same lines apart from nothing: the layout is reproduced byte for byte
    assert out.read_bytes() == PCBM.read_bytes()


# ------------------------------------------------------------------ layout variants
def test_round_trip_example(tmp_path):
    p = read_surfacelab(example_export_path())
    q = read_surfacelab(write_surfacelab_export(tmp_path / "x.txt", p))
    np.testing.assert_array_equal(q.counts, p.counts)
    np.testing.assert_array_equal(q.sputter_time_s, p.sputter_time_s)
    assert q.channel_names == p.channel_names
    assert dict(q.extra).keys() == dict(p.extra).keys()


def test_minimal_lf_negative_export(tmp_path):
    text = (
        "\n".join(
            [
                "#\tO-\tOH-\t^18O-",
                "#\t15.9949\t17.0027\tN/A",
                "#Sputter Time (s)\tIntensity\tIntensity\tIntensity",
                "0\t10\t20\tinf",
                "2\t11\t21\tnan",
            ]
        )
        + "\n"
    )
    p = read_surfacelab(write(tmp_path, text))
    assert p.channel_names == ("O-", "OH-", "^18O-")
    assert p.metadata.polarity == "-"
    assert p.metadata.poisson_corrected is False
    assert np.isinf(p.counts[0, 2]) and np.isnan(p.counts[1, 2])
    assert not p.extra


def test_depth_axis_and_comma_names(tmp_path):
    text = export_text(
        ["1\t0\t5\t6", "2\t10\t7\t8"],
        names="Sn+, SnO+\tPb+",
        header="#Data Point #\tDepth (nm)\tIntensity\tIntensity\t",
        n_lead=2,
    )
    p = read_surfacelab(write(tmp_path, text))
    assert p.channel_names == ("Sn+, SnO+", "Pb+")
    np.testing.assert_allclose(p.depth_m, [0.0, 10e-9])
    assert p.sputter_time_s is None


def test_table_reader(tmp_path):
    path = write(tmp_path, "# processed\ndepth_nm,Li,Rb,84.91\n0,0.1,0.2,3\n5,0.3,0.4,5\n", "t.csv")
    p = read_table(path)
    assert p.channel_names == ("Li", "Rb", "84.91")
    assert p.channel_masses[2] == pytest.approx(84.91)
    np.testing.assert_allclose(p.depth_m, [0, 5e-9])
    q = read_profile(path)
    assert q.metadata.format == "table"
    tsv = write(tmp_path, "Sputter Time (s)\tCs+ (132.905 u)\n1\t5\n2\t6\n", "t.tsv")
    r = read_profile(tsv, format="table")
    assert r.channel_names == ("Cs+",) and r.channel_masses[0] == pytest.approx(132.905)
    np.testing.assert_allclose(r.sputter_time_s, [1, 2])


def test_profile_is_frozen():
    p = SimsProfile(
        counts=[[1.0, 2.0]],
        channel_names=("a", "b"),
        channel_masses=[1.0, None],
        sputter_time_s=[0.0],
    )
    with pytest.raises(AttributeError):
        p.counts = None  # type: ignore[misc]
    with pytest.raises(ValueError):
        p.counts[0, 0] = 5.0
    assert math.isnan(p.channel_masses[1])
    da = p.to_xarray()
    assert da.dims == ("point", "channel") and da["sputter_time"].attrs["units"] == "s"


# ------------------------------------------------------------------ bad input
def test_empty_file(tmp_path):
    with pytest.raises(SimsError, match="empty") as info:
        read_profile(write(tmp_path, "  \r\n"))
    assert "p.txt" in str(info.value)


def test_wrong_separator(tmp_path):
    text = export_text(GOOD_ROWS).replace("\t", ",")
    with pytest.raises(SimsError, match=r"no TAB separators \(found ','\)"):
        read_surfacelab(write(tmp_path, text))


def test_missing_mass_line(tmp_path):
    path = write(tmp_path, export_text(GOOD_ROWS, masses=None))
    with pytest.raises(SimsError, match="missing masses line") as info:
        read_surfacelab(path)
    assert info.value.line == 3
    p = read_surfacelab(path, require_masses=False)
    assert np.isnan(p.channel_masses).all()


def test_non_monotonic_time(tmp_path):
    rows = ["1\t0\t10\t1\t5\t1", "2\t3\t20\t2\t3\t0", "3\t2\t30\t3\t0\t0"]
    with pytest.raises(SimsError, match="not increasing") as info:
        read_surfacelab(write(tmp_path, export_text(rows)))
    assert (info.value.line, info.value.column) == (7, 2)
    assert "line 7, column 2" in str(info.value)


def test_unreadable_cell_and_ragged_row(tmp_path):
    rows = ["1\t0\t10\t1\t5\t1", "2\t1\t20\t2\tabc\t0"]
    with pytest.raises(SimsError, match="'abc'") as info:
        read_surfacelab(write(tmp_path, export_text(rows)))
    assert (info.value.line, info.value.column) == (6, 5)
    rows = ["1\t0\t10\t1\t5\t1", "2\t1\t20\t2\t0"]
    with pytest.raises(SimsError, match="expected 6 fields") as info:
        read_surfacelab(write(tmp_path, export_text(rows)))
    assert info.value.line == 6


def test_table_without_axis(tmp_path):
    with pytest.raises(SimsError, match="no depth or sputter-time column"):
        read_table(write(tmp_path, "a,b\n1,2\n", "t.csv"))


def test_ita_needs_pyspm(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pySPM", None)
    with pytest.raises(SimsError, match=r"caitlab\[ita\]"):
        read_ita(tmp_path / "x.ita")
    with pytest.raises(SimsError, match=r"caitlab\[ita\]"):
        read_profile(tmp_path / "x.ita")


def test_ita_through_fake_pyspm(tmp_path, monkeypatch):
    class FakeITA:
        Nscan, sx, sy = 3, 4, 4

        def __init__(self, filename):
            self.filename = filename

        def get_masses(self):
            return [
                {"id": 0, "assign": "", "cmass": 0.0},
                {"id": 1, "assign": "", "cmass": 0},
                {"id": 2, "assign": "Li+", "cmass": 7.0155},
                {"id": 3, "assign": "", "cmass": 84.9112},
            ]

        def getImage(self, channel, scan):
            return np.full((4, 4), float(channel + scan))

    fake = type(sys)("pySPM")
    fake.ITA = FakeITA
    monkeypatch.setitem(sys.modules, "pySPM", fake)
    path = write(tmp_path, "x", "m.ita")
    p = read_ita(path, sputter_time_per_scan_s=2.0)
    assert p.channel_names == ("Li+", "84.9112u")
    np.testing.assert_allclose(p.counts[:, 0], 16 * np.array([2, 3, 4]))
    np.testing.assert_allclose(p.sputter_time_s, [2, 4, 6])
    assert p.metadata.shots_per_scan == 16 and p.metadata.poisson_corrected is False


# ------------------------------------------------------------------ property test
name_chars = st.sampled_from(list("ABCLiRbCsOH_^+-, 0123456789"))
names = (
    st.text(name_chars, min_size=1, max_size=12)
    .map(str.strip)
    .filter(lambda s: s != "" and not s.startswith("#"))
)


@st.composite
def profiles(draw):
    n_channels = draw(st.integers(1, 6))
    n_points = draw(st.integers(2, 25))
    steps = draw(st.lists(st.integers(1, 50), min_size=n_points, max_size=n_points))
    time = 0.5 * np.cumsum(steps)
    chans = draw(st.lists(names, min_size=n_channels, max_size=n_channels))
    masses = draw(
        st.lists(
            st.one_of(st.none(), st.floats(1, 1000).map(lambda m: round(m, 4))),
            min_size=n_channels,
            max_size=n_channels,
        )
    )
    values = draw(
        st.lists(
            st.one_of(
                st.just(0.0), st.floats(0, 1e7).map(lambda v: float(f"{v:g}")), st.just(math.inf)
            ),
            min_size=n_points * n_channels,
            max_size=n_points * n_channels,
        )
    )
    return SimsProfile(
        counts=np.array(values).reshape(n_points, n_channels),
        channel_names=tuple(chans),
        channel_masses=np.array([np.nan if m is None else m for m in masses]),
        sputter_time_s=time,
        metadata=SimsMetadata(),
        extra={"Dose (ions)": np.arange(1, n_points + 1) * 1e6},
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(profile=profiles())
def test_write_read_property(tmp_path, profile):
    q = read_surfacelab(write_surfacelab_export(tmp_path / "h.txt", profile))
    assert q.channel_names == profile.channel_names
    np.testing.assert_allclose(q.channel_masses, profile.channel_masses, rtol=1e-6)
    np.testing.assert_allclose(q.counts, profile.counts, rtol=1e-5)
    np.testing.assert_allclose(q.sputter_time_s, profile.sputter_time_s, rtol=1e-6)
    np.testing.assert_allclose(q.extra["Dose (ions)"], profile.extra["Dose (ions)"])


def test_header_without_hash(tmp_path):
    text = export_text(
        GOOD_ROWS,
        header="Data Point #\tSputter Time (s)\tDose (ions)\t"
        "Fluence (ions/cm^2)\tIntensity\tIntensity\t",
    )
    p = read_surfacelab(write(tmp_path, text))
    assert p.n_points == 3 and p.channel_names == ("A+", "B+")


def test_unnamed_intensity_column(tmp_path):
    text = export_text(GOOD_ROWS, names="A+")
    with pytest.raises(SimsError, match=r"column 6 .* has no name") as info:
        read_surfacelab(write(tmp_path, text))
    assert (info.value.line, info.value.column) == (2, 6)
