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
    vx, vy, x, y = v[..., 0], v[..., 1], x0[..., 0], x0[..., 1]
    vt2 = (vx * vx + vy * vy).clamp(min=1e-12)
    bx = x * vx + y * vy
    cx = x * x + y * y - r_max**2
    disc = bx * bx - vt2 * cx
    s_circ = ((-bx + disc.clamp(min=0).sqrt()) / vt2).clamp(min=0) * (disc > 0)
    return s_tau.minimum(s_circ)


def optical_depth(t0, x0, p, e, mass: float, sigma_fm2: float, medium, quad_nodes: int, rate_frame: str):
    """∫ σ n v_rel dt from the decay point to the end of the medium, for paths of any leading shape (..., 3).

    Only paths that cross the medium (s_end > 0) are integrated; the others have depth 0. See :func:`_path_integral`.
    """
    import torch

    v = p / e.unsqueeze(-1)
    s_end = path_end(t0, x0, v, medium.tau_kin, medium.max_radius())
    shape = s_end.shape
    depth = torch.zeros(shape.numel(), dtype=s_end.dtype, device=s_end.device)
    idx = (s_end > 0).reshape(-1).nonzero().squeeze(1)
    if idx.numel() == 0:
        return depth.view(shape)

    def flat(a):  # a per-path quantity, broadcast to the paths' shape, on the paths that cross the medium
        return torch.broadcast_to(a, shape).reshape(-1)[idx]

    def components(a):  # contiguous x, y, z: elementwise work on strided views of (n, 3) is several times slower
        return tuple(c.contiguous() for c in torch.broadcast_to(a, (*shape, 3)).reshape(-1, 3)[idx].unbind(-1))

    paths = dict(t0=flat(t0), length=flat(s_end), e=flat(e), x0=components(x0), p=components(p),
                 sx0=flat(medium.sx0), sy0=flat(medium.sy0), bx=flat(medium.beta_x), by=flat(medium.beta_y), g=flat(medium.g))
    depth[idx] = sigma_fm2 * _path_integral(paths, mass, medium, quad_nodes, rate_frame)
    return depth.view(shape)


def _path_integral(paths: dict, mass: float, medium, quad_nodes: int, rate_frame: str):
    """∫₀^L n(x(s)) v_rel ds by Gauss–Legendre, on flat paths x(s) = x₀ + (p/E) s, t(s) = t₀ + s.

    The medium exists for τ_ch ≤ τ ≤ τ_kin, where the widths grow linearly, σ_i(τ) = a_i + β_i τ (``Medium.widths``'
    late branch), so with s = ξ L each node needs only per-path constants and one scalar ξ:

        x = x₀ + ξ (v_x L),  τ² = t² − z² = A + ξ (B L) + ξ² (C L²),  A = t₀² − z₀², B = 2(t₀ − z₀v_z), C = 1 − v_z²
        n = n_ch g τ_ch σ_x(τ_ch)σ_y(τ_ch) exp(−(r_x² + r_y²)/2) / (τ σ_x σ_y),  r_i = x_i/σ_i(τ)
        u_i = r_i β_i/√(1 − β_i²),  u·p = γ_T (tE − z p_z)/τ − u_x p_x − u_y p_y,  tE − z p_z = D + ξ (F L)

    with D = t₀E − z₀p_z, F = E − v_z p_z; the rate σ n √((u·p)² − m²)/E (``local_rest``; see the module docstring for
    ``lab`` and ``static``) has its 1/E taken out of the sum. τ grows along a path, so a path whose first and last nodes
    lie inside [τ_ch, τ_kin] has all of them inside; only the others (decays right at τ_ch, rounding at τ_kin) are
    masked node by node.
    """
    import torch

    t0, length, e = paths["t0"], paths["length"], paths["e"]
    (x0x, x0y, x0z), (px, py, pz) = paths["x0"], paths["p"]
    bx, by = paths["bx"], paths["by"]
    tc, tk = medium.tau_chem, medium.tau_kin
    grow_c = 0.5 * (tc - medium.tau_0)  # the widths' growth at τ_ch
    ax, ay = paths["sx0"] + bx * (grow_c - tc), paths["sy0"] + by * (grow_c - tc)
    pref = medium.n_chem * paths["g"] * tc * (paths["sx0"] + bx * grow_c) * (paths["sy0"] + by * grow_c)
    kx, ky = bx / (1 - bx * bx).sqrt(), by / (1 - by * by).sqrt()
    kx2, ky2, kpx, kpy = kx * kx, ky * ky, kx * px, ky * py
    vz = pz / e
    xl, yl = px / e * length, py / e * length  # the transverse displacement over the whole path
    A = t0 * t0 - x0z * x0z
    BL, CL2 = 2 * (t0 - x0z * vz) * length, (1 - vz * vz) * length * length
    D, FL = t0 * e - x0z * pz, (e - vz * pz) * length
    pmag = (px * px + py * py + pz * pz).sqrt()
    nodes, weights = gauss_legendre(quad_nodes)

    def tau_at(xi: float):
        return torch.add(A, BL, alpha=xi).add_(CL2, alpha=xi * xi).clamp_(min=1e-12).sqrt_()

    masked = (tau_at(float(nodes[0])) < tc * (1 + 1e-6)) | (tau_at(float(nodes[-1])) > tk * (1 - 1e-6))
    any_masked = bool(masked.any())
    total = torch.zeros_like(t0)
    for xi, wi in zip(nodes.tolist(), weights.tolist()):  # a loop over quadrature nodes, vectorised over all paths
        tau = tau_at(xi)
        sx, sy = torch.addcmul(ax, bx, tau), torch.addcmul(ay, by, tau)
        rx, ry = torch.add(x0x, xl, alpha=xi).div_(sx), torch.add(x0y, yl, alpha=xi).div_(sy)
        rx2, ry2 = rx * rx, ry * ry
        n = (rx2 + ry2).mul_(-0.5).exp_().mul_(pref).div_(sx.mul_(sy).mul_(tau))
        if rate_frame == "static":
            rate = n.mul_(pmag)
        else:
            gam = (kx2 * rx2).addcmul_(ky2, ry2).add_(1).sqrt_()
            if rate_frame == "local_rest":
                udotp = torch.add(D, FL, alpha=xi).mul_(gam).div_(tau).sub_((rx * kpx).addcmul_(ry, kpy))
                rate = udotp.mul_(udotp).sub_(mass * mass).clamp_(min=0).sqrt_().mul_(n)
            else:  # lab: the lab density n u⁰ and the lab speed |p|/E, u⁰ = γ_T t/τ
                rate = n.mul_(gam).mul_(torch.add(t0, length, alpha=xi)).div_(tau).mul_(pmag)
        if any_masked:
            rate = torch.where(masked & ((tau < tc) | (tau > tk)), 0.0, rate)
        total.add_(rate, alpha=wi)
    return total / e * length
