"""Benchmark: QP step latency of the direct solvers against cvxpy, and the real-time factor of a 10 s, 1 kHz episode.

Everything is measured in one process, side by side, on QPs the controllers actually meet.
"""

from __future__ import annotations

import time

import numpy as np

from engines.base import Snapshot

from .arm import arm_from
from .backends import compare_backends
from .barriers import barrier_specs
from .batch import group_events, monte_carlo_events, simulate_batch
from .config import Config
from .engine import _backend_samples
from .episode import ADAPTIVE, Episode, drain, impulse_schedule, simulate_episode
from .qp import CvxpyQP
from .trajectory import reference_trajectory


def _episode(cfg, controller, qp_solver=None, n_steps=None, cpu_time: list | None = None) -> tuple[Episode, float]:
    """Run one episode; returns it and its wall time (and appends its CPU time to ``cpu_time``)."""
    arm, specs = arm_from(cfg), barrier_specs(cfg)
    ref = reference_trajectory(cfg, arm)
    events = impulse_schedule(cfg, np.random.default_rng(cfg.seed))
    t0, c0 = time.perf_counter(), time.process_time()
    item = drain(simulate_episode(cfg, arm, specs, ref, controller, events, qp_solver=qp_solver, n_steps=n_steps))
    if cpu_time is not None:
        cpu_time.append(time.process_time() - c0)
    return item, time.perf_counter() - t0


def bench(quick: bool = False, device: str = "auto", progress=None) -> dict:
    from engines.device import resolve

    dev = resolve(device)
    say = progress or (lambda snap: None)
    cfg = Config(duration=10.0, dt=1e-3, impulse_period=3.0, mc_scenarios=0, sweep_points=0, backend_samples=0)
    report: dict = dict(device=str(dev), quick=quick)

    # 1. real-time factor of a 10 s, 1 kHz episode with the adaptive controller (direct solver)
    say(Snapshot(0.05, "10 s episode, adaptive controller, active-set QP"))
    cpu: list = []
    ep, wall = _episode(cfg, ADAPTIVE, cpu_time=cpu)
    # CPU-time factor too: on a shared machine the wall clock also counts other processes' time slices
    report["episode"] = dict(simulated_s=cfg.duration, steps=cfg.steps, wall_s=wall, realtime_factor=cfg.duration / wall,
                             realtime_factor_cpu_time=cfg.duration / cpu[0],
                             controller_step_ms_median=float(np.median(ep.step_s) * 1e3),
                             controller_step_ms_p99=float(np.percentile(ep.step_s, 99) * 1e3))

    # 2. the same episode with cvxpy as the QP (a shorter stretch; its real-time factor is per simulated second)
    qp = {}

    def cvxpy_solver(rows, t1, t2):
        m = len(rows)
        if m not in qp:
            qp[m] = CvxpyQP(m, None)
        A = np.array([[r[0], r[1]] for r in rows])
        b = np.array([r[2] for r in rows])
        x, _status = qp[m].solve(A, b, np.array([t1, t2]))
        return (t1, t2, False) if x is None else (float(x[0]), float(x[1]), True)

    n_cvx = 200 if quick else 2000
    say(Snapshot(0.3, f"{n_cvx} steps with cvxpy in the loop"))
    ep_c, wall_c = _episode(cfg, ADAPTIVE, qp_solver=cvxpy_solver, n_steps=n_cvx)
    report["episode_cvxpy"] = dict(simulated_s=n_cvx * cfg.dt, wall_s=wall_c, realtime_factor=n_cvx * cfg.dt / wall_c,
                                   controller_step_ms_median=float(np.median(ep_c.step_s) * 1e3))
    report["episode_cvxpy"]["max_abs_tau_diff_vs_direct"] = float(np.abs(ep_c.tau[:n_cvx] - ep.tau[:n_cvx]).max())

    # 3. per-QP latency of every backend on QPs from the fixed-gain and adaptive episodes
    say(Snapshot(0.55, "QP backends side by side"))
    base = Config(mc_scenarios=0, sweep_points=0, backend_samples=300 if quick else 3000)
    eps = [_episode(base, c)[0] for c in range(3)]
    A, b, tn = _backend_samples(base, eps, np.random.default_rng(0))
    backends = compare_backends(A, b, tn, base.tau_max)
    report["qp_backends"] = backends
    report["speedup_vs_cvxpy"] = backends["speedup_vs_cvxpy"]

    # 4. the batched Monte Carlo throughput on the device
    n_mc = 64 if quick else 1024
    say(Snapshot(0.8, f"Monte Carlo throughput, {n_mc} scenarios"))
    mc = Config(mc_duration=0.5 if quick else 2.0)
    arm, specs = arm_from(mc), barrier_specs(mc)
    n_steps = int(round(mc.mc_duration / mc.dt))
    ref = reference_trajectory(mc, arm, steps=n_steps + 1)
    steps, scen, lx, ly = monte_carlo_events(mc, n_mc, np.random.default_rng(0))
    ev = group_events(np.tile(steps, 3), np.concatenate([scen + c * n_mc for c in range(3)]), np.tile(lx, 3), np.tile(ly, 3))
    x0 = np.tile(np.r_[ref.q[0], ref.dq[0]], (3 * n_mc, 1))
    t0 = time.perf_counter()
    drain(simulate_batch(mc, arm, specs, ref.q, ref.dq, ref.ddq, np.repeat(np.arange(3), n_mc), x0,
                         np.full((3 * n_mc, len(specs)), mc.k1), 0, n_steps, ev, dev))
    wall_mc = time.perf_counter() - t0
    report["monte_carlo"] = dict(episodes=3 * n_mc, steps=n_steps, wall_s=wall_mc,
                                 episode_steps_per_s=3 * n_mc * n_steps / wall_mc,
                                 batched_realtime_factor=3 * n_mc * mc.mc_duration / wall_mc)
    report["targets"] = dict(direct_step_under_0p1_ms=backends["active_set"]["median_ms"] < 0.1,
                             realtime_factor_at_least_10=report["episode"]["realtime_factor"] >= 10.0)
    say(Snapshot(1.0, "done"))
    return report
