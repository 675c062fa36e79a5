"""Readers for ToF-SIMS depth profiles: SurfaceLab text exports, plain tables, ITA/ITM.

Every reader returns a :class:`~caitlab.sims.profile.SimsProfile`; problems raise
:class:`~caitlab.sims.errors.SimsError` naming the file, line and column.

Text files are read in one pass: the ``#`` header lines are parsed here, the data rows by
pandas' C parser into one float64 block, keeping only the chosen columns. Only when that
fast path meets something it cannot take as it is (text where a number should be, a row
with too many fields, a ``nan`` or empty cell that may hide a short row, a blank line) are
the rows read again line by line, which either accepts them with the same rules or names
the line and column of the problem.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from caitlab.sims.errors import SimsError
from caitlab.sims.processing import DEFAULT_MASS_TOLERANCE, check_mass_tolerance, match_channel
from caitlab.sims.profile import SimsMetadata, SimsProfile

PathArg = str | PathLike[str]

#: cell spellings read as "no value" in data and mass lines
_MISSING = {"", "n/a", "na", "nan", "-", "--"}
_SPECIAL = {"1.#inf": math.inf, "-1.#inf": -math.inf, "1.#ind": math.nan, "-1.#ind": math.nan}
_NUMBER = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")
_LENGTH_UNITS = {
    "m": 1.0,
    "mm": 1e-3,
    "um": 1e-6,
    "µm": 1e-6,
    "μm": 1e-6,
    "nm": 1e-9,
    "a": 1e-10,
    "å": 1e-10,
    "angstrom": 1e-10,
}
_TIME_UNITS = {"s": 1.0, "sec": 1.0, "ms": 1e-3, "min": 60.0, "h": 3600.0}
#: bytes read to find the header lines (grown as needed)
_HEAD_BYTES = 1 << 16


# --------------------------------------------------------------------------- helpers
def _check_bytes(file: Path, raw: bytes) -> None:
    """Refuse UTF-16/UTF-32 text and binary files with a message saying what they are."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SimsError(
            "the file is UTF-16 text, save as UTF-8 (or ASCII) and read it again", file=file
        )
    sample = raw[:4096]
    if b"\x00" in sample:
        even, odd = sample[0::2], sample[1::2]
        if even.count(0) > 0.4 * len(even) or odd.count(0) > 0.4 * len(odd):
            raise SimsError(
                "the file is UTF-16 text, save as UTF-8 (or ASCII) and read it "
                "again (no byte-order mark, but every other byte is zero)",
                file=file,
            )
        raise SimsError(
            "looks like a binary file; for IONTOF .ita/.itm files use the ITA reader "
            "(pip install 'caitlab[ita]')",
            file=file,
        )


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _open_checked(path: PathArg) -> tuple[Path, int]:
    file = Path(path)
    if not file.exists():
        raise SimsError("file not found", file=file)
    if file.is_dir():
        raise SimsError("is a directory, not a profile file", file=file)
    return file, file.stat().st_size


def _read_head(path: PathArg) -> tuple[Path, list[str]]:
    """The first lines of a text file: read in growing blocks until they hold at least two
    non-empty lines that are not ``#`` comments (a heading and a data line), or the whole
    file. Returns the file and those lines (without line ends)."""
    file, size = _open_checked(path)
    n_bytes = _HEAD_BYTES
    with file.open("rb") as handle:
        while True:
            raw = handle.read(n_bytes) if n_bytes < size else handle.read()
            handle.seek(0)
            whole = len(raw) >= size
            if not raw.strip():
                if whole:
                    raise SimsError("file is empty", file=file)
            else:
                _check_bytes(file, raw)
            if not whole:  # drop the incomplete last line
                raw = raw[: raw.rfind(b"\n") + 1]
            lines = _decode(raw).splitlines()
            if whole or _enough(lines):
                return file, lines
            n_bytes *= 4


def _enough(lines: list[str]) -> bool:
    content = (line for line in lines if line.strip())
    return sum(1 for x in content if not x.lstrip().startswith("#")) >= 2


def _cells(line: str, sep: str = "\t") -> list[str]:
    """Split a line into stripped cells, dropping the one empty cell a trailing separator adds."""
    cells = [cell.strip() for cell in line.split(sep)]
    if len(cells) > 1 and cells[-1] == "" and line.rstrip("\r\n").endswith(sep):
        cells.pop()
    return cells


def _to_float(cell: str) -> float | None:
    """Parse a numeric cell (``inf``, ``nan`` and ``N/A`` included); ``None`` if not numeric."""
    text = cell.strip()
    low = text.lower()
    if low in _MISSING:
        return math.nan
    if low in _SPECIAL:
        return _SPECIAL[low]
    try:
        return float(text)
    except ValueError:
        return None


