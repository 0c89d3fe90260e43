"""The arm model against physics: energy conservation, Ṁ - 2C skew, an independent Lagrangian, impact work."""

import math

import numpy as np
import pytest
import torch

from engines.manipulator_cbf.arm import (
    SCALAR,
    acceleration,
    arm_from,
    bias,
    coriolis_matrix,
    end_effector,
    energy,
    impact,
    jacobian,
    jdot_qdot,
    mass_matrix,
    rk4_step,
)
from engines.manipulator_cbf.config import Config

CFG = Config(m1=1.3, m2=0.7, l1=1.1, l2=0.9, lc1=0.6, lc2=0.35, I1=0.12, I2=0.05)
ARM = arm_from(CFG)
sin, cos = SCALAR


def _energy_drift(dt: float, seconds: float = 2.0, x0=(0.3, -1.1, 2.0, -3.0)) -> float:
    q1, q2, dq1, dq2 = x0
    e0 = energy(ARM, sin, cos, q1, q2, dq1, dq2)
    drift = 0.0
    for _ in range(int(round(seconds / dt))):
        q1, q2, dq1, dq2 = rk4_step(ARM, sin, cos, q1, q2, dq1, dq2, 0.0, 0.0, dt)
        drift = max(drift, abs(energy(ARM, sin, cos, q1, q2, dq1, dq2) - e0))
    return drift / abs(e0)


def test_energy_is_conserved_without_torque():
    assert _energy_drift(1e-3) < 1e-8


def test_energy_drift_shrinks_at_fourth_order():
    coarse, fine = _energy_drift(8e-3), _energy_drift(4e-3)
    assert 8.0 < coarse / fine < 40.0  # RK4: 2⁴ = 16


def test_mdot_minus_2c_is_skew_symmetric():
    rng = np.random.default_rng(1)
    for _ in range(200):
        q1, q2, dq1, dq2 = rng.uniform(-math.pi, math.pi, 2).tolist() + rng.uniform(-5, 5, 2).tolist()
        eps = 1e-6  # Ṁ = dM/dt along q̇, by central differences
        mp = np.array(mass_matrix(ARM, cos(q2 + eps * dq2)))
        mm = np.array(mass_matrix(ARM, cos(q2 - eps * dq2)))
        m11, m12, m22 = (mp - mm) / (2 * eps)
        mdot = np.array([[m11, m12], [m12, m22]])
        c11, c12, c21, c22 = coriolis_matrix(ARM, sin(q2), dq1, dq2)
        n = mdot - 2 * np.array([[c11, c12], [c21, c22]])
        assert np.abs(n + n.T).max() < 1e-6 * (1 + np.abs(n).max())


def _lagrangian(x: torch.Tensor, cfg=CFG) -> torch.Tensor:
    """L = T - V written from the link centres of mass, independent of the engine's lumped model."""
    q1, q2, dq1, dq2 = x
    vc1 = cfg.lc1 * dq1
    v2x = -cfg.l1 * torch.sin(q1) * dq1 - cfg.lc2 * torch.sin(q1 + q2) * (dq1 + dq2)
    v2y = cfg.l1 * torch.cos(q1) * dq1 + cfg.lc2 * torch.cos(q1 + q2) * (dq1 + dq2)
    T = 0.5 * cfg.m1 * vc1**2 + 0.5 * cfg.I1 * dq1**2 + 0.5 * cfg.m2 * (v2x**2 + v2y**2) + 0.5 * cfg.I2 * (dq1 + dq2) ** 2
    V = cfg.gravity * (cfg.m1 * cfg.lc1 * torch.sin(q1) + cfg.m2 * (cfg.l1 * torch.sin(q1) + cfg.lc2 * torch.sin(q1 + q2)))
    return T - V


def test_acceleration_matches_euler_lagrange_by_autograd():
    rng = np.random.default_rng(2)
    for _ in range(50):
        x = torch.tensor(rng.uniform(-3, 3, 4), dtype=torch.float64)
        tau = rng.uniform(-50, 50, 2)
        H = torch.autograd.functional.hessian(_lagrangian, x)
        grad = torch.autograd.functional.jacobian(_lagrangian, x)
        # d/dt ∂L/∂q̇ - ∂L/∂q = τ  ->  H_vv q̈ = τ + ∂L/∂q - H_vq q̇
        Hvv, Hvq = H[2:, 2:].numpy(), H[2:, :2].numpy()
        rhs = tau + grad[:2].numpy() - Hvq @ x[2:].numpy()
        expect = np.linalg.solve(Hvv, rhs)
        got = acceleration(ARM, sin, cos, *x.tolist(), *tau)
        np.testing.assert_allclose(got, expect, rtol=1e-9, atol=1e-9)


