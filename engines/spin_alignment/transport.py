"""Daughter absorption: the survival probability exp(−∫σ n v_rel dt) along a straight path through the medium.

The collision rate of a daughter with four-momentum p (mass m) in a medium of local-rest-frame density n and
four-velocity u is, per unit lab time,

    dN/dt = σ n √((u·p)² − m²) / E          (``local_rest``: σ n γ_rel v_rel in the daughter's proper time, / γ_d)

because u·p/m = γ_rel is the Lorentz factor of the daughter relative to the local fluid. Two deliberately wrong
readings are kept for comparison: ``lab`` takes the lab density n u⁰ and the lab speed |p|/E (the medium's motion is
ignored) and ``static`` takes n and |p|/E (a medium at rest). With Bjorken flow, a daughter emitted along the beam
co-moves with the fluid (small v_rel): in the local rest frame it escapes easily, in the lab it keeps colliding —
which flips the sign of the reaction-plane ρ00 shift at mid-rapidity (the lab reading is not boost invariant, so its
shift also depends on the rapidity window).

The path starts at the decay point and ends where the medium ends: kinetic freeze-out τ = τ_kin, i.e. the positive
root s of (t_d + s)² − (z_d + v_z s)² = τ_kin², or the exit from a transverse circle of four Gaussian widths at τ_kin,
whichever comes first. The integral is Gauss–Legendre with ``quad_nodes`` nodes on [0, s_end].
"""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=16)
def gauss_legendre(k: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(k)
    return (x + 1) / 2, w / 2  # nodes and weights on [0, 1]


def path_end(t0, x0, v, tau_kin: float, r_max):
    """Lab-time length of the path inside the medium (0 when the decay happens after kinetic freeze-out)."""
    vz, z0 = v[..., 2], x0[..., 2]
    a = (1 - vz * vz).clamp(min=1e-12)
    b = t0 - z0 * vz
    c = t0 * t0 - z0 * z0 - tau_kin**2
    s_tau = (-b + (b * b - a * c).clamp(min=0).sqrt()) / a
    s_tau = s_tau * (c < 0)
    vt2 = (v[..., :2] ** 2).sum(-1).clamp(min=1e-12)
    bx = (x0[..., :2] * v[..., :2]).sum(-1)
    cx = (x0[..., :2] ** 2).sum(-1) - r_max**2
    disc = bx * bx - vt2 * cx
    s_circ = ((-bx + disc.clamp(min=0).sqrt()) / vt2).clamp(min=0) * (disc > 0)
    return s_tau.minimum(s_circ)


def optical_depth(t0, x0, p, e, mass: float, sigma_fm2: float, medium, quad_nodes: int, rate_frame: str):
    """∫ σ n v_rel dt from the decay point to the end of the medium, for paths of any leading shape (..., 3)."""
    import torch

    v = p / e.unsqueeze(-1)
    s_end = path_end(t0, x0, v, medium.tau_kin, medium.max_radius())
    nodes, weights = gauss_legendre(quad_nodes)
    total = torch.zeros_like(t0)
    for xi, wi in zip(nodes.tolist(), weights.tolist()):  # a loop over quadrature nodes, vectorised over all paths
        s = s_end * xi
        t = t0 + s
        pos = x0 + v * s.unsqueeze(-1)
        z = pos[..., 2]
        tau = (t * t - z * z).clamp(min=1e-12).sqrt()
        n = medium.density(pos[..., 0], pos[..., 1], tau)
        if rate_frame == "local_rest":
            ux, uy = medium.flow(pos[..., 0], pos[..., 1], tau)
            gam = (1 + ux * ux + uy * uy).sqrt()
            udotp = gam * (t * e - z * p[..., 2]) / tau - ux * p[..., 0] - uy * p[..., 1]
            rate = n * (udotp * udotp - mass * mass).clamp(min=0).sqrt() / e
        elif rate_frame == "lab":
            ux, uy = medium.flow(pos[..., 0], pos[..., 1], tau)
            u0 = (1 + ux * ux + uy * uy).sqrt() * t / tau
            rate = n * u0 * (p * p).sum(-1).sqrt() / e
        else:
            rate = n * (p * p).sum(-1).sqrt() / e
        total = total + wi * rate
    return sigma_fm2 * total * s_end
