"""stream / run: the three controllers on one scenario, the QP backend check, the impulse sweep, the Monte Carlo.

The adaptive law is our reading of arXiv:2503.10164 (its full text was not available): at each jump the gain
rises to the smallest k₁ that restores ψ₁⁺ = ḣ⁺ + k₁h⁺ ≥ ε (so it grows with the jump's effect on ḣ and with
1/h, the closeness to the boundary), then relaxes as k̇₁ = -λ(k₁ - k₁,nom); the HOCBF constraint keeps the
k̇₁h term of ψ̇₁. Config fields ``eps``, ``relax_rate``, ``k1_max`` and ``gain_rate_term`` expose the choices.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import numpy as np

from engines.base import Snapshot, consume

from .arm import arm_from
from .backends import compare_backends
from .barriers import barrier_names, barrier_specs, barrier_units
from .batch import group_events, monte_carlo_events, simulate_batch
from .config import CONTROLLERS, Config
from .episode import Episode, JumpMap, drain, impulse_schedule, simulate_episode
from .result import Result
from .trajectory import reference_trajectory

PARTS = ("episodes", "backends", "sweep", "monte_carlo")  # the stream's parts, in order


def run_episode(config: Config | None = None, controller: str = "adaptive", jump_map: JumpMap | None = None) -> Episode:
    """One controller's episode on the config's scenario (headless experiments, e.g. a custom jump map x⁺ = x + I(x))."""
    cfg = config or Config()
    arm, specs = arm_from(cfg), barrier_specs(cfg)
    events = impulse_schedule(cfg, np.random.default_rng(cfg.seed))
    return drain(simulate_episode(cfg, arm, specs, reference_trajectory(cfg, arm), CONTROLLERS.index(controller), events, jump_map))


def _backend_samples(cfg: Config, episodes: list[Episode], rng: np.random.Generator):
    """QPs met by the fixed-gain and adaptive controllers: half where the filter changed τ, half at random."""
    A = np.concatenate([episodes[1].qp_A, episodes[2].qp_A])
    b = np.concatenate([episodes[1].qp_b, episodes[2].qp_b])
    tn = np.concatenate([episodes[1].tau_nom, episodes[2].tau_nom])
    tau = np.concatenate([episodes[1].tau, episodes[2].tau])
    changed = np.flatnonzero(np.abs(tau - np.clip(tn, -cfg.tau_max, cfg.tau_max)).max(axis=1) > 1e-9)
    n = cfg.backend_samples
    pick = rng.choice(changed, min(len(changed), n // 2), replace=False) if len(changed) else np.zeros(0, int)
    pick = np.concatenate([pick, rng.choice(len(A), n - len(pick), replace=len(A) < n - len(pick))])
    return A[pick], b[pick], tn[pick]


def stream(config: Config | None = None, device: str = "auto") -> Iterator[Snapshot[Result]]:
    """The three episodes, then (each if enabled) the QP backend check, the impulse sweep and the Monte Carlo.

    A result is yielded after each part, frozen (later parts go into a fresh copy); ``Snapshot.changed`` names the
    part that is new: ``episodes``, ``backends``, ``sweep`` or ``monte_carlo``. The last part's snapshot is the final
    one and names nothing (anything may have changed): a receiver that skipped snapshots, as the job runner does
    when they come fast, or that draws only the final one, redraws everything from it.
    """
    from engines.device import resolve

    cfg = config or Config()
    dev = resolve(device)
    rng = np.random.default_rng(cfg.seed)
    arm, specs = arm_from(cfg), barrier_specs(cfg)
    names = barrier_names(specs)
    sweep_steps = cfg.sweep_steps if cfg.sweep_points else 0
    events = impulse_schedule(cfg, rng)
    k_sweep = events[0][0] if events else min(int(round(cfg.impulse_first / cfg.dt)), cfg.steps)
    ref = reference_trajectory(cfg, arm, steps=max(cfg.steps, k_sweep + sweep_steps) + 1)
    parts = ["episodes"] + (["backends"] if cfg.backend_samples else []) + (["sweep"] if sweep_steps else []) + \
        (["monte_carlo"] if cfg.mc_scenarios else [])
    # progress weights: episodes, backends, sweep, Monte Carlo (rough relative costs)
    w = np.array([3.0 * cfg.steps, 40.0 * cfg.backend_samples, 3.0 * cfg.sweep_points * sweep_steps,
                  100.0 * cfg.mc_steps * (1 if cfg.mc_scenarios else 0)])
    w = 0.999 * w / w.sum()  # only the final snapshot may report progress 1.0
    start = np.concatenate([[0.0], np.cumsum(w)])

    def done(part: str, message: str, result: Result) -> Snapshot[Result]:
        final = part == parts[-1]
        if final:
            return Snapshot(1.0, "done", result.frozen())
        return Snapshot(start[PARTS.index(part) + 1], message, result.frozen(), frozenset({part}))

    episodes: list[Episode] = []
    walls = np.zeros(3)
    for c, name in enumerate(CONTROLLERS):
        t0 = time.perf_counter()
        for item in simulate_episode(cfg, arm, specs, ref, c, events):
            if isinstance(item, Episode):
                episodes.append(item)
            else:
                yield Snapshot(start[0] + w[0] * (c + item) / 3, f"episode: {name} {item:.0%}")
        walls[c] = time.perf_counter() - t0
    K = cfg.steps
    result = Result(
        config=cfg,
        barrier_names=names,
        h_units=barrier_units(specs),
        t=ref.t[: K + 1],
        ee_ref=ref.p[: K + 1],
        **{k: np.stack([getattr(e, k) for e in episodes]) for k in ("q", "dq", "ee", "tau", "tau_nom", "h", "psi1", "gain", "infeasible")},
        step_ms=np.stack([e.step_s for e in episodes]) * 1e3,
        impulse_t=np.array([s * cfg.dt for s, _, _ in events]),
        impulse_lambda=np.array([(lx, ly) for _, lx, ly in events]).reshape(-1, 2),
        episode_wall_s=walls,
        device=str(dev),
    )
    yield done("episodes", "episodes done", result)

    if "backends" in parts:
        A, b, tn = _backend_samples(cfg, episodes, rng)
        result.backends = compare_backends(A, b, tn, cfg.tau_max)
        yield done("backends", "QP backends compared", result)

    if "sweep" in parts:
        mags = np.linspace(0.0, cfg.sweep_ns_max, cfg.sweep_points)
        ang = math.radians(cfg.impulse_angle_deg)
        min_h = np.zeros((3, len(mags)))
        viol = np.zeros((3, len(mags)), dtype=int)
        relax = math.exp(-cfg.relax_rate * cfg.dt)
        for c in range(3):
            ep = episodes[c]
            x0 = (*ep.q[k_sweep], *ep.dq[k_sweep]) if k_sweep <= K else None
            g_prev = ep.gain[max(k_sweep - 1, 0)]
            k1_0 = cfg.k1 + (g_prev - cfg.k1) * relax if c == 2 else g_prev
            for j, mag in enumerate(mags):
                ev = [(k_sweep, mag * math.cos(ang), mag * math.sin(ang))] if mag > 0 else []
                item = drain(simulate_episode(cfg, arm, specs, ref, c, ev, start_step=k_sweep, x0=x0, k1_0=k1_0, n_steps=sweep_steps))
                hmin = item.h.min(axis=1)
                min_h[c, j], viol[c, j] = hmin.min(), (hmin < 0).sum()
                yield Snapshot(start[2] + w[2] * (c * len(mags) + j + 1) / (3 * len(mags)), f"impulse sweep: {mag:.2f} N·s")
        result.sweep_ns, result.sweep_min_h, result.sweep_violations = mags, min_h, viol
        yield done("sweep", "impulse sweep done", result)

    if "monte_carlo" in parts:
        N = cfg.mc_scenarios
        n_steps = cfg.mc_steps
        mc_ref = reference_trajectory(cfg, arm, steps=n_steps + 1)
        steps, scen, lx, ly = monte_carlo_events(cfg, N, rng)
        ctrl = np.repeat(np.arange(3), N)
        rows = np.concatenate([scen + c * N for c in range(3)])
        ev = group_events(np.tile(steps, 3), rows, np.tile(lx, 3), np.tile(ly, 3))
        x0 = np.tile(np.r_[mc_ref.q[0], mc_ref.dq[0]], (3 * N, 1))
        k1_0 = np.full((3 * N, len(specs)), cfg.k1)
        stats = None
        for item in simulate_batch(cfg, arm, specs, mc_ref.q, mc_ref.dq, mc_ref.ddq, ctrl, x0, k1_0, 0, n_steps, ev, dev):
            if isinstance(item, float):
                yield Snapshot(start[3] + w[3] * item, f"Monte Carlo: {N} scenarios × 3 controllers, {item:.0%}")
            else:
                stats = item
        result.mc_min_h = stats.min_h.reshape(3, N)
        result.mc_violations = stats.violations.reshape(3, N)
        result.mc_h_at_impact = stats.h_at_impact.reshape(3, N)
        result.mc_infeasible = stats.infeasible.reshape(3, N)
        yield done("monte_carlo", "Monte Carlo done", result)


def run(config: Config | None = None, device: str = "auto") -> Result:
    return consume(stream(config, device))
