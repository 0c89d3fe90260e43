"""The paper's claim on the default scenario, the adaptive law's invariants, the batched path, the result API."""

import json
import subprocess
import sys

import numpy as np
import pytest

from engines.manipulator_cbf import CONTROLLERS, Config, run, run_episode
from engines.manipulator_cbf.arm import arm_from
from engines.manipulator_cbf.barriers import barrier_specs
from engines.manipulator_cbf.batch import group_events, simulate_batch
from engines.manipulator_cbf.episode import drain, impulse_schedule
from engines.manipulator_cbf.trajectory import reference_trajectory

FAST = dict(mc_scenarios=0, sweep_points=0, backend_samples=0)


@pytest.fixture(scope="module")
def default_result():
    return run(Config(**FAST), device="cpu")


def test_adaptive_gain_keeps_h_nonnegative_through_impulses(default_result):
    s = default_result.summary()["controllers"]
    assert s["adaptive"]["min_h"] >= 0.0
    assert s["adaptive"]["violations"] == 0
    assert s["adaptive"]["infeasible_steps"] == 0
    assert s["fixed_gain"]["violations"] > 0 and s["fixed_gain"]["min_h"] < 0
    assert s["nominal"]["violations"] > 0 and s["nominal"]["min_h"] < 0
    assert default_result.summary()["claim_holds"]


def test_default_scenario_dips_through_the_floor_under_clear_impacts(default_result):
    r = default_result
    cfg = r.config
    assert cfg.tau_max == 80.0 and cfg.impulse_ns == 1.5 and cfg.barrier == "floor"
    # the reference dips through the floor and every impact lands while h is clearly positive, pushing down
    assert r.ee_ref[:, 1].min() < cfg.floor_y
    steps = r.impulse_steps()
    assert len(steps) >= 2
    assert np.all(r.h[:, steps, 0] > 0.2)
    assert np.all(r.impulse_lambda[:, 1] < -1.4)
    for c in range(3):
        assert np.abs(r.tau[c]).max() <= cfg.tau_max + 1e-9  # torque limits on all three


def test_the_arm_links_keep_their_lengths(default_result):
    """The elbow the panel draws: ‖p_elbow‖ = l1 from the base and ‖ee - p_elbow‖ = l2 to the end effector."""
    r = default_result
    elbow = r.elbow()
    np.testing.assert_allclose(np.linalg.norm(elbow, axis=-1), r.config.l1, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(r.ee - elbow, axis=-1), r.config.l2, rtol=1e-12)


def test_adaptive_law_restores_psi1_after_each_jump_and_relaxes(default_result):
    r = default_result
    a = CONTROLLERS.index("adaptive")
    steps = r.impulse_steps()
    assert np.all(r.psi1[a, steps, 0] >= r.config.eps - 1e-9)  # ψ₁⁺ ≥ ε right after the jump
    assert np.all(r.psi1[CONTROLLERS.index("fixed_gain"), steps, 0] < 0)  # the fixed gain is left with ψ₁⁺ < 0
    assert np.all(r.gain[a, steps, 0] > r.config.k1)
    # between jumps k₁ relaxes monotonically back towards its nominal value
    seg = r.gain[a, steps[0] : steps[1], 0]
    assert np.all(np.diff(seg) <= 1e-12) and seg[-1] < seg[0]
    assert np.allclose(r.gain[CONTROLLERS.index("fixed_gain")], r.config.k1)


def test_leaving_out_the_gain_rate_term_breaks_safety():
    ep = run_episode(Config(gain_rate_term=False, **FAST), "adaptive")
    assert ep.h.min() < 0


def _batch_of_the_three_controllers(cfg):
    """The batched torch path run on the three controllers (one scenario each) with cfg's own impulse schedule."""
    arm, specs = arm_from(cfg), barrier_specs(cfg)
    ref = reference_trajectory(cfg, arm)
    events = impulse_schedule(cfg, np.random.default_rng(0))
    ev = group_events(np.array([e[0] for e in events] * 3), np.repeat(np.arange(3), len(events)),
                      np.array([e[1] for e in events] * 3), np.array([e[2] for e in events] * 3))
    x0 = np.tile(np.r_[ref.q[0], ref.dq[0]], (3, 1))
    return drain(simulate_batch(cfg, arm, specs, ref.q, ref.dq, ref.ddq, np.arange(3), x0, np.full((3, len(specs)), cfg.k1), 0,
                                cfg.steps, ev, "cpu"))


