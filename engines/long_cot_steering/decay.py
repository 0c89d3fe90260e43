"""The two decay laws the paper gives for the activation after a trigger, fitted to a measured trajectory.

    logarithmic (the released code):  f(t) = a − b·log(t + c),       t + c > 0
    exponential (the abstract):        g(t) = A·exp(−(t − 1) / τ) + B    (A + B: the value at t = 1)

Both have three parameters and one that enters non-linearly (c, τ); for a fixed c (τ) the others follow by
linear least squares, so each fit is a one-dimensional search of the residual sum of squares over c (τ)
(variable projection: a log-spaced grid, then golden-section refinement in the best bracket) — no starting
guess, no local optimiser that can wander. ``rss`` is Σ (y − fit)², ``rmse`` √(rss/n); the better law is the one
with the smaller rss (same number of parameters, so no penalty is needed).

The paper's fit on its models: a = 0.17, b = 0.033, c ≈ −0.997, with t counted from 1 at the first token after
the trigger (c close to −1 puts the log's pole just before it: the sharp peak).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PAPER_LOG = {"a": 0.17, "b": 0.033, "c": -0.997}
GOLDEN = (math.sqrt(5) - 1) / 2


def log_law(t, a: float, b: float, c: float) -> np.ndarray:
    return a - b * np.log(np.asarray(t, float) + c)


def exp_law(t, A: float, tau: float, B: float) -> np.ndarray:
    return A * np.exp(-(np.asarray(t, float) - 1.0) / tau) + B


@dataclass(frozen=True)
class Fit:
    law: str
    params: dict
    rss: float
    rmse: float

    def __call__(self, t) -> np.ndarray:
        return log_law(t, **self.params) if self.law == "log" else exp_law(t, **self.params)

    def to_dict(self) -> dict:
        return {"law": self.law, "params": dict(self.params), "rss": self.rss, "rmse": self.rmse}


def _linear(basis: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    r = y - basis @ coef
    return coef, float(r @ r)


def _search(cost, lo: float, hi: float, grid: np.ndarray, iters: int = 80) -> float:
    """The minimiser of ``cost`` over [lo, hi]: the best grid point, then golden section inside its bracket."""
    vals = np.array([cost(x) for x in grid])
    k = int(np.nanargmin(vals))
    left, right = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    x1, x2 = right - GOLDEN * (right - left), left + GOLDEN * (right - left)
    f1, f2 = cost(x1), cost(x2)
    for _ in range(iters):
        if f1 <= f2:
            right, x2, f2 = x2, x1, f1
            x1 = right - GOLDEN * (right - left)
            f1 = cost(x1)
        else:
            left, x1, f1 = x1, x2, f2
            x2 = left + GOLDEN * (right - left)
            f2 = cost(x2)
    best = min([(f1, x1), (f2, x2), (vals[k], grid[k])])
    return float(best[1])


def fit_log(t, y) -> Fit:
    """Least-squares f(t) = a − b·log(t + c) (c > −min t)."""
    t, y = np.asarray(t, float), np.asarray(y, float)
    tmin, span = float(t.min()), float(np.ptp(t)) + 1.0
    lo, hi = -tmin + 1e-6, -tmin + 1e3 * span
    grid = -tmin + np.geomspace(1e-6, 1e3 * span, 200)

    def cost(c):
        return _linear(np.column_stack([np.ones_like(t), -np.log(t + c)]), y)[1]

    c = _search(cost, lo, hi, grid)
    (a, b), rss = _linear(np.column_stack([np.ones_like(t), -np.log(t + c)]), y)
    return Fit("log", {"a": float(a), "b": float(b), "c": c}, rss, math.sqrt(rss / len(t)))


def fit_exp(t, y) -> Fit:
    """Least-squares g(t) = A·exp(−(t − 1)/τ) + B (τ > 0; t ≥ 1, so the basis never overflows)."""
    t, y = np.asarray(t, float), np.asarray(y, float)
    span = float(np.ptp(t)) + 1.0
    grid = np.geomspace(1e-3, 1e3 * span, 200)

    def basis(tau):
        return np.column_stack([np.exp(-(t - 1.0) / tau), np.ones_like(t)])

    tau = _search(lambda x: _linear(basis(x), y)[1], float(grid[0]), float(grid[-1]), grid)
    (A, B), rss = _linear(basis(tau), y)
    return Fit("exp", {"A": float(A), "tau": tau, "B": float(B)}, rss, math.sqrt(rss / len(t)))


def fit_both(t, y) -> dict:
    """Both fits, their residuals and which law fits better: ``{"log": {...}, "exp": {...}, "better": "log"|"exp"}``."""
    lg, ex = fit_log(t, y), fit_exp(t, y)
    return {"log": lg.to_dict(), "exp": ex.to_dict(), "better": "log" if lg.rss <= ex.rss else "exp", "points": int(len(t))}


def decay_part(trajectory: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """The trajectory from its peak on, with t = 1, 2, … from the peak (the rise is the part before it)."""
    y = np.asarray(trajectory, float)
    ok = np.isfinite(y)
    if ok.sum() < 4:
        return np.zeros(0), np.zeros(0), 0
    peak = int(np.nanargmax(np.where(ok, y, -np.inf)))
    tail = y[peak:]
    keep = np.isfinite(tail)
    t = np.arange(1, len(tail) + 1, dtype=float)
    return t[keep], tail[keep], peak
