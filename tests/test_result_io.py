"""One Result in memory and on disk: save/open round trip, a self-describing file, and the
result.nc + summary.json pair replaced as one unit (real SIGKILLs)."""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import caitlab
from caitlab.results import D_GRID, Result, ResultWriteError, open_result


@pytest.fixture(scope="module")
def saved(quick_result, tmp_path_factory):
    return quick_result.save(tmp_path_factory.mktemp("saved"))


def test_save_and_open_give_back_an_equal_result(quick_result, saved):
    opened = caitlab.open_result(saved)
    assert isinstance(opened, Result) and type(opened) is type(quick_result)
    assert opened.experiment == quick_result.experiment
    assert opened.summary() == quick_result.summary()
    np.testing.assert_array_equal(opened.mesh.edges, quick_result.mesh.edges)
    for a, b in zip(quick_result.stages, opened.stages, strict=True):
        for name in (
            "time",
            "density",
            "potential",
            "current",
            "trace_time",
            "trace_surface_potential",
            "diffusivity",
            "inflow_m2",
        ):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        np.testing.assert_allclose(a.charge, b.charge, rtol=1e-12, atol=1e-30)
        assert (a.name, a.start, a.duration, a.temperature) == (
            b.name,
            b.start,
            b.duration,
            b.temperature,
        )
    # the same file opens by folder or by its .nc path
    assert open_result(saved / "result.nc").run_id == opened.run_id == quick_result.run_id


def _hdf5_contents(path: Path) -> list:
    """Every HDF5 object of a file: dtype, shape, layout, filters, fill value, the
    attributes in creation order (dimension references by name) and the data."""
    import h5py

    def attributes(f, obj) -> list:
        found = []
        for key in obj.attrs:
            value = obj.attrs[key]
            if key == "DIMENSION_LIST":
                value = [[f[ref].name for ref in refs] for refs in value]
            elif key == "REFERENCE_LIST":
                value = [(f[ref].name, int(index)) for ref, index in value]
            elif key == "_NCProperties":  # names the writing library
                assert value.decode().startswith("version=2,"), value
                value = "netCDF-4 provenance"
            elif isinstance(value, np.ndarray):
                value = (value.dtype.str, value.tolist())
            found.append((key, repr(value)))
        return found

    with h5py.File(path, "r") as f:
        contents: list = [("/", attributes(f, f), list(f))]

        def visit(name, obj):
            assert isinstance(obj, h5py.Dataset), name
            plist = obj.id.get_create_plist()
            data = obj[()]
            contents.append(
                (
                    name,
                    str(obj.dtype),
                    h5py.check_string_dtype(obj.dtype),
                    obj.shape,
                    obj.maxshape,
                    obj.chunks,
                    obj.compression,
                    obj.shuffle,
                    obj.fletcher32,
                    repr(obj.fillvalue),
                    plist.get_layout(),
                    plist.get_attr_creation_order(),
                    attributes(f, obj),
                    repr(data.tolist()) if data.dtype == object else data.tobytes(),
                )
            )

        f.visititems(visit)
    return contents


def test_the_file_is_the_one_xarray_writes(quick_result, saved, tmp_path):
    """Result.save writes result.nc with h5py alone: the same HDF5 objects, attributes
    (in order) and data as ``to_xarray().to_netcdf(engine="h5netcdf")`` (byte for byte but
    for the provenance text, with xarray 2026.9 and h5netcdf 1.8), and the same Dataset."""
    reference = tmp_path / "xarray.nc"
    quick_result.to_xarray().to_netcdf(reference, engine="h5netcdf")
    assert _hdf5_contents(saved / "result.nc") == _hdf5_contents(reference)
    with (
        xr.open_dataset(saved / "result.nc", engine="h5netcdf") as ours,
        xr.open_dataset(reference, engine="h5netcdf") as theirs,
    ):
        assert ours.identical(theirs)
        assert list(ours.variables) == list(theirs.variables)
        for name in theirs.variables:
            mine = {k: v for k, v in ours[name].encoding.items() if k != "source"}
            other = {k: v for k, v in theirs[name].encoding.items() if k != "source"}
            assert repr(mine) == repr(other), name
            assert ours[name].dtype == theirs[name].dtype, name


def test_stage_accessors(quick_result):
    final = quick_result.stage("Cs-CAIT").fractions
    assert final.dims == ("species", "depth") and final["depth"].attrs["units"] == "nm"
    np.testing.assert_allclose(final["depth"].values, quick_result.mesh.centres * 1e9)
    np.testing.assert_allclose(final.sum("species").values, 1.0, atol=5e-3)
    assert quick_result.stage_bounds[1] == (
        "Cs-CAIT",
        quick_result.stages[0].duration,
        sum(s.duration for s in quick_result.stages),
    )
    traces = quick_result.traces
    assert traces["charge"].values[-1] == pytest.approx(
        sum(s.charge_C for s in quick_result.stages), rel=1e-12
    )
    assert traces["current"].attrs["units"] == "A"
    with pytest.raises(KeyError, match="Rb-CAIT"):
        quick_result.stage("K-CAIT")


