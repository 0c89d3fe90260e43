"""ρ00 spin alignment of K*0, φ, ρ0 and its bias by hadronic rescattering of the decay daughters (arXiv:2507.00706).

A transport-inspired torch Monte Carlo: Au+Au fireball (optical Glauber almond, Bjorken + elliptic transverse flow),
blast-wave emission, Breit–Wigner decays with an intrinsic ρ00, daughter absorption exp(−∫σ n v_rel dt) with the rate in
the local rest frame of the medium; ρ00 in the reaction-plane, production-plane and helicity frames by a weighted fit
and by the moment (5⟨cos²θ*⟩ − 1)/2; readers/writer for OSCAR files analysed the same way.
"""

from .bench import bench
from .config import ENERGIES, FRAMES, MESON_NAMES, PAPER_MAX_DEVIATION, PRESETS, Config
from .oscar import OscarError, analyse_events, read_oscar, stream_file, write_oscar2013_extended
from .pipeline import run, stream
from .result import Result

__all__ = ["Config", "Result", "stream", "run", "bench", "read_oscar", "write_oscar2013_extended", "stream_file", "analyse_events",
           "OscarError",
           "ENERGIES", "FRAMES", "MESON_NAMES", "PAPER_MAX_DEVIATION", "PRESETS"]
