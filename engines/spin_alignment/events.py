"""The Monte Carlo as particle lists: one real decay per resonance, survival decided by a coin, written like a transport code.

Each resonance decays once (an isotropic direction, kept with probability W(cosθ)/W_max to impose the intrinsic ρ00
along one fixed frame), each daughter survives with its probability exp(−∫σ n v_rel dt) drawn as a Bernoulli trial.
A surviving daughter keeps the decay as its origin (``proc_type_origin`` = 5, ``pdg_mother1`` = the meson); an absorbed
one gets a later elastic process instead, so a reader pairs only decays whose two daughters escaped. Positions are the
decay point; Ψ_RP = 0 (impact parameter along x) as in SMASH and UrQMD output.
"""

from __future__ import annotations

import numpy as np

from .analysis import frame_axes, intrinsic_weight
from .chain import generate_chunk, propagate_chunk
from .config import FRAMES, MESON_NAMES, MESONS, Config
from .engine import seed_for
from .generator import dot
from .oscar import EXTENDED_COLUMNS, INT_COLUMNS, PROCESS_DECAY, PROCESS_ELASTIC, ParticleLists


def simulate_events(config: Config, n_per_meson: int, device: str = "cpu") -> ParticleLists:
    """Decays of K*0, φ, ρ0 (``n_per_meson`` resonances each before cuts) as OSCAR2013 Extended particle lists."""
    from engines.device import cpu_threads, resolve

    with cpu_threads(config.cpu_threads, resolve(device)):
        return _simulate_events(config, n_per_meson, device)


