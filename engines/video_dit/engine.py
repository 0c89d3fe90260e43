"""The experiment: full-compute reference, the EA's budget schedule, ASTRAEA and every baseline at equal compute.

1. The model: the recorded checkpoint (``source="recorded"``) or trained now (``source="train"``).
2. The full-compute reference on the held-out noise (seeds ``seed`` … ``seed + n_videos − 1``).
3. The search: the EA over per-step budgets with fitness = PSNR against full compute on the search seeds (disjoint
   from the held-out ones); the step cache's threshold is calibrated on the same search seeds.
4. Every method at the budget on the held-out videos: ``astraea`` (searched schedule, cached K/V),
   ``astraea_recompute_kv`` (same schedule, K/V of skipped tokens recomputed), ``uniform`` (ASTRAEA's scores, the
   same budget at every step), ``random_tokens`` (uniform budget, random tokens), ``fewer_steps`` (the full model at
   round(budget · steps) steps), ``step_cache`` (TeaCache-style whole-step reuse computing as many steps).
5. The speed/quality front: every baseline at each of ``front_budgets``.

A speed-up is the ratio of process CPU time (one torch thread: the compute itself) of the full-compute reference to
the method's, on the same batch; the wall-clock ratio is reported beside it (``speedup_wall``) — on a shared machine
the wall clock also measures the neighbours.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import torch

from ..base import Snapshot, consume
from ..device import cpu_threads
from . import astraea as A
from .config import MODEL_FIELDS, Config
from .data import N_CLASSES, class_name
from .metrics import psnr_db, score_batch
from .result import BASELINES, METHODS, Result
from .search import evolve


def noise_batch(cfg: Config, first_seed: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise [count, F, H, W] (video i from seed first_seed + i) and the class labels."""
    noise = torch.stack([torch.randn(cfg.frames, cfg.size, cfg.size, generator=torch.Generator().manual_seed(first_seed + i))
                         for i in range(count)])
    labels = [cfg.class_label if cfg.class_label >= 0 else (first_seed + i) % N_CLASSES for i in range(count)]
    return noise, torch.tensor(labels, dtype=torch.int64)


def run_method(model, cfg: Config, name: str, noise, y, budget: float, schedule: np.ndarray | None = None,
               threshold: float | None = None, keep_masks: bool = False):
    """(videos, SampleInfo) of one method at ``budget`` (``schedule`` for the ASTRAEA variants, else uniform)."""
    if name in ("astraea", "astraea_recompute_kv", "uniform", "random_tokens"):
        sched = schedule if schedule is not None else A.uniform_schedule(budget, cfg.steps, cfg.min_budget)
        return A.sample_tokens(model, noise, y, sched, select="random" if name == "random_tokens" else "score",
                               kv="recompute" if name == "astraea_recompute_kv" else "cached", w_a=cfg.w_a, w_b=cfg.w_b,
                               seed=cfg.seed, keep_masks=keep_masks)
    if name == "fewer_steps":
        return A.sample_fewer_steps(model, noise, y, max(1, round(budget * cfg.steps)))
    if name == "step_cache":
        return A.sample_step_cache(model, noise, y, cfg.steps, threshold)
    raise ValueError(f"method: unknown {name!r} (allowed: {', '.join(METHODS)})")


def compute_of(name: str, info, cfg: Config, n: int) -> float:
    """The share of the full compute's token-steps a run used (fewer_steps: its steps × every token)."""
    return float(np.sum(info.tokens) / (cfg.steps * n))


def get_model(cfg: Config, result: Result | None = None) -> Iterator[Snapshot]:
    """Yield training snapshots (source=train) and finally Snapshot(…, result=(model, cfg))."""
    from .record import load_model

    if cfg.source == "recorded":
        model, fields = load_model(cfg.recorded_dir or None)
        yield Snapshot(0.02, "recorded checkpoint loaded", (model, cfg.replace(**{k: getattr(fields, k) for k in MODEL_FIELDS})))
        return
    from .training import train

    for info in train(cfg):
        if info["step"] % 25 == 0 or info["done"]:
            yield Snapshot(0.6 * info["step"] / cfg.train_steps, f"training: step {info['step']}/{cfg.train_steps}, "
                           f"loss {info['loss']:.4f}", None)
        if info["done"]:
            if result is not None:
                result.training = {"step": [c[0] for c in info["curve"]], "loss": [c[1] for c in info["curve"]]}
            yield Snapshot(0.6, "trained", (info["model"].eval(), cfg))


def stream(config: Config | None = None, device: str = "auto") -> Iterator[Snapshot[Result]]:
    cfg = config or Config()
    with cpu_threads(cfg.cpu_threads, "cpu"):  # sampling and timing on the CPU (the samplers time themselves)
        yield from _experiment(cfg)


