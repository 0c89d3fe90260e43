"""One chunk of the whole chain, vectorised in torch: events → resonances → decays → absorption → cos θ* and weights."""

from __future__ import annotations

import math

import numpy as np

from .analysis import frame_axes, intrinsic_weight, rest_frame_direction, smear_event_plane
from .config import FRAMES, MESONS
from .fireball import Medium, impact_parameter
from .generator import decay, decay_directions, dot, emit
from .transport import optical_depth

MB_TO_FM2 = 0.1


def sample_events(rng: np.random.Generator, n_events: int, cent_lo: float, cent_hi: float, preset: dict, resolution: float):
    """Event-level draws (numpy): centrality uniform in the class, b from the Glauber table, Ψ_RP uniform, Ψ_EP smeared."""
    cent = rng.uniform(cent_lo, cent_hi, n_events)
    b = impact_parameter(cent, preset["sigma_nn"])
    psi_rp = rng.uniform(0.0, 2 * math.pi, n_events)
    psi_ep = smear_event_plane(rng, psi_rp, resolution)
    return dict(centrality=cent, b=b, psi_rp=psi_rp, psi_ep=psi_ep)


def rotate_z(v, psi):
    """Rotate vectors (n, ..., 3) about the beam axis by angles psi (n,)."""
    import torch

    c, s = psi.cos(), psi.sin()
    while c.dim() < v.dim() - 1:
        c, s = c.unsqueeze(-1), s.unsqueeze(-1)
    return torch.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1], v[..., 2]], -1)


def generate_chunk(meson: str, n: int, config, preset: dict, gen, rng, device, dtype, centrality=None) -> dict:
    """Events and resonances of one chunk, decayed along the chosen directions (no absorption yet), pT cut applied."""
    import torch

    lo, hi = centrality if centrality is not None else (config.centrality_min, config.centrality_max)
    n_ev = max(1, math.ceil(n / config.resonances_per_event))
    ev = sample_events(rng, n_ev, lo, hi, preset, config.ep_resolution)
    b = torch.as_tensor(ev["b"], dtype=dtype, device=device)
    medium = Medium.for_events(b, preset, config, device, dtype)
    events = torch.arange(n, device=device) // config.resonances_per_event
    res = emit(gen, meson, n, events, medium, preset, config, device, dtype)
    dirs = decay_directions(gen, n, config.decay_directions, device, dtype)
    pt = res["p"][:, :2].norm(dim=-1)
    keep = (pt >= config.pt_min) & (pt < config.pt_max)
    res = {k: v[keep] for k, v in res.items()}
    dirs = dirs[keep]
    _, _, _, _, m1, _, m2 = MESONS[meson]
    if config.decay_directions == 6 and m1 != m2:  # both orientations of each axis: K along +a and along −a
        dirs = torch.cat([dirs, -dirs], 1)
    return dict(res=res, dirs=dirs, medium=medium, events=ev, torch_events={k: torch.as_tensor(v, dtype=dtype, device=device)
                                                                            for k, v in ev.items()})


def propagate_chunk(meson: str, chunk: dict, config) -> dict:
    """Decay, absorb and analyse a generated chunk: survival (n, k), cos θ* (3, n, k), intrinsic weights (3, n, k)."""
    import torch

    res, dirs, medium = chunk["res"], chunk["dirs"], chunk["medium"]
    _, _, _, d1, m1, d2, m2 = MESONS[meson]
    p1, e1, p2, e2 = decay(res, meson, dirs)
    if config.rescattering:
        med = medium.take(res["events"]).expand()
        x0 = res["x_decay"].unsqueeze(1).expand_as(p1)
        t0 = res["t_decay"].unsqueeze(1).expand(p1.shape[:-1])
        sig1 = (config.sigma_kaon if abs(d1) == 321 else config.sigma_pion) * MB_TO_FM2
        sig2 = (config.sigma_kaon if abs(d2) == 321 else config.sigma_pion) * MB_TO_FM2
        depth = optical_depth(t0, x0, p1, e1, m1, sig1, med, config.quad_nodes, config.rate_frame)
        depth = depth + optical_depth(t0, x0, p2, e2, m2, sig2, med, config.quad_nodes, config.rate_frame)
        survival = torch.exp(-depth)
    else:
        survival = torch.ones(p1.shape[:-1], dtype=p1.dtype, device=p1.device)
    # into the lab: rotate the event by Ψ_RP, then analyse against the (smeared) event plane
    tev = chunk["torch_events"]
    ev_idx = res["events"]
    psi_rp, psi_ep = tev["psi_rp"][ev_idx], tev["psi_ep"][ev_idx]
    P = rotate_z(res["p"], psi_rp)
    q1, q2 = rotate_z(p1, psi_rp), rotate_z(p2, psi_rp)
    dstar = rest_frame_direction(q1, e1, q2, e2)  # (n, k, 3)
    axes = frame_axes(P, psi_ep)  # (3, n, 3)
    cos_theta = dot(dstar.unsqueeze(0), axes.unsqueeze(2))  # (3, n, k)
    # intrinsic ρ00 along the true axes, as weights on the isotropic decay directions (in the event frame)
    true_axes = frame_axes(res["p"], torch.full_like(psi_rp, 0.0))
    cos_true = dot(dirs.unsqueeze(0), true_axes.unsqueeze(2))
    if config.intrinsic_frame == "each":
        w_int = intrinsic_weight(cos_true, config.intrinsic_rho00)
    else:
        f = FRAMES.index(config.intrinsic_frame)
        w_int = intrinsic_weight(cos_true[f], config.intrinsic_rho00).unsqueeze(0).expand_as(cos_true)
    k = dirs.shape[1]
    weights = survival.unsqueeze(0) * w_int / k
    return dict(survival=survival, cos_theta=cos_theta, weights=weights, pt=res["p"][:, :2].norm(dim=-1),
                centrality=tev["centrality"][ev_idx], event=ev_idx, x_decay=res["x_decay"], daughters=(p1, e1, p2, e2))
