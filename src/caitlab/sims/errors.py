"""The one exception type of the ToF-SIMS part."""

from __future__ import annotations

from os import PathLike


class SimsError(ValueError):
    """A problem with a ToF-SIMS profile or its processing, with a message for people.

    The message names the file, and the line and column where they apply, so that the
    command line can print it as it is (exit code 2, no traceback).

    Parameters
    ----------
    message : str
        What is wrong and, where possible, what to do about it.
    file : str or path-like, optional
        The file concerned.
    line : int, optional
        1-based line number in ``file``.
    column : int, optional
        1-based column number (TAB- or comma-separated field) in ``file``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | PathLike[str] | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.line = line
        self.column = column
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column}")
        if not where:
            return self.message
        return f"{', '.join(where)}: {self.message}"