def _experiment(cfg: Config) -> Iterator[Snapshot[Result]]:
    result = Result(config=cfg)
    model = None
    for snap in get_model(cfg, result):
        if snap.result is not None:
            model, cfg = snap.result
            result.config = cfg
        else:
            yield Snapshot(snap.progress, snap.message, result.frozen(), frozenset({"training"}))
    base = 0.6 if cfg.source == "train" else 0.0
    span = 1.0 - base

    def at(frac: float) -> float:
        return base + span * frac

    n = model.n_tokens
    result.n_tokens, result.grid, result.patch = n, model.grid, model.patch
    result.class_name = class_name(cfg.class_label) if cfg.class_label >= 0 else "one class per video"
    noise, y = noise_batch(cfg, cfg.seed, cfg.n_videos)
    full, info_full = A.sample_full(model, noise, y, cfg.steps)
    result.full_wall_s, result.full_cpu_s = info_full.wall_s, info_full.cpu_s
    result.videos = {"full": full[0]}
    result.labels = y.numpy()
    yield Snapshot(at(0.05), f"full compute: {cfg.n_videos} videos × {cfg.steps} steps in {info_full.wall_s:.2f} s",
                   result.frozen(), frozenset({"videos"}))

    # ---- the search (and the step cache's calibration) on the search seeds ---------------------------------------
    s_noise, s_y = noise_batch(cfg, cfg.search_seed, cfg.search_videos)
    s_full, _ = A.sample_full(model, s_noise, s_y, cfg.steps)
    uniform = A.uniform_schedule(cfg.budget, cfg.steps, cfg.min_budget)
    schedule = uniform
    t_search = time.perf_counter()
    if cfg.search and cfg.generations > 0:
        def fitness(s: np.ndarray) -> float:
            videos, _ = A.sample_tokens(model, s_noise, s_y, s, w_a=cfg.w_a, w_b=cfg.w_b, seed=cfg.seed)
            return float(np.mean([psnr_db(v, r) for v, r in zip(videos, s_full)]))

        gens: list = []
        found = evolve(fitness, cfg.steps, cfg.budget, cfg.min_budget, cfg.population, cfg.generations, cfg.mutation,
                       np.random.default_rng(cfg.search_seed), on_generation=lambda g, scores: gens.append(scores))
        schedule = found["best"]
        result.search = {"best_schedule": schedule.tolist(), "uniform_schedule": uniform.tolist(),
                         "search_psnr_best_db": found["best_fitness"], "search_psnr_uniform_db": found["uniform_fitness"],
                         "best_per_generation": found["best_per_generation"], "history": found["history"],
                         "evaluations": found["evaluations"], "wall_s": time.perf_counter() - t_search}
    else:
        result.search = {"best_schedule": uniform.tolist(), "uniform_schedule": uniform.tolist(), "best_per_generation": [],
                         "history": [], "evaluations": 0, "wall_s": 0.0}
    yield Snapshot(at(0.35), f"search: {result.search['evaluations']} schedules in {result.search['wall_s']:.1f} s",
                   result.frozen(), frozenset({"search"}))
    thresholds = {b: A.calibrate_step_cache(model, s_noise, s_y, cfg.steps, b) for b in sorted({cfg.budget, *cfg.front()})}
    result.step_cache_threshold = thresholds[cfg.budget]

    # ---- every method at the budget on the held-out videos -----------------------------------------------------------
    for i, name in enumerate(METHODS):
        sched = schedule if name in ("astraea", "astraea_recompute_kv") else None
        videos, info = run_method(model, cfg, name, noise, y, cfg.budget, sched, thresholds[cfg.budget],
                                  keep_masks=name == "astraea")
        scores = score_batch(videos, full)
        result.methods[name] = {"speedup": info_full.cpu_s / max(info.cpu_s, 1e-9), "psnr_db": scores["psnr_db"],
                                "speedup_wall": info_full.wall_s / max(info.wall_s, 1e-9), "cpu_s": info.cpu_s,
                                "psnr_db_std": scores["psnr_db_std"], "ssim": scores["ssim"], "flicker": scores["flicker"],
                                "budget": compute_of(name, info, cfg, n), "wall_s": info.wall_s,
                                "tokens_computed": int(np.sum(info.tokens) * cfg.n_videos)}
        result.psnr_frames[name] = scores["psnr_per_frame"]
        result.videos[name] = videos[0]
        if name == "astraea":
            result.masks = info.masks[0]
            result.tokens_per_step = info.tokens
        if name == "step_cache":
            result.computed_steps = info.computed_steps
        yield Snapshot(at(0.35 + 0.35 * (i + 1) / len(METHODS)), f"{name}: {scores['psnr_db']:.1f} dB at "
                       f"{result.methods[name]['speedup']:.2f}×", result.frozen(), frozenset({"methods", "videos"}))
    result.search["heldout_psnr_astraea_db"] = result.methods["astraea"]["psnr_db"]
    result.search["heldout_psnr_uniform_db"] = result.methods["uniform"]["psnr_db"]
    result.search["heldout_gain_db"] = result.methods["astraea"]["psnr_db"] - result.methods["uniform"]["psnr_db"]

    # ---- the front -------------------------------------------------------------------------------------------------
    budgets = cfg.front()
    for j, b in enumerate(budgets):
        for name in BASELINES + ("astraea_recompute_kv",):
            videos, info = run_method(model, cfg, name, noise, y, b, None, thresholds[b])
            scores = score_batch(videos, full)
            result.front.append({"method": name, "budget_set": b, "budget": compute_of(name, info, cfg, n),
                                 "speedup": info_full.cpu_s / max(info.cpu_s, 1e-9), "psnr_db": scores["psnr_db"],
                                 "ssim": scores["ssim"]})
        yield Snapshot(at(0.7 + 0.3 * (j + 1) / len(budgets)), f"front at budget {b}", result.frozen(), frozenset({"front"}))
    yield Snapshot(1.0, "done", result.frozen())  # changed = everything: a receiver that saw only this one draws it all


def run(config: Config | None = None, device: str = "auto") -> Result:
    return consume(stream(config, device))
