"""ρ00 spin alignment of K*0, φ, ρ0 and its bias by hadronic rescattering of the decay daughters (arXiv:2507.00706).

A transport-inspired torch Monte Carlo: Au+Au fireball (optical Glauber almond, Bjorken + elliptic transverse flow),
blast-wave emission, Breit–Wigner decays with an intrinsic ρ00, daughter absorption exp(−∫σ n v_rel dt) with the rate in
the local rest frame of the medium; ρ00 in the reaction-plane, production-plane and helicity frames by a weighted fit
and by the moment (5⟨cos²θ*⟩ − 1)/2. OSCAR particle lists (SMASH, UrQMD converters) are read, written and analysed the
same way: ``run(Config(oscar=path))`` or ``analyse_events(read_oscar(path))`` gives the file's Result.
"""

from .bench import bench
from .config import COLORS, ENERGIES, FRAME_LABEL, FRAME_SHORT, FRAMES, MESON_LABEL, MESON_NAMES, PAPER_MAX_DEVIATION, PRESETS, Config
from .engine import run, stream
from .events import simulate_events
from .oscar import FORMATS, OscarError, ParticleLists, read_oscar, write_oscar
from .reconstruction import FileSource, analyse_events
from .result import Result

__all__ = ["Config", "Result", "stream", "run", "bench", "read_oscar", "write_oscar", "analyse_events", "simulate_events",
           "OscarError", "ParticleLists", "FileSource", "FORMATS",
           "ENERGIES", "FRAMES", "MESON_NAMES", "MESON_LABEL", "FRAME_LABEL", "FRAME_SHORT", "COLORS", "PAPER_MAX_DEVIATION", "PRESETS"]