def _parse_rows(
    file: Path,
    rows: Iterator[tuple[int, list[str]]],
    n_columns: int,
    headings: Sequence[str],
    usecols: Sequence[int],
) -> tuple[np.ndarray, np.ndarray]:
    """Parse data rows (line number, cells) line by line, with precise errors.

    Returns the values of the columns ``usecols`` (n_rows, len(usecols)) and the line
    numbers.
    """
    keep = list(usecols)
    values: list[np.ndarray] = []
    numbers: list[int] = []
    for line_no, cells in rows:
        if len(cells) != n_columns:
            raise SimsError(
                f"expected {n_columns} fields as in the header, found {len(cells)}",
                file=file,
                line=line_no,
            )
        try:
            row = np.array(cells, dtype=float)
        except ValueError:
            row = np.empty(n_columns)
            for j, cell in enumerate(cells):
                value = _to_float(cell)
                if value is None:
                    raise SimsError(
                        f"cannot read {cell!r} as a number (column {headings[j]!r})",
                        file=file,
                        line=line_no,
                        column=j + 1,
                    ) from None
                row[j] = value
        values.append(row[keep])
        numbers.append(line_no)
    data = np.array(values, dtype=float).reshape(len(values), len(keep))
    return data, np.array(numbers, dtype=int)


def _data_lines(file: Path, first_line: int, sep: str) -> Iterator[tuple[int, list[str]]]:
    """Stream the data rows of ``file`` from 1-based line ``first_line``, as cells."""
    with file.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number < first_line:
                continue
            line = _decode(raw).rstrip("\r\n")
            if not line.strip():
                continue
            if line.lstrip().startswith("#"):
                raise SimsError("comment line among the data rows", file=file, line=number)
            yield number, _cells(line, sep)


def _any_nan(values: np.ndarray) -> bool:
    return any(np.isnan(values[i : i + 65536]).any() for i in range(0, values.shape[0], 65536))


