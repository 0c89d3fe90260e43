"""Bench: exact vs S² vs RC vs S²+RC on the same camera path, one process, a sweep of settings; the Pareto front; and the
contention benchmark (frame times beside a busy neighbour under the old and the new thread policy, :mod:`contention`).

Per scene, the exact renderer and every setting (each with its own S² state and cache) render the same
path, interleaved frame by frame with a rotating order, so a change of machine load during the run
biases no setting; speed-up = Σ exact ms / Σ method ms over the path, PSNR against the exact frames.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from engines.base import Snapshot
from engines.device import resolve

from .config import Config
from .paths import path_cameras
from .pipeline import Renderer, psnr, ssim
from .rasterizer import to_device
from .result import STAGES, TARGET, Result
from .scene import garden_scene, procedural_scene

# the wall-clock counterpart of the Result's target: at least 1.5× faster than exact at a mean PSNR of at least 35 dB
TARGET_SPEEDUP, TARGET_PSNR_DB = TARGET["work_ratio"].value, TARGET["psnr_mean_db"].value


def _settings(quick: bool) -> list[dict]:
    if quick:
        return [dict(method="s2"), dict(method="rc", rc_k=4, rc_pos_step=0.5), dict(method="s2+rc", rc_k=4, rc_pos_step=0.5)]
    out = [dict(method="s2", s2_share="order"), dict(method="s2", s2_share="lists", s2_margin_px=2.0)]
    for k, step in ((2, 0.5), (4, 0.5), (4, 0.25), (8, 0.5)):
        out.append(dict(method="rc", rc_k=k, rc_pos_step=step))
    for k, step in ((3, 0.35), (4, 0.25), (4, 0.5), (4, 0.75), (4, 1.0), (5, 0.5), (6, 0.75)):
        out.append(dict(method="s2+rc", rc_k=k, rc_pos_step=step))
    out.append(dict(method="s2+rc", rc_k=4, rc_pos_step=0.5, rc_pos_of="first"))
    out.append(dict(method="s2+rc", rc_k=4, rc_pos_step=0.5, rc_lifetime=0))
    out.append(dict(method="s2+rc", rc_k=4, rc_pos_step=0.5, compaction="tile"))
    return out


def _pareto(points: list[dict]) -> list[dict]:
    """Points not dominated in (speedup ↑, mean PSNR ↑), sorted by speed-up."""
    front = [p for p in points if not any(q["speedup"] >= p["speedup"] and q["psnr_mean_db"] >= p["psnr_mean_db"]
                                          and (q["speedup"] > p["speedup"] or q["psnr_mean_db"] > p["psnr_mean_db"]) for q in points)]
    return sorted(front, key=lambda p: p["speedup"])


def bench_scene(name: str, scene, base: Config, settings: list[dict], device, progress=None, done=0, total=1) -> tuple[dict, int]:
    """Every setting and the exact renderer on the same path, interleaved frame by frame (so load changes hit all alike)."""
    g = to_device(scene, device, torch.float32, base.splat_scale, base.sh_degree)
    cams = path_cameras(base, scene)
    renderers = [Renderer(g, base, "exact")] + [Renderer(g, base.replace(**s)) for s in settings]
    Renderer(g, base, "exact").render(cams[0])  # warm-up
    n = len(renderers)
    ms = np.zeros((n, len(cams)))
    stage = np.zeros((n, len(STAGES)))
    frames: list[list] = [[] for _ in range(n)]
    for i, cam in enumerate(cams):
        for j in np.roll(np.arange(n), -i):  # rotate who goes first
            t0 = time.perf_counter()
            f = renderers[j].render(cam)
            ms[j, i] = 1000 * (time.perf_counter() - t0)
            stage[j] += [f.stage_ms[s] for s in STAGES]
            frames[j].append(dict(rgb=f.rgb, info=f.info, evaluations=f.evaluations))
        if progress:
            progress(Snapshot((done + (i + 1) / len(cams)) / total, f"{name}: frame {i + 1}/{len(cams)}"))
    ref = frames[0]
    t_ex = ms[0].sum()
    points = []
    for j, s in enumerate(settings, start=1):
        fr = frames[j]
        ps = [min(psnr(a["rgb"], b["rgb"]), 100.0) for a, b in zip(ref, fr)]
        hits = [(f["info"].get("rc_hits", 0) + f["info"].get("rc_shared", 0)) / max(f["info"].get("rc_candidates", 0), 1) for f in fr]
        work = [1 - f["evaluations"] / max(r["evaluations"], 1) for r, f in zip(ref, fr)]
        points.append(dict(settings=s, speedup=t_ex / ms[j].sum(), method_ms=ms[j].mean(), psnr_mean_db=float(np.mean(ps)),
                           psnr_min_db=float(np.min(ps)), ssim_mean=float(np.mean([ssim(a["rgb"], b["rgb"]) for a, b in zip(ref, fr)])),
                           rc_hit_rate=float(np.mean(hits)), work_skipped=float(np.mean(work)),
                           s2_sorts=int(sum(1 for f in fr if f["info"].get("s2_resort"))),
                           stage_ms=dict(zip(STAGES, (stage[j] / len(cams)).tolist()))))
    front = _pareto(points)
    ok = [p for p in points if p["psnr_mean_db"] >= TARGET_PSNR_DB]
    best = max(ok, key=lambda p: p["speedup"]) if ok else max(points, key=lambda p: p["psnr_mean_db"])
    return dict(
        exact_ms=t_ex / len(cams), exact_stage_ms=dict(zip(STAGES, (stage[0] / len(cams)).tolist())), width=base.width,
        height=base.height, gaussians=scene.n, frames=len(cams), path=base.path, path_degrees=base.path_degrees,
        best={k: best[k] for k in ("speedup", "psnr_mean_db", "psnr_min_db", "settings")},
        meets_target=bool(best["psnr_mean_db"] >= TARGET_PSNR_DB and best["speedup"] >= TARGET_SPEEDUP),
        front=[{k: p[k] for k in ("speedup", "psnr_mean_db", "settings")} for p in front],
        points=points,
    ), done + 1


def bench(quick: bool = False, device: str = "auto", progress=None, contention: bool = True) -> dict:
    """Exact vs S², RC and S²+RC over a sweep of settings on the procedural scene and the garden; then (``contention``)
    exact frame times beside a busy neighbour process under three thread policies (:mod:`contention`)."""
    dev = resolve(device)
    torch.manual_seed(0)
    settings = _settings(quick)
    scenes = []
    F = 3 if quick else 8
    proc = Config(scene="procedural", width=160 if quick else 256, height=100 if quick else 160, frames=F, path="orbit", path_degrees=12.0)
    scenes.append(("procedural", procedural_scene(proc.procedural_gaussians, 0), proc))
    # the garden: an orbit about the point the three real cameras look at, starting at the first one: 1.7° per frame,
    # the frame-to-frame coherence of an interactive viewer (the three cameras themselves are ~45° apart)
    gcfg = Config(scene="garden", width=162 if quick else 324, height=105 if quick else 210, frames=F, path="orbit",
                  path_degrees=12.0, sh_degree=0)
    scenes.append(("garden", garden_scene(), gcfg))
    total = len(scenes) + (1 if contention else 0)
    out, done = {}, 0
    for name, scene, cfg in scenes:
        out[name], done = bench_scene(name, scene, cfg, settings, dev, progress, done, total)
    busy = None
    if contention:
        from .contention import contention_bench  # (imported here: the module also runs as the benchmark's worker process)

        busy = contention_bench(quick, progress=(lambda text: progress(Snapshot(done / total, text))) if progress else None)
    if progress:
        progress(Snapshot(1.0, "done"))
    return dict(scenes=out, contention=busy, device=str(dev), quick=quick, torch_threads=torch.get_num_threads(),
                target=dict(speedup=TARGET_SPEEDUP, psnr_mean_db=TARGET_PSNR_DB),
                paper={k: f.to_dict() for k, f in Result.PAPER.items()})
