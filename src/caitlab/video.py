"""A video of the density evolution across all stages (the paper's ESI density_evolution.mp4).

Frames are the saved snapshots of a result (``[output] frames = 60`` saves 60 log-spaced
ones per stage), or any number resampled from them; a run with fewer than
:data:`MIN_FRAMES` snapshots is resampled to that many by default, so a video never has a
handful of frames. Time runs on a *stage-log* axis: stage k occupies [k, k+1], and inside it
the position grows with the logarithm of the time since the stage started, so the first
seconds and the last days of every stage get their share of frames. Densities between
snapshots are interpolated linearly in that coordinate. A resampled video starts with the
initial state and then at the last snapshot before the profiles visibly change: the first
microseconds of a log axis, where nothing moves yet, would otherwise fill the first frames.

MP4 is written with the ffmpeg of imageio-ffmpeg (H.264), GIF with Pillow; a ``.gif`` name,
or an ffmpeg that cannot be used, gives an animated GIF. The file is written under a temporary
name and renamed into place once ffmpeg has finished without error and the MP4 has its index:
a failed write (a full disk) raises :class:`caitlab.storage.OutputWriteError` and leaves no
partial file. A result saved without frames (only the stage ends) is best shown by
:func:`rerun_with_frames`, which runs its stored experiment again with snapshots.
"""

from __future__ import annotations

import errno
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from caitlab.plot._common import (
    SECONDS_PER_HOUR,
    fractions,
    saved_stages,
    species_colour,
    zone_depth,
)
from caitlab.plot.profiles import present_species
from caitlab.storage import write_atomic, write_error

if TYPE_CHECKING:
    from caitlab.results import Result

#: a video frame is padded to a multiple of this (H.264 macro blocks)
MACRO_BLOCK = 16
#: fewest frames of a video by default (a run with fewer snapshots is resampled)
MIN_FRAMES = 60
#: a rerun's stage ends that differ from the stored ones by more (n/n0) are reported
RERUN_TOLERANCE = 0.05
#: a change of a fraction smaller than this is not visible in a frame
_VISIBLE = 2e-3
_TICKS = (
    (1.0, "1 s"),
    (60.0, "1 min"),
    (3600.0, "1 h"),
    (36000.0, "10 h"),
    (86400.0, "1 d"),
    (864000.0, "10 d"),
)


