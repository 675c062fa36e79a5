"""Progress bars for runs: one bar per stage, in simulated hours (rich; notebook-aware)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

SECONDS_PER_HOUR = 3600.0


@contextmanager
def progress_bars(disable: bool = False) -> Iterator[Callable[[str, float, float], None]]:
    """An observer ``(stage, t_s, duration_s)`` drawing one bar per stage while in the block.

    rich draws in a terminal and, as a live widget, in Jupyter.
    """
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.2f}/{task.total:.2f} h simulated"),
        TimeElapsedColumn(),
    )
    tasks: dict[str, TaskID] = {}
    with Progress(*columns, disable=disable, transient=False) as progress:

        def observe(stage: str, t: float, end: float) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=end / SECONDS_PER_HOUR)
            progress.update(tasks[stage], completed=t / SECONDS_PER_HOUR)

        yield observe


__all__ = ["progress_bars"]
