"""The safety-filter QP: every backend agrees with the cvxpy reference; infeasibility is reported, never hidden."""

import math

import numpy as np
import pytest
import torch
from scipy.optimize import linprog

from engines.manipulator_cbf.arm import SCALAR, arm_from, bias, end_effector, inverse_2x2, jacobian, jdot_qdot, mass_matrix
from engines.manipulator_cbf.backends import closed_form_scalar, compare_backends
from engines.manipulator_cbf.barriers import barrier_specs, barrier_terms, hocbf_row
from engines.manipulator_cbf.config import Config
from engines.manipulator_cbf.qp import (
    CvxpyQP,
    box_rows,
    closed_form,
    safest_torque,
    safest_torque_batched,
    solve_active_set,
    solve_active_set_batched,
    solve_daqp,
    solve_one_row_box_batched,
)
from engines.manipulator_cbf.reference import safest_torque_torch, solve_one_row_box_sorted

sin, cos = SCALAR
CFG = Config(barrier="floor+circle", obstacle_x=1.4, obstacle_y=-0.6, obstacle_r=0.3)
ARM = arm_from(CFG)
SPECS = barrier_specs(CFG)
TMAX = CFG.tau_max


def random_qps(n: int, seed: int):
    """HOCBF rows (floor and circle) at random arm states, gains and nominal torques."""
    rng = np.random.default_rng(seed)
    A = np.empty((n, len(SPECS), 2))
    b = np.empty((n, len(SPECS)))
    tn = rng.uniform(-1.5 * TMAX, 1.5 * TMAX, (n, 2))
    for i in range(n):
        q1, q2 = rng.uniform(-math.pi, 0.5), rng.uniform(-2.5, 2.5)
        dq1, dq2 = rng.uniform(-3, 3, 2)
        k1, k1dot, k2 = rng.uniform(0.5, 20), rng.uniform(-10, 0), rng.uniform(0.5, 20)
        s1, c1, s2, c2, s12, c12 = sin(q1), cos(q1), sin(q2), cos(q2), sin(q1 + q2), cos(q1 + q2)
        minv = inverse_2x2(*mass_matrix(ARM, c2))
        bb = bias(ARM, s2, c1, c12, dq1, dq2)
        px, py = end_effector(ARM, s1, c1, s12, c12)
        terms = barrier_terms(SPECS, q1, q2, dq1, dq2, px, py, jacobian(ARM, s1, c1, s12, c12), jdot_qdot(ARM, s1, c1, s12, c12, dq1, dq2))
        for j, t in enumerate(terms):
            a1, a2, bj, *_ = hocbf_row(t, minv, bb, dq1, dq2, k1, k1dot, k2)
            A[i, j], b[i, j] = (a1, a2), bj
    return A, b, tn


@pytest.fixture(scope="module")
def feasible_qps():
    """1,000 random QPs the reference calls feasible (the infeasible draws are kept aside)."""
    A, b, tn = random_qps(1400, seed=7)
    ref = CvxpyQP(len(SPECS), TMAX)
    keep, sol, infeasible = [], [], []
    for i in range(len(A)):
        x, status = ref.solve(A[i], b[i], tn[i])
        if x is not None:
            keep.append(i)
            sol.append(x)
        elif status == "infeasible":
            infeasible.append(i)
        else:
            raise AssertionError(f"cvxpy returned {status}")
        if len(keep) == 1000:
            break
    assert len(keep) == 1000
    return A[keep], b[keep], tn[keep], np.array(sol), (A[infeasible], b[infeasible], tn[infeasible])


def test_active_set_daqp_and_batched_agree_with_cvxpy(feasible_qps):
    A, b, tn, ref, _ = feasible_qps
    box = box_rows(TMAX)
    active = sum(1 for i in range(len(A)) if np.abs(ref[i] - np.clip(tn[i], -TMAX, TMAX)).max() > 1e-6)
    assert active > 300  # the barrier rows really bind in many of the draws
    for i in range(len(A)):
        rows = [(A[i, j, 0], A[i, j, 1], b[i, j]) for j in range(len(SPECS))]
        x1, x2, ok = solve_active_set(rows + box, *tn[i])
        assert ok
        np.testing.assert_allclose([x1, x2], ref[i], atol=1e-6)
        xd, okd = solve_daqp(A[i], b[i], tn[i], TMAX)
        assert okd
        np.testing.assert_allclose(xd, ref[i], atol=1e-6)
    T = torch.tensor
    full_A = torch.cat((T(A), T([[1.0, 0], [-1, 0], [0, 1], [0, -1]], dtype=torch.float64).expand(len(A), 4, 2)), 1)
    full_b = torch.cat((T(b), torch.full((len(A), 4), -TMAX, dtype=torch.float64)), 1)
    xb, okb = solve_active_set_batched(full_A, full_b, T(tn))
    assert bool(okb.all())
    np.testing.assert_allclose(xb.numpy(), ref, atol=1e-6)


