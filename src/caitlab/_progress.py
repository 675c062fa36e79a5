"""Progress bars for runs: one bar per stage, in simulated hours.

rich draws them on a terminal, and in Jupyter as a live widget where ipywidgets is
installed; in a notebook without ipywidgets (not a dependency) the bars are plain HTML
``<progress>`` elements updated in place through IPython's display handles, with no
request to install anything.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

SECONDS_PER_HOUR = 3600.0

#: least wall-clock seconds between two redraws of the HTML bars
HTML_REDRAW_S = 0.2

#: a progress observer: ``(stage, t_s, duration_s)`` after every accepted step
Observer = Callable[[str, float, float], None]


def in_notebook() -> bool:
    """Whether this process draws into a Jupyter notebook (rich's test: an IPython
    kernel, Colab or Databricks)."""
    from rich.console import Console

    return bool(Console().is_jupyter)


def widgets_available() -> bool:
    """Whether ipywidgets can be imported (rich's live display in Jupyter needs it)."""
    return importlib.util.find_spec("ipywidgets") is not None


@contextmanager
def progress_bars(disable: bool = False) -> Iterator[Observer]:
    """An observer ``(stage, t_s, duration_s)`` drawing one bar per stage while in the block.

    rich draws on a terminal and, as a live widget, in Jupyter with ipywidgets; in a
    notebook without ipywidgets the bars are HTML (:class:`HtmlBars`).
    """
    if not disable and in_notebook() and not widgets_available():
        bars = HtmlBars()
        try:
            yield bars.observe
        finally:
            bars.draw(final=True)
        return
    yield from _rich_bars(disable)


def _rich_bars(disable: bool) -> Iterator[Observer]:
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


class HtmlBars:
    """One HTML ``<progress>`` bar per stage, shown in a notebook cell and updated in place
    (IPython's ``display(..., display_id=True)``), at most every :data:`HTML_REDRAW_S`."""

    def __init__(self) -> None:
        self.stages: dict[str, tuple[float, float]] = {}
        self._clock = time.perf_counter()
        self._drawn = -float("inf")
        self._handle: Any = None

    def observe(self, stage: str, t: float, end: float) -> None:
        """Record that ``stage`` reached ``t`` of ``end`` s; redraw if it is time."""
        self.stages[stage] = (t, end)
        if time.perf_counter() - self._drawn >= HTML_REDRAW_S:
            self.draw()

    def html(self) -> str:
        """The bars as an HTML table: stage, bar, simulated hours, elapsed time."""
        import html

        elapsed = time.perf_counter() - self._clock
        rows = "".join(
            f"<tr><td><b>{html.escape(stage)}</b></td>"
            f'<td><progress value="{t:.6g}" max="{end:.6g}" style="width:16em"></progress>'
            f"</td><td>{t / SECONDS_PER_HOUR:.2f}/{end / SECONDS_PER_HOUR:.2f} h simulated"
            f"</td><td>{elapsed:.1f} s</td></tr>"
            for stage, (t, end) in self.stages.items()
        )
        return f"<table>{rows}</table>"

    def draw(self, final: bool = False) -> None:
        """Show the bars (the first time) or update them in place (``final``: the last time)."""
        from IPython.display import HTML, display

        if not self.stages:
            return
        self._drawn = time.perf_counter()
        if self._handle is None:
            self._handle = display(HTML(self.html()), display_id=True)
        else:
            self._handle.update(HTML(self.html()))


__all__ = ["HtmlBars", "in_notebook", "progress_bars", "widgets_available"]
