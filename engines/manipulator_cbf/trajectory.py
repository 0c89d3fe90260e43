"""The reference trajectory the nominal controller tracks: an end-effector ellipse (dipping through the barrier)
mapped to joint space by analytic IK."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arm import Arm, inverse_kinematics, jacobian


@dataclass
class Trajectory:
    t: np.ndarray  # (K,)
    p: np.ndarray  # (K, 2) end-effector reference
    q: np.ndarray  # (K, 2)
    dq: np.ndarray  # (K, 2)
    ddq: np.ndarray  # (K, 2)


def reference_trajectory(cfg, arm: Arm, steps: int | None = None) -> Trajectory:
    """p_ref(t) = (cx + rx sin ωt, cy + ry cos ωt); q̇_ref = J⁻¹ṗ, q̈_ref = J⁻¹(p̈ - J̇q̇) (vectorised)."""
    n = cfg.steps + 1 if steps is None else steps
    t = np.arange(n) * cfg.dt
    w = 2.0 * np.pi / cfg.ref_period
    s, c = np.sin(w * t), np.cos(w * t)
    x, y = cfg.ref_cx + cfg.ref_rx * s, cfg.ref_cy + cfg.ref_ry * c
    vx, vy = cfg.ref_rx * w * c, -cfg.ref_ry * w * s
    ax, ay = -cfg.ref_rx * w * w * s, -cfg.ref_ry * w * w * c
    q1, q2 = inverse_kinematics(arm, x, y, cfg.elbow_up, np)
    s1, c1, s12, c12 = np.sin(q1), np.cos(q1), np.sin(q1 + q2), np.cos(q1 + q2)
    j11, j12, j21, j22 = jacobian(arm, s1, c1, s12, c12)
    det = j11 * j22 - j12 * j21
    dq1, dq2 = (j22 * vx - j12 * vy) / det, (j11 * vy - j21 * vx) / det
    w1 = dq1 + dq2
    rx = ax + arm.l1 * c1 * dq1**2 + arm.l2 * c12 * w1**2  # p̈ - J̇q̇
    ry = ay + arm.l1 * s1 * dq1**2 + arm.l2 * s12 * w1**2
    ddq1, ddq2 = (j22 * rx - j12 * ry) / det, (j11 * ry - j21 * rx) / det
    return Trajectory(t, np.stack((x, y), 1), np.stack((q1, q2), 1), np.stack((dq1, dq2), 1), np.stack((ddq1, ddq2), 1))