def test_closed_form_and_one_row_solvers_agree_with_cvxpy(feasible_qps):
    A, b, tn, _, _ = feasible_qps
    one = CvxpyQP(1, None)
    one_box = CvxpyQP(1, TMAX)
    cf = closed_form(A[:, 0], b[:, 0], tn)
    T = torch.tensor
    x1, x2, ok = solve_one_row_box_batched(T(A[:, 0, 0]), T(A[:, 0, 1]), T(b[:, 0]), T(tn[:, 0]), T(tn[:, 1]), TMAX)
    dual = torch.stack((x1, x2), 1)
    for i in range(len(A)):
        ref, status = one.solve(A[i, :1], b[i, :1], tn[i])
        assert status == "optimal"
        np.testing.assert_allclose(cf[i], ref, atol=1e-6)
        np.testing.assert_allclose(closed_form_scalar(A[i, 0, 0], A[i, 0, 1], b[i, 0], *tn[i]), ref, atol=1e-6)
        x1, x2, okr = solve_active_set([(A[i, 0, 0], A[i, 0, 1], b[i, 0])], *tn[i])
        np.testing.assert_allclose([x1, x2], ref, atol=1e-6)
        ref_box, status = one_box.solve(A[i, :1], b[i, :1], tn[i])
        if ref_box is None:
            assert status == "infeasible" and not bool(ok[i])
        else:
            assert bool(ok[i])
            np.testing.assert_allclose(dual[i].numpy(), ref_box, atol=1e-6)


def test_one_row_solver_agrees_with_the_sorted_oracle_on_feasible_and_infeasible_rows():
    """The kinks as a masked max/min instead of a sort: the same torques (to rounding) and the same verdicts."""
    rng = np.random.default_rng(5)
    n = 20000
    T = torch.tensor
    a = rng.normal(size=(n, 2)) * rng.choice([1e-2, 1.0, 30.0], size=(n, 1))
    a[rng.random(n) < 0.05, rng.integers(2)] = 0.0  # rows along an axis
    tn = rng.uniform(-2 * TMAX, 2 * TMAX, (n, 2))
    b = rng.normal(size=n) * np.abs(a).sum(1) * TMAX * rng.choice([0.3, 1.0, 1.5], size=n)
    x1, x2, ok = solve_one_row_box_batched(T(a[:, 0]), T(a[:, 1]), T(b), T(tn[:, 0]), T(tn[:, 1]), TMAX)
    ref, ok_ref = solve_one_row_box_sorted(T(a), T(b), T(tn), TMAX)
    assert bool((ok == ok_ref).all()) and 0 < int((~ok).sum()) < n // 2
    np.testing.assert_allclose(torch.stack((x1, x2), 1).numpy(), ref.numpy(), rtol=0, atol=1e-9 * TMAX)


def test_infeasible_qps_are_reported_and_get_the_safest_torque(feasible_qps):
    *_, (A, b, tn) = feasible_qps
    assert len(A) > 5  # the random draws include infeasible ones
    box = box_rows(TMAX)
    for i in range(len(A)):
        rows = [(A[i, j, 0], A[i, j, 1], b[i, j]) for j in range(len(SPECS))]
        *_, ok = solve_active_set(rows + box, *tn[i])
        assert not ok
        _, okd = solve_daqp(A[i], b[i], tn[i], TMAX)
        assert not okd
        # the fallback maximises the smallest normalised margin: an LP solved independently by HiGHS
        n = np.linalg.norm(A[i], axis=1)
        lp = linprog([0, 0, -1], A_ub=np.column_stack([-A[i] / n[:, None], np.ones(len(n))]), b_ub=-b[i] / n,
                     bounds=[(-TMAX, TMAX), (-TMAX, TMAX), (None, None)], method="highs")
        assert lp.status == 0
        x = np.array(safest_torque(rows, TMAX))
        assert tuple(x) == safest_torque_torch(rows, TMAX)
        margin = ((A[i] @ x - b[i]) / n).min()
        assert margin == pytest.approx(-lp.fun, abs=1e-6 * (1 + abs(lp.fun)))
        assert np.all(np.abs(x) <= TMAX + 1e-9)


@pytest.mark.parametrize("k", [1, 2, 3, 6])
def test_the_python_safest_torque_returns_the_torch_oracles_torque(k):
    """The fallback moved from a batch-of-one torch LP to Python floats: the same candidates, order and tie-breaks,
    so the same torque to the last bit, on random rows (mostly infeasible: b far above what the box reaches)."""
    rng = np.random.default_rng(k)
    for _ in range(300):
        A = rng.normal(size=(k, 2)) * rng.choice([1e-3, 1.0, 1e3], size=(k, 1))
        if rng.random() < 0.2:
            A[:, rng.integers(2)] = 0.0  # a row along an axis: ties between corners
        b = rng.normal(size=k) * rng.choice([1.0, 100.0, 1e5])
        rows = [(A[j, 0], A[j, 1], b[j]) for j in range(k)]
        tmax = float(rng.choice([1.0, 40.0, 80.0]))
        assert safest_torque(rows, tmax) == safest_torque_torch(rows, tmax)


def test_safest_torque_of_one_row_is_the_best_box_corner():
    a = torch.tensor([[[3.0, -2.0]]], dtype=torch.float64)
    x = safest_torque_batched(a, torch.tensor([[1e6]], dtype=torch.float64), 10.0)
    np.testing.assert_allclose(x.numpy(), [[10.0, -10.0]])


def test_compare_backends_reports_agreement_and_latency():
    A, b, tn = random_qps(30, seed=11)
    out = compare_backends(A, b, tn, TMAX)
    for name in ("closed_form", "active_set", "daqp"):
        assert out[name]["max_abs_diff_vs_cvxpy"] < 1e-6
        assert out[name]["median_ms"] > 0
    assert out["active_set"]["failures"] == 0 and out["cvxpy"]["failures"] == 0
    for name in ("closed_form", "active_set", "daqp"):
        assert out["speedup_vs_cvxpy"][name] == pytest.approx(out["cvxpy"]["median_ms"] / out[name]["median_ms"])
