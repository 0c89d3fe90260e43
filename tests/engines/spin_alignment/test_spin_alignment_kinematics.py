"""Closed forms and a second implementation: boosts, two-body decays, rotations, estimators, the path integral."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engines.spin_alignment import Config
from engines.spin_alignment.analysis import (
    Accumulator,
    correct_resolution,
    fit_estimate,
    moment_estimate,
    rest_frame_direction,
    vonmises_kappa,
)
from engines.spin_alignment.chain import generate_chunk, propagate_chunk
from engines.spin_alignment.fireball import Medium, glauber_table
from engines.spin_alignment.generator import boost, random_rotations, two_body_momentum
from engines.spin_alignment.reference import per_particle
from engines.spin_alignment.transport import optical_depth

T = torch.float64


def test_boost_round_trip_and_invariant_mass():
    g = torch.Generator().manual_seed(0)
    p = torch.randn(1000, 3, generator=g, dtype=T)
    m = 0.5
    e = (m * m + (p * p).sum(-1)).sqrt()
    u = torch.randn(1000, 3, generator=g, dtype=T)
    q, f = boost(p, e, u)
    assert torch.allclose(f * f - (q * q).sum(-1), torch.full_like(f, m * m), atol=1e-10)
    back, eb = boost(q, f, -u)
    assert torch.allclose(back, p, atol=1e-10) and torch.allclose(eb, e, atol=1e-10)


def test_two_body_momentum_conserves_energy():
    m = torch.tensor([0.89555, 1.019461, 0.77526], dtype=T)
    m1 = torch.tensor([0.493677, 0.493677, 0.13957039], dtype=T)
    m2 = torch.tensor([0.13957039, 0.493677, 0.13957039], dtype=T)
    p = torch.stack([two_body_momentum(m[i], float(m1[i]), float(m2[i])) for i in range(3)])
    assert torch.allclose((p * p + m1 * m1).sqrt() + (p * p + m2 * m2).sqrt(), m, atol=1e-12)
    assert abs(float(p[1]) - 0.127) < 0.001  # φ → K K: p* ≈ 127 MeV


def test_random_rotations_are_proper_and_isotropic():
    R = random_rotations(torch.Generator().manual_seed(1), 20000, "cpu", T)
    eye = torch.eye(3, dtype=T).expand(20000, 3, 3)
    assert torch.allclose(R @ R.transpose(-1, -2), eye, atol=1e-10)
    assert torch.allclose(torch.linalg.det(R), torch.ones(20000, dtype=T), atol=1e-10)
    z2 = (R[:, 0, 2] ** 2).mean().item()
    assert abs(z2 - 1 / 3) < 4 * math.sqrt(4 / 45 / 20000)
    # an orthogonal triad: Σ cos² over the three axes is exactly 1 for any quantization axis
    assert torch.allclose((R[:, :, 2] ** 2).sum(-1), torch.ones(20000, dtype=T), atol=1e-12)


def test_rest_frame_direction_recovers_the_generated_decay_direction():
    cfg = Config(decay_directions=3, rescattering=False)
    chunk = generate_chunk("kstar0", 500, cfg, cfg.preset(), torch.Generator().manual_seed(2), np.random.default_rng(2), "cpu", T)
    out = propagate_chunk("kstar0", chunk, cfg)
    p1, e1, p2, e2 = out["daughters"]
    d = rest_frame_direction(p1, e1, p2, e2)
    assert torch.allclose(d, chunk["dirs"], atol=1e-9)


def _sample_cos(rho, n, rng):
    out = []
    while sum(len(o) for o in out) < n:
        c = rng.uniform(-1, 1, 2 * n)
        w = (1 - rho) + (3 * rho - 1) * c * c
        out.append(c[rng.uniform(0, max(1 - rho, 2 * rho), 2 * n) < w])
    return np.concatenate(out)[:n]


@pytest.mark.parametrize("rho", [0.2, 1 / 3, 0.45])
def test_estimators_recover_rho00_of_sampled_decays(rho):
    c = torch.as_tensor(_sample_cos(rho, 200_000, np.random.default_rng(5)))
    acc = Accumulator(20)
    cos = c.view(1, -1, 1).expand(3, -1, 1)
    acc.add(cos, torch.ones_like(cos), torch.ones(len(c), dtype=T))
    v, e = moment_estimate(acc.sums[0, 0])
    assert abs(v - rho) < 3 * e
    assert abs(e - 2.5 * math.sqrt(np.var(c.numpy() ** 2) / len(c))) < 0.05 * e  # the closed-form error
    fv, fe, _ = fit_estimate(acc.hist[0], acc.cov[0])
    assert abs(fv - rho) < 3 * fe


def test_fit_of_an_exact_spin_one_histogram_is_exact():
    edges = np.linspace(-1, 1, 21)
    rho = 0.41
    # the exact bin integrals of (1 − ρ) + (3ρ − 1) c²
    hist = 1000 * ((1 - rho) * np.diff(edges) + (3 * rho - 1) * np.diff(edges**3) / 3)
    v, e, _ = fit_estimate(hist, np.diag(hist))
    assert abs(v - rho) < 1e-12


def test_resolution_correction_and_vonmises_kappa():
    from scipy.special import i0, i1

    for R in (0.2, 0.5, 0.9):
        k = vonmises_kappa(R)
        assert abs(i1(k) / i0(k) - R) < 1e-9
        obs = 1 / 3 + (0.4 - 1 / 3) * (1 + 3 * R) / 4
        v, _ = correct_resolution(obs, 0.01, R)
        assert abs(v - 0.4) < 1e-12
    assert correct_resolution(0.37, 0.01, 1.0) == pytest.approx((0.37, 0.01))


def test_glauber_geometry():
    t = glauber_table(42.0)
    assert 360 < t["npart"][0] < 394  # optical Glauber N_part(b = 0) for Au+Au
    assert np.all(np.diff(t["centrality"]) >= 0) and t["centrality"][-1] == pytest.approx(100.0)
    i = np.searchsorted(t["b"], 9.0)
    assert t["sigma_y0"][i] > t["sigma_x0"][i]  # the almond is elongated out of plane


def test_optical_depth_against_a_fine_direct_integration():
    cfg = Config()
    pre = cfg.preset()
    med = Medium.for_events(torch.tensor([8.0], dtype=T), pre, cfg, "cpu", T)
    x0 = torch.tensor([[1.0, -2.0, 0.5]], dtype=T)
    t0 = torch.tensor([7.5], dtype=T)
    m = 0.13957
    for p in ([0.4, 0.1, 0.0], [-0.2, 0.5, 0.3], [0.0, 0.0, 0.6]):
        P = torch.tensor([p], dtype=T)
        E = (m * m + (P * P).sum(-1)).sqrt()
        gl = float(optical_depth(t0, x0, P, E, m, 4.0, med, 24, "local_rest"))
        # direct midpoint rule over a long lab-time window; the density is zero outside τ_ch ≤ τ ≤ τ_kin
        s = (torch.arange(200_000, dtype=T) + 0.5) * 1e-4 * 2.0
        v = P / E.unsqueeze(-1)
        pos = x0 + v * s.unsqueeze(-1)
        t = t0 + s
        tau = (t * t - pos[:, 2] ** 2).sqrt()
        n = med.density(pos[:, 0], pos[:, 1], tau)
        ux, uy = med.flow(pos[:, 0], pos[:, 1], tau)
        gam = (1 + ux * ux + uy * uy).sqrt()
        udotp = gam * (t * E - pos[:, 2] * P[0, 2]) / tau - ux * P[0, 0] - uy * P[0, 1]
        rate = n * (udotp**2 - m * m).clamp(min=0).sqrt() / E
        r_max = float(med.max_radius())
        inside = (pos[:, :2] ** 2).sum(-1) <= r_max**2
        direct = float(4.0 * (rate * inside).sum() * 2e-4)
        assert gl == pytest.approx(direct, rel=2e-3, abs=1e-6)


@pytest.mark.parametrize("rate_frame", ["local_rest", "lab", "static"])
def test_a_path_from_before_hadronization_counts_only_nodes_inside_the_medium(rate_frame):
    """τ < τ_ch at the first nodes: those contribute nothing, as in the reference's per-node loop (the fast path evaluates
    per-path constants and masks only paths that leave [τ_ch, τ_kin])."""
    from engines.spin_alignment.reference import _optical_depth
    from engines.spin_alignment.transport import gauss_legendre

    cfg = Config()
    med = Medium.for_events(torch.tensor([8.0], dtype=T), cfg.preset(), cfg, "cpu", T)
    m = dict(sx0=float(med.sx0), sy0=float(med.sy0), bx=float(med.beta_x), by=float(med.beta_y), g=float(med.g), n_chem=med.n_chem,
             tau_0=med.tau_0, tau_chem=med.tau_chem, tau_kin=med.tau_kin)
    nodes, weights = gauss_legendre(24)
    mass = 0.13957
    for t_start, p in ((6.0, [0.4, 0.1, 0.0]), (5.0, [-0.2, 0.5, 0.3]), (6.9, [0.0, 0.0, 0.6])):
        x0, t0 = torch.tensor([[1.0, -2.0, 0.5]], dtype=T), torch.tensor([t_start], dtype=T)
        P = torch.tensor([p], dtype=T)
        E = (mass * mass + (P * P).sum(-1)).sqrt()
        fast = float(optical_depth(t0, x0, P, E, mass, 4.0, med, 24, rate_frame))
        loop = _optical_depth(t_start, x0[0].numpy(), P[0].numpy(), float(E), mass, 4.0, m, nodes, weights, rate_frame)
        assert fast > 0 and fast == pytest.approx(loop, rel=1e-12)


@pytest.mark.parametrize("rate_frame, emission", [("local_rest", "chemical_freezeout"), ("lab", "chemical_freezeout"),
                                                  ("static", "chemical_freezeout"), ("local_rest", "hadronic_phase")])
def test_vectorised_chain_equals_the_per_particle_loop(rate_frame, emission):
    cfg = Config(ep_resolution=0.6, rate_frame=rate_frame, emission=emission)
    for meson in ("kstar0", "phi", "rho0"):
        chunk = generate_chunk(meson, 60, cfg, cfg.preset(), torch.Generator().manual_seed(9), np.random.default_rng(9), "cpu", T)
        out = propagate_chunk(meson, chunk, cfg)
        ref = per_particle(meson, chunk, cfg)
        assert np.allclose(out["survival"].numpy(), ref["survival"], atol=1e-10)
        assert np.allclose(out["cos_theta"].numpy(), ref["cos_theta"], atol=1e-9)


def test_collision_rate_is_taken_in_the_local_rest_frame_of_the_fluid():
    """σ n v_rel per lab time = σ n |p_LRF|/E, with p_LRF the daughter boosted into the rest frame of the Bjorken +
    transverse flow u = (γ_T cosh η, u_x, u_y, γ_T sinh η): checked with an explicit boost at the path's midpoint (one
    Gauss–Legendre node), and a daughter co-moving with the fluid is not absorbed at all."""
    from engines.spin_alignment.transport import path_end

    cfg = Config()
    med = Medium.for_events(torch.tensor([8.0], dtype=T), cfg.preset(), cfg, "cpu", T)
    g = torch.Generator().manual_seed(4)
    n, m, sigma = 200, 0.13957, 4.0
    t0 = 9.0 + torch.rand(n, generator=g, dtype=T)
    x0 = torch.randn(n, 3, generator=g, dtype=T) * torch.tensor([3.0, 3.0, 2.0], dtype=T)
    p = torch.randn(n, 3, generator=g, dtype=T) * 0.5
    e = (m * m + (p * p).sum(-1)).sqrt()
    depth = optical_depth(t0, x0, p, e, m, sigma, med, 1, "local_rest")
    s = path_end(t0, x0, p / e.unsqueeze(-1), med.tau_kin, med.max_radius())
    half = 0.5 * s
    pos, t = x0 + p / e.unsqueeze(-1) * half.unsqueeze(-1), t0 + half
    tau = (t * t - pos[:, 2] ** 2).sqrt()
    ux, uy = med.flow(pos[:, 0], pos[:, 1], tau)
    u = torch.stack([ux, uy, (1 + ux * ux + uy * uy).sqrt() * pos[:, 2] / tau], -1)  # γ_T sinh η = γ_T z/τ
    p_lrf, _ = boost(p, e, -u)
    expected = sigma * med.density(pos[:, 0], pos[:, 1], tau) * p_lrf.norm(dim=-1) / e * s
    assert (expected > 0).sum() > n // 2
    assert torch.allclose(depth, expected, rtol=1e-10, atol=1e-12)
    # a daughter at rest in the fluid it sits in has v_rel = 0 (at the point where its rate is evaluated)
    x_mid = torch.tensor([[2.0, -1.0, 1.0]], dtype=T)
    t_mid = torch.tensor([10.0], dtype=T)
    tau_mid = (t_mid**2 - x_mid[:, 2] ** 2).sqrt()
    ux, uy = med.flow(x_mid[:, 0], x_mid[:, 1], tau_mid)
    u = torch.stack([ux, uy, (1 + ux * ux + uy * uy).sqrt() * x_mid[:, 2] / tau_mid], -1)
    comoving = optical_depth(t_mid, x_mid, m * u, m * (1 + (u * u).sum(-1)).sqrt(), m, sigma, med, 2, "local_rest")
    static = optical_depth(t_mid, x_mid, m * u, m * (1 + (u * u).sum(-1)).sqrt(), m, sigma, med, 2, "static")
    assert float(static) > 0.0
    assert float(comoving) < 0.05 * float(static)
