"""Bench: resonances generated + propagated + analysed per second, vectorised torch versus a per-particle numpy loop.

Both run in one process on the same generated events (same resonances, same decay directions); the torch chain then
runs the full 10⁶-resonance chain (K*0 + φ + ρ0 at 200 GeV, 20–60 %) end to end. Both use one CPU thread by default
(``cpu_threads`` of the Config), so the ratio is vectorisation, not parallelism.
"""

from __future__ import annotations

import time

import numpy as np

from engines.base import Snapshot
from engines.device import cpu_threads

from .analysis import Accumulator
from .chain import generate_chunk, propagate_chunk
from .config import MESON_NAMES, Config
from .engine import MesonRun
from .reference import per_particle


def bench(quick: bool = False, device: str = "auto", progress=None) -> dict:
    import torch

    from engines.device import resolve

    dev = resolve(device)
    cfg = Config()
    n_base = 150 if quick else 1500
    n_full = 30_000 if quick else 1_000_000
    report: dict = {"what": "K*0, phi, rho0 resonances generated + decayed + absorbed (path integrals) + analysed per second",
                    "device": str(dev), "cpu_threads": cfg.cpu_threads, "decay_directions": cfg.decay_directions,
                    "quad_nodes": cfg.quad_nodes, "same_events": {}}

    def tell(frac, msg):
        if progress is not None:
            progress(Snapshot(frac, msg))

    with cpu_threads(cfg.cpu_threads, dev):
        t_torch = t_numpy = 0.0
        n_same = 0
        worst = 0.0
        for i, meson in enumerate(MESON_NAMES):
            tell(0.3 * i / 3, f"same events: {meson}")
            gen = torch.Generator(device=dev).manual_seed(11 + i)
            rng = np.random.default_rng(11 + i)
            t0 = time.perf_counter()
            chunk = generate_chunk(meson, n_base, cfg, cfg.preset(), gen, rng, dev, torch.float32)
            t_gen = time.perf_counter() - t0
            t0 = time.perf_counter()
            out = propagate_chunk(meson, chunk, cfg)
            acc = Accumulator(cfg.n_bins)
            acc.add(out["cos_theta"], out["weights"], out["survival"].mean(-1))
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t_vec = time.perf_counter() - t0 + t_gen
            t0 = time.perf_counter()
            ref = per_particle(meson, chunk, cfg)
            acc_ref = Accumulator(cfg.n_bins)
            k = ref["survival"].shape[1]
            w = torch.as_tensor(ref["survival"] / k).unsqueeze(0).expand(3, -1, -1)
            acc_ref.add(torch.as_tensor(ref["cos_theta"]), w, torch.as_tensor(ref["survival"].mean(-1)))
            t_loop = time.perf_counter() - t0 + t_gen
            n = len(chunk["res"]["mass"])
            worst = max(worst, float(np.abs(ref["survival"] - out["survival"].cpu().numpy()).max()))
            t_torch += t_vec
            t_numpy += t_loop
            n_same += n
        report["same_events"] = {"resonances": n_same, "torch_per_s": n_same / t_torch, "numpy_loop_per_s": n_same / t_numpy,
                                 "ratio": t_numpy / t_torch, "max_survival_difference": worst}
        tell(0.3, "full chain")
        t0 = time.perf_counter()
        done = 0
        per = n_full // 3
        for i, meson in enumerate(MESON_NAMES):
            run = MesonRun(meson, per if i < 2 else n_full - 2 * per, cfg, dev)
            for frac in run.steps():
                tell(0.3 + 0.7 * (done + frac * run.n) / n_full, f"full chain: {meson}")
            done += run.n
            run.estimates()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t_full = time.perf_counter() - t0
    report["full_chain"] = {"resonances": n_full, "seconds": t_full, "per_s": n_full / t_full}
    report["ratio_torch_over_numpy_loop"] = report["same_events"]["ratio"]
    # the vectorised chain at scale (large chunks) against the loop's rate (which does not depend on batch size)
    report["ratio_full_chain_over_numpy_loop"] = report["full_chain"]["per_s"] / report["same_events"]["numpy_loop_per_s"]
    tell(1.0, "done")
    return report
