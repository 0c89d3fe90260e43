"""One episode, one controller, one state at a time in plain Python floats: the real-time path.

Each 1 ms step: apply any impact scheduled for this step (q̇⁺ = q̇⁻ + M⁻¹JᵀΛ, or a custom jump map
x⁺ = x + I(x)), let the adaptive law react to it, compute the controller's torque (timed), hold it over
one RK4 step, relax the adaptive gain. A 2-variable QP solved by exact active-set enumeration takes a few
microseconds in Python, so the whole loop runs many times faster than real time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from .arm import SCALAR, Arm, bias, end_effector, impact, inverse_2x2, jacobian, jdot_qdot, mass_matrix, rk4_step
from .barriers import barrier_terms, hocbf_row, jump_gain
from .qp import box_rows, safest_torque, solve_active_set
from .trajectory import Trajectory

NOMINAL, FIXED_GAIN, ADAPTIVE = 0, 1, 2

# A custom jump map: (t, x = (q1, q2, q̇1, q̇2), Λ) -> Δx; the default is the end-effector impact.
JumpMap = Callable[[float, np.ndarray, np.ndarray], np.ndarray]


class SimulationDiverged(ValueError):
    """The arm's state stopped being finite: the step is too long for the gains (or the model too stiff)."""

    def __init__(self, t: float, where: str = "the simulation"):
        super().__init__(f"dt: {where} diverged at t = {t:.4g} s (the arm's state is no longer finite); lower dt or the gains "
                         "kp, kd, k1, k2 (allowed: a step the closed loop stays finite with)")


@dataclass
class Episode:
    """Time series of one controller's run; row k is the state at the start of step k (before its jump)."""

    q: np.ndarray  # (K+1, 2) rad
    dq: np.ndarray  # (K+1, 2) rad/s
    ee: np.ndarray  # (K+1, 2) m
    tau: np.ndarray  # (K, 2) N·m applied
    tau_nom: np.ndarray  # (K, 2) N·m computed-torque PD
    h: np.ndarray  # (K+1, nb) barrier values (after the step's jump)
    psi1: np.ndarray  # (K+1, nb) ψ₁ = ḣ + k₁h (after the jump)
    gain: np.ndarray  # (K+1, nb) k₁ used at step k
    infeasible: np.ndarray  # (K,) bool: QP infeasible, safest-torque fallback applied
    step_s: np.ndarray  # (K,) controller wall time per step, s
    qp_A: np.ndarray  # (K, nb, 2) barrier rows aᵀτ ≥ b of the QP at each step
    qp_b: np.ndarray  # (K, nb)


def drain(generator):
    """Run a progress-yielding generator to its end and return its last item (the finished run)."""
    item = None
    for item in generator:  # noqa: B007
        pass
    return item


def impulse_schedule(cfg, rng: np.random.Generator) -> list[tuple[int, float, float]]:
    """Impact events ``(step, Λx, Λy)``: periodic from ``impulse_first``, Poisson at ``impulse_rate``, or none."""
    if cfg.impulse_mode == "none" or cfg.impulse_ns == 0.0:
        return []
    if cfg.impulse_mode == "scheduled":
        times = np.arange(cfg.impulse_first, cfg.duration, cfg.impulse_period)
    else:
        n = rng.poisson(cfg.impulse_rate * cfg.duration)
        times = np.sort(rng.uniform(0.0, cfg.duration, n))
    ang = math.radians(cfg.impulse_angle_deg)
    lx, ly = cfg.impulse_ns * math.cos(ang), cfg.impulse_ns * math.sin(ang)
    steps = sorted({int(round(t / cfg.dt)) for t in times if int(round(t / cfg.dt)) < cfg.steps})
    return [(s, lx, ly) for s in steps]