def _simulate_events(config: Config, n_per_meson: int, device: str) -> ParticleLists:
    import torch

    from engines.device import resolve

    if config.intrinsic_frame == "each" and abs(config.intrinsic_rho00 - 1 / 3) > 1e-12:
        raise ValueError("intrinsic_frame: real decays in a file need one fixed frame for the intrinsic rho00 "
                         "(allowed: reaction_plane, production_plane, helicity)")
    dev = resolve(device)
    cfg = config.replace(decay_directions=1, ep_resolution=1.0, resonances_per_event=config.resonances_per_event)
    rows: dict[str, list] = {c: [] for c in EXTENDED_COLUMNS}
    event_of_row: list[np.ndarray] = []
    impacts = []
    n_events_so_far = 0
    proc = 1
    for meson in MESON_NAMES:
        pdg, _, _, d1, m1, d2, m2 = MESONS[meson]
        seed = seed_for(cfg, "events", meson)
        gen = torch.Generator(device=dev).manual_seed(seed)
        rng = np.random.default_rng(seed)
        chunk = generate_chunk(meson, n_per_meson, cfg, cfg.preset(), gen, rng, dev, torch.float64)
        out = propagate_chunk(meson, chunk, cfg)
        res = chunk["res"]
        n = len(res["mass"])
        # impose the intrinsic ρ00 on the single decay by acceptance–rejection (no weights in a file)
        f = FRAMES.index(config.intrinsic_frame) if config.intrinsic_frame != "each" else 0
        axes = frame_axes(res["p"], torch.zeros(n, dtype=res["p"].dtype, device=dev))
        cos_true = dot(chunk["dirs"][:, 0], axes[f])
        w = intrinsic_weight(cos_true, config.intrinsic_rho00)
        wmax = 1.5 * max(1 - config.intrinsic_rho00, 2 * config.intrinsic_rho00)
        keep = torch.rand(n, generator=gen, device=dev, dtype=torch.float64) < w / wmax
        # survival of each daughter as a Bernoulli trial with its own probability (independent absorption)
        p1, e1, p2, e2 = out["daughters"]
        s1, s2 = _daughter_survival(meson, chunk, cfg, out)
        alive1 = torch.rand(n, generator=gen, device=dev, dtype=torch.float64) < s1
        alive2 = torch.rand(n, generator=gen, device=dev, dtype=torch.float64) < s2
        ev = res["events"].cpu().numpy()
        kp = keep.cpu().numpy()
        for d_pdg, d_m, p, e, alive, sign in ((d1, m1, p1[:, 0], e1[:, 0], alive1, 1), (d2, m2, p2[:, 0], e2[:, 0], alive2, -1)):
            pn, en, al = p.cpu().numpy()[kp], e.cpu().numpy()[kp], alive.cpu().numpy()[kp]
            k = len(pn)
            xd, td = res["x_decay"].cpu().numpy()[kp], res["t_decay"].cpu().numpy()[kp]
            rows["t"].append(td)
            for c, col in zip(("x", "y", "z"), xd.T):
                rows[c].append(col)
            rows["mass"].append(np.full(k, d_m))
            rows["p0"].append(en)
            for c, col in zip(("px", "py", "pz"), pn.T):
                rows[c].append(col)
            rows["pdg"].append(np.full(k, d_pdg))
            rows["charge"].append(np.full(k, int(np.sign(d_pdg))))  # K+, π+ positive; K−, π− negative
            rows["ncoll"].append(np.where(al, 0, 1))
            rows["form_time"].append(td)
            rows["xsecfac"].append(np.ones(k))
            pid = proc + np.arange(k)
            rows["proc_id_origin"].append(np.where(al, pid, pid + 10_000_000 * (1 if sign > 0 else 2)))
            rows["proc_type_origin"].append(np.where(al, PROCESS_DECAY, PROCESS_ELASTIC))
            rows["time_last_coll"].append(td)
            rows["pdg_mother1"].append(np.where(al, pdg, d_pdg))
            rows["pdg_mother2"].append(np.where(al, 0, 211))
            rows["baryon_number"].append(np.zeros(k, dtype=int))
            rows["strangeness"].append(np.full(k, int(np.sign(d_pdg)) if abs(d_pdg) == 321 else 0))  # K+ = us̄: S = +1
            event_of_row.append(ev[kp] + n_events_so_far)
        proc += int(kp.sum())
        impacts.append(chunk["events"]["b"])
        n_events_so_far += len(chunk["events"]["b"])
    data = {c: np.concatenate(v) for c, v in rows.items() if v}
    event = np.concatenate(event_of_row)
    order = np.argsort(event, kind="stable")
    data = {c: (v[order].astype(np.int64) if c in INT_COLUMNS else v[order].astype(float)) for c, v in data.items()}
    data["ID"] = np.arange(len(event), dtype=np.int64)
    return ParticleLists("OSCAR2013Extended", EXTENDED_COLUMNS, data, event[order].astype(np.int64), np.concatenate(impacts))


def _daughter_survival(meson: str, chunk: dict, cfg: Config, out: dict):
    """Per-daughter survival probabilities of the single decay direction (the chain stores only their product)."""
    import torch

    from .chain import MB_TO_FM2
    from .transport import optical_depth

    if not cfg.rescattering:
        one = torch.ones_like(out["survival"][:, 0])
        return one, one
    res, medium = chunk["res"], chunk["medium"]
    _, _, _, d1, m1, d2, m2 = MESONS[meson]
    p1, e1, p2, e2 = out["daughters"]
    med = medium.take(res["events"]).expand()
    x0 = res["x_decay"].unsqueeze(1).expand_as(p1)
    t0 = res["t_decay"].unsqueeze(1).expand(p1.shape[:-1])
    sig = {True: cfg.sigma_kaon * MB_TO_FM2, False: cfg.sigma_pion * MB_TO_FM2}
    s1 = torch.exp(-optical_depth(t0, x0, p1, e1, m1, sig[abs(d1) == 321], med, cfg.quad_nodes, cfg.rate_frame))[:, 0]
    s2 = torch.exp(-optical_depth(t0, x0, p2, e2, m2, sig[abs(d2) == 321], med, cfg.quad_nodes, cfg.rate_frame))[:, 0]
    return s1, s2