@dataclass(frozen=True)
class StageClock:
    """Maps times to the stage-log coordinate and back.

    Attributes
    ----------
    starts, durations : ndarray
        Start (s from the first stage's start) and duration (s) of each stage.
    first : ndarray
        Per stage, the local time (s) mapped to the stage's left end: its first snapshot.
    """

    starts: np.ndarray
    durations: np.ndarray
    first: np.ndarray

    @classmethod
    def from_result(cls, result: Result) -> StageClock:
        """The clock of a run: its stages, first snapshots from its saved times."""
        starts = np.array([r.start for r in result.stages])
        durations = np.array([r.duration for r in result.stages])
        time = np.asarray(result.data["time"].values, dtype=float)
        first = []
        for start, duration in zip(starts, durations):
            local = time - start
            local = local[(local > 0) & (local < duration)]
            first.append(local.min() if local.size else min(1e-5, duration / 10))
        return cls(starts, durations, np.minimum(np.array(first), durations / 10))

    def position(self, time: np.ndarray) -> np.ndarray:
        """Stage-log coordinate of ``time`` (s): stage k spans [k, k+1]."""
        time = np.asarray(time, dtype=float)
        stage = np.clip(np.searchsorted(self.starts, time, side="right") - 1, 0, None)
        local = np.maximum(time - self.starts[stage], self.first[stage])
        span = np.log(self.durations[stage] / self.first[stage])
        return stage + np.clip(np.log(local / self.first[stage]) / span, 0.0, 1.0)

    def time(self, position: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`position`: time (s) at stage-log ``position``."""
        position = np.asarray(position, dtype=float)
        stage = np.clip(np.floor(position).astype(int), 0, len(self.starts) - 1)
        fraction = position - stage
        ratio = self.durations[stage] / self.first[stage]
        return self.starts[stage] + self.first[stage] * ratio**fraction

    def stage_of(self, position: np.ndarray) -> np.ndarray:
        """Stage index at ``position``; a stage's own end counts to it."""
        position = np.asarray(position, dtype=float)
        return np.clip(np.ceil(position).astype(int) - 1, 0, len(self.starts) - 1)


def frame_states(
    result: Result, frames: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times, stage indices and fractions of the video frames.

    Parameters
    ----------
    result : caitlab.Result
        A run.
    frames : int, optional
        Number of frames, evenly spaced on the stage-log axis between the first and the
        last snapshot (densities interpolated). Default: one frame per saved snapshot.

    Returns
    -------
    time : ndarray, shape (f,)
        Time of each frame, s.
    stage : ndarray of int, shape (f,)
        Stage index of each frame.
    fractions : ndarray, shape (f, species, x)
        n_i/n0 in each frame.
    """
    clock = StageClock.from_result(result)
    saved = np.asarray(result.data["time"].values, dtype=float)
    names = result.stage_names
    saved_stage = np.array([names.index(s) for s in saved_stages(result)])
    frac = fractions(result)
    if frames is None:
        return saved, saved_stage, frac
    if frames < 2:
        raise ValueError(f"a video needs at least 2 frames, got {frames}")
    pos = clock.position(saved)
    # the end of stage k and the start of stage k+1 share position k+1: keep them ordered
    pos = np.maximum.accumulate(pos + 1e-9 * np.arange(pos.size))
    change = np.abs(frac - frac[:1]).max(axis=(1, 2))
    moving = np.flatnonzero(change > _VISIBLE)
    start = pos[max(int(moving[0]) - 1, 0)] if moving.size else pos[0]
    target = np.concatenate(([pos[0]], np.linspace(start, pos[-1], frames)[1:]))
    right = np.clip(np.searchsorted(pos, target, side="left"), 1, pos.size - 1)
    left = right - 1
    weight = np.clip((target - pos[left]) / (pos[right] - pos[left]), 0.0, 1.0)
    values = frac[left] + weight[:, None, None] * (frac[right] - frac[left])
    return clock.time(target), clock.stage_of(target), values


class _Canvas:
    """The video's figure: profiles above, the stage-log time line below."""

    def __init__(
        self,
        result: Result,
        depth_max_nm: float | None,
        log: bool,
        dpi: int,
        measured: Any = (),
        electrometer: Any = None,
    ):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.result, self.clock = result, StageClock.from_result(result)
        traces = result.traces
        self.trace_time, self.trace_charge = traces["time"].values, traces["charge"].values
        self.fig = Figure(figsize=(8.0, 4.8), dpi=dpi, layout="constrained")
        self.canvas = FigureCanvasAgg(self.fig)
        top, bottom = self.fig.subplots(2, 1, height_ratios=[4, 1])
        names = list(result.species)
        self.shown = [names.index(s) for s in present_species(result)]
        x_nm = np.asarray(result.mesh.centres) * 1e9
        self.lines = [
            top.plot(
                x_nm, np.zeros_like(x_nm), color=species_colour(names[k], k), lw=2, label=names[k]
            )[0]
            for k in self.shown
        ]
        self.total = top.plot(x_nm, np.zeros_like(x_nm), color="k", lw=1, label="sum")[0]
        self.markers = []  # (end of the profile's stage s, its marker lines): shown after it
        ends = {name: end for name, _, end in result.stage_bounds}
        for profile in measured:
            lines = [
                top.plot(
                    profile.depth_m * 1e9,
                    frac,
                    "o",
                    ms=3,
                    mfc="none",
                    color=species_colour(name, k),
                    visible=False,
                )[0]
                for k, (name, frac) in enumerate(profile.fractions.items())
            ]
            self.markers.append((ends[profile.stage], lines))
        top.set_xlim(0, depth_max_nm if depth_max_nm is not None else zone_depth(result) * 1e9)
        if log:
            top.set_yscale("log")
        top.set_ylim(*((1e-4, 20.0) if log else (0.0, 1.25)))
        top.set_xlabel("depth (nm)")
        top.set_ylabel("fraction $n_i/n_0$")
        top.legend(loc="upper right", fontsize="small", ncols=len(self.lines) + 1)
        self.label = top.text(
            0.01,
            0.98,
            "X" * 30 + "\nX",
            transform=top.transAxes,
            va="top",
            family="monospace",
            bbox={"fc": "w", "ec": "0.7", "alpha": 0.9},
        )
        self.cursor = self._timeline(bottom, electrometer)
        # blitting: draw the static parts once, then only the moving artists per frame
        self.moving = [
            *self.lines,
            self.total,
            self.label,
            self.cursor,
            *(line for _, lines in self.markers for line in lines),
        ]
        for artist in self.moving:
            artist.set_animated(True)
        self.canvas.draw()
        self.fig.set_layout_engine("none")
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)

    def _timeline(self, ax: Any, electrometer: Any = None) -> Any:
        traces, clock = self.result.traces, self.clock
        t = np.asarray(traces["time"].values, dtype=float)
        ax.plot(clock.position(t), np.asarray(traces["current"].values) * 1e9, color="0.3", lw=1)
        if electrometer is not None:
            ax.plot(
                clock.position(electrometer.time_s),
                electrometer.current_A * 1e9,
                color="tab:red",
                lw=0.8,
                ls="--",
            )
        ticks: list[float] = []
        labels: list[str] = []
        for k, (name, start, end) in enumerate(self.result.stage_bounds):
            ax.text(
                k + 0.5,
                0.95,
                name,
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="top",
                fontsize="small",
            )
            if k:
                ax.axvline(k, color="0.5", ls=":", lw=0.8)
            for seconds, text in _TICKS:
                where = float(clock.position(np.array(start + seconds)))
                if clock.first[k] < seconds < end - start and where - max(ticks, default=-1) > 0.07:
                    ticks.append(where)
                    labels.append(text)
        ax.set_xticks(ticks, labels, fontsize="x-small")
        ax.set_xlim(0, len(clock.starts))
        ax.set_ylim(bottom=0)
        ax.set_ylabel("I (nA)", fontsize="small")
        ax.set_xlabel("time since the stage started (log scale)", fontsize="small")
        return ax.axvline(0, color="tab:red", lw=1.5)

    def render(self, time: float, stage: int, frac: np.ndarray) -> np.ndarray:
        """RGB image (h, w, 3) of one frame."""
        for line, k in zip(self.lines, self.shown):
            line.set_ydata(frac[k])
        self.total.set_ydata(frac[self.shown].sum(axis=0))
        position = float(self.clock.position(np.array(time)))
        self.cursor.set_xdata([position, position])
        charge = np.interp(time, self.trace_time, self.trace_charge)
        name = self.result.stage_names[stage]
        self.label.set_text(
            f"{name:<10s} t = {time / SECONDS_PER_HOUR:8.3f} h\n"
            f"{'':<10s} Q = {charge * 1e3:8.4f} mC"
        )
        for end, lines in self.markers:
            for line in lines:
                line.set_visible(time >= end * (1 - 1e-9))
        self.canvas.restore_region(self.background)
        for artist in self.moving:
            artist.axes.draw_artist(artist)
        return _pad(np.array(self.canvas.buffer_rgba())[..., :3])  # a copy: the buffer is reused


def _pad(image: np.ndarray) -> np.ndarray:
    """Pad an image with white to a multiple of :data:`MACRO_BLOCK` in both directions."""
    h, w = image.shape[:2]
    ph, pw = -h % MACRO_BLOCK, -w % MACRO_BLOCK
    if not (ph or pw):
        return image
    return np.pad(image, ((0, ph), (0, pw), (0, 0)), constant_values=255)


def render_frames(
    result: Result,
    frames: int | None = None,
    *,
    depth_max_nm: float | None = None,
    log: bool = False,
    dpi: int = 100,
    measured: Any = (),
    electrometer: Any = None,
) -> Iterator[np.ndarray]:
    """Yield the RGB frames (h, w, 3, uint8) of the density-evolution video.

    Measured profiles (:class:`caitlab.sims.MeasuredProfile`) appear as markers from the end
    of their stage on; the electrometer log's current is drawn on the time line.
    """
    canvas = _Canvas(result, depth_max_nm, log, dpi, measured, electrometer)
    for t, stage, frac in zip(*frame_states(result, frames)):
        yield canvas.render(float(t), int(stage), frac)


def write_video(
    result: Result,
    out: str | Path,
    *,
    fps: float = 20.0,
    frames: int | None = None,
    depth_max_nm: float | None = None,
    log: bool = False,
    dpi: int = 100,
    measured: Any = (),
    electrometer: Any = None,
) -> Path:
    """Write the density evolution of all species across all stages as MP4 or GIF.

    Parameters
    ----------
    result : caitlab.Result
        A run; save snapshots for a smooth video (``OutputOptions(frames=60)``).
    out : str or Path
        Output file; ``.gif`` gives an animated GIF, anything else MP4 (H.264).
    fps : float
        Frames per second.
    frames : int, optional
        Resample to this many frames; default one per saved snapshot, or
        :data:`MIN_FRAMES` resampled ones when fewer were saved.
    depth_max_nm : float, optional
        Right end of the depth axis, nm; default the replacement zone with a margin.
    log : bool
        Logarithmic fraction axis.
    dpi : int
        Resolution: the frame is 8 x 4.8 inches (800 x 480 pixels at 100 dpi).
    measured : sequence of MeasuredProfile
        Shown as markers from the end of their stage on.
    electrometer : caitlab.electrometer.ElectrometerLog, optional
        Its current drawn (dashed red) on the time line.

    Returns
    -------
    Path
        The file written: ``out``, or ``out`` with suffix ``.gif`` when ffmpeg cannot be
        used (with a ``RuntimeWarning``).

    Raises
    ------
    caitlab.storage.OutputWriteError
        If the file cannot be written (a full disk, ffmpeg failing to write): no partial
        file is left, a previous file of that name is unchanged.
    """
    out = Path(out)
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    frames = default_frames(result) if frames is None else frames
    images = list(
        render_frames(
            result,
            frames,
            depth_max_nm=depth_max_nm,
            log=log,
            dpi=dpi,
            measured=measured,
            electrometer=electrometer,
        )
    )
    if out.suffix.lower() == ".gif":
        return _write_gif(out, images, fps)
    try:
        write_atomic(out, lambda tmp: _write_mp4(tmp, images, fps), keep_suffix=True)
    except RuntimeError as exc:  # no usable ffmpeg (FfmpegUnavailable): fall back
        gif = out.with_suffix(".gif")
        warnings.warn(
            f"writing {out} with ffmpeg failed ({exc}); writing {gif} instead",
            RuntimeWarning,
            stacklevel=2,
        )
        return _write_gif(gif, images, fps)
    return out


def default_frames(result: Result) -> int | None:
    """None (the saved snapshots) if there are at least :data:`MIN_FRAMES`, else that many."""
    return None if result.data.sizes["time"] >= MIN_FRAMES else MIN_FRAMES


def has_frames(result: Result) -> bool:
    """Whether ``result`` saved states besides the stage ends (``output.frames`` or
    ``output.times``)."""
    output = result.experiment.output
    return output.frames > 0 or len(output.times) > 0


def rerun_with_frames(result: Result, frames: int = MIN_FRAMES) -> tuple[Result, str]:
    """The stored experiment of ``result`` run again, saving ``frames`` snapshots per stage.

    A result saved without frames holds the stage ends alone: a video of it would fade from
    one stage end to the next, with fronts at the wrong depth in every frame between. The
    run takes about a second.

    Returns
    -------
    Result
        The new run (its own ``run_id``).
    str
        A one-line note for the user: what was run and how long it took; and by how much the
        new stage ends differ from the stored ones where that exceeds
        :data:`RERUN_TOLERANCE` (another caitlab version). Saved frames change the time
        steps, so the stage ends differ within the time-step tolerance (the quick example's
        fronts by ~0.01 nm, a steep front's densities by ~1e-2 n0).
    """
    from caitlab.experiment import OutputOptions

    output = OutputOptions(times=result.experiment.output.times, frames=frames)
    started = time.perf_counter()
    rerun = result.experiment.with_(output=output).run()
    seconds = time.perf_counter() - started
    note = (
        f"the result saved no frames (only the stage ends): ran its experiment again with "
        f"{frames} frames per stage ({seconds:.1f} s)"
    )
    differs = max(
        float(np.max(np.abs(new.density[-1] - old.density[-1]))) / old.n0
        for new, old in zip(rerun.stages, result.stages)
    )
    if differs > RERUN_TOLERANCE:
        note += (
            f"; its stage ends differ from the stored ones by up to {differs:.2g} n0 "
            f"(stored by caitlab {result.version})"
        )
    return rerun, note


class FfmpegUnavailable(RuntimeError):
    """ffmpeg cannot be used here (not installed, no H.264 encoder): a GIF is written."""


#: H.264 quality as imageio writes it (its quality 5 of 10)
_CRF = 25


def _write_mp4(out: Path, images: list[np.ndarray], fps: float) -> None:
    """Encode ``images`` (h, w, 3 uint8, all one size) as H.264 MP4 into ``out`` with
    imageio-ffmpeg's ffmpeg; ffmpeg's exit status and the file's index are checked.

    Raises
    ------
    FfmpegUnavailable
        If there is no ffmpeg, or it fails for a reason other than writing the file.
    OSError
        If the file cannot be written (``ENOSPC`` for a full disk).
    """
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as exc:
        raise FfmpegUnavailable(str(exc)) from exc
    height, width = images[0].shape[:2]
    command = [
        exe, "-y", "-f", "rawvideo", "-vcodec", "rawvideo", "-s", f"{width}x{height}",
        "-pix_fmt", "rgb24", "-r", str(Fraction(fps).limit_denominator()), "-i", "-", "-an",
        "-vcodec", "libx264", "-pix_fmt", "yuv420p", "-crf", str(_CRF), "-v", "error",
        "-f", "mp4", str(out),
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        try:
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=log)
        except OSError as exc:
            raise FfmpegUnavailable(f"cannot start ffmpeg: {exc}") from exc
        assert process.stdin is not None
        try:
            for image in images:
                process.stdin.write(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
            process.stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg stopped: its status and log say why
        except BaseException:
            process.kill()
            process.wait()
            raise
        status = process.wait()
        log.seek(0)
        said = log.read().decode(errors="replace").strip()
    if "No space left" in said:
        raise OSError(errno.ENOSPC, "No space left on device")
    if status != 0:
        last = said.splitlines()[-1] if said else f"exit status {status}"
        raise FfmpegUnavailable(f"ffmpeg failed: {last}")
    problem = mp4_problem(out)
    if problem:
        raise OSError(errno.EIO, f"ffmpeg wrote no playable MP4 ({problem})")


def mp4_problem(path: str | Path) -> str | None:
    """Why ``path`` is not a complete MP4 (its top-level boxes must fill the file and
    include ``ftyp``, ``mdat`` and the index ``moov``), or None if it is."""
    data = Path(path).read_bytes()
    boxes, at = set(), 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        kind = data[at + 4 : at + 8].decode("latin-1")
        if size == 1 and at + 16 <= len(data):
            size = int.from_bytes(data[at + 8 : at + 16], "big")
        elif size == 0:
            size = len(data) - at
        if size < 8:
            return f"a broken box at byte {at}"
        boxes.add(kind)
        at += size
    if at != len(data):
        return f"truncated: {len(data)} bytes, the boxes claim {at}"
    missing = [kind for kind in ("ftyp", "mdat", "moov") if kind not in boxes]
    if missing:
        return f"no {', '.join(missing)} box" + (" (no index)" if "moov" in missing else "")
    return None


def _write_gif(out: Path, images: list[np.ndarray], fps: float) -> Path:
    import imageio.v3 as iio

    stack = np.stack(images)

    def write(tmp: Path) -> None:
        iio.imwrite(tmp, stack, plugin="pillow", extension=".gif", duration=1000.0 / fps, loop=0)

    try:
        write_atomic(out, write)
    except ValueError as exc:  # Pillow reports some write failures so
        raise write_error(out, OSError(errno.EIO, str(exc))) from exc
    return out


__all__ = [
    "MIN_FRAMES",
    "FfmpegUnavailable",
    "StageClock",
    "default_frames",
    "frame_states",
    "has_frames",
    "mp4_problem",
    "render_frames",
    "rerun_with_frames",
    "write_video",
]