def test_batched_torch_path_reproduces_the_episodes(default_result):
    cfg = default_result.config.replace(duration=2.5)
    stats = _batch_of_the_three_controllers(cfg)
    K = cfg.steps
    for c in range(3):
        hmin = default_result.h[c, : K + 1].min(axis=1)
        assert stats.min_h[c] == pytest.approx(hmin.min(), abs=1e-9)
        assert stats.violations[c] == (hmin < 0).sum()


def test_batched_active_set_and_fallback_reproduce_the_episodes():
    """Two barrier rows (floor + obstacle) take the batched enumeration; hard impacts under a low torque limit
    make the adaptive QP infeasible, so the batched safest-torque fallback is exercised too."""
    cfg = Config(barrier="floor+circle", obstacle_x=1.5, obstacle_y=-0.75, obstacle_r=0.12, impulse_ns=4.0, tau_max=40.0,
                 duration=2.5, **FAST)
    stats = _batch_of_the_three_controllers(cfg)
    assert stats.infeasible[2] > 0
    for c, name in enumerate(CONTROLLERS):
        ep = run_episode(cfg, name)
        hmin = ep.h.min(axis=1)
        assert stats.min_h[c] == pytest.approx(hmin.min(), abs=1e-9)
        assert stats.violations[c] == (hmin < 0).sum()
        assert stats.infeasible[c] == ep.infeasible.sum()


def test_the_episode_with_the_python_fallback_has_the_torch_fallbacks_torques():
    """Hard impacts under a low torque limit: many infeasible steps, and the same torques with either fallback."""
    from engines.manipulator_cbf.arm import arm_from
    from engines.manipulator_cbf.episode import simulate_episode
    from engines.manipulator_cbf.reference import safest_torque_torch

    cfg = Config(barrier="floor+circle", obstacle_x=1.5, obstacle_y=-0.75, obstacle_r=0.12, impulse_ns=4.0, tau_max=40.0,
                 duration=2.5, **FAST)
    arm, specs = arm_from(cfg), barrier_specs(cfg)
    ref, events = reference_trajectory(cfg, arm), impulse_schedule(cfg, np.random.default_rng(0))
    new = drain(simulate_episode(cfg, arm, specs, ref, 2, events))
    old = drain(simulate_episode(cfg, arm, specs, ref, 2, events, fallback=safest_torque_torch))
    assert new.infeasible.sum() > 10
    np.testing.assert_array_equal(new.tau, old.tau)
    np.testing.assert_array_equal(new.h, old.h)


def test_impulse_sweep_shows_the_range_where_only_adaptive_is_safe():
    r = run(Config(mc_scenarios=0, backend_samples=0, sweep_points=5, sweep_ns_max=2.0), device="cpu")
    sw = r.summary()["impulse_sweep"]
    assert sw["adaptive_safe_up_to_ns"] == 2.0
    assert sw["fixed_gain_safe_up_to_ns"] is not None and sw["fixed_gain_safe_up_to_ns"] < 2.0
    assert sw["nominal_safe_up_to_ns"] is None
    assert r.sweep_min_h[1, 0] == pytest.approx(r.sweep_min_h[2, 0])  # no impulse: the two CBF controllers coincide


def test_monte_carlo_is_seeded_and_reports_rates(tmp_path):
    cfg = Config(mc_scenarios=12, mc_duration=0.6, sweep_points=0, backend_samples=0, duration=0.7)
    r1, r2 = run(cfg, device="cpu"), run(cfg, device="cpu")
    np.testing.assert_array_equal(r1.mc_min_h, r2.mc_min_h)
    mc = r1.summary()["monte_carlo"]
    assert mc["scenarios"] == 12
    for c in CONTROLLERS:
        assert 0.0 <= mc["violation_rate"][c] <= 1.0
    assert mc["violation_rate"]["nominal"] >= mc["violation_rate"]["adaptive"]
    for c in CONTROLLERS:  # binomial standard error of the rate over the 12 scenarios
        p = float((r1.mc_violations[CONTROLLERS.index(c)] > 0).mean())
        assert mc["violation_rate"][c] == p
        assert mc["violation_rate_stderr"][c] == pytest.approx(np.sqrt(p * (1 - p) / 12))
    r3 = run(cfg.replace(seed=5), device="cpu")
    assert not np.array_equal(r1.mc_min_h, r3.mc_min_h)


