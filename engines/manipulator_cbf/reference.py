"""The slow, obvious implementations the fast paths are checked against (and timed beside in the bench)."""

from __future__ import annotations

from .qp import safest_torque_batched


def safest_torque_torch(rows, tau_max: float):
    """The safest-torque fallback for one state through the batched torch LP (a batch of one): the episode's
    fallback before it moved to Python floats (``qp.safest_torque``), which must return the same torque."""
    import torch

    A = torch.tensor([[[r[0], r[1]] for r in rows]], dtype=torch.float64)
    b = torch.tensor([[r[2] for r in rows]], dtype=torch.float64)
    x = safest_torque_batched(A, b, tau_max)[0]
    return float(x[0]), float(x[1])


def solve_one_row_box_sorted(a, b, tau_nom, tau_max: float):
    """``qp.solve_one_row_box_batched`` as first written: the breakpoints sorted, g evaluated on (B, 5, 2) tensors
    (about ten times slower on 3,072 rows); a (B, 2), b (B,), τ_nom (B, 2).

    Minimising the Lagrangian over the box gives τ(μ) = clip(τ_nom + μa, -τ_max, τ_max), and g(μ) = aᵀτ(μ) is
    piecewise linear and non-decreasing; μ* = 0 if g(0) ≥ b, else the root of g(μ) = b between the
    breakpoints (±τ_max - τ_nom,j)/a_j. Infeasible when b > τ_max‖a‖₁; then the safest torque τ_max·sign(a).
    Returns (τ (B, 2), ok (B,)).
    """
    import torch

    T = tau_max
    safe_a = torch.where(a.abs() > 0, a, torch.ones_like(a))
    bp = torch.cat(((T - tau_nom) / safe_a, (-T - tau_nom) / safe_a), 1)  # (B, 4)
    bp = torch.where(torch.cat((a, a), 1).abs() > 0, bp, torch.zeros_like(bp)).clamp(min=0.0)
    mus = torch.cat((torch.zeros_like(bp[:, :1]), bp), 1).sort(1).values  # (B, 5)
    g = (a[:, None, :] * (tau_nom[:, None, :] + mus[..., None] * a[:, None, :]).clamp(-T, T)).sum(-1)  # (B, 5)
    reach = g >= b[:, None]
    ok = reach[:, -1] | (b <= T * a.abs().sum(1) * (1 + 1e-12))
    first = torch.where(reach.any(1), reach.long().argmax(1), torch.full_like(b, 4, dtype=torch.long))
    lo = (first - 1).clamp(min=0)
    rows = torch.arange(len(b), device=a.device)
    m_lo, m_hi, g_lo, g_hi = mus[rows, lo], mus[rows, first], g[rows, lo], g[rows, first]
    slope = torch.where(g_hi > g_lo, g_hi - g_lo, torch.ones_like(g_hi))
    mu = torch.where(first == 0, torch.zeros_like(b), m_lo + (b - g_lo) * (m_hi - m_lo) / slope)
    x = (tau_nom + mu[:, None] * a).clamp(-T, T)
    x = torch.where(ok[:, None], x, T * torch.sign(a))
    return x, ok
