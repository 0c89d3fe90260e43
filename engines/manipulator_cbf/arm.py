"""The planar two-link arm: M(q)q̈ + C(q,q̇)q̇ + G(q) = τ, kinematics, impacts and a fixed-step RK4.

Every function is written with arithmetic operators only, plus the ``sin``/``cos`` it is handed, so the
same formulas run on Python floats (the real-time episode, one state at a time) and on torch tensors
(the batched Monte Carlo). Conventions: base at the origin, q1 measured from +x, q2 relative to link 1,
gravity along -y, p = (l1 c1 + l2 c12, l1 s1 + l2 s12).
"""

from __future__ import annotations

import math
from typing import NamedTuple


class Arm(NamedTuple):
    """Lumped constants of the standard two-link model (Spong, Hutchinson & Vidyasagar, ch. 7)."""

    alpha: float  # m1 lc1² + I1 + m2 (l1² + lc2²) + I2
    beta: float  # m2 l1 lc2
    delta: float  # m2 lc2² + I2
    g1: float  # (m1 lc1 + m2 l1) g
    g2: float  # m2 lc2 g
    l1: float
    l2: float


def arm_from(cfg) -> Arm:
    return Arm(
        alpha=cfg.m1 * cfg.lc1**2 + cfg.I1 + cfg.m2 * (cfg.l1**2 + cfg.lc2**2) + cfg.I2,
        beta=cfg.m2 * cfg.l1 * cfg.lc2,
        delta=cfg.m2 * cfg.lc2**2 + cfg.I2,
        g1=(cfg.m1 * cfg.lc1 + cfg.m2 * cfg.l1) * cfg.gravity,
        g2=cfg.m2 * cfg.lc2 * cfg.gravity,
        l1=cfg.l1,
        l2=cfg.l2,
    )


def mass_matrix(arm: Arm, c2):
    """M(q) = [[α + 2βc2, δ + βc2], [δ + βc2, δ]] (symmetric positive definite)."""
    m12 = arm.delta + arm.beta * c2
    return arm.alpha + 2.0 * arm.beta * c2, m12, arm.delta


def coriolis_matrix(arm: Arm, s2, dq1, dq2):
    """C(q, q̇) with the Christoffel choice: [[-βs2 q̇2, -βs2 (q̇1 + q̇2)], [βs2 q̇1, 0]], so Ṁ - 2C is skew."""
    hc = -arm.beta * s2
    return hc * dq2, hc * (dq1 + dq2), -hc * dq1, 0.0 * dq1


def bias(arm: Arm, s2, c1, c12, dq1, dq2):
    """C(q,q̇)q̇ + G(q): the torque the arm needs to hold q̈ = 0."""
    hc = -arm.beta * s2
    g2 = arm.g2 * c12
    return hc * (2.0 * dq1 + dq2) * dq2 + arm.g1 * c1 + g2, -hc * dq1 * dq1 + g2


def inverse_2x2(m11, m12, m22):
    det = m11 * m22 - m12 * m12
    return m22 / det, -m12 / det, m11 / det


def acceleration(arm: Arm, sin, cos, q1, q2, dq1, dq2, t1, t2):
    """q̈ = M⁻¹(τ - C q̇ - G)."""
    c1, s2, c2, c12 = cos(q1), sin(q2), cos(q2), cos(q1 + q2)
    m11, m12, m22 = mass_matrix(arm, c2)
    b1, b2 = bias(arm, s2, c1, c12, dq1, dq2)
    r1, r2 = t1 - b1, t2 - b2
    det = m11 * m22 - m12 * m12
    return (m22 * r1 - m12 * r2) / det, (m11 * r2 - m12 * r1) / det


