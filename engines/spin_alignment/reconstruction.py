"""K*0, φ and ρ0 decays reconstructed from a transport model's particle list, analysed as the Monte Carlo is analysed.

Parents come from the OSCAR2013 Extended columns: two particles of one event's final list that share ``proc_id_origin``,
with ``proc_type_origin`` = 5 (a decay) and ``|pdg_mother1|`` = 313, 333 or 113, of the meson's daughter species. A
daughter that scattered afterwards carries the later process instead — exactly "reconstructed only when both
daughters escape". The reaction plane is Ψ_RP = 0 (the transport codes put the impact parameter along x), so no
event-plane correction applies; errors are cluster-robust over events, as in the Monte Carlo.

The result is a :class:`Result` like the model's (no survival map: a file records which daughters escaped, not the
probability), with :class:`FileSource` saying what was read and, for a meson without pairs, why — in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .analysis import Accumulator, frame_axes, rest_frame_direction
from .config import MESON_LABEL, MESON_NAMES, MESONS, Config
from .generator import dot
from .oscar import PROCESS_DECAY, ParticleLists
from .result import Result

PARENT_COLUMNS = ("proc_id_origin", "proc_type_origin", "pdg_mother1")
MIN_PAIR_MASS = 1e-3  # GeV: a pair below this has no rest frame to measure θ* in


@dataclass(frozen=True)
class FileSource:
    """What a particle-list file held, per meson in the order of ``MESON_NAMES``.

    ``decay_products``: particles whose origin is a decay of that meson; ``pairs``: decays with both daughters in the
    event's final list; ``accepted``: pairs inside the acceptance (the ones analysed); ``daughters_read``: the candidate
    daughters in the file, in words; ``why`` / ``reasons``: why a meson has no analysed pair, short and in full, with the
    events and candidate daughters read ("" where it has pairs).
    """

    path: str
    format: str
    events: int
    particles: int
    has_parents: bool
    decay_products: tuple[int, int, int]
    pairs: tuple[int, int, int]
    accepted: tuple[int, int, int]
    daughters_read: tuple[str, str, str]
    why: tuple[str, str, str]
    reasons: tuple[str, str, str]

    @property
    def name(self) -> str:
        return Path(self.path).name or "particle lists"

    def to_dict(self) -> dict:
        per = {m: {"decay_products": self.decay_products[i], "pairs": self.pairs[i], "accepted": self.accepted[i],
                   "daughters_read": self.daughters_read[i], "why_no_pairs": self.reasons[i]} for i, m in enumerate(MESON_NAMES)}
        return {"file": self.path, "format": self.format, "events": self.events, "particles": self.particles,
                "has_parent_columns": self.has_parents, "mesons": per}


def _daughters_read(pdg: np.ndarray, meson: str) -> str:
    kaons, pions = int((np.abs(pdg) == 321).sum()), int((np.abs(pdg) == 211).sum())
    return {"kstar0": f"{kaons:,} charged kaons and {pions:,} charged pions", "phi": f"{kaons:,} charged kaons",
            "rho0": f"{pions:,} charged pions"}[meson]


def find_decays(lists: ParticleLists) -> dict[str, dict[str, np.ndarray]]:
    """Per meson: the decay pairs of the events' final lists (event index, both daughters' p and E) and the number of
    particles that come from that meson's decays. Without the parent columns every meson has none."""
    d = lists.data
    out = {}
    has_parents = all(c in d for c in PARENT_COLUMNS)
    final_rows = lists.final[lists.event] if len(lists) else np.zeros(0, dtype=bool)
    for meson in MESON_NAMES:
        pdg, _, _, d1, _, d2, _ = MESONS[meson]
        if has_parents:
            cand = np.nonzero(final_rows & (d["proc_type_origin"] == PROCESS_DECAY) & (np.abs(d["pdg_mother1"]) == pdg))[0]
        else:
            cand = np.zeros(0, dtype=np.int64)
        n_products = len(cand)
        if has_parents:
            order = np.lexsort((d["proc_id_origin"][cand], lists.event[cand]))
            cand = cand[order]
            ev, proc = lists.event[cand], d["proc_id_origin"][cand]
            new = np.ones(len(cand), dtype=bool)
            new[1:] = (ev[1:] != ev[:-1]) | (proc[1:] != proc[:-1])
            start = np.nonzero(new)[0]
            count = np.diff(np.append(start, len(cand)))
            pairs = start[count == 2]
        else:
            pairs = np.zeros(0, dtype=np.int64)
        a, b = cand[pairs], cand[pairs + 1]
        # daughter 1 is the kaon for K*0 (either charge for K*0-bar), the positive one (K+, π+: pdg > 0) for φ and ρ0
        swap = (np.abs(d["pdg"][a]) != abs(d1)) if abs(d1) != abs(d2) else (d["pdg"][a] < d["pdg"][b])
        first, second = np.where(swap, b, a), np.where(swap, a, b)
        ok = (np.abs(d["pdg"][first]) == abs(d1)) & (np.abs(d["pdg"][second]) == abs(d2))
        first, second = first[ok], second[ok]

        def mom(idx):
            return np.stack([d["px"][idx], d["py"][idx], d["pz"][idx]], -1), d["p0"][idx]

        (p1, e1), (p2, e2) = mom(first), mom(second)
        out[meson] = dict(event=lists.event[first], p1=p1, e1=e1, p2=p2, e2=e2, decay_products=n_products)
    return out


