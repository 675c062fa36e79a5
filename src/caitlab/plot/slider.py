"""A result's profiles with a time slider in a notebook (ipywidgets, optional).

:meth:`caitlab.Result.plot` uses it in Jupyter where ipywidgets is installed, as PyBaMM's
``sim.plot()`` does; without ipywidgets it draws the static figure, with no warning.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from caitlab.plot._common import new_figure, time_label

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from caitlab.results import Result

#: size of each frame, inches
FIGSIZE = (6.4, 4.2)


class ProfilesSlider:
    """The profiles of one saved state, chosen with a slider; shown in the notebook.

    Attributes
    ----------
    slider : ipywidgets.SelectionSlider
        Index of the saved state (``result.data["time"]``), labelled with stage and time.
    ax : matplotlib.axes.Axes
        The axes of the frame shown now.
    widget : ipywidgets.VBox
        Slider and picture, as displayed.
    """

    def __init__(self, result: Result, **options: Any) -> None:
        import ipywidgets as widgets

        self.result = result
        self.options = options
        n = int(result.data.sizes["time"])
        self.slider = widgets.SelectionSlider(
            options=[(time_label(result, k), k) for k in range(n)],
            value=n - 1,
            description="time",
            continuous_update=False,
            layout=widgets.Layout(width="36em"),
        )
        self.output = widgets.Output()
        self.widget = widgets.VBox([self.slider, self.output])
        self.ax = self.draw(n - 1)
        self.slider.observe(lambda change: self.draw(change["new"]), names="value")

    def draw(self, index: int) -> Axes:
        """Draw saved state ``index`` into the picture (a PNG, so that no figure piles up
        in pyplot); returns its axes."""
        from IPython.display import Image, display

        from caitlab.plot.profiles import profiles

        seconds = float(self.result.data["time"].values[index])
        figure = new_figure(FIGSIZE)
        ax = profiles(self.result, [seconds], ax=figure.add_subplot(), **self.options)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        with self.output:
            self.output.clear_output(wait=True)
            display(Image(data=buffer.getvalue(), format="png"))
        self.ax = ax
        return ax

    def __repr__(self) -> str:
        n = len(self.slider.options)
        return f"<ProfilesSlider of {self.result.experiment.name}: {n} saved states>"


def profiles_slider(result: Result, **options: Any) -> ProfilesSlider:
    """Show the profiles of ``result`` with a time slider over its saved states.

    Parameters
    ----------
    result : caitlab.Result
        The run; save frames (``output.frames``) for more than the stage ends.
    **options
        Passed to :func:`caitlab.plot.profiles` for every frame (``depth_max_nm``,
        ``rms_nm``, ``measured``, ``log`` ...), except ``times``.

    Returns
    -------
    ProfilesSlider
        Already displayed; its ``slider``, ``ax`` and ``widget``.
    """
    from IPython.display import display

    view = ProfilesSlider(result, **options)
    display(view.widget)
    return view


__all__ = ["ProfilesSlider", "profiles_slider"]