def rk4_step(arm: Arm, sin, cos, q1, q2, dq1, dq2, t1, t2, dt, accel0=None):
    """One classical Runge-Kutta step of ẋ = (q̇, q̈(x, τ)) with the torque held over the step.

    ``accel0``: q̈ at the step's start when the caller already has it (the controller computed M and C q̇ + G there);
    it must be ``acceleration(...)`` of the same state, which the result then equals to the bit.
    """
    a1, a2 = acceleration(arm, sin, cos, q1, q2, dq1, dq2, t1, t2) if accel0 is None else accel0
    h = 0.5 * dt
    b1, b2 = acceleration(arm, sin, cos, q1 + h * dq1, q2 + h * dq2, dq1 + h * a1, dq2 + h * a2, t1, t2)
    v1, v2 = dq1 + h * a1, dq2 + h * a2
    c1_, c2_ = acceleration(arm, sin, cos, q1 + h * v1, q2 + h * v2, dq1 + h * b1, dq2 + h * b2, t1, t2)
    w1, w2 = dq1 + h * b1, dq2 + h * b2
    u1, u2 = dq1 + dt * c1_, dq2 + dt * c2_
    d1, d2 = acceleration(arm, sin, cos, q1 + dt * w1, q2 + dt * w2, u1, u2, t1, t2)
    x1 = dq1 + 2.0 * v1 + 2.0 * w1 + u1
    x2 = dq2 + 2.0 * v2 + 2.0 * w2 + u2
    return (
        q1 + dt / 6.0 * x1,
        q2 + dt / 6.0 * x2,
        dq1 + dt / 6.0 * (a1 + 2.0 * b1 + 2.0 * c1_ + d1),
        dq2 + dt / 6.0 * (a2 + 2.0 * b2 + 2.0 * c2_ + d2),
    )


def end_effector(arm: Arm, s1, c1, s12, c12):
    """p(q) = (l1 c1 + l2 c12, l1 s1 + l2 s12)."""
    return arm.l1 * c1 + arm.l2 * c12, arm.l1 * s1 + arm.l2 * s12


def jacobian(arm: Arm, s1, c1, s12, c12):
    """J(q) = ∂p/∂q, row-major (J11, J12, J21, J22)."""
    return -arm.l1 * s1 - arm.l2 * s12, -arm.l2 * s12, arm.l1 * c1 + arm.l2 * c12, arm.l2 * c12


def jdot_qdot(arm: Arm, s1, c1, s12, c12, dq1, dq2):
    """J̇(q, q̇) q̇ = -(l1 q̇1² (c1, s1) + l2 (q̇1 + q̇2)² (c12, s12))."""
    w = dq1 + dq2
    return -arm.l1 * c1 * dq1 * dq1 - arm.l2 * c12 * w * w, -arm.l1 * s1 * dq1 * dq1 - arm.l2 * s12 * w * w


def impact(arm: Arm, sin, cos, q1, q2, lam_x, lam_y):
    """Velocity jump of an end-effector impulse Λ: Δq̇ = M⁻¹ Jᵀ Λ (positions are continuous)."""
    s1, c1, s12, c12 = sin(q1), cos(q1), sin(q1 + q2), cos(q1 + q2)
    j11, j12, j21, j22 = jacobian(arm, s1, c1, s12, c12)
    f1, f2 = j11 * lam_x + j21 * lam_y, j12 * lam_x + j22 * lam_y
    m11, m12, m22 = mass_matrix(arm, cos(q2))
    i11, i12, i22 = inverse_2x2(m11, m12, m22)
    return i11 * f1 + i12 * f2, i12 * f1 + i22 * f2


def energy(arm: Arm, sin, cos, q1, q2, dq1, dq2):
    """Total energy ½ q̇ᵀ M q̇ + V(q), V = g1 s1 + g2 s12 (conserved when τ = 0)."""
    m11, m12, m22 = mass_matrix(arm, cos(q2))
    kinetic = 0.5 * (m11 * dq1 * dq1 + 2.0 * m12 * dq1 * dq2 + m22 * dq2 * dq2)
    return kinetic + arm.g1 * sin(q1) + arm.g2 * sin(q1 + q2)


def inverse_kinematics(arm: Arm, x, y, elbow_up: bool, np):
    """Analytic IK (vectorised over numpy arrays): q2 = ±acos((r² - l1² - l2²)/(2 l1 l2))."""
    c2 = (x * x + y * y - arm.l1**2 - arm.l2**2) / (2.0 * arm.l1 * arm.l2)
    c2 = np.clip(c2, -1.0, 1.0)
    s2 = -np.sqrt(1.0 - c2 * c2) if elbow_up else np.sqrt(1.0 - c2 * c2)
    q2 = np.arctan2(s2, c2)
    q1 = np.arctan2(y, x) - np.arctan2(arm.l2 * s2, arm.l1 + arm.l2 * c2)
    return q1, q2


SCALAR = (math.sin, math.cos)
