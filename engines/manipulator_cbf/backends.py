"""Solve the same QPs with every backend: agreement with the cvxpy reference and per-backend latency."""

from __future__ import annotations

import time

import numpy as np

from .qp import CvxpyQP, box_rows, solve_active_set, solve_daqp

BACKENDS = ("closed_form", "active_set", "daqp", "cvxpy")


def closed_form_scalar(a1: float, a2: float, b: float, t1: float, t2: float):
    """τ = τ_nom + max(0, b - aᵀτ_nom)/‖a‖² · a for one state in Python floats."""
    lam = max(0.0, b - a1 * t1 - a2 * t2) / (a1 * a1 + a2 * a2)
    return t1 + lam * a1, t2 + lam * a2


def compare_backends(A: np.ndarray, b: np.ndarray, tau_nom: np.ndarray, tau_max: float) -> dict:
    """Solve every QP (A (n, k, 2), b (n, k), τ_nom (n, 2)) with each backend.

    The full problem (k barrier rows + torque box) goes to the active-set enumeration, DAQP and cvxpy;
    the closed form answers the first barrier row without bounds and is checked against cvxpy on that
    same reduced problem. Returns, per backend: median/p99 latency (ms), the largest |Δτ| from cvxpy
    (N·m), and how many solves failed or were infeasible; ``speedup_vs_cvxpy``: cvxpy's median latency
    over each direct backend's. Infeasible samples (cvxpy says so) are counted and left out of the agreement.
    """
    n, k, _ = A.shape
    box = box_rows(tau_max)
    full_ref, one_ref = CvxpyQP(k, tau_max), CvxpyQP(1, None)
    times = {name: [] for name in BACKENDS}
    diffs = {name: [] for name in BACKENDS}
    failures = dict.fromkeys(BACKENDS, 0)
    infeasible = 0
    clock = time.perf_counter
    for i in range(n):
        Ai, bi, tn = A[i], b[i], tau_nom[i]
        rows = [(float(Ai[j, 0]), float(Ai[j, 1]), float(bi[j])) for j in range(k)]
        t0 = clock()
        ref, status = full_ref.solve(Ai, bi, tn)
        times["cvxpy"].append(clock() - t0)
        t1, t2 = float(tn[0]), float(tn[1])
        t0 = clock()
        x1, x2, ok = solve_active_set(rows + box, t1, t2)
        times["active_set"].append(clock() - t0)
        t0 = clock()
        xd, okd = solve_daqp(Ai, bi, tn, tau_max)
        times["daqp"].append(clock() - t0)
        if ref is None:
            if status in ("infeasible", "infeasible_inaccurate"):
                infeasible += 1
                failures["active_set"] += int(ok)  # the enumeration must also call it infeasible
                failures["daqp"] += int(okd)
            else:
                failures["cvxpy"] += 1
        else:
            if ok:
                diffs["active_set"].append(float(np.abs(np.array([x1, x2]) - ref).max()))
            else:
                failures["active_set"] += 1
            if okd:
                diffs["daqp"].append(float(np.abs(xd - ref).max()))
            else:
                failures["daqp"] += 1
        # the closed form on the first row alone, no bounds
        t0 = clock()
        c1, c2 = closed_form_scalar(rows[0][0], rows[0][1], rows[0][2], t1, t2)
        times["closed_form"].append(clock() - t0)
        ref1, status1 = one_ref.solve(Ai[:1], bi[:1], tn)
        if ref1 is None:
            failures["cvxpy"] += 1
        else:
            diffs["closed_form"].append(float(np.abs(np.array([c1, c2]) - ref1).max()))
    out = {}
    for name in BACKENDS:
        ts = np.array(times[name]) * 1e3
        out[name] = dict(
            median_ms=float(np.median(ts)) if n else None,
            p99_ms=float(np.percentile(ts, 99)) if n else None,
            max_abs_diff_vs_cvxpy=(max(diffs[name]) if diffs[name] else None) if name != "cvxpy" else 0.0,
            failures=failures[name],
            solves=n,
        )
    out["infeasible_samples"] = infeasible
    out["speedup_vs_cvxpy"] = {name: out["cvxpy"]["median_ms"] / out[name]["median_ms"] for name in BACKENDS[:3]} if n else {}
    return out
