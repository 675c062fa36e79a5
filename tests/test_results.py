"""What a run saves: stage ends, extra output times, frames, traces."""

from __future__ import annotations

import numpy as np
import pytest

from caitlab import OutputOptions


def test_stage_ends_and_requested_times_are_saved(quick_experiment):
    durations = [s.duration for s in quick_experiment.stages]
    extra = (0.0, 3600.0, durations[0] - 1e-3, durations[0] + 7200.0)
    result = quick_experiment.with_(output=OutputOptions(times=extra)).run()
    ds = result.to_xarray()
    times = ds["time"].values
    for t in (*extra, durations[0], sum(durations)):
        assert np.min(np.abs(times - t)) <= 1e-9 * t
    assert list(ds["time_stage"].values[times <= durations[0]]) == ["Rb-CAIT"] * 4
    # a save just before the end of a stage does not replace the stage's end
    assert result.stages[0].time[-1] == durations[0]
    # the state at 1 h lies between the pristine sample and the end of stage 1
    rb_at_1h = ds["density"].sel(time=3600.0, species="Rb").sum().item()
    rb_end = ds["density"].sel(time=durations[0], species="Rb").sum().item()
    assert 0 < rb_at_1h < rb_end


def test_frames_are_log_spaced_per_stage(quick_experiment):
    result = quick_experiment.with_(output=OutputOptions(frames=12)).run()
    for stage in result.stages:
        local = stage.time - stage.start
        assert len(local) == 12
        ratios = local[2:] / local[1:-1]
        assert np.allclose(ratios, ratios[0], rtol=1e-6)


def test_traces_cover_every_step_and_charge_is_cumulative(quick_result):
    ds = quick_result.to_xarray()
    charge = ds["trace_charge"].values
    assert np.all(np.diff(charge) >= -1e-18)
    total = sum(s.charge_C for s in quick_result.stages)
    assert charge[-1] == pytest.approx(total, rel=1e-12)
    assert ds["charge"].values[-1] == pytest.approx(total, rel=1e-12)
    steps = sum(s.n_steps for s in quick_result.stages)
    assert ds.sizes["trace_time"] == steps + len(quick_result.stages)


def test_front_positions_from_profiles():
    from caitlab.results import falling_crossing, half_point

    x = np.linspace(0.0, 10.0, 11)
    front = np.clip(6.5 - x, 0.0, 1.0)  # 1 down to 0 between x = 5.5 and 6.5
    assert falling_crossing(x, front, 0.5) == pytest.approx(6.0)
    assert np.isnan(falling_crossing(x, front, 2.0))
    # a thin surface layer does not move the 50 % point of a plateau at 0.6
    layer = np.where(x < 0.5, 0.95, 0.6 * front)
    assert half_point(x, layer) == pytest.approx(6.0)
    assert np.isnan(half_point(x, np.zeros_like(x)))
