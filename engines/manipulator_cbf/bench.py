"""Benchmark: QP step latency of the direct solvers against cvxpy, the real-time factor of a 10 s, 1 kHz episode, the
filter step on every state (infeasible ones included: the safest-torque fallback in Python against the torch one it
replaced), and the batched Monte Carlo against real time (its one-row QP against the sorted version it replaced).

Everything is measured in one process, side by side, on QPs the controllers actually meet.
"""

from __future__ import annotations

import time

import numpy as np

from engines.base import Snapshot
from engines.device import cpu_threads

from .arm import arm_from
from .backends import compare_backends
from .barriers import barrier_specs
from .batch import group_events, monte_carlo_events, simulate_batch
from .config import Config
from .engine import _backend_samples
from .episode import ADAPTIVE, Episode, drain, impulse_schedule, simulate_episode
from .qp import CvxpyQP
from .reference import safest_torque_torch, solve_one_row_box_sorted
from .trajectory import reference_trajectory

# hard impacts: 6 N·s every second push the adaptive QP past the torque box on ~2.6 % of the steps (the fallback's p99)
HARD_IMPACTS = dict(duration=10.0, impulse_ns=6.0, impulse_period=1.0, mc_scenarios=0, sweep_points=0, backend_samples=0)


def _episode(cfg, controller, qp_solver=None, n_steps=None, cpu_time: list | None = None, fallback=None) -> tuple[Episode, float]:
    """Run one episode; returns it and its wall time (and appends its CPU time to ``cpu_time``)."""
    arm, specs = arm_from(cfg), barrier_specs(cfg)
    ref = reference_trajectory(cfg, arm)
    events = impulse_schedule(cfg, np.random.default_rng(cfg.seed))
    t0, c0 = time.perf_counter(), time.process_time()
    item = drain(simulate_episode(cfg, arm, specs, ref, controller, events, qp_solver=qp_solver, n_steps=n_steps, fallback=fallback))
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

    # 4. the filter step on every state of a hard-impact episode: the Python safest torque against the torch one
    say(Snapshot(0.7, "filter step with infeasible states: Python fallback against torch"))
    hard = Config(**{**HARD_IMPACTS, "duration": 3.0 if quick else 10.0})
    report["filter_step_infeasible"] = _fallback_side_by_side(hard, repeats=1 if quick else 3)

    # 5. the batched Monte Carlo throughput on the device
    n_mc = 64 if quick else 1024
    say(Snapshot(0.8, f"Monte Carlo throughput, {n_mc} scenarios"))
    mc = Config(mc_duration=0.5 if quick else 2.0)
    arm, specs = arm_from(mc), barrier_specs(mc)
    n_steps = int(round(mc.mc_duration / mc.dt))
    ref = reference_trajectory(mc, arm, steps=n_steps + 1)
    steps, scen, lx, ly = monte_carlo_events(mc, n_mc, np.random.default_rng(0))
    ev = group_events(np.tile(steps, 3), np.concatenate([scen + c * n_mc for c in range(3)]), np.tile(lx, 3), np.tile(ly, 3))
    x0 = np.tile(np.r_[ref.q[0], ref.dq[0]], (3 * n_mc, 1))
    t0, c0 = time.perf_counter(), time.process_time()
    drain(simulate_batch(mc, arm, specs, ref.q, ref.dq, ref.ddq, np.repeat(np.arange(3), n_mc), x0,
                         np.full((3 * n_mc, len(specs)), mc.k1), 0, n_steps, ev, dev))
    wall_mc, cpu_mc = time.perf_counter() - t0, time.process_time() - c0
    report["monte_carlo"] = dict(scenarios=n_mc, episodes=3 * n_mc, steps=n_steps, simulated_s=mc.mc_duration, wall_s=wall_mc,
                                 cpu_s=cpu_mc, step_ms=1e3 * wall_mc / n_steps,
                                 realtime_factor=mc.mc_duration / wall_mc,  # the whole batch against the clock
                                 realtime_factor_cpu_time=mc.mc_duration / cpu_mc,
                                 episode_steps_per_s=3 * n_mc * n_steps / wall_mc,
                                 batched_realtime_factor=3 * n_mc * mc.mc_duration / wall_mc)  # every episode's seconds summed
    with cpu_threads(mc.mc_threads, dev):  # the thread count the Monte Carlo runs with
        report["monte_carlo"]["one_row_qp"] = _one_row_qp_side_by_side(3 * n_mc, dev, repeats=50 if quick else 300)
    report["targets"] = dict(direct_step_under_0p1_ms=backends["active_set"]["median_ms"] < 0.1,
                             realtime_factor_at_least_10=report["episode"]["realtime_factor"] >= 10.0,
                             filter_step_p99_under_0p1_ms_all_states=report["filter_step_infeasible"]["python"]["p99_ms"] < 0.1,
                             monte_carlo_at_least_real_time=report["monte_carlo"]["realtime_factor"] >= 1.0)
    say(Snapshot(1.0, "done"))
    return report