def _reason(meson: str, source: dict, n_products: int, n_pairs: int, n_accepted: int, config: Config) -> tuple[str, str]:
    """Why a meson has no analysed pair, in words: a short form and the full one (both empty when it has pairs)."""
    if n_accepted:
        return "", ""
    label, pdg = MESON_LABEL[meson], MESONS[meson][0]
    read = f"read {source['events']:,} events with {source['particles']:,} particles, {source['daughters']}"
    if not source["has_parents"]:
        why = "no parent columns"
        return why, (f"{why}: this {source['format']} file lists no {', '.join(PARENT_COLUMNS)} (SMASH writes them in its "
                     f"OSCAR2013 Extended output), so no decay can be identified; {read}")
    if n_products == 0:
        why = f"no {label} decays recorded"
        return why, (f"{why}: no particle of the events' final lists comes from a {label} decay (proc_type_origin 5 with "
                     f"pdg_mother1 ±{pdg}); {read}")
    if n_pairs == 0:
        return (f"no {label} decay with both daughters in the final list",
                f"{n_products:,} particles come from {label} decays, but no decay has both daughters in the final list (a daughter "
                f"that scattered again carries its later process); {read}")
    return ("no pair inside the acceptance",
            f"{n_pairs:,} {label} decay pairs, none inside the acceptance |y| < {config.y_max:g} and {config.pt_min:g} ≤ pT < "
            f"{config.pt_max:g} GeV (invariant mass above {1000 * MIN_PAIR_MASS:g} MeV)")


def analyse_events(lists: ParticleLists, config: Config | None = None) -> Result:
    """ρ00 of the decays reconstructed in ``lists`` with the Monte Carlo's estimators, as a Result (``result.source``
    says what was read). Uses the config's acceptance (y_max, pt_min, pt_max), binning (n_bins, n_pt_bins) and estimator."""
    import torch

    config = config or Config()
    T = torch.float64
    decays = find_decays(lists)
    has_parents = all(c in lists.data for c in PARENT_COLUMNS)
    pdg_col = lists.data["pdg"][lists.final[lists.event]] if len(lists) else np.zeros(0, dtype=np.int64)
    info = dict(format=lists.format, events=lists.n_events, particles=int(len(pdg_col)), has_parents=has_parents)
    pt_edges = np.linspace(config.pt_min, config.pt_max, config.n_pt_bins + 1)
    estimates, products, pairs, accepted, read, why, reasons = {}, [], [], [], [], [], []
    for meson in MESON_NAMES:
        dec = decays[meson]
        p1, e1 = torch.as_tensor(dec["p1"], dtype=T).reshape(-1, 3), torch.as_tensor(dec["e1"], dtype=T)
        p2, e2 = torch.as_tensor(dec["p2"], dtype=T).reshape(-1, 3), torch.as_tensor(dec["e2"], dtype=T)
        event = torch.as_tensor(dec["event"], dtype=torch.long)
        P, E = p1 + p2, e1 + e2
        pt = P[:, :2].norm(dim=-1)
        m2 = E * E - dot(P, P)
        y = 0.5 * torch.log((E + P[:, 2]) / (E - P[:, 2]))  # NaN or ±inf for a pair without a rest frame: dropped below
        keep = (m2 > MIN_PAIR_MASS**2) & (y.abs() < config.y_max) & (pt >= config.pt_min) & (pt < config.pt_max)
        p1, e1, p2, e2, P, pt, event = p1[keep], e1[keep], p2[keep], e2[keep], P[keep], pt[keep], event[keep]
        acc = Accumulator(config.n_bins, config.n_pt_bins)
        if len(P):
            dstar = rest_frame_direction(p1.unsqueeze(1), e1.unsqueeze(1), p2.unsqueeze(1), e2.unsqueeze(1))
            axes = frame_axes(P, torch.zeros(len(P), dtype=T))
            cos = dot(dstar.unsqueeze(0), axes.unsqueeze(2))
            bins = torch.bucketize(pt, torch.as_tensor(pt_edges, dtype=T), right=True) - 1
            acc.add(cos, torch.ones_like(cos), torch.ones(len(P), dtype=T), bins, event)
        est = acc.estimates()
        est["map"] = np.full((config.map_bins, config.map_bins), np.nan)  # a file records escapes, not survival probabilities
        est["mean_survival"] = np.nan
        estimates[meson] = est
        products.append(int(dec["decay_products"]))
        pairs.append(int(len(dec["event"])))
        accepted.append(int(len(P)))
        read.append(_daughters_read(pdg_col, meson))
        short, full = _reason(meson, dict(info, daughters=read[-1]), products[-1], pairs[-1], accepted[-1], config)
        why.append(short)
        reasons.append(full)
    source = FileSource(path=lists.path, format=lists.format, events=info["events"], particles=info["particles"], has_parents=has_parents,
                        decay_products=tuple(products), pairs=tuple(pairs), accepted=tuple(accepted), daughters_read=tuple(read),
                        why=tuple(why), reasons=tuple(reasons))
    return Result.from_estimates(config, estimates, complete=True, map_extent=0.0, source=source)