def test_summary_keys_and_files_round_trip(default_result, tmp_path):
    out = default_result.save(tmp_path)
    data = json.loads((out / "result.json").read_text())
    for c in ("nominal", "fixed_gain", "adaptive"):
        for key in ("min_h", "violations", "max_abs_tau", "tracking_rmse", "step_ms_median"):
            assert data["controllers"][c][key] == pytest.approx(default_result.summary()["controllers"][c][key])
    arrays = np.load(out / "arrays.npz")
    np.testing.assert_array_equal(arrays["h"], default_result.h)
    for stem in ("timeseries.csv", "barrier_timeseries.png", "arm_paths.png"):
        assert (out / stem).exists()


def test_cli_run_writes_the_claim_for_the_default_scenario(tmp_path):
    """`python -m engines run manipulator_cbf --out D`: D/result.json holds the claim (the Monte Carlo, sweep and
    backend check are switched off here; they run after the three episodes and do not change them)."""
    off = [a for k in FAST for a in ("--set", f"{k}=0")]
    proc = subprocess.run([sys.executable, "-m", "engines", "run", "manipulator_cbf", *off, "--device", "cpu", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    c = json.loads((tmp_path / "result.json").read_text())["controllers"]
    assert c["adaptive"]["min_h"] >= 0 and c["adaptive"]["violations"] == 0
    assert c["fixed_gain"]["violations"] > 0 and c["nominal"]["violations"] > 0
    for name in ("nominal", "fixed_gain", "adaptive"):
        assert {"min_h", "violations", "max_abs_tau", "tracking_rmse", "step_ms_median"} <= set(c[name])


@pytest.mark.parametrize("extra", [dict(mc_scenarios=0, sweep_points=2), dict(mc_scenarios=0, sweep_points=0, backend_samples=0)])
def test_only_the_last_snapshot_is_final(extra):
    from engines.manipulator_cbf import stream

    snaps = list(stream(Config(**{"duration": 1.0, "backend_samples": 5, **extra}), device="cpu"))
    assert [s.progress for s in snaps].count(1.0) == 1
    assert snaps[-1].progress == 1.0 and snaps[-1].result is not None
    assert all(0.0 <= s.progress <= 1.0 for s in snaps)
    assert [s.progress for s in snaps] == sorted(s.progress for s in snaps)


@pytest.mark.parametrize(
    "changes, barrier",
    [
        (dict(barrier="circle", obstacle_x=1.5, obstacle_y=-0.75, obstacle_r=0.12), 0),  # an obstacle on the reference path
        (dict(joint_limits=True, q2_min=-2.2), 3),  # the reference bends the elbow past q2_min = -2.2 rad (it reaches -2.38)
    ],
)
def test_hocbf_keeps_other_barriers_invariant_without_impacts(changes, barrier):
    cfg = Config(impulse_mode="none", duration=3.0, **changes, **FAST)
    nominal = run_episode(cfg, "nominal")
    assert nominal.h[:, barrier].min() < 0  # the task alone crosses the barrier
    for controller in ("fixed_gain", "adaptive"):
        ep = run_episode(cfg, controller)
        assert ep.h.min() >= 0.0 and not ep.infeasible.any()


def test_custom_jump_map():
    """x⁺ = x + I(x): the impact written as a jump map reproduces the built-in one; a position jump moves q."""
    from engines.manipulator_cbf.arm import SCALAR, arm_from, impact

    cfg = Config(duration=1.5, **FAST)
    arm = arm_from(cfg)

    def impact_map(t, x, lam):
        d1, d2 = impact(arm, *SCALAR, x[0], x[1], lam[0], lam[1])
        return np.array([0.0, 0.0, d1, d2])

    ref_ep = run_episode(cfg, "adaptive")
    ep = run_episode(cfg, "adaptive", jump_map=impact_map)
    np.testing.assert_allclose(ep.h, ref_ep.h, atol=1e-12)
    shifted = run_episode(cfg, "fixed_gain", jump_map=lambda t, x, lam: np.array([0.05, 0.0, 0.0, 0.0]))
    k = int(round(cfg.impulse_first / cfg.dt))
    assert shifted.q[k + 1, 0] - shifted.q[k, 0] == pytest.approx(0.05, abs=0.01)


def test_poisson_impacts_are_seeded():
    cfg = Config(impulse_mode="poisson", impulse_rate=2.0, duration=2.0, **FAST)
    a, b = run(cfg, device="cpu"), run(cfg, device="cpu")
    np.testing.assert_array_equal(a.impulse_t, b.impulse_t)
    assert len(a.impulse_t) > 0
    assert not np.array_equal(a.impulse_t, run(cfg.replace(seed=3), device="cpu").impulse_t)
