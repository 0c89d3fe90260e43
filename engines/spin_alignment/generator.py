"""Resonance generation and decay: elliptic blast-wave emission, Breit–Wigner masses, exponential proper-time decay.

Emission (event frame, x along b). For each resonance of an event with impact parameter b:

1. birth proper time τ_e (``tau_chem``, or uniform in [τ_ch, τ_kin]) and temperature T(τ_e) (linear from T_ch to T_kin);
2. transverse position drawn from the density profile, x ~ N(0, σ_x(τ_e)), y ~ N(0, σ_y(τ_e));
3. mass from a Breit–Wigner truncated to [max(threshold + 5 MeV, m0 − 3Γ), m0 + 3Γ];
4. momentum in the local rest frame from the Boltzmann spectrum p² exp(−E/T), isotropic; boosted by the
   transverse flow u(x, y, τ_e) (blast wave);
5. boost invariance: the meson rapidity is drawn uniformly in |y| < y_max and its space-time rapidity set to
   η_s = y − Δy (Δy its rapidity in the η_s = 0 fluid cell), which is the uniform-η_s Bjorken source restricted
   to the acceptance without wasting draws; t = τ_e cosh η_s, z = τ_e sinh η_s.

Decay at proper time t* ~ Exp(τ = ħc/Γ), at x_d = x_e + (p/m) t*, t_d = t_e + (E/m) t*. In the parent rest frame the
daughters are back to back with the two-body momentum p*.

Variance reduction (documented and unbiased): each resonance is decayed along the three axes of a uniformly random
rotation (each axis alone is isotropic, so the average over axes is an unbiased estimate of any expectation), and for
unequal-mass daughters (K*0 → Kπ) along both orientations of each axis. The intrinsic angular distribution
W(cos θ) = (3/4)[(1 − ρ00) + (3ρ00 − 1) cos²θ] enters as the weight W / (1/2) of each isotropic direction. Because
cos²θ summed over an orthogonal triad is exactly 1 for any axis, the decay-angle noise of ⟨cos²θ*⟩ cancels and only
the survival probabilities fluctuate.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .config import HBARC, MESONS


def two_body_momentum(m, m1: float, m2: float):
    """p* = √[(m² − (m1+m2)²)(m² − (m1−m2)²)] / 2m."""
    return ((m**2 - (m1 + m2) ** 2) * (m**2 - (m1 - m2) ** 2)).clamp(min=0.0).sqrt() / (2 * m)


def dot(a, b):
    """a·b over the last axis of 3-vectors, written out (a reduction over an axis of 3 is slow in torch)."""
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


def boost(p, e, u):
    """Lorentz boost of four-momenta (e, p) from a frame moving with four-velocity u = (u0, u⃗) to the lab.

    E' = u0 E + u⃗·p⃗;  p⃗' = p⃗ + u⃗ [E + (u⃗·p⃗)/(u0 + 1)].  The inverse boost uses (u0, −u⃗).
    """
    u0 = (1 + dot(u, u)).sqrt()
    up = dot(u, p)
    e2 = u0 * e + up
    p2 = p + u * (e + up / (u0 + 1)).unsqueeze(-1)
    return p2, e2


def random_rotations(gen, n, device, dtype):
    """n uniformly random rotation matrices (Shoemake's uniform unit quaternions); rows are the orthogonal axes."""
    import torch

    u1, u2, u3 = torch.rand(3, n, generator=gen, device=device, dtype=dtype)
    a, b = (1 - u1).sqrt(), u1.sqrt()
    q = torch.stack([a * torch.sin(2 * math.pi * u2), a * torch.cos(2 * math.pi * u2), b * torch.sin(2 * math.pi * u3),
                     b * torch.cos(2 * math.pi * u3)], -1)
    x, y, z, w = q.unbind(-1)
    return torch.stack([
        torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        torch.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        torch.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], -2).transpose(-1, -2)


@functools.lru_cache(maxsize=64)
def _thermal_quantiles(mass: float, temperature: float, n: int = 2049) -> np.ndarray:
    """Quantiles of |p| for dN/dp ∝ p² exp(−√(p² + m²)/T) (inverse CDF on a fine grid)."""
    p = np.linspace(0.0, 40.0 * temperature + 2.0, 20001)
    f = p**2 * np.exp(-(np.sqrt(p**2 + mass**2) - mass) / temperature)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(p))])
    cdf /= cdf[-1]
    return np.interp(np.linspace(0.0, 1.0, n), cdf, p)


def thermal_momentum(gen, mass: float, temperature, device, dtype):
    """|p| samples from the Boltzmann spectrum at temperatures ``temperature`` (tensor; tabulated on 16 levels)."""
    import torch

    t_np = temperature.detach().cpu().numpy()
    lo, hi = float(t_np.min()), float(t_np.max())
    levels = np.linspace(lo, hi, 16) if hi > lo else np.array([lo])
    table = torch.as_tensor(np.stack([_thermal_quantiles(mass, round(float(t), 6)) for t in levels]), dtype=dtype, device=device)
    k = torch.as_tensor(np.abs(t_np[:, None] - levels[None, :]).argmin(1), device=device)
    u = torch.rand(temperature.shape[0], generator=gen, device=device, dtype=dtype) * (table.shape[1] - 1)
    i = u.floor().long().clamp(max=table.shape[1] - 2)
    f = u - i
    return table[k, i] * (1 - f) + table[k, i + 1] * f