def _read_blocks(
    pd: Any, file: Path, first_line: int, sep: str, width: int, n_fields: int, options: dict
) -> np.ndarray:
    """pandas' C parser in chunks of rows, copied into one C-ordered float64 array.

    The array is reserved for the most rows the file could hold (two bytes for each of the
    ``n_fields`` fields of a line), which
    costs address space only: pages are touched as rows arrive, so the resident memory is the
    values plus one chunk. The result is a view of its first rows.
    """
    n_bytes = file.stat().st_size
    capacity = max(1024, n_bytes // (2 * max(n_fields, 1)) + 1)
    out = np.empty((capacity, width))
    parts: list[np.ndarray] = []
    rows = 0
    reader = pd.read_csv(
        file,
        sep=sep,
        header=None,
        skiprows=first_line - 1,
        dtype=np.float64,
        engine="c",
        keep_default_na=False,
        na_values=[*sorted(_MISSING), "NaN", "N/A"],
        skip_blank_lines=False,
        index_col=False,
        encoding="utf-8",
        encoding_errors="replace",
        chunksize=16384,
        **options,
    )
    with reader:
        for chunk in reader:
            values = chunk.to_numpy(dtype=np.float64)
            if values.shape[1] != width:
                raise ValueError("field count")
            if rows + len(values) <= capacity and not parts:
                out[rows : rows + len(values)] = values
            else:  # more rows than two bytes per field allow (blank lines): grow
                if not parts:
                    parts.append(out[:rows])
                parts.append(values)
            rows += len(values)
    return np.concatenate(parts) if parts else out[:rows]


def _read_numeric(
    file: Path,
    first_line: int,
    n_columns: int,
    sep: str,
    headings: Sequence[str],
    usecols: Sequence[int],
    trailing: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The data rows from 1-based line ``first_line`` on: values of ``usecols`` and line numbers.

    One pass of pandas' C parser over the file. With a trailing separator on every line (the
    SurfaceLab layout) only ``usecols`` are converted, into one float64 block, and the
    returned array is a view of it; the last column (a short row leaves it empty) and the
    empty field after the trailing separator (a long row fills it) are read too, as checks.
    Without one, all columns are read, so that the parser refuses a long row itself. Where the
    fast path cannot vouch for the rows (see the module docstring) they are parsed line by
    line, which accepts them or names the line and column of the problem.
    """
    import pandas as pd

    keep = sorted(set(usecols))
    options: dict = {}
    if int(pd.__version__.split(".")[0]) < 3:  # pandas 3 parses floats exactly by default
        options["float_precision"] = "round_trip"
    if trailing:
        read = sorted(set(keep) | {n_columns - 1, n_columns})
        options.update(names=list(range(n_columns + 1)), usecols=read)
    else:
        read = list(range(n_columns))
    try:
        block = _read_blocks(pd, file, first_line, sep, len(read), n_columns + trailing, options)
        if block.shape[1] != len(read):
            raise ValueError("field count")
        data = block[:, : len(keep)] if trailing or keep == read else block[:, keep]
        fast = (
            block.shape[0] > 0
            and not _any_nan(data)
            and not np.isnan(block[:, read.index(n_columns - 1)]).any()
            and (not trailing or np.isnan(block[:, -1]).all())
        )
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        fast = False
    if fast:
        return data, np.arange(first_line, first_line + data.shape[0])
    return _parse_rows(file, _data_lines(file, first_line, sep), n_columns, headings, keep)


def _check_increasing(
    file: Path, values: np.ndarray, lines: np.ndarray, column: int, what: str
) -> None:
    """Refuse non-finite or non-increasing sputter times / depths."""
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise SimsError(f"{what} is {values[i]}", file=file, line=int(lines[i]), column=column)
    steps = np.diff(values)
    if (steps <= 0).any():
        i = int(np.argmax(steps <= 0)) + 1
        raise SimsError(
            f"{what} is not increasing: {values[i]:g} follows {values[i - 1]:g}",
            file=file,
            line=int(lines[i]),
            column=column,
        )


def _unit_of(heading: str) -> str | None:
    """The unit in a heading such as ``"Depth (nm)"``, ``"depth [µm]"`` or ``"depth_nm"``."""
    match = re.search(r"[\(\[]\s*([^\)\]]+?)\s*[\)\]]", heading)
    if match:
        return match.group(1).strip()
    match = re.search(r"[_ ]([A-Za-zµμÅå]+)$", heading.strip())
    if match:
        return match.group(1)
    return None


def _axis_kind(heading: str) -> str | None:
    """Classify a leading column heading: ``"time"``, ``"depth"``, ``"point"`` or ``None``."""
    low = heading.strip().lower().lstrip("#").strip()
    if low.startswith("depth"):
        return "depth"
    if "time" in low and not low.startswith("dwell"):
        return "time"
    if low.startswith(("data point", "point", "scan", "cycle", "index")):
        return "point"
    if low.startswith(("dose", "fluence", "primary", "current")):
        return "extra"
    return None


def _axis_scale(file: Path, heading: str, kind: str, column: int, line: int) -> float:
    """Factor from the heading's unit to SI (m or s); the default unit is nm or s."""
    unit = _unit_of(heading)
    table = _LENGTH_UNITS if kind == "depth" else _TIME_UNITS
    if unit is None:
        return 1e-9 if kind == "depth" else 1.0
    key = unit.lower() if unit.lower() in table else unit
    if key not in table:
        raise SimsError(
            f"unknown unit {unit!r} in heading {heading!r} (use one of {', '.join(table)})",
            file=file,
            line=line,
            column=column,
        )
    return table[key]


def _polarity(names: Sequence[str]) -> str | None:
    """``"+"`` or ``"-"`` from the charge signs that end the channel names."""
    plus = sum(1 for name in names if name.endswith("+"))
    minus = sum(1 for name in names if name.endswith("-"))
    if plus == minus:
        return None
    return "+" if plus > minus else "-"


def estimate_shots_per_scan(intensities: np.ndarray) -> float | None:
    """Estimate the primary shots per scan N from Poisson-corrected intensities.

    A single detected count is corrected to ``-N ln(1 - 1/N) ~ 1 + 1/(2 N)`` (printed as
    ``1.00003`` for N = 16384, ``1.00012`` for N = 4096). The most frequent value just above
    1 is taken as that single-count value; N is the power of two (rasters such as
    128 x 128) within the interval allowed by the six printed digits, or the rounded
    estimate if no power of two fits.

    Parameters
    ----------
    intensities : array_like
        Poisson-corrected intensities (any shape), counts.

    Returns
    -------
    float or None
        N (shots per scan), or ``None`` if the values do not allow an estimate (raw integer
        counts, no single counts, N beyond about 50000).
    """
    values = _near_one(np.asarray(intensities, dtype=float))
    if values.size < 3:
        return None
    unique, frequency = np.unique(np.round(values, 6), return_counts=True)
    single = float(unique[np.argmax(frequency)])
    excess = single - 1.0
    if excess <= 1e-5:
        return None
    # -N ln(1 - 1/N) - 1 = 1/(2N) + 1/(3N^2) + ...; printed with 6 significant digits
    lo = 1.0 / (2.0 * (excess + 5e-6))
    hi = 1.0 / (2.0 * max(excess - 5e-6, 1e-12))
    estimate = 1.0 / (2.0 * excess)
    powers = [2.0**p for p in range(1, 40) if lo <= 2.0**p <= hi]
    if powers:
        return min(powers, key=lambda value: abs(math.log(value / estimate)))
    return float(round(estimate))


def _columns(values: np.ndarray) -> Iterator[np.ndarray]:
    """The columns of a 2-D array one by one (a 1-D array as one), to keep temporaries small."""
    if values.ndim < 2:
        yield values.ravel()
        return
    for k in range(values.shape[1]):
        yield values[:, k]


def _near_one(values: np.ndarray) -> np.ndarray:
    """The finite values in (1 + 5e-6, 1.01): corrected single counts, column by column."""
    parts = [col[(col > 1.0 + 5e-6) & (col < 1.01)] for col in _columns(values)]
    return np.concatenate(parts) if parts else np.empty(0)


def _poisson_state(counts: np.ndarray) -> bool | None:
    """True if intensities look Poisson corrected (non-integers), False if raw integers."""
    seen = False
    for col in _columns(counts):
        values = col[np.isfinite(col) & (col > 0.5) & (col < 1e5)]
        if values.size:
            seen = True
            if np.any(np.abs(values - np.round(values)) > 1e-9):
                return True
    return False if seen else None


def _sample(file: Path, first_line: int, columns: Sequence[int], rows: int = 4096) -> np.ndarray:
    """The first ``rows`` data rows of ``columns``: what the Poisson state and the shots per
    scan are judged on when only some channels are read (empty if they cannot be read)."""
    import pandas as pd

    try:
        frame = pd.read_csv(
            file,
            sep="\t",
            header=None,
            skiprows=first_line - 1,
            usecols=list(columns),
            nrows=rows,
            engine="c",
            index_col=False,
            keep_default_na=False,
            na_values=[*sorted(_MISSING), "NaN", "N/A"],
            encoding="utf-8",
            encoding_errors="replace",
        )
        return frame.to_numpy(dtype=np.float64)
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return np.empty((0, 0))


def _frozen(values: np.ndarray) -> np.ndarray:
    """Mark a freshly read array read-only, so that :class:`SimsProfile` keeps it uncopied."""
    values.setflags(write=False)
    return values


_SPECTRUM_HEADINGS = re.compile(r"^#?\s*(mass|m/z|channel|tof|time of flight)\b", re.I)


def _refuse_spectrum(file: Path, content: Sequence[tuple[int, str]]) -> None:
    """Refuse a mass spectrum export: no sputter-time or depth heading in the first lines,
    and either the word "spectrum" or a heading line that starts with mass/channel."""
    head = content[:12]
    rows = [[c.strip().lstrip("#").strip() for c in re.split(r"[\t,;]", line)] for _, line in head]
    if any(_axis_kind(c) in ("time", "depth") for cells in rows for c in cells if c):
        return
    for (line_no, line), cells in zip(head, rows, strict=True):
        cells = [c for c in cells if c]
        heading = (
            bool(cells) and _to_float(cells[0]) is None and bool(_SPECTRUM_HEADINGS.match(cells[0]))
        )
        if "spectrum" in line.lower() or heading:
            raise SimsError(
                "this is a mass spectrum, not a depth profile (intensity versus mass, no "
                "sputter-time or depth column); export the depth profile from SurfaceLab "
                "(File > Export > Profile)",
                file=file,
                line=line_no,
            )


def _refuse_separator(file: Path, content: Sequence[tuple[int, str]]) -> None:
    """A text without TABs: say which separator it has, for SurfaceLab-like layouts too."""
    seps = [s for s in (",", ";", "|") if any(s in line for _, line in content)]
    found = f" (found {seps[0]!r})" if seps else ""
    hashed = sum(1 for _, line in content[:6] if line.lstrip().startswith("#"))
    layout = (
        " The file has the SurfaceLab layout ('#' names, masses and header lines) but "
        f"its fields are separated by {seps[0]!r}: re-export it with TAB separators, "
        "or read it as a table (format='table') with a depth or time column."
        if seps and hashed >= 2
        else " For CSV/TSV tables use the table reader (format='table')."
    )
    raise SimsError(
        "not a SurfaceLab export: no TAB separators" + found + "; SurfaceLab exports are "
        "TAB separated." + layout,
        file=file,
        line=content[0][0],
    )


def _select_columns(
    file: Path,
    columns: list[int],
    names: Sequence[str],
    masses: np.ndarray,
    specs: Sequence[str | float],
    tolerance: float | None,
) -> list[int]:
    """The file columns of every channel that one of ``specs`` could choose: what
    :func:`~caitlab.sims.processing.match_channel` matches on the whole file, or, for a spec
    matching nothing, the channels its message suggests (so that ``find_channel`` on the
    columns kept answers, or fails, as on the whole file)."""
    tol = check_mass_tolerance(DEFAULT_MASS_TOLERANCE if tolerance is None else tolerance)
    listed = [names[j] for j in columns]
    matches = [match_channel(listed, masses, spec, tol) for spec in specs]
    if any(m.kind == "index" for m in matches):
        return list(columns)  # "#k" counts channels of the whole file
    chosen = {columns[k] for m in matches for k in (m.hits or m.near)}
    if not chosen:
        problems = "; ".join(m.problem for m in matches)
        raise SimsError(f"none of the channels {list(specs)} is in the file: {problems}", file=file)
    return sorted(chosen)


# --------------------------------------------------------------------------- SurfaceLab
def read_surfacelab(
    path: PathArg,
    *,
    require_masses: bool = True,
    channels: Sequence[str | float] | None = None,
    mass_tolerance: float | None = None,
) -> SimsProfile:
    """Read an IONTOF SurfaceLab depth-profile text export.

    The layout (SurfaceLab 7.x, ``File > Export > Profile``): TAB separated, CRLF, a trailing
    TAB on every line; ``#`` comment lines, among them a names line (empty cells over the
    leading columns, then one peak name per intensity column), a masses line (peak centre
    masses in u or ``N/A``) and a header line (``#Data Point #``, ``Sputter Time (s)``,
    ``Dose (ions)``, ``Fluence (ions/cm^2)``, ``Intensity`` ...); then one data row per
    point. Fewer or other leading columns (a ``Depth (nm)`` axis, no dose), negative
    polarity, duplicate names, names containing ``", "``, ``inf``/``nan`` cells and LF line
    endings are accepted.

    Parameters
    ----------
    path : str or path-like
        The ``.txt`` export.
    require_masses : bool, optional
        If True (default) a missing masses line is an error; if False masses are ``nan``.
    channels : sequence of str or float, optional
        Keep only these channels (names, masses in u or ``"#k"``, as in
        :func:`~caitlab.sims.processing.find_channel`; every channel that could match is
        kept, so that the later choice is the same as on the whole file). Only those columns
        are converted to numbers, which is what makes large files cheap. Default: all.
    mass_tolerance : float, optional
        Tolerance for ``channels`` given by mass, u (default 0.05).

    Returns
    -------
    SimsProfile
        Intensities in counts per data point (Poisson corrected as exported), sputter time in
        s, depth in m if the export has a depth axis, ``extra`` holding the other leading
        columns. ``metadata.shots_per_scan`` is estimated from the corrected values.

    Raises
    ------
    SimsError
        Empty file, wrong separator, missing names/masses/header line, fields that do not
        match the header, unreadable numbers, non-increasing sputter time.
    """
    file, lines = _read_head(path)
    content = [(i + 1, line) for i, line in enumerate(lines) if line.strip()]
    _refuse_spectrum(file, content)
    if not any("\t" in line for _, line in content):
        _refuse_separator(file, content)
    comments: list[tuple[int, str]] = []
    first_data = len(content)
    for idx, (line_no, line) in enumerate(content):
        if line.lstrip().startswith("#"):
            comments.append((line_no, line))
        else:
            first_data = idx
            break
    if not comments:
        raise SimsError(
            "no '#' header lines: expected a names line, a masses line and a header line "
            "(SurfaceLab export); for plain tables use the table reader",
            file=file,
            line=content[0][0],
        )
    data_lines = content[first_data:]
    if data_lines and _to_float(_cells(data_lines[0][1])[0]) is None:
        # a header line written without the leading '#'
        comments.append((data_lines[0][0], "#" + data_lines[0][1].lstrip()))
        data_lines = data_lines[1:]
    header_no, header_line = comments[-1]
    header = _cells(header_line.lstrip()[1:])
    n_columns = len(header)
    if n_columns < 2 or (_to_float(header[0]) is not None and header[0] != ""):
        raise SimsError(
            "missing header line (e.g. '#Data Point #<TAB>Sputter Time (s)...')",
            file=file,
            line=header_no,
        )
    tabbed = [(no, _cells(line.lstrip()[1:])) for no, line in comments[:-1] if "\t" in line]

    def is_mass_line(cells: list[str]) -> bool:
        values = [_to_float(c) for c in cells if c]
        return bool(values) and all(v is not None for v in values)

    # the masses line is the tabbed line right before the header, the names line before it
    mass_cells: list[str] | None = None
    mass_no = None
    names_idx: int | None = len(tabbed) - 1 if tabbed else None
    if len(tabbed) >= 2 and is_mass_line(tabbed[-1][1]):
        mass_no, mass_cells = tabbed[-1]
        names_idx = len(tabbed) - 2
    if names_idx is None:
        raise SimsError(
            "missing names line: expected '#<TAB><TAB>...<TAB>name<TAB>name...' before the "
            "masses and header lines",
            file=file,
            line=header_no,
        )
    names_no, name_cells = tabbed[names_idx]
    if mass_cells is None and require_masses:
        raise SimsError(
            "missing masses line: expected '#<TAB>...<TAB>mass<TAB>mass...' (u or N/A) between "
            "the names line and the header line",
            file=file,
            line=header_no,
        )

    def fit_width(cells: list[str], line_no: int, what: str) -> list[str]:
        if len(cells) > n_columns and any(cells[n_columns:]):
            raise SimsError(
                f"{what} line has {len(cells)} fields but the header line {header_no} has "
                f"{n_columns}",
                file=file,
                line=line_no,
                column=n_columns + 1,
            )
        return (cells + [""] * n_columns)[:n_columns]

    name_cells = fit_width(name_cells, names_no, "names")
    channel_cols = [j for j, name in enumerate(name_cells) if name]
    if not channel_cols:
        raise SimsError("the names line names no channels", file=file, line=names_no)
    unnamed = [j for j in range(channel_cols[0], n_columns) if not name_cells[j]]
    if unnamed:
        raise SimsError(
            f"intensity column {unnamed[0] + 1} ({header[unnamed[0]]!r}) has no name in the "
            "names line",
            file=file,
            line=names_no,
            column=unnamed[0] + 1,
        )
    leading = list(range(channel_cols[0]))
    all_cols = list(channel_cols)
    masses = np.full(len(channel_cols), np.nan)
    if mass_cells is not None and mass_no is not None:  # set together
        mass_cells = fit_width(mass_cells, mass_no, "masses")
        for k, j in enumerate(channel_cols):
            value = _to_float(mass_cells[j])
            if value is None:
                raise SimsError(
                    f"cannot read mass {mass_cells[j]!r} (u or N/A expected)",
                    file=file,
                    line=mass_no,
                    column=j + 1,
                )
            masses[k] = value
    if not data_lines:
        raise SimsError("no data rows after the header", file=file, line=header_no)
    if channels is not None:
        channel_cols = _select_columns(
            file, channel_cols, name_cells, masses, channels, mass_tolerance
        )
        masses = masses[[k for k, j in enumerate(all_cols) if j in channel_cols]]
    trailing = data_lines[0][1].rstrip("\r\n").endswith("\t")
    data, source_lines = _read_numeric(
        file, data_lines[0][0], n_columns, "\t", header, leading + channel_cols, trailing
    )
    if data.shape[0] == 0:
        raise SimsError("no data rows after the header", file=file, line=header_no)

    time = depth = None
    extra: dict[str, np.ndarray] = {}
    for j in leading:
        heading = header[j] or f"column {j + 1}"
        kind = _axis_kind(heading)
        if kind == "time" and time is None:
            time = data[:, j] * _axis_scale(file, heading, "time", j + 1, header_no)
            _check_increasing(file, time, source_lines, j + 1, "sputter time")
        elif kind == "depth" and depth is None:
            depth = data[:, j] * _axis_scale(file, heading, "depth", j + 1, header_no)
            _check_increasing(file, depth, source_lines, j + 1, "depth")
        else:
            extra[heading] = _frozen(data[:, j])
    counts = _frozen(data[:, len(leading) :])
    names = tuple(name_cells[j] for j in channel_cols)
    probes = [counts]
    if channel_cols != all_cols:  # judge the values as on the whole file: its first rows
        probes.append(_sample(file, data_lines[0][0], all_cols))
    states = {_poisson_state(p) for p in probes} - {None}
    corrected = True if True in states else (False if states else None)
    near_one = np.concatenate([_near_one(p) for p in probes])
    shots = estimate_shots_per_scan(near_one) if corrected else None
    metadata = SimsMetadata(
        file=str(file),
        format="surfacelab",
        polarity=_polarity([name_cells[j] for j in all_cols]),
        shots_per_scan=shots,
        shots_per_scan_estimated=shots is not None,
        poisson_corrected=corrected,
        intensity_label=header[channel_cols[0]] or "Intensity",
        comments=tuple(
            line.lstrip()[1:].strip()
            for _, line in comments
            if "\t" not in line and line.lstrip()[1:].strip()
        ),
    )
    return SimsProfile(
        counts=counts,
        channel_names=names,
        channel_masses=masses,
        sputter_time_s=time,
        depth_m=depth,
        metadata=metadata,
        extra=extra,
        source_lines=source_lines,
        source_columns=tuple(j + 1 for j in channel_cols),
    )


# --------------------------------------------------------------------------- plain tables
def _channel_heading(heading: str) -> tuple[str, float]:
    """Name and mass of a channel heading: ``"84.91"``, ``"Rb+ (84.91 u)"``, ``"Rb@84.9"``."""
    text = heading.strip()
    if _NUMBER.match(text):
        return text, float(text)
    match = re.match(r"^(.*?)\s*(?:@\s*|\(\s*)([-+]?\d+\.?\d*)\s*(?:u|amu|m/z)?\s*\)?$", text)
    if match and match.group(1):
        return match.group(1).strip(), float(match.group(2))
    return text, math.nan


def read_table(path: PathArg, *, sep: str | None = None) -> SimsProfile:
    """Read a plain CSV/TSV depth profile: an axis column, then one column per channel.

    The first line that is not a ``#`` comment holds the headings. Axis columns are
    recognised by heading: depth (``depth_nm``, ``Depth (nm)``, ``depth [um]``, ``depth_m``;
    nm when no unit is given) and/or sputter time (``time_s``, ``Sputter Time (s)``);
    ``Data Point``/``Dose``/``Fluence`` columns are kept as extras; every other column is a
    channel. A channel heading that is a number is read as its mass in u; ``Rb+ (84.91 u)``
    or ``Rb+@84.91`` give a name and a mass.

    Parameters
    ----------
    path : str or path-like
        The table.
    sep : str, optional
        Field separator; by default TAB, ``;`` or ``,``, whichever the heading line has.

    Returns
    -------
    SimsProfile
        ``metadata.format == "table"``; Poisson state guessed from the values.

    Raises
    ------
    SimsError
        Empty file, no separator, no depth/time column, ragged rows, unreadable numbers,
        non-increasing axis.
    """
    file, lines = _read_head(path)
    every = [(i + 1, line) for i, line in enumerate(lines) if line.strip()]
    _refuse_spectrum(file, every)
    content = [(no, line) for no, line in every if not line.lstrip().startswith("#")]
    if not content:
        raise SimsError("no heading line (only comments)", file=file)
    head_no, head_line = content[0]
    if sep is None:
        sep = next((s for s in ("\t", ";", ",") if s in head_line), None)
        if sep is None:
            raise SimsError(
                "no field separator (TAB, ';' or ',') in the heading line",
                file=file,
                line=head_no,
            )
    header = _cells(head_line, sep)
    n_columns = len(header)
    kinds = [_axis_kind(h) for h in header]
    axis_cols = [j for j, k in enumerate(kinds) if k in ("time", "depth")]
    if not axis_cols:
        if all(_to_float(h) is not None for h in header) and len(every) > len(content):
            raise SimsError(
                f"the first line after the '#' lines holds numbers, not headings (fields "
                f"separated by {sep!r}): a SurfaceLab export saved with {sep!r} instead of "
                "TABs? Re-export it with TAB separators",
                file=file,
                line=head_no,
            )
        raise SimsError(
            f"no depth or sputter-time column among {header[:4]}...: name one 'depth_nm', "
            "'Depth (nm)' or 'time_s'",
            file=file,
            line=head_no,
        )
    if len(content) < 2:
        raise SimsError("no data rows after the heading line", file=file, line=head_no)
    trailing = content[1][1].rstrip("\r\n").endswith(sep) and len(header) > 1
    data, source_lines = _read_numeric(
        file, content[1][0], n_columns, sep, header, range(n_columns), trailing
    )
    data = _frozen(data)
    time = depth = None
    extra: dict[str, np.ndarray] = {}
    channel_cols = []
    for j, (heading, kind) in enumerate(zip(header, kinds, strict=True)):
        if kind == "time" and time is None:
            time = data[:, j] * _axis_scale(file, heading, "time", j + 1, head_no)
            _check_increasing(file, time, source_lines, j + 1, "sputter time")
        elif kind == "depth" and depth is None:
            depth = data[:, j] * _axis_scale(file, heading, "depth", j + 1, head_no)
            _check_increasing(file, depth, source_lines, j + 1, "depth")
        elif kind in ("point", "extra"):
            extra[heading] = data[:, j]
        else:
            channel_cols.append(j)
    counts = (
        data[:, channel_cols[0] : channel_cols[-1] + 1]
        if channel_cols and (channel_cols == list(range(channel_cols[0], channel_cols[-1] + 1)))
        else (data[:, channel_cols])
    )
    if not channel_cols:
        raise SimsError("no channel columns besides the axis", file=file, line=head_no)
    parsed = [_channel_heading(header[j]) for j in channel_cols]
    corrected = _poisson_state(counts)
    return SimsProfile(
        counts=counts,
        channel_names=tuple(name for name, _ in parsed),
        channel_masses=np.array([mass for _, mass in parsed]),
        sputter_time_s=time,
        depth_m=depth,
        metadata=SimsMetadata(
            file=str(file),
            format="table",
            polarity=_polarity([name for name, _ in parsed]),
            poisson_corrected=corrected,
            intensity_label="value",
        ),
        extra=extra,
        source_lines=source_lines,
        source_columns=tuple(j + 1 for j in channel_cols),
    )


# --------------------------------------------------------------------------- ITA / ITM
def read_ita(
    path: PathArg,
    *,
    sputter_time_per_scan_s: float | None = None,
    shots_per_pixel: int = 1,
) -> SimsProfile:
    """Read a depth profile from a binary IONTOF ``.ita`` file through pySPM (optional extra).

    Every peak of the file's peak list becomes a channel; its intensity at scan ``i`` is the
    sum of the scan's image (raw counts, not Poisson corrected: correct them with
    :func:`~caitlab.sims.processing.poisson_correct` using ``metadata.shots_per_scan``,
    which is the pixel count times ``shots_per_pixel``). pySPM does not expose the sputter
    time, so the time axis is the scan number times ``sputter_time_per_scan_s`` (1 s when
    not given): enough for a crater-depth calibration at constant sputter rate. ``.itm``
    (raw) files need SurfaceLab's reconstruction and are not supported; export a profile
    from SurfaceLab instead.

    Parameters
    ----------
    path : str or path-like
        The ``.ita`` file.
    sputter_time_per_scan_s : float, optional
        Sputter time of one scan (sputter + analysis cycle), s.
    shots_per_pixel : int, optional
        Primary shots per pixel and scan (1 for the usual raster).

    Raises
    ------
    SimsError
        pySPM is not installed (``pip install 'caitlab[ita]'``), the file is not an ITA
        file, or pySPM cannot read it.
    """
    file = Path(path)
    try:
        import pySPM
    except ImportError as exc:
        raise SimsError(
            "reading ITA/ITM files needs the optional pySPM package: "
            "pip install 'caitlab[ita]' (or export the profile as text from SurfaceLab)",
            file=file,
        ) from exc
    if not file.exists():
        raise SimsError("file not found", file=file)
    if file.suffix.lower() == ".itm":
        raise SimsError(
            ".itm raw files are not supported: open them in SurfaceLab and save an .ita or "
            "export the profile as text",
            file=file,
        )
    try:
        ita = pySPM.ITA(str(file))
        peaks = [p for p in ita.get_masses() if int(p["id"]) > 1]
        n_scans = int(ita.Nscan)
        counts = np.array(
            [
                [float(np.sum(ita.getImage(int(p["id"]), scan))) for p in peaks]
                for scan in range(n_scans)
            ]
        )
        pixels = int(ita.sx) * int(ita.sy)
    except Exception as exc:  # pySPM raises many types on files it cannot parse
        raise SimsError(f"pySPM cannot read this ITA file: {exc}", file=file) from exc
    names = tuple(str(p.get("assign") or f"{float(p['cmass']):.4f}u") for p in peaks)
    step = 1.0 if sputter_time_per_scan_s is None else float(sputter_time_per_scan_s)
    return SimsProfile(
        counts=counts,
        channel_names=names,
        channel_masses=np.array([float(p["cmass"]) for p in peaks]),
        sputter_time_s=step * np.arange(1, n_scans + 1),
        metadata=SimsMetadata(
            file=str(file),
            format="ita",
            polarity=_polarity(names),
            shots_per_scan=float(pixels * shots_per_pixel),
            poisson_corrected=False,
            intensity_label="Counts",
        ),
        extra={"Scan": np.arange(1, n_scans + 1, dtype=float)},
    )


# --------------------------------------------------------------------------- dispatch
def _looks_like_surfacelab(lines: Sequence[str]) -> bool:
    """``#`` lines first and TABs; or ``#`` lines over numbers with another separator (a
    SurfaceLab layout saved with commas or semicolons, for the reader to name the problem)."""
    head = [line for line in lines[:12] if line.strip()]
    if not head or not head[0].lstrip().startswith("#"):
        return False
    if any("\t" in x for x in head):
        return True
    hashed = [x for x in head if x.lstrip().startswith("#")]
    rows = [x for x in head if not x.lstrip().startswith("#")]
    first = re.split(r"[,;]", rows[0])[0] if rows else ""
    return len(hashed) >= 2 and _to_float(first) is not None and first.strip() != ""


def read_profile(
    path: PathArg,
    *,
    format: str = "auto",
    channels: Sequence[str | float] | None = None,
    mass_tolerance: float | None = None,
) -> SimsProfile:
    """Read a depth profile in any supported format.

    Parameters
    ----------
    path : str or path-like
        The file.
    format : {"auto", "surfacelab", "table", "ita"}
        ``"auto"`` picks ``"ita"`` for ``.ita``/``.itm``, ``"surfacelab"`` for text that
        starts with ``#`` lines and has TABs, and ``"table"`` otherwise. Only the first
        lines are looked at to decide; the file is then read once.
    channels, mass_tolerance : optional
        For SurfaceLab exports, keep only these channels (see :func:`read_surfacelab`);
        tables and ITA files are read whole.

    Returns
    -------
    SimsProfile
    """
    file = Path(path)
    fmt = format.lower()
    if fmt not in ("auto", "surfacelab", "table", "ita"):
        raise SimsError(f"unknown format {format!r} (auto, surfacelab, table, ita)", file=file)
    if fmt == "auto":
        if file.suffix.lower() in (".ita", ".itm"):
            fmt = "ita"
        else:
            _, lines = _read_head(file)  # the first lines only: no second pass
            fmt = "surfacelab" if _looks_like_surfacelab(lines) else "table"
    if fmt == "ita":
        return read_ita(file)
    if fmt == "surfacelab":
        return read_surfacelab(file, channels=channels, mass_tolerance=mass_tolerance)
    return read_table(file)
