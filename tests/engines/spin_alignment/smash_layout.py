"""Particle lists laid out exactly as SMASH 3 writes OSCAR2013 Extended (its printf formats), for reader and panel tests.

SMASH's ``OscarOutput::write_particledata`` prints ``%g`` for positions, mass, times and the cross-section factor,
``%.9g`` for the four-momentum, the PDG codes as decimal strings, and closes each event with
``# event N ensemble E end 0 impact %7.3f scattering_projectile_target yes``; the header names 22 columns (SMASH ≥ 3
adds baryon_number and strangeness). ``hadron_gas`` makes a final state as a SMASH run leaves it without any K*0, φ or
ρ0 decay recorded: pions, kaons and nucleons from string fragmentation, elastic scatterings and decays of other
resonances (ω, Δ++, K*+).
"""

from __future__ import annotations

import numpy as np

from engines.spin_alignment import ParticleLists

COLUMNS = ("t x y z mass p0 px py pz pdg ID charge ncoll form_time xsecfac proc_id_origin proc_type_origin time_last_coll "
           "pdg_mother1 pdg_mother2 baryon_number strangeness").split()
UNITS = "fm fm fm fm GeV GeV GeV GeV GeV none none e none fm none none none fm none none none none"
ROW = "%g %g %g %g %g %.9g %.9g %.9g %.9g %s %i %i %i %g %g %i %i %g %s %s %i %i"


def write_smash(path, lists: ParticleLists, version: str = "SMASH-3.1"):
    """``lists`` (one list per event) as SMASH 3's ``particle_lists.oscar`` with ``Extended: True``."""
    d = lists.data
    out = [f"#!OSCAR2013Extended particle_lists {' '.join(COLUMNS)}", f"# Units: {UNITS}", f"# {version}"]
    for ev in range(lists.n_lists):
        rows = np.nonzero(lists.event == ev)[0]
        out.append(f"# event {ev} ensemble 0 out {len(rows)}")
        for r in rows:
            out.append(ROW % tuple(str(int(d[c][r])) if c in ("pdg", "pdg_mother1", "pdg_mother2") else d[c][r] for c in COLUMNS))
        b = lists.impact[ev] if np.isfinite(lists.impact[ev]) else 0.0
        out.append(f"# event {ev} ensemble 0 end 0 impact {b:7.3f} scattering_projectile_target yes")
    path.write_text("\n".join(out) + "\n")
    return path


# species of the background: pdg, mass, charge, baryon number, strangeness
_SPECIES = [(211, 0.138, 1, 0, 0), (-211, 0.138, -1, 0, 0), (111, 0.138, 0, 0, 0), (321, 0.494, 1, 0, 1), (-321, 0.494, -1, 0, -1),
            (2212, 0.938, 1, 1, 0), (2112, 0.938, 0, 1, 0)]
# origins of the background: (proc_type_origin, pdg_mother1, pdg_mother2): string fragmentation, elastic, ω, Δ++ and K*+ decays
_ORIGINS = [(45, 2212, 2112), (1, 211, 2212), (5, 223, 0), (5, 2224, 0), (5, 323, 0)]


def hadron_gas(n_events: int, per_event: int, seed: int = 0, impact: float = 7.5) -> ParticleLists:
    """A SMASH-like final state of ``n_events`` events without any K*0, φ or ρ0 decay among the particles' origins."""
    rng = np.random.default_rng(seed)
    n = n_events * per_event
    kind = rng.integers(0, len(_SPECIES), n)
    spec = np.array(_SPECIES, dtype=float)[kind]
    p = rng.normal(0.0, 0.4, (n, 3))
    mass = spec[:, 1]
    origin = np.array(_ORIGINS)[rng.integers(0, len(_ORIGINS), n)]
    t = rng.uniform(10.0, 200.0, n)
    data = {"t": t, "x": rng.normal(0, 20, n), "y": rng.normal(0, 20, n), "z": rng.normal(0, 40, n), "mass": mass,
            "p0": np.sqrt(mass**2 + (p**2).sum(1)), "px": p[:, 0], "py": p[:, 1], "pz": p[:, 2], "pdg": spec[:, 0].astype(np.int64),
            "ID": np.arange(n, dtype=np.int64), "charge": spec[:, 2].astype(np.int64), "ncoll": rng.integers(0, 6, n),
            "form_time": rng.uniform(0, 5, n), "xsecfac": np.ones(n), "proc_id_origin": 90_000_000 + np.arange(n, dtype=np.int64),
            "proc_type_origin": origin[:, 0], "time_last_coll": t, "pdg_mother1": origin[:, 1], "pdg_mother2": origin[:, 2],
            "baryon_number": spec[:, 3].astype(np.int64), "strangeness": spec[:, 4].astype(np.int64)}
    event = np.repeat(np.arange(n_events, dtype=np.int64), per_event)
    return ParticleLists("OSCAR2013Extended", tuple(COLUMNS), data, event, np.full(n_events, impact))


def merge(a: ParticleLists, b: ParticleLists) -> ParticleLists:
    """The particles of ``a`` and ``b`` event by event (``b`` has at most ``a``'s events), sorted by event."""
    event = np.concatenate([a.event, b.event])
    order = np.argsort(event, kind="stable")
    data = {c: np.concatenate([a.data[c], b.data[c]])[order] for c in COLUMNS}
    return ParticleLists(a.format, tuple(COLUMNS), data, event[order], a.impact.copy())
