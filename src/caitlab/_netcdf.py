"""The layout of ``result.nc``: a :class:`~caitlab.results.Result` to Dataset variables and back.

Every variable and coordinate carries ``units`` and ``long_name`` (:data:`DESCRIPTIONS`);
stage facts are variables over the ``stage`` dimension.

:func:`write_result` writes the file with h5py alone, the same file that
``result.to_xarray().to_netcdf(path, engine="h5netcdf")`` writes (the same HDF5 objects,
attributes and their order), without importing xarray, pandas and dask (0.5-0.8 s, longer than
a run of the paper's experiment); ``tests/test_result_io.py`` compares the two files.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from caitlab.results import D_GRID, REJECTION_REASONS, StageRecord

if TYPE_CHECKING:
    import xarray as xr

    from caitlab.results import Result

#: name -> (units, long_name) of every variable and coordinate of result.nc
DESCRIPTIONS = {
    "time": ("s", "time from the start of the first stage"),
    "x": ("m", "depth of the cell centre"),
    "species": ("1", "mobile species"),
    "stage": ("1", "stage name"),
    "trace_time": ("s", "time of an accepted step, from the start of the first stage"),
    "density_fraction": ("1", "density n/n0 at which D is tabulated"),
    "rejection_reason": ("1", "why a time step was rejected"),
    "time_stage": ("1", "stage of the saved state"),
    "trace_stage": ("1", "stage of the accepted step"),
    "density": ("m^-3", "number density"),
    "fraction": ("1", "density as a fraction of n0"),
    "potential": ("V", "electric potential"),
    "current": ("A", "back-electrode current"),
    "charge": ("C", "cumulative charge through the back electrode"),
    "stage_local_charge": ("C", "charge through the back electrode since the stage start"),
    "cell_width": ("m", "cell width"),
    "trace_current": ("A", "back-electrode current"),
    "trace_charge": ("C", "cumulative charge through the back electrode"),
    "trace_stage_local_charge": ("C", "charge through the back electrode since the stage start"),
    "trace_surface_potential": ("V", "surface potential"),
    "trace_beam_current": ("A", "beam current landing"),
    "stage_start": ("s", "start of the stage"),
    "stage_duration": ("s", "duration of the stage"),
    "stage_temperature": ("K", "temperature of the stage"),
    "stage_charge": ("C", "charge through the back electrode during the stage"),
    "diffusivity": ("m^2 s^-1", "diffusion coefficient D(n) used in the stage"),
    "inflow": ("m^-2", "ions in through the front during the stage"),
    "outflow": ("m^-2", "ions out through the back during the stage"),
    "inventory_start": ("m^-2", "areal inventory at the start of the stage"),
    "inventory_end": ("m^-2", "areal inventory at the end of the stage"),
    "inventory_change": ("m^-2", "change of the areal inventory during the stage"),
    "n_steps": ("1", "accepted time steps"),
    "n_rejected": ("1", "rejected time steps"),
    "n_newton": ("1", "Newton iterations"),
    "n_jacobian_factorisations": ("1", "Jacobian factorisations"),
    "rejected_steps": ("1", "rejected time steps by reason"),
    "min_density_fraction": ("1", "smallest density n/n0 met in the stage"),
    "stage_wall_time": ("s", "wall-clock time of the stage"),
    "wall_time": ("s", "wall-clock time of the run, numba's compilation left out"),
    "compile_time": ("s", "time spent in numba's compiler during the run"),
    "n0": ("m^-3", "mobile-ion density n0 of the pristine glass"),
    "area": ("m^2", "area of the sample under the beam"),
    "thickness": ("m", "sample thickness"),
}
_STAGE_INTS = {
    "n_steps": "n_steps",
    "n_rejected": "n_rejected",
    "n_newton": "n_newton",
    "n_jacobian_factorisations": "n_factor",
}
_STAGE_SPECIES = {
    "inflow": "inflow_m2",
    "outflow": "outflow_m2",
    "inventory_start": "inventory_start_m2",
    "inventory_end": "inventory_end_m2",
    "inventory_change": "inventory_change_m2",
}


def result_variables(result: Result) -> tuple[dict[str, Any], dict[str, Any]]:
    """(data_vars, coords) of the Dataset of ``result``."""
    stages = result.stages
    sample = result.experiment.sample

    def cat(attr: str) -> np.ndarray:
        return np.concatenate([getattr(r, attr) for r in stages])

    def per_stage(attr: str) -> np.ndarray:
        return np.array([getattr(r, attr) for r in stages])

    before = np.cumsum([0.0] + [r.charge_C for r in stages[:-1]])
    density = cat("density")
    data = {
        "density": (("time", "species", "x"), density),
        "fraction": (("time", "species", "x"), density / sample.mobile_ion_density),
        "potential": (("time", "x"), cat("potential")),
        "current": ("time", cat("current")),
        "charge": ("time", np.concatenate([r.charge + q for r, q in zip(stages, before)])),
        "stage_local_charge": ("time", cat("charge")),
        "cell_width": ("x", result.mesh.widths),
        "trace_current": ("trace_time", cat("trace_current")),
        "trace_charge": (
            "trace_time",
            np.concatenate([r.trace_charge + q for r, q in zip(stages, before)]),
        ),
        "trace_stage_local_charge": ("trace_time", cat("trace_charge")),
        "trace_surface_potential": ("trace_time", cat("trace_surface_potential")),
        "trace_beam_current": ("trace_time", cat("trace_beam_current")),
        "stage_start": ("stage", per_stage("start")),
        "stage_duration": ("stage", per_stage("duration")),
        "stage_temperature": ("stage", per_stage("temperature")),
        "stage_charge": ("stage", per_stage("charge_C")),
        "diffusivity": (("stage", "species", "density_fraction"), per_stage("diffusivity")),
        "rejected_steps": (
            ("stage", "rejection_reason"),
            np.array([[r.rejected_by.get(k, 0) for k in REJECTION_REASONS] for r in stages]),
        ),
        "min_density_fraction": ("stage", per_stage("min_density_fraction")),
        "stage_wall_time": ("stage", per_stage("wall_time_s")),
        "wall_time": ((), result.wall_time_s),
        "compile_time": ((), result.compile_time_s),
        "n0": ((), sample.mobile_ion_density),
        "area": ((), sample.area),
        "thickness": ((), sample.thickness),
    }
    data |= {k: ("stage", per_stage(v).astype(np.int64)) for k, v in _STAGE_INTS.items()}
    data |= {k: (("stage", "species"), per_stage(v)) for k, v in _STAGE_SPECIES.items()}
    coords = {
        "time": ("time", cat("time")),
        "x": ("x", result.mesh.centres),
        "species": ("species", list(result.species)),
        "stage": ("stage", [r.name for r in stages]),
        "trace_time": ("trace_time", cat("trace_time")),
        "density_fraction": ("density_fraction", D_GRID),
        "rejection_reason": ("rejection_reason", list(REJECTION_REASONS)),
        "time_stage": ("time", np.concatenate([[r.name] * len(r.time) for r in stages])),
        "trace_stage": (
            "trace_time",
            np.concatenate([[r.name] * len(r.trace_time) for r in stages]),
        ),
    }
    return data, coords


def global_attributes(result: Result) -> dict[str, str]:
    """The attributes of the file (and of :meth:`~caitlab.results.Result.to_xarray`)."""
    return {
        "Conventions": "CF-1.10",
        "title": f"caitlab run: {result.experiment.name}",
        "source": f"caitlab {result.version}",
        "history": f"{result.created} created by caitlab {result.version}",
        "caitlab_version": result.version,
        "created": result.created,
        "run_id": result.run_id,
        "experiment_name": result.experiment.name,
        "config_toml": result.experiment.to_toml(),
    }


def write_result(result: Result, path: str | os.PathLike) -> None:
    """Write ``result.nc`` of ``result`` to ``path`` (:func:`result_image`, written with
    checked system calls: a full disk is an ``OSError``)."""
    from caitlab.storage import write_bytes

    write_bytes(path, result_image(result))


def result_image(result: Result) -> bytes:
    """The bytes of ``result.nc`` of ``result``: the file that
    ``result.to_xarray().to_netcdf(path, engine="h5netcdf")`` writes, made with h5py alone.

    xarray (with pandas and dask) takes ~0.5 s to import and h5netcdf's bookkeeping ~0.07 s
    for this file; h5py does it in ~0.01 s. The steps are theirs: xarray's encoding (a NaN
    ``_FillValue`` for floats, variable-length strings, the ``coordinates`` attribute),
    then the file attributes, the dimensions (placeholder dimension scales, in order of
    first use) and each variable, data variables first, as h5netcdf creates it: dimension
    scales attached (a coordinate variable replaces its placeholder), netCDF-4's
    ``_Netcdf4Coordinates`` and ``_Netcdf4Dimid``, ``_FillValue``, xarray's attributes,
    then the data; last the ``_NCProperties`` of a netCDF-4 file. With xarray 2026.9,
    h5netcdf 1.8 and h5py 3.16 the two files differ in the ``_NCProperties`` text alone
    (which names caitlab, not h5netcdf), byte for byte; ``tests/test_result_io.py``
    compares their HDF5 objects.

    The file is made in memory (HDF5's core driver, no backing store) and its image returned:
    h5py never writes to disk, so no HDF5 object is left half-written by a full disk (which
    made h5py print a traceback per object and crash the interpreter at exit).
    """
    import uuid

    import h5py

    data, coords = result_variables(result)
    variables: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
    for name, (dims, values) in [*data.items(), *coords.items()]:
        variables[name] = ((dims,) if isinstance(dims, str) else tuple(dims), np.asarray(values))
    attributes = {name: dict(zip(("units", "long_name"), DESCRIPTIONS[name])) for name in variables}
    for name, text in _coordinates_attributes(variables, coords).items():
        attributes[name]["coordinates"] = text
    name = f"caitlab-{uuid.uuid4().hex}.nc"  # no file: only HDF5's name of the image
    with h5py.File(name, "w", driver="core", backing_store=False, track_order=True) as f:
        for key, value in global_attributes(result).items():
            f.attrs[key] = value
        dimension_ids: dict[str, int] = {}
        for dims, values in variables.values():
            for dim, size in zip(dims, values.shape):
                if dim not in dimension_ids:
                    dimension_ids[dim] = len(dimension_ids)
                    _placeholder_scale(f, dim, size, dimension_ids[dim])
        for name, (dims, values) in variables.items():
            _write_variable(f, name, dims, values, dimension_ids, attributes[name])
        text = _provenance(result)
        f.attrs["_NCProperties"] = np.array(text, dtype=h5py.string_dtype("ascii", len(text)))
        f.flush()
        return bytes(f.id.get_file_image())


def _provenance(result: Result) -> str:
    """``_NCProperties``: the netCDF-4 provenance of the file (the writing library's)."""
    import h5py

    return (
        f"version=2,caitlab={result.version},hdf5={h5py.version.hdf5_version},"
        f"h5py={h5py.__version__}"
    )


#: the dimension scale name of a netCDF-4 dimension without a variable (then its length)
_NOT_A_VARIABLE = b"This is a netCDF dimension but not a netCDF variable."


def _placeholder_scale(f: Any, dim: str, size: int, dimension_id: int) -> None:
    """A dimension with no variable yet: an empty dimension scale of its length."""
    scale = f.create_dataset(dim, shape=(size,), dtype=">f4", track_order=True)
    scale.attrs["_Netcdf4Dimid"] = np.array(dimension_id, dtype=np.int32)
    scale.make_scale(_NOT_A_VARIABLE + f"{size:10}".encode("ascii"))


def _write_variable(
    f: Any,
    name: str,
    dims: tuple[str, ...],
    values: np.ndarray,
    dimension_ids: dict[str, int],
    attributes: dict[str, str],
) -> None:
    """One variable, created as h5netcdf's ``create_variable`` creates it, then described
    and filled as xarray does."""
    import h5py

    floating = np.issubdtype(values.dtype, np.floating)
    fillvalue = values.dtype.type(np.nan) if floating else None
    coordinate = name in dimension_ids  # the variable of a dimension replaces its placeholder
    if coordinate and dims != (name,):
        raise NotImplementedError(f"{name}: a variable named after a dimension is over it alone")
    references: list = []
    dimension_id = None
    if coordinate:
        placeholder = f[name]
        references = list(placeholder.attrs.get("REFERENCE_LIST", []))
        dimension_id = placeholder.attrs.get("_Netcdf4Dimid", None)
        for reference, axis in references:
            f[reference].dims[axis].detach_scale(placeholder)
        del placeholder  # closed before it is unlinked, as h5netcdf does (the same layout)
        del f[name]
    variable = f.create_dataset(
        name,
        values.shape,
        dtype=h5py.string_dtype() if values.dtype.kind == "U" else values.dtype,
        chunks=None,
        fillvalue=fillvalue,
        track_order=True,
    )
    if coordinate:
        if dimension_id is not None:
            variable.attrs["_Netcdf4Dimid"] = np.array(dimension_id, dtype=np.int32)
        variable.make_scale(name)
        for reference, axis in references:
            f[reference].dims[axis].attach_scale(variable)
    else:
        for axis, dim in enumerate(dims):
            variable.dims[axis].attach_scale(f[dim])
    if dims:
        variable.attrs["_Netcdf4Coordinates"] = np.array(
            [dimension_ids[d] for d in dims], dtype=np.int32
        )
        # netCDF-C sets the id of the first dimension when a variable is first written
        if not variable.attrs.get("_Netcdf4Dimid", False):
            variable.attrs["_Netcdf4Dimid"] = f[dims[0]].attrs["_Netcdf4Dimid"]
    if fillvalue is not None:
        variable.attrs["_FillValue"] = np.atleast_1d(fillvalue)
    for key, value in attributes.items():
        variable.attrs[key] = value
    variable[...] = values


def _coordinates_attributes(
    variables: dict[str, tuple[tuple[str, ...], np.ndarray]], coords: dict[str, Any]
) -> dict[str, str]:
    """xarray's ``coordinates`` attribute: each non-dimension coordinate is named by every
    other variable whose dimensions include its own (CF), sorted, space-separated."""
    dimensions = {dim for dims, _ in variables.values() for dim in dims}
    non_dim = [name for name in coords if name not in dimensions]
    named: dict[str, list[str]] = {}
    for coord in non_dim:
        for name, (dims, _) in variables.items():
            if name not in non_dim and name not in dims and set(variables[coord][0]) <= set(dims):
                named.setdefault(name, []).append(coord)
    return {name: " ".join(sorted(found)) for name, found in named.items()}


def describe(ds: xr.Dataset) -> xr.Dataset:
    """Set ``units`` and ``long_name`` of every variable and coordinate of ``ds``."""
    for name in [*ds.data_vars, *ds.coords]:
        units, long_name = DESCRIPTIONS[name]
        ds[name].attrs.update(units=units, long_name=long_name)
    return ds


def _strings(values: Any) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel()]


def records_from_dataset(ds: xr.Dataset) -> tuple[StageRecord, ...]:
    """The :class:`StageRecord` of every stage of a result Dataset."""
    species = tuple(_strings(ds["species"].values))
    time_stage = np.array(_strings(ds["time_stage"].values))
    trace_stage = np.array(_strings(ds["trace_stage"].values))
    records = []
    for k, name in enumerate(_strings(ds["stage"].values)):
        s = ds.isel(stage=k)
        saved, traced = ds.isel(time=time_stage == name), ds.isel(trace_time=trace_stage == name)
        totals: dict[str, Any] = {v: int(s[k]) for k, v in _STAGE_INTS.items()}
        totals |= {v: s[k].values for k, v in _STAGE_SPECIES.items()}
        record = StageRecord(
            name=name,
            start=float(s["stage_start"]),
            duration=float(s["stage_duration"]),
            temperature=float(s["stage_temperature"]),
            species=species,
            x=ds["x"].values,
            n0=float(ds["n0"]),
            time=saved["time"].values,
            density=saved["density"].transpose("time", "species", "x").values,
            potential=saved["potential"].transpose("time", "x").values,
            current=saved["current"].values,
            charge=saved["stage_local_charge"].values,
            trace_time=traced["trace_time"].values,
            trace_current=traced["trace_current"].values,
            trace_charge=traced["trace_stage_local_charge"].values,
            trace_surface_potential=traced["trace_surface_potential"].values,
            trace_beam_current=traced["trace_beam_current"].values,
            diffusivity=s["diffusivity"].transpose("species", "density_fraction").values,
            rejected_by=dict(zip(REJECTION_REASONS, s["rejected_steps"].values.tolist())),
            min_density_fraction=float(s["min_density_fraction"]),
            wall_time_s=float(s["stage_wall_time"]),
            **totals,
        )
        records.append(record)
    return tuple(records)


__all__ = [
    "DESCRIPTIONS",
    "describe",
    "global_attributes",
    "records_from_dataset",
    "result_image",
    "result_variables",
    "write_result",
]