def test_stages_and_d_tables_are_data_in_a_self_describing_file(quick_result, saved):
    with xr.open_dataset(saved / "result.nc", engine="h5netcdf") as ds:
        assert ds.attrs["Conventions"].startswith("CF-")
        assert list(ds["stage"].values) == ["Rb-CAIT", "Cs-CAIT"]
        for name in ("stage_start", "stage_duration", "stage_temperature", "stage_charge"):
            assert ds[name].dims == ("stage",)
        for name in [*ds.data_vars, *ds.coords]:
            assert ds[name].attrs.get("units") and ds[name].attrs.get("long_name"), name
        assert not any(isinstance(v, str) and v.startswith("[") for v in ds.attrs.values())
        d = ds["diffusivity"].sel(stage="Rb-CAIT", species="Li")
        model = quick_result.experiment.stages[0].diffusivity["Li"]
        n0 = float(ds["n0"])
        expected = model.diffusivity(D_GRID, quick_result.experiment.stages[0].temperature, n0)
        np.testing.assert_allclose(d.values, expected, rtol=1e-12)
        frac = ds["fraction"].isel(time=-1)
        np.testing.assert_allclose(frac.values, ds["density"].isel(time=-1).values / n0)


def test_stale_temporaries_are_removed_by_the_next_write(quick_result, tmp_path):
    (tmp_path / ".result.nc.abc123.tmp").write_bytes(b"half")
    (tmp_path / ".summary.json.xyz.tmp").write_text("{")
    (tmp_path / "mine.tmp").write_text("a user's file")
    quick_result.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.tmp", "result.nc", "summary.json"]


def test_a_committed_write_is_completed_by_the_next_open(quick_result, tmp_path):
    """A kill between the journal and the renames: open_result finishes the commit."""
    quick_result.save(tmp_path)
    newer = Result(
        quick_result.experiment,
        quick_result.mesh,
        quick_result.stages,
        quick_result.wall_time_s,
        quick_result.created,
    )
    other = tmp_path / "other"
    newer.save(other)
    (other / "result.nc").rename(tmp_path / ".result.nc.new.tmp")
    (tmp_path / ".commit.json").write_text(json.dumps({"result.nc": ".result.nc.new.tmp"}))
    (other / "summary.json").replace(tmp_path / "summary.json")  # renamed before the kill
    opened = open_result(tmp_path)
    assert opened.run_id == newer.run_id
    assert json.loads((tmp_path / "summary.json").read_text())["run_id"] == newer.run_id
    assert not (tmp_path / ".commit.json").exists()


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        RuntimeError("Can't write data (file write failed: ... errno = 28, No space left)"),
    ],
)
def test_a_full_disk_is_one_clear_error(quick_result, tmp_path, monkeypatch, error):
    import h5py

    quick_result.save(tmp_path)
    before = (tmp_path / "summary.json").read_text()

    def full(*args, **kwargs):
        raise error

    monkeypatch.setattr(h5py, "File", full)
    newer = Result(
        quick_result.experiment,
        quick_result.mesh,
        quick_result.stages,
        quick_result.wall_time_s,
        quick_result.created,
    )
    with pytest.raises(ResultWriteError, match="the disk is full"):
        newer.save(tmp_path)
    assert (tmp_path / "summary.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.nc", "summary.json"]


KILLS = 8


def _kill_while_writing(process: subprocess.Popen, out: Path, rng: random.Random) -> str:
    """SIGKILL ``process`` a random 0-400 ms after its first temporary file appears."""
    while process.poll() is None and not list(out.glob(".*.tmp")):
        time.sleep(0.0005)
    delay = rng.uniform(0.0, 0.4)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    return f"{delay * 1e3:.0f} ms into the write"


def _pair_ids(folder: Path) -> tuple[str, str]:
    result = open_result(folder)  # completes a committed write
    summary = json.loads((folder / "summary.json").read_text())
    return result.run_id, summary["run_id"]


def test_sigkill_during_run_leaves_the_old_or_the_new_pair(tmp_path):
    """``caitlab run`` into a folder holding an older run, SIGKILLed at random moments."""
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "caitlab",
        "run",
        "quick-double-cait",
        "--out",
        str(out),
        "--quiet",
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    full = time.perf_counter() - started
    rng = random.Random(9)
    outcomes = []
    for k in range(KILLS):
        old, _ = _pair_ids(out)
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if k % 2:  # at a random moment of the whole run
            delay = full * rng.uniform(0.0, 1.05)
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            when = f"{delay:.1f} s into the run"
        else:  # in the few milliseconds in which the files are written
            when = _kill_while_writing(process, out, rng)
        process.wait()
        result_id, summary_id = _pair_ids(out)
        assert result_id == summary_id, f"kill {k} ({when}) left a mixed pair"
        outcomes.append(("old" if result_id == old else "new", when))
    print("SIGKILL outcomes:", outcomes)
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    assert sorted(p.name for p in out.iterdir()) == ["result.nc", "summary.json"]


def test_stale_files_of_a_killed_run_do_not_reach_a_reader(tmp_path, quick_result):
    quick_result.save(tmp_path)
    os.close(os.open(tmp_path / ".result.nc.dead.tmp", os.O_CREAT | os.O_WRONLY))
    assert open_result(tmp_path).run_id == quick_result.run_id