def isotropic(gen, n, device, dtype):
    import torch

    c = 2 * torch.rand(n, generator=gen, device=device, dtype=dtype) - 1
    phi = 2 * math.pi * torch.rand(n, generator=gen, device=device, dtype=dtype)
    s = (1 - c * c).clamp(min=0).sqrt()
    return torch.stack([s * phi.cos(), s * phi.sin(), c], -1)


def emit(gen, meson: str, n: int, events, medium, preset: dict, config, device, dtype) -> dict:
    """Emit ``n`` resonances of ``meson``; ``events`` maps each to its event (tensor of indices into ``medium``)."""
    import torch

    pdg, m0, width, _, m1, _, m2 = MESONS[meson]
    med = medium.take(events)
    tc, tk = preset["tau_chem"], preset["tau_kin"]
    if config.emission == "chemical_freezeout":
        tau = torch.full((n,), tc, device=device, dtype=dtype)
    else:
        tau = tc + (tk - tc) * torch.rand(n, generator=gen, device=device, dtype=dtype)
    temp = preset["t_chem"] + (preset["t_kin"] - preset["t_chem"]) * (tau - tc) / (tk - tc)
    sx, sy = med.widths(tau)
    x = sx * torch.randn(n, generator=gen, device=device, dtype=dtype)
    y = sy * torch.randn(n, generator=gen, device=device, dtype=dtype)
    # Breit–Wigner mass (Cauchy), truncated by inverse CDF
    lo, hi = max(m1 + m2 + 0.005, m0 - 3 * width), m0 + 3 * width
    a_lo, a_hi = math.atan(2 * (lo - m0) / width), math.atan(2 * (hi - m0) / width)
    mass = m0 + 0.5 * width * torch.tan(a_lo + (a_hi - a_lo) * torch.rand(n, generator=gen, device=device, dtype=dtype))
    # thermal momentum in the local rest frame, then the transverse blast-wave boost
    pmag = thermal_momentum(gen, m0, temp, device, dtype)
    p = pmag.unsqueeze(-1) * isotropic(gen, n, device, dtype)
    e = (pmag**2 + mass**2).sqrt()
    ux, uy = med.flow(x, y, tau)
    p, e = boost(p, e, torch.stack([ux, uy, torch.zeros_like(ux)], -1))
    # boost invariance: uniform rapidity in the acceptance, η_s = y − Δy
    dy = 0.5 * torch.log((e + p[:, 2]) / (e - p[:, 2]))
    rap = config.y_max * (2 * torch.rand(n, generator=gen, device=device, dtype=dtype) - 1)
    eta = rap - dy
    ch, sh = eta.cosh(), eta.sinh()
    e, pz = e * ch + p[:, 2] * sh, e * sh + p[:, 2] * ch
    p = torch.stack([p[:, 0], p[:, 1], pz], -1)
    t, z = tau * ch, tau * sh
    # decay at an exponential proper time
    tstar = -(HBARC / width) * torch.log1p(-torch.rand(n, generator=gen, device=device, dtype=dtype))
    xd = torch.stack([x, y, z], -1) + p / mass.unsqueeze(-1) * tstar.unsqueeze(-1)
    td = t + e / mass * tstar
    return dict(events=events, x_emit=torch.stack([x, y, z], -1), t_emit=t, p=p, e=e, mass=mass, x_decay=xd, t_decay=td,
                tau_emit=tau)


def decay_directions(gen, n: int, k: int, device, dtype):
    """Rest-frame unit vectors of daughter 1: (n, k', 3) with k' = 1 (isotropic) or 3 (a random orthogonal triad)."""
    if k == 1:
        return isotropic(gen, n, device, dtype).unsqueeze(1)
    return random_rotations(gen, n, device, dtype)


def decay(res: dict, meson: str, dirs):
    """Daughter lab four-momenta for every resonance and rest-frame direction ``dirs`` (n, k, 3) of daughter 1."""
    _, _, _, _, m1, _, m2 = MESONS[meson]
    mass = res["mass"].unsqueeze(-1)
    pstar = two_body_momentum(mass, m1, m2)
    e1s, e2s = (pstar**2 + m1**2).sqrt(), (pstar**2 + m2**2).sqrt()
    p1s = dirs * pstar.unsqueeze(-1)
    u = (res["p"] / res["mass"].unsqueeze(-1)).unsqueeze(1).expand_as(p1s)
    p1, e1 = boost(p1s, e1s.expand(p1s.shape[:-1]), u)
    p2, e2 = boost(-p1s, e2s.expand(p1s.shape[:-1]), u)
    return p1, e1, p2, e2
