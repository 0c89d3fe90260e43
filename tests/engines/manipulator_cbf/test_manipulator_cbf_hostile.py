"""Hostile Config values: every one either builds a job a 2-core, 24 GB machine finishes in minutes, or is refused
with a ValueError naming a field; a run never returns non-finite numbers (it diverges with a clear error instead)."""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.manipulator_cbf import Config, SimulationDiverged, run_episode
from engines.manipulator_cbf.arm import arm_from
from engines.manipulator_cbf.config import MAX_IMPULSES, MAX_MC_IMPULSES, MAX_MC_STEPS, MAX_STEPS, MAX_SWEEP_STEPS
from engines.manipulator_cbf.episode import impulse_schedule
from engines.manipulator_cbf.trajectory import reference_trajectory

ROWS = {r["name"]: r for r in Config.describe()}
FIELDS = [f.name for f in dataclasses.fields(Config)]
HUGE = [0.0, -0.0, 1e-300, -1e-300, 1e-7, 1e-6, 1e300, -1e300, 1e200, 1e9, -1.0, math.nan, math.inf, -math.inf]


def value_of(name: str) -> st.SearchStrategy:
    """Values a hostile user types for one field: anything of its type, values at and beyond its bounds, huge ones."""
    row = ROWS[name]
    if row["choices"]:
        return st.sampled_from([*row["choices"], "nonsense", ""])
    if row["type"] == "bool":
        return st.booleans()
    lo, hi, default = row["lo"], row["hi"], row["default"]
    edges = [v for v in (lo, hi) if v is not None]
    if row["type"] == "int":
        near = [int(v) + d for v in edges for d in (-1, 0, 1)]
        return st.one_of(st.integers(), st.sampled_from([*near, default, 2**63, -(2**63)]),
                         st.integers(0, max(10 * int(default), 10)))
    near = [v * f for v in edges for f in (0.999, 1.0, 1.001)] + [default * f for f in (0.1, 10.0, 1000.0)]
    span = [st.floats(min_value=lo, max_value=hi)] if lo is not None and hi is not None else []
    return st.one_of(st.floats(), st.sampled_from(HUGE + near), *span)


def configs(names=FIELDS, max_size=6) -> st.SearchStrategy:
    return st.lists(st.sampled_from(names), max_size=max_size, unique=True).flatmap(
        lambda keys: st.fixed_dictionaries({k: value_of(k) for k in keys}))


@given(configs())
def test_every_config_is_refused_naming_a_field_or_its_job_is_bounded(changes):
    try:
        cfg = Config(**changes)
    except ValueError as err:
        text = str(err)
        assert "\n" not in text and text.split(":", 1)[0] in FIELDS, text
        return
    assert cfg.steps <= MAX_STEPS
    assert cfg.sweep_points == 0 or cfg.sweep_points * cfg.sweep_steps <= MAX_SWEEP_STEPS
    assert cfg.mc_scenarios == 0 or (cfg.mc_steps <= MAX_STEPS and cfg.mc_scenarios * cfg.mc_steps <= MAX_MC_STEPS)
    assert cfg.mc_scenarios * cfg.mc_rate * cfg.mc_duration <= MAX_MC_IMPULSES
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        assert not isinstance(v, float) or math.isfinite(v), f.name
    arm = arm_from(cfg)
    assert all(math.isfinite(v) for v in arm)
    events = impulse_schedule(cfg, np.random.default_rng(cfg.seed))
    assert len(events) <= 2 * MAX_IMPULSES and all(0 <= s < cfg.steps for s, _, _ in events)


PHYSICAL = ["m1", "m2", "l1", "l2", "lc1", "lc2", "I1", "I2", "gravity", "dt", "tau_max", "kp", "kd", "k1", "k2", "eps", "relax_rate",
            "k1_max", "impulse_ns", "impulse_angle_deg", "floor_y", "ref_cy", "ref_ry", "barrier", "joint_limits"]


@given(configs(PHYSICAL, max_size=3), st.sampled_from(["nominal", "fixed_gain", "adaptive"]))
def test_a_short_episode_is_finite_or_diverges_with_a_clear_error(changes, controller):
    try:
        cfg = Config(**{**changes, "duration": 0.25, "impulse_first": 0.1, "mc_scenarios": 0, "sweep_points": 0, "backend_samples": 0})
    except ValueError:
        return
    ref = reference_trajectory(cfg, arm_from(cfg))
    assert all(np.isfinite(a).all() for a in (ref.q, ref.dq, ref.ddq))
    try:
        ep = run_episode(cfg, controller)
    except SimulationDiverged as err:
        assert str(err).startswith("dt: ")
        return
    for a in (ep.q, ep.dq, ep.h, ep.psi1, ep.gain, ep.tau):
        assert np.isfinite(a).all()
    assert np.abs(ep.tau).max() <= cfg.tau_max * (1 + 1e-9)


@pytest.mark.parametrize("sets, field", [
    ({"dt": "1e-6"}, "dt"), ({"dt": "1e-7"}, "dt"), ({"sweep_horizon": "1e6"}, "sweep_horizon"), ({"impulse_rate": "1e9"}, "impulse_rate"),
    ({"l1": "1e300", "lc1": "1e200"}, "l1"), ({"duration": "120", "dt": "1e-5"}, "dt"), ({"impulse_period": "1e-9"}, "impulse_period"),
    ({"mc_scenarios": "65536", "mc_duration": "60"}, "mc_scenarios"), ({"mc_duration": "60", "dt": "1e-4"}, "mc_duration"),
    ({"mc_scenarios": "65536"}, "mc_scenarios"),
    ({"mc_rate": "1000", "mc_scenarios": "20000"}, "mc_rate"), ({"sweep_points": "200", "sweep_horizon": "10"}, "sweep_points"),
    ({"impulse_mode": "poisson", "impulse_rate": "1000", "duration": "120", "dt": "0.001"}, "impulse_rate"),
    ({"m1": "1e-9"}, "m1"), ({"kp": "1e6", "dt": "0.01"}, "dt"), ({"seed": "-1"}, "seed"),
])
def test_the_hostile_examples_are_refused_naming_the_field(sets, field):
    with pytest.raises(ValueError) as err:
        Config.from_strings(sets)
    assert str(err.value).startswith(f"{field}:") and "allowed" in str(err.value)


def test_a_diverging_run_says_so_naming_dt():
    """A stiff arm (light, short links) at the longest step the gain rule allows: the state leaves every finite value."""
    cfg = Config(m1=1e-3, m2=1e-3, I1=0.0, I2=0.0, lc1=0.05, lc2=0.05, l1=1.0, l2=1.0, dt=0.02, kd=20.0, kp=100.0, k2=5.0,
                 tau_max=1e6, duration=1.0, sweep_points=0, backend_samples=0, mc_scenarios=0)
    with pytest.raises(SimulationDiverged, match=r"^dt: the simulation diverged at t = "):
        run_episode(cfg, "nominal")
