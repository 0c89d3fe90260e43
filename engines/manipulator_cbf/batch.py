"""Many episodes at once on a torch device: the Monte Carlo and the impulse-magnitude sweep.

Row r of the batch runs controller ``controllers[r]`` (0 nominal, 1 fixed gain, 2 adaptive) through its own
impacts; the same arm, barrier and QP formulas as the one-state path (``episode.py``) run on (B,) tensors and
the QP is the batched exact active-set enumeration. Only per-row statistics are kept, so memory is O(B).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from engines.device import cpu_threads

from .arm import Arm, bias, end_effector, impact, jacobian, jdot_qdot, mass_matrix, rk4_step
from .barriers import barrier_terms, hocbf_row
from .episode import SimulationDiverged
from .qp import safest_torque_batched, solve_active_set_batched, solve_one_row_box_batched


@dataclass
class BatchStats:
    min_h: np.ndarray  # (B,) smallest barrier value over the run, m (floor) or m² (circle)
    violations: np.ndarray  # (B,) steps with min_i h_i < 0
    infeasible: np.ndarray  # (B,) steps where the QP was infeasible (safest-torque fallback)
    max_abs_tau: np.ndarray  # (B,) N·m
    h_at_impact: np.ndarray  # (B,) smallest min_i h_i at the row's impacts (inf without impacts)


def simulate_batch(
    cfg,
    arm: Arm,
    specs: list[tuple],
    ref_q: np.ndarray,
    ref_dq: np.ndarray,
    ref_ddq: np.ndarray,
    controllers: np.ndarray,
    x0: np.ndarray,
    k1_0: np.ndarray,
    start_step: int,
    n_steps: int,
    events: dict[int, tuple[np.ndarray, np.ndarray]],
    device,
    yield_every: int = 100,
) -> Iterator[float | BatchStats]:
    """Yields the fraction done every ``yield_every`` steps, then :class:`BatchStats`.

    ``x0`` (B, 4) and ``k1_0`` (B, nb) are the state and gains at ``start_step`` (before that step's jump);
    ``events`` maps a step to (row indices, Λ (n, 2)); the reference arrays are indexed by absolute step.
    """

    with cpu_threads(cfg.mc_threads, device):  # per OS thread with OpenMP
        yield from _simulate_batch(cfg, arm, specs, ref_q, ref_dq, ref_ddq, controllers, x0, k1_0, start_step, n_steps, events, device,
                                   yield_every)


def _simulate_batch(cfg, arm, specs, ref_q, ref_dq, ref_ddq, controllers, x0, k1_0, start_step, n_steps, events, device, yield_every):
    import torch

    f64 = dict(dtype=torch.float64, device=device)
    sin, cos = torch.sin, torch.cos
    B, nb = len(controllers), len(specs)
    ctrl = torch.as_tensor(controllers, device=device)
    nominal, adaptive = ctrl == 0, ctrl == 2
    q1, q2, dq1, dq2 = (torch.as_tensor(x0[:, i], **f64).clone() for i in range(4))
    k1 = torch.as_tensor(k1_0, **f64).clone()
    k1n, k2, tmax, dt = cfg.k1, cfg.k2, cfg.tau_max, cfg.dt
    relax = math.exp(-cfg.relax_rate * dt)
    rq, rdq, rddq = (torch.as_tensor(a, **f64) for a in (ref_q, ref_dq, ref_ddq))
    box_A = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]], **f64).expand(B, 4, 2)
    box_b = torch.full((B, 4), -tmax, **f64)
    min_h = torch.full((B,), float("inf"), **f64)
    viol = torch.zeros(B, dtype=torch.long, device=device)
    infeas = torch.zeros(B, dtype=torch.long, device=device)
    max_tau = torch.zeros(B, **f64)
    h_imp = torch.full((B,), float("inf"), **f64)
    ev = {s: (torch.as_tensor(i, device=device), torch.as_tensor(lam, **f64)) for s, (i, lam) in events.items()}

    def terms_of(q1, q2, dq1, dq2):
        s1, c1, s12, c12 = sin(q1), cos(q1), sin(q1 + q2), cos(q1 + q2)
        px, py = end_effector(arm, s1, c1, s12, c12)
        jac = jacobian(arm, s1, c1, s12, c12)
        return barrier_terms(specs, q1, q2, dq1, dq2, px, py, jac, jdot_qdot(arm, s1, c1, s12, c12, dq1, dq2))

    for n in range(n_steps + 1):
        k = start_step + n
        if k in ev:
            idx, lam = ev[k]
            d1, d2 = impact(arm, sin, cos, q1[idx], q2[idx], lam[:, 0], lam[:, 1])
            dq1 = dq1.index_add(0, idx, d1)
            dq2 = dq2.index_add(0, idx, d2)
            # adaptive law at the jump: k₁⁺ = min(k1_max, max(k₁⁻, k₁,nom, (ε - ḣ⁺)/h⁺))
            terms = terms_of(q1, q2, dq1, dq2)
            hit = torch.zeros(B, dtype=torch.bool, device=device)
            hit[idx] = True
            h_now = torch.stack([t[0] for t in terms], 1).amin(1)
            h_imp = torch.where(hit, torch.minimum(h_imp, h_now), h_imp)
            for i, (h, g1, g2, _d) in enumerate(terms):
                hd = g1 * dq1 + g2 * dq2
                need = torch.where(h > 0, (cfg.eps - hd) / torch.where(h > 0, h, torch.ones_like(h)), torch.full_like(h, cfg.k1_max))
                new = torch.clamp(torch.maximum(k1[:, i], need), min=k1n, max=cfg.k1_max)
                k1[:, i] = torch.where(hit & adaptive, new, k1[:, i])
        terms = terms_of(q1, q2, dq1, dq2)
        hmin = torch.stack([t[0] for t in terms], 1).amin(1)
        min_h = torch.minimum(min_h, hmin)
        viol += (hmin < 0).long()
        if n == n_steps:
            break
        kk = min(k, len(rq) - 1)
        c2, s2, c1, c12 = cos(q2), sin(q2), cos(q1), cos(q1 + q2)
        m11, m12, m22 = mass_matrix(arm, c2)
        b1, b2 = bias(arm, s2, c1, c12, dq1, dq2)
        r1 = rddq[kk, 0] + cfg.kd * (rdq[kk, 0] - dq1) + cfg.kp * (rq[kk, 0] - q1)
        r2 = rddq[kk, 1] + cfg.kd * (rdq[kk, 1] - dq2) + cfg.kp * (rq[kk, 1] - q2)
        tn = torch.stack((m11 * r1 + m12 * r2 + b1, m12 * r1 + m22 * r2 + b2), 1)
        det = m11 * m22 - m12 * m12
        minv = (m22 / det, -m12 / det, m11 / det)
        k1dot = -cfg.relax_rate * (k1 - k1n) * adaptive[:, None] if cfg.gain_rate_term else torch.zeros_like(k1)
        rows = [hocbf_row(t, minv, (b1, b2), dq1, dq2, k1[:, i], k1dot[:, i], k2) for i, t in enumerate(terms)]
        A = torch.stack([torch.stack((r[0], r[1]), 1) for r in rows], 1)
        b = torch.stack([r[2] for r in rows], 1)
        if nb == 1:  # the common case: one barrier row and the box, solved exactly by its 1-D dual (safest torque included)
            x, ok = solve_one_row_box_batched(A[:, 0], b[:, 0], tn, tmax)
            bad = ~ok & ~nominal
        else:
            x, ok = solve_active_set_batched(torch.cat((A, box_A), 1), torch.cat((b, box_b), 1), tn)
            bad = ~ok & ~nominal
            if bool(bad.any()):
                x = x.clone()
                x[bad] = safest_torque_batched(A[bad], b[bad], tmax)
        infeas += bad.long()
        tau = torch.where(nominal[:, None], tn.clamp(-tmax, tmax), x)
        max_tau = torch.maximum(max_tau, tau.abs().amax(1))
        q1, q2, dq1, dq2 = rk4_step(arm, sin, cos, q1, q2, dq1, dq2, tau[:, 0], tau[:, 1], dt)
        k1 = torch.where(adaptive[:, None], k1n + (k1 - k1n) * relax, k1)
        if n % yield_every == yield_every - 1:
            yield (n + 1) / n_steps
    stats = BatchStats(*(v.cpu().numpy() for v in (min_h, viol, infeas, max_tau, h_imp)))
    bad = ~(np.isfinite(stats.min_h) & np.isfinite(stats.max_abs_tau))
    if bad.any():
        raise SimulationDiverged(start_step * dt + n_steps * dt, f"the batch ({int(bad.sum())} of {B} rows)")
    yield stats


def monte_carlo_events(cfg, n_scenarios: int, rng: np.random.Generator):
    """Random impacts per scenario: count ~ Poisson(mc_rate·T), times ~ U(0, T), ‖Λ‖ ~ U(mc_ns_lo, mc_ns_hi),
    angle ~ impulse_angle_deg + U(-spread, spread). Returns (step, scenario, Λx, Λy) arrays."""
    counts = rng.poisson(cfg.mc_rate * cfg.mc_duration, n_scenarios)
    total = int(counts.sum())
    scen = np.repeat(np.arange(n_scenarios), counts)
    steps = np.minimum((rng.uniform(0.0, cfg.mc_duration, total) / cfg.dt).astype(int), cfg.mc_steps - 1)
    mag = rng.uniform(cfg.mc_ns_lo, cfg.mc_ns_hi, total)
    ang = np.radians(cfg.impulse_angle_deg + rng.uniform(-cfg.mc_angle_spread_deg, cfg.mc_angle_spread_deg, total))
    return steps, scen, mag * np.cos(ang), mag * np.sin(ang)


def group_events(steps, rows, lx, ly) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """step -> (row indices, Λ (n, 2)); several impacts on one row at one step are summed by index_add."""
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    order = np.argsort(steps, kind="stable")
    steps, rows, lx, ly = steps[order], rows[order], lx[order], ly[order]
    uniq, first = np.unique(steps, return_index=True)
    bounds = list(first[1:]) + [len(steps)]
    for s, a, e in zip(uniq, first, bounds):
        out[int(s)] = (rows[a:e], np.stack((lx[a:e], ly[a:e]), 1))
    return out