def simulate_episode(
    cfg,
    arm: Arm,
    specs: list[tuple],
    ref: Trajectory,
    controller: int,
    events: list[tuple[int, float, float]],
    jump_map: JumpMap | None = None,
    start_step: int = 0,
    x0: tuple[float, float, float, float] | None = None,
    k1_0: list[float] | None = None,
    n_steps: int | None = None,
    qp_solver: Callable | None = None,
    fallback: Callable | None = None,
) -> Iterator[float | Episode]:
    """Yields the fraction done every 500 steps, then the finished :class:`Episode`.

    By default the run starts on the reference at step 0 with k₁ = k₁,nom and lasts ``cfg.steps``; the
    impulse sweep starts mid-episode from a recorded state (``start_step``, ``x0``, ``k1_0``, ``n_steps``).
    Event steps and reference rows are absolute step indices. ``qp_solver(rows, τ1, τ2) -> (τ1, τ2, ok)``
    replaces the active-set enumeration (the benchmark runs the episode on cvxpy this way); ``fallback(rows, τ_max)
    -> (τ1, τ2)`` replaces the safest torque of infeasible steps (the benchmark times the torch one this way).
    """
    solve = qp_solver or solve_active_set
    safest = fallback or safest_torque
    sin, cos = SCALAR
    K, dt, nb = (cfg.steps if n_steps is None else n_steps), cfg.dt, len(specs)
    kp, kd, k1n, k2, tmax = cfg.kp, cfg.kd, cfg.k1, cfg.k2, cfg.tau_max
    relax = math.exp(-cfg.relax_rate * dt)
    box = box_rows(tmax)
    q_out = np.empty((K + 1, 2))
    dq_out = np.empty((K + 1, 2))
    ee = np.empty((K + 1, 2))
    tau_out = np.empty((K, 2))
    taun_out = np.empty((K, 2))
    h_out = np.empty((K + 1, nb))
    psi_out = np.empty((K + 1, nb))
    gain_out = np.empty((K + 1, nb))
    infeasible = np.zeros(K, dtype=bool)
    step_s = np.empty(K)
    qp_A = np.empty((K, nb, 2))
    qp_b = np.empty((K, nb))
    ev: dict[int, list[tuple[float, float]]] = {}
    for s, lx, ly in events:
        ev.setdefault(s, []).append((lx, ly))
    rq, rdq, rddq = ref.q.tolist(), ref.dq.tolist(), ref.ddq.tolist()
    q1, q2, dq1, dq2 = (*rq[start_step], *rdq[start_step]) if x0 is None else (float(v) for v in x0)
    k1 = [k1n] * nb if k1_0 is None else [float(g) for g in k1_0]
    adaptive = controller == ADAPTIVE
    use_qp = controller != NOMINAL
    rate_term = cfg.gain_rate_term
    clock = time.perf_counter

    def barrier_state(q1, q2, dq1, dq2):
        s1, c1, s12, c12 = sin(q1), cos(q1), sin(q1 + q2), cos(q1 + q2)
        px, py = end_effector(arm, s1, c1, s12, c12)
        jac = jacobian(arm, s1, c1, s12, c12)
        return px, py, barrier_terms(specs, q1, q2, dq1, dq2, px, py, jac, jdot_qdot(arm, s1, c1, s12, c12, dq1, dq2))

    for k in range(K + 1):
        q_out[k] = q1, q2
        dq_out[k] = dq1, dq2
        if k + start_step in ev:
            for lx, ly in ev[k + start_step]:
                if jump_map is None:
                    d1, d2 = impact(arm, sin, cos, q1, q2, lx, ly)
                    dq1, dq2 = dq1 + d1, dq2 + d2
                else:
                    dx = np.asarray(jump_map((k + start_step) * dt, np.array([q1, q2, dq1, dq2]), np.array([lx, ly])), dtype=float)
                    q1, q2, dq1, dq2 = (float(v) for v in np.array([q1, q2, dq1, dq2]) + dx)
            if adaptive:  # the adaptive law reacts to the jump's effect on ḣ and to the distance h⁺
                _, _, terms = barrier_state(q1, q2, dq1, dq2)
                k1 = [jump_gain(k1[i], t[0], t[1] * dq1 + t[2] * dq2, k1n, cfg.eps, cfg.k1_max) for i, t in enumerate(terms)]
        if k == K:
            px, py, terms = barrier_state(q1, q2, dq1, dq2)
            ee[k] = px, py
            for i, t in enumerate(terms):
                h_out[k, i], psi_out[k, i], gain_out[k, i] = t[0], t[1] * dq1 + t[2] * dq2 + k1[i] * t[0], k1[i]
            break
        t0 = clock()
        # ---- controller ------------------------------------------------------------------------
        c1, s2, c2, c12 = cos(q1), sin(q2), cos(q2), cos(q1 + q2)
        m11, m12, m22 = mass_matrix(arm, c2)
        b1, b2 = bias(arm, s2, c1, c12, dq1, dq2)
        qr, dqr, ddqr = rq[k + start_step], rdq[k + start_step], rddq[k + start_step]
        r1 = ddqr[0] + kd * (dqr[0] - dq1) + kp * (qr[0] - q1)  # computed torque: τ = M(q̈_r + Kd ė + Kp e) + Cq̇ + G
        r2 = ddqr[1] + kd * (dqr[1] - dq2) + kp * (qr[1] - q2)
        tn1, tn2 = m11 * r1 + m12 * r2 + b1, m12 * r1 + m22 * r2 + b2
        if not use_qp:
            tau1, tau2 = min(tmax, max(-tmax, tn1)), min(tmax, max(-tmax, tn2))
            step_s[k] = clock() - t0
        px, py, terms = barrier_state(q1, q2, dq1, dq2)
        minv = inverse_2x2(m11, m12, m22)
        k1dot = [-cfg.relax_rate * (g - k1n) if (adaptive and rate_term) else 0.0 for g in k1]
        rows = []
        for i, term in enumerate(terms):
            a1, a2, b, h, _hd, psi1 = hocbf_row(term, minv, (b1, b2), dq1, dq2, k1[i], k1dot[i], k2)
            rows.append((a1, a2, b))
            h_out[k, i], psi_out[k, i], gain_out[k, i] = h, psi1, k1[i]
            qp_A[k, i] = a1, a2
            qp_b[k, i] = b
        if use_qp:
            tau1, tau2, ok = solve(rows + box, tn1, tn2)
            if not ok:
                tau1, tau2 = safest(rows, tmax)
                infeasible[k] = True
            step_s[k] = clock() - t0
        ee[k] = px, py
        tau_out[k] = tau1, tau2
        taun_out[k] = tn1, tn2
        e1, e2 = tau1 - b1, tau2 - b2  # RK4's first stage: q̈ = M⁻¹(τ - Cq̇ - G) with the controller's M and bias
        det = m11 * m22 - m12 * m12
        try:
            q1, q2, dq1, dq2 = rk4_step(arm, sin, cos, q1, q2, dq1, dq2, tau1, tau2, dt,
                                        accel0=((m22 * e1 - m12 * e2) / det, (m11 * e2 - m12 * e1) / det))
        except ValueError:  # math.sin(±inf): the state left every finite value within the step
            q1 = math.nan
        if not math.isfinite(q1 + q2 + dq1 + dq2):
            raise SimulationDiverged((k + start_step + 1) * dt)
        if adaptive:  # k̇₁ = -λ(k₁ - k₁,nom), integrated exactly over the step
            k1 = [k1n + (g - k1n) * relax for g in k1]
        if k % 500 == 499:
            yield (k + 1) / K
    yield Episode(q_out, dq_out, ee, tau_out, taun_out, h_out, psi_out, gain_out, infeasible, step_s, qp_A, qp_b)