def _fallback_side_by_side(cfg: Config, repeats: int) -> dict:
    """The adaptive episode on ``cfg`` with the Python safest torque and with the torch one, alternating ``repeats``
    times: the controller step's percentiles on every state and on the infeasible ones (median over the repeats), and
    the largest torque difference between the two (0: the same torques)."""
    runs: dict = {"python": [], "torch": []}
    for _ in range(repeats):
        for name, fallback in (("python", None), ("torch", safest_torque_torch)):
            runs[name].append(_episode(cfg, ADAPTIVE, fallback=fallback)[0])
    out: dict = {"scenario": {k: getattr(cfg, k) for k in ("barrier", "impulse_ns", "impulse_period", "tau_max", "duration")},
                 "steps": cfg.steps, "infeasible_steps": int(runs["python"][0].infeasible.sum())}
    for name, eps in runs.items():
        ms = [e.step_s * 1e3 for e in eps]
        inf = eps[0].infeasible
        out[name] = dict(median_ms=float(np.median([np.median(m) for m in ms])),
                         p99_ms=float(np.median([np.percentile(m, 99) for m in ms])),
                         feasible_p99_ms=float(np.median([np.percentile(m[~inf], 99) for m in ms])),
                         infeasible_median_ms=float(np.median([np.median(m[inf]) for m in ms])) if inf.any() else None)
    out["p99_ratio_torch_over_python"] = out["torch"]["p99_ms"] / out["python"]["p99_ms"]
    out["max_abs_tau_diff"] = float(max(np.abs(a.tau - b.tau).max() for a, b in zip(runs["python"], runs["torch"])))
    return out


def _one_row_qp_side_by_side(rows: int, device, repeats: int) -> dict:
    """The Monte Carlo's one-row QP (barrier row + torque box) on ``rows`` random states: the masked max/min over the
    kinks against the sorted (B, 5, 2) version it replaced, timed alternately; and their largest difference."""
    import torch

    from .qp import solve_one_row_box_batched

    g = torch.Generator().manual_seed(0)
    a, tn = torch.randn(rows, 2, generator=g, dtype=torch.float64) * 30.0, torch.randn(rows, 2, generator=g, dtype=torch.float64) * 80.0
    b = torch.randn(rows, generator=g, dtype=torch.float64) * 2000.0
    a, tn, b = a.to(device), tn.to(device), b.to(device)
    parts = (a[:, 0].contiguous(), a[:, 1].contiguous(), b, tn[:, 0].contiguous(), tn[:, 1].contiguous())
    times: dict = {"masked": [], "sorted": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        x1, x2, _ok = solve_one_row_box_batched(*parts, 80.0)
        times["masked"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref, _ok = solve_one_row_box_sorted(a, b, tn, 80.0)
        times["sorted"].append(time.perf_counter() - t0)
    med = {k: float(np.median(v) * 1e3) for k, v in times.items()}
    return dict(rows=rows, masked_median_ms=med["masked"], sorted_median_ms=med["sorted"], speedup=med["sorted"] / med["masked"],
                max_abs_diff=float((torch.stack((x1, x2), 1) - ref).abs().max()))