def test_jacobian_and_jdot_match_finite_differences():
    rng = np.random.default_rng(3)
    for _ in range(50):
        q1, q2, dq1, dq2 = rng.uniform(-3, 3, 4)

        def fk(a, b):
            return np.array(end_effector(ARM, sin(a), cos(a), sin(a + b), cos(a + b)))

        def jac(a, b):
            return np.array(jacobian(ARM, sin(a), cos(a), sin(a + b), cos(a + b))).reshape(2, 2)

        e = 1e-6
        J_fd = np.column_stack([(fk(q1 + e, q2) - fk(q1 - e, q2)) / (2 * e), (fk(q1, q2 + e) - fk(q1, q2 - e)) / (2 * e)])
        np.testing.assert_allclose(jac(q1, q2), J_fd, atol=1e-8)
        Jdot_fd = (jac(q1 + e * dq1, q2 + e * dq2) - jac(q1 - e * dq1, q2 - e * dq2)) / (2 * e)
        got = jdot_qdot(ARM, sin(q1), cos(q1), sin(q1 + q2), cos(q1 + q2), dq1, dq2)
        np.testing.assert_allclose(got, Jdot_fd @ np.array([dq1, dq2]), atol=1e-7)


@pytest.mark.parametrize("seed", range(5))
def test_impact_does_the_work_of_the_impulse(seed):
    """ΔT = Λ·(ṗ⁻ + ṗ⁺)/2: the kinetic energy an impulse adds is Λ dotted with the average end-effector velocity."""
    rng = np.random.default_rng(seed)
    q1, q2, dq1, dq2 = rng.uniform(-2, 2, 4)
    lam = rng.uniform(-2, 2, 2)
    d1, d2 = impact(ARM, sin, cos, q1, q2, *lam)
    J = np.array(jacobian(ARM, sin(q1), cos(q1), sin(q1 + q2), cos(q1 + q2))).reshape(2, 2)
    before, after = np.array([dq1, dq2]), np.array([dq1 + d1, dq2 + d2])
    dT = energy(ARM, sin, cos, q1, q2, *after) - energy(ARM, sin, cos, q1, q2, *before)
    assert dT == pytest.approx(lam @ (J @ before + J @ after) / 2, rel=1e-10, abs=1e-12)


def test_float_and_tensor_paths_agree():
    rng = np.random.default_rng(4)
    x = rng.uniform(-2, 2, (16, 4))
    tau = rng.uniform(-40, 40, (16, 2))
    got = rk4_step(ARM, torch.sin, torch.cos, *torch.tensor(x.T), *torch.tensor(tau.T), 1e-3)
    for i in range(16):
        ref = rk4_step(ARM, sin, cos, *x[i], *tau[i], 1e-3)
        np.testing.assert_allclose([g[i].item() for g in got], ref, rtol=1e-12, atol=1e-12)


def test_rk4_with_the_controllers_first_stage_is_the_same_step_to_the_bit():
    """The episode and the batch hand RK4 the first stage's q̈ from the controller's M and bias: the same bits."""
    rng = np.random.default_rng(5)
    for _ in range(50):
        x, tau = rng.uniform(-2, 2, 4), rng.uniform(-40, 40, 2)
        c1, s2, c2, c12 = cos(x[0]), sin(x[1]), cos(x[1]), cos(x[0] + x[1])
        m11, m12, m22 = mass_matrix(ARM, c2)
        b1, b2 = bias(ARM, s2, c1, c12, x[2], x[3])
        e1, e2, det = tau[0] - b1, tau[1] - b2, m11 * m22 - m12 * m12
        accel0 = ((m22 * e1 - m12 * e2) / det, (m11 * e2 - m12 * e1) / det)
        assert accel0 == acceleration(ARM, sin, cos, *x, *tau)
        assert rk4_step(ARM, sin, cos, *x, *tau, 1e-3, accel0=accel0) == rk4_step(ARM, sin, cos, *x, *tau, 1e-3)
