"""The safety filter QP and its backends.

    min_τ ½‖τ - τ_nom‖²   s.t.   a_iᵀτ ≥ b_i (barriers),   -τ_max ≤ τ_j ≤ τ_max.

Backends, cross-checked in the tests:

* ``closed_form``: one constraint, no bounds: τ = τ_nom + max(0, b - aᵀτ_nom)/‖a‖² · a.
* ``solve_active_set`` (pure Python, one state) and ``solve_active_set_batched`` (torch, many states): exact
  enumeration of the active sets of a 2-variable QP with a KKT check. The optimum is the Euclidean
  projection of τ_nom onto a polygon, so it is τ_nom itself, the projection onto one edge's line, or one
  vertex; the candidate that is feasible with non-negative multipliers is the unique optimum.
* ``solve_daqp``: DAQP, a dense dual active-set solver.
* ``CvxpyQP``: cvxpy with parameters (DPP: the problem is built once per constraint count) and Clarabel at
  tight tolerances, the reference. Every status is checked.

Infeasibility (the barrier rows cannot be met inside the torque box) is never answered silently: the
direct solvers report it and the controllers fall back to the *safest torque*,
``argmax_{τ in box} min_i (a_iᵀτ - b_i)/‖a_i‖`` (an exact 2-variable LP, ``safest_torque_batched``), and count
the step as infeasible.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

FEAS_TOL = 1e-9  # relative feasibility tolerance of the direct solvers


def box_rows(tau_max: float) -> list[tuple[float, float, float]]:
    """τ_j ≤ τ_max and τ_j ≥ -τ_max as rows aᵀτ ≥ b."""
    return [(1.0, 0.0, -tau_max), (-1.0, 0.0, -tau_max), (0.0, 1.0, -tau_max), (0.0, -1.0, -tau_max)]


def closed_form(a: np.ndarray, b: np.ndarray, tau_nom: np.ndarray) -> np.ndarray:
    """One constraint aᵀτ ≥ b, no bounds (vectorised over leading axes): τ = τ_nom + max(0, b - aᵀτ_nom)/‖a‖² a."""
    lam = np.maximum(0.0, b - np.sum(a * tau_nom, axis=-1)) / np.sum(a * a, axis=-1)
    return tau_nom + lam[..., None] * a


def solve_active_set(rows, t1: float, t2: float):
    """Exact 2-variable active-set QP for one state: ``(τ1, τ2, ok)``; rows are ``(a1, a2, b)`` meaning aᵀτ ≥ b.

    Tries the empty active set, then each single constraint, then each pair, and returns the first
    candidate that is primal feasible with non-negative multipliers (KKT is sufficient: the QP is strictly
    convex). ``ok`` is False when no candidate qualifies, i.e. the constraints are infeasible.
    """
    tols = [FEAS_TOL * (1.0 + abs(b)) for _, _, b in rows]

    def feasible(x1, x2):
        for (a1, a2, b), tol in zip(rows, tols):
            if a1 * x1 + a2 * x2 < b - tol:
                return False
        return True

    if feasible(t1, t2):
        return t1, t2, True
    for a1, a2, b in rows:
        viol = b - (a1 * t1 + a2 * t2)
        if viol <= 0.0:
            continue  # an inactive-at-τ_nom row would need a negative multiplier
        mu = viol / (a1 * a1 + a2 * a2)
        x1, x2 = t1 + mu * a1, t2 + mu * a2
        if feasible(x1, x2):
            return x1, x2, True
    n = len(rows)
    for i in range(n):
        ai1, ai2, bi = rows[i]
        for j in range(i + 1, n):
            aj1, aj2, bj = rows[j]
            det = ai1 * aj2 - ai2 * aj1
            if abs(det) < 1e-12 * (ai1 * ai1 + ai2 * ai2 + aj1 * aj1 + aj2 * aj2):
                continue
            x1 = (bi * aj2 - bj * ai2) / det
            x2 = (ai1 * bj - aj1 * bi) / det
            d1, d2 = x1 - t1, x2 - t2
            mu_i = (d1 * aj2 - aj1 * d2) / det
            mu_j = (ai1 * d2 - d1 * ai2) / det
            if mu_i >= -1e-12 and mu_j >= -1e-12 and feasible(x1, x2):
                return x1, x2, True
    return t1, t2, False


def _pairs(n: int):
    return [p for p in itertools.combinations(range(n), 2)]


def solve_active_set_batched(A, b, tau_nom):
    """The same enumeration on torch tensors: A (B, m, 2), b (B, m), τ_nom (B, 2) -> (τ (B, 2), ok (B,)).

    All 1 + m + m(m-1)/2 candidates are formed at once; the valid one (feasible, multipliers ≥ 0) with the
    smallest objective wins.
    """
    import torch

    B, m, _ = A.shape
    t = tau_nom
    nrm2 = (A * A).sum(-1)
    viol = b - (A * t[:, None, :]).sum(-1)
    mu = viol / nrm2
    singles = t[:, None, :] + mu[..., None] * A
    single_ok = mu >= 0.0
    idx = _pairs(m)
    cands = [t[:, None, :], singles]
    oks = [torch.ones_like(mu[:, :1], dtype=torch.bool), single_ok]
    if idx:
        I = torch.tensor([p[0] for p in idx], device=A.device)
        J = torch.tensor([p[1] for p in idx], device=A.device)
        ai, aj, bi, bj = A[:, I], A[:, J], b[:, I], b[:, J]
        det = ai[..., 0] * aj[..., 1] - ai[..., 1] * aj[..., 0]
        good = det.abs() > 1e-12 * (nrm2[:, I] + nrm2[:, J])
        sdet = torch.where(good, det, torch.ones_like(det))
        x1 = (bi * aj[..., 1] - bj * ai[..., 1]) / sdet
        x2 = (ai[..., 0] * bj - aj[..., 0] * bi) / sdet
        d1, d2 = x1 - t[:, None, 0], x2 - t[:, None, 1]
        mu_i = (d1 * aj[..., 1] - aj[..., 0] * d2) / sdet
        mu_j = (ai[..., 0] * d2 - d1 * ai[..., 1]) / sdet
        cands.append(torch.stack((x1, x2), -1))
        oks.append(good & (mu_i >= -1e-12) & (mu_j >= -1e-12))
    X = torch.cat(cands, 1)
    ok = torch.cat(oks, 1)
    slack = (X[:, :, None, :] * A[:, None, :, :]).sum(-1) - b[:, None, :]
    feas = (slack >= -FEAS_TOL * (1.0 + b.abs())[:, None, :]).all(-1)
    valid = ok & feas
    obj = ((X - t[:, None, :]) ** 2).sum(-1)
    obj = torch.where(valid, obj, torch.full_like(obj, float("inf")))
    best = obj.argmin(1)
    x = X[torch.arange(B, device=A.device), best]
    return x, valid.any(1)


def solve_one_row_box_batched(a1, a2, b, t1, t2, tau_max: float):
    """One barrier row aᵀτ ≥ b plus the torque box, exactly, by its 1-D dual, on (B,) torch tensors per component.

    Minimising the Lagrangian over the box gives τ(μ) = clip(τ_nom + μa, -τ_max, τ_max), and g(μ) = aᵀτ(μ) is
    piecewise linear and non-decreasing, with kinks at μ = 0 and the breakpoints (±τ_max - τ_nom,j)/a_j (clamped
    at 0). μ* = 0 if g(0) ≥ b; else g is linear between the largest kink L with g(L) < b and the smallest U with
    g(U) ≥ b, so μ* = L + (b - g(L))(U - L)/(g(U) - g(L)). No kink reaches b: infeasible (b > τ_max‖a‖₁), and
    the safest torque is τ_max·sign(a). Returns (τ1, τ2, ok), each (B,). g is monotone, so L and U need no sort:
    a masked max and min over the kinks, laid out (4, B) so that every reduction runs along the batch
    (``reference.solve_one_row_box_sorted`` sorts them on (B, 5, 2) tensors: the oracle, several times slower).
    """
    import torch

    T, inf = tau_max, float("inf")
    g0 = a1 * t1.clamp(-T, T) + a2 * t2.clamp(-T, T)
    s1 = torch.where(a1 != 0, a1, torch.ones_like(a1))  # a zero component has no kink; any finite μ is a harmless extra point
    s2 = torch.where(a2 != 0, a2, torch.ones_like(a2))
    mus = torch.stack(((T - t1) / s1, (-T - t1) / s1, (T - t2) / s2, (-T - t2) / s2)).clamp_(min=0.0)  # (4, B)
    g = a1 * (t1 + mus * a1).clamp_(-T, T) + a2 * (t2 + mus * a2).clamp_(-T, T)
    above = g >= b
    lo = torch.where(above, 0.0, mus).amax(0)  # μ = 0 is below b on every row that needs μ > 0
    g_lo = torch.maximum(torch.where(above, -inf, g).amax(0), g0)
    hi, g_hi = torch.where(above, mus, inf).amin(0), torch.where(above, g, inf).amin(0)
    reach = hi < inf
    ok = reach | (b <= T * (a1.abs() + a2.abs()) * (1 + 1e-12))
    slope = torch.where(reach, g_hi - g_lo, torch.ones_like(b))
    mu = torch.where(reach, lo + (b - g_lo) * (hi - lo) / slope, mus.amax(0))  # beyond every kink: all saturated
    mu = torch.where(g0 >= b, torch.zeros_like(b), mu)
    x1 = (t1 + mu * a1).clamp_(-T, T)
    x2 = (t2 + mu * a2).clamp_(-T, T)
    return torch.where(ok, x1, T * torch.sign(a1)), torch.where(ok, x2, T * torch.sign(a2)), ok


def safest_torque_batched(A, b, tau_max: float):
    """Fallback when the QP is infeasible: argmax over the torque box of min_i (a_iᵀτ - b_i)/‖a_i‖.

    An LP in (τ1, τ2, t): its optimum is a vertex with three active constraints, so the candidates are the
    box corners, the points on a box edge where two normalised margins are equal, and the points where three
    are equal; the best candidate inside the box is exact. A (B, k, 2), b (B, k) hold the barrier rows only.
    """
    import torch

    B, k, _ = A.shape
    nrm = (A * A).sum(-1).sqrt()
    An, bn = A / nrm[..., None], b / nrm
    T = tau_max
    corners = torch.tensor([[T, T], [T, -T], [-T, T], [-T, -T]], dtype=A.dtype, device=A.device).expand(B, 4, 2)
    cands = [corners]
    if k >= 2:
        idx = _pairs(k)
        I = torch.tensor([p[0] for p in idx], device=A.device)
        J = torch.tensor([p[1] for p in idx], device=A.device)
        u, c = An[:, I] - An[:, J], bn[:, I] - bn[:, J]  # line uᵀτ = c where the margins are equal
        for axis, val in ((0, T), (0, -T), (1, T), (1, -T)):
            other = 1 - axis
            den = u[..., other]
            safe = torch.where(den.abs() > 1e-12, den, torch.ones_like(den))
            free = (c - u[..., axis] * val) / safe
            free = torch.where(den.abs() > 1e-12, free, torch.full_like(free, 10 * T + 1))
            pt = torch.stack((torch.full_like(free, val), free), -1) if axis == 0 else torch.stack((free, torch.full_like(free, val)), -1)
            cands.append(pt)
    if k >= 3:
        tri = list(itertools.combinations(range(k), 3))
        I, J, K = (torch.tensor([p[n] for p in tri], device=A.device) for n in range(3))
        u1, c1 = An[:, I] - An[:, J], bn[:, I] - bn[:, J]
        u2, c2 = An[:, J] - An[:, K], bn[:, J] - bn[:, K]
        det = u1[..., 0] * u2[..., 1] - u1[..., 1] * u2[..., 0]
        safe = torch.where(det.abs() > 1e-12, det, torch.ones_like(det))
        x1 = torch.where(det.abs() > 1e-12, (c1 * u2[..., 1] - c2 * u1[..., 1]) / safe, torch.full_like(det, 10 * T + 1))
        x2 = (u1[..., 0] * c2 - u2[..., 0] * c1) / safe
        cands.append(torch.stack((x1, x2), -1))
    X = torch.cat(cands, 1)
    inside = (X.abs() <= T * (1 + 1e-12)).all(-1)
    margin = ((X[:, :, None, :] * An[:, None, :, :]).sum(-1) - bn[:, None, :]).amin(-1)
    margin = torch.where(inside, margin, torch.full_like(margin, -float("inf")))
    best = margin.argmax(1)
    return X[torch.arange(B, device=A.device), best]


def safest_torque(rows, tau_max: float):
    """``safest_torque_batched`` for one state in Python floats (rows ``(a1, a2, b)`` of the barriers only).

    The same candidates in the same order with the same arithmetic and the same tie-break (the first best margin),
    so it returns the batched version's torque; a few microseconds instead of a torch call's ~0.2-1 ms.
    """
    T = tau_max
    lim = T * (1 + 1e-12)
    far = 10 * T + 1  # a coordinate outside the box: no such candidate
    unit = []
    for a1, a2, b in rows:  # the rows normalised: margins in one unit
        n = math.sqrt(a1 * a1 + a2 * a2)
        unit.append((a1 / n, a2 / n, b / n))
    best, best_margin = None, -math.inf

    def consider(x1, x2):
        nonlocal best, best_margin
        if abs(x1) <= lim and abs(x2) <= lim:
            margin = min(x1 * u1 + x2 * u2 - c for u1, u2, c in unit)
            if margin > best_margin:
                best, best_margin = (x1, x2), margin

    for x1, x2 in ((T, T), (T, -T), (-T, T), (-T, -T)):
        consider(x1, x2)
    k = len(unit)
    if k >= 2:  # on a box edge, where two normalised margins are equal (the line uᵀτ = c)
        pairs = list(itertools.combinations(range(k), 2))
        for axis, val in ((0, T), (0, -T), (1, T), (1, -T)):
            for i, j in pairs:
                u = (unit[i][0] - unit[j][0], unit[i][1] - unit[j][1])
                c = unit[i][2] - unit[j][2]
                den = u[1 - axis]
                free = (c - u[axis] * val) / den if abs(den) > 1e-12 else far
                consider(val, free) if axis == 0 else consider(free, val)
    if k >= 3:  # inside the box, where three margins are equal
        for i, j, m in itertools.combinations(range(k), 3):
            u1 = (unit[i][0] - unit[j][0], unit[i][1] - unit[j][1])
            u2 = (unit[j][0] - unit[m][0], unit[j][1] - unit[m][1])
            c1, c2 = unit[i][2] - unit[j][2], unit[j][2] - unit[m][2]
            det = u1[0] * u2[1] - u1[1] * u2[0]
            if abs(det) > 1e-12:
                consider((c1 * u2[1] - c2 * u1[1]) / det, (u1[0] * c2 - u2[0] * c1) / det)
    return best


def solve_daqp(A: np.ndarray, b: np.ndarray, tau_nom: np.ndarray, tau_max: float | None):
    """DAQP: ``(τ, ok)``; the box as simple bounds, the rows as blower ≤ Aτ."""
    import daqp

    H = np.eye(2)
    f = -np.asarray(tau_nom, dtype=float)
    A = np.ascontiguousarray(A, dtype=float)
    big = 1e30
    if tau_max is not None:
        bupper = np.concatenate(([tau_max, tau_max], np.full(len(b), big)))
        blower = np.concatenate(([-tau_max, -tau_max], np.asarray(b, dtype=float)))
    else:
        bupper, blower = np.full(len(b), big), np.asarray(b, dtype=float)
    sense = np.zeros(len(blower), dtype=np.int32)
    x, _fval, exitflag, _info = daqp.solve(H, f, A, bupper, blower, sense, primal_tol=1e-10)
    return np.asarray(x, dtype=float), exitflag == 1


class CvxpyQP:
    """The reference: ``min ½‖τ - τ_nom‖² s.t. Aτ ≥ b, |τ| ≤ τ_max`` built once with cvxpy parameters (DPP)."""

    def __init__(self, m: int, tau_max: float | None):
        import cvxpy as cp

        self.cp = cp
        self.tau = cp.Variable(2)
        self.A = cp.Parameter((m, 2))
        self.b = cp.Parameter(m)
        self.tau_nom = cp.Parameter(2)
        cons = [self.A @ self.tau >= self.b]
        if tau_max is not None:
            cons += [self.tau <= tau_max, self.tau >= -tau_max]
        self.problem = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(self.tau - self.tau_nom)), cons)
        assert self.problem.is_dcp(dpp=True)

    def solve(self, A: np.ndarray, b: np.ndarray, tau_nom: np.ndarray):
        """``(τ, status)``; τ is None unless the status is ``optimal``."""
        A, b = np.asarray(A, float), np.asarray(b, float)
        scale = 1.0 / np.linalg.norm(A, axis=1)  # unit rows: the same feasible set, better conditioned
        self.A.value, self.b.value, self.tau_nom.value = A * scale[:, None], b * scale, np.asarray(tau_nom, float)
        try:
            self.problem.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10, tol_ktratio=1e-8)
        except self.cp.error.SolverError as err:
            return None, f"solver_error: {err}"
        status = self.problem.status
        if status != "optimal" or self.tau.value is None:
            return None, status
        return np.asarray(self.tau.value, dtype=float), status
