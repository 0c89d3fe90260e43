"""Rectified-flow training of the video DiT on fresh moving-shape clips, resumable from a train-state file.

x_t = (1 − t)·x₀ + t·ε with t ~ logit-normal(0, 1); loss ‖v_θ(x_t, t, y) − (ε − x₀)‖². AdamW, 200 warm-up steps then
a cosine from lr to lr/10, gradients clipped at norm 1, an EMA of the weights (the sampled model). Every step draws
fresh clips from ``train_seed`` and the step number, so a resumed run sees exactly the clips a straight one would.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from .config import Config
from .data import make_batch
from .model import VideoDiT

WARMUP = 200


def lr_at(cfg: Config, step: int) -> float:
    if step <= WARMUP:
        return cfg.lr * step / WARMUP
    frac = (step - WARMUP) / max(1, cfg.train_steps - WARMUP)
    return cfg.lr * (0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, frac))))


def rf_loss(model: VideoDiT, x0: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    b = x0.shape[0]
    t = torch.sigmoid(torch.randn(b, generator=gen))
    eps = torch.randn(x0.shape, generator=gen)
    tt = t.view(b, 1, 1, 1)
    xt = (1 - tt) * x0 + tt * eps
    return ((model(xt, t, y) - (eps - x0)) ** 2).mean()


def train(cfg: Config, state_file: Path | None = None, save_every: int = 250) -> Iterator[dict]:
    """Yield after every step {step, loss, lr, wall_s, model (the EMA), done}; checkpoint to ``state_file`` periodically.

    With ``state_file`` present (and made with the same model and training fields) the run resumes from it.
    """
    torch.manual_seed(cfg.train_seed)
    model = VideoDiT(**cfg.model_kwargs())
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    key = {k: getattr(cfg, k) for k in (*cfg.model_kwargs(), "train_seed", "train_batch", "lr", "ema")}
    start, curve, wall0 = 0, [], 0.0
    if state_file is not None and state_file.exists():
        state = torch.load(state_file, weights_only=False)
        if state.get("key") == key:
            model.load_state_dict(state["model"])
            ema.load_state_dict(state["ema"])
            opt.load_state_dict(state["opt"])
            start, curve, wall0 = state["step"], state["curve"], state["wall_s"]
    t0 = time.perf_counter() - wall0
    model.train()
    for step in range(start + 1, cfg.train_steps + 1):
        for group in opt.param_groups:
            group["lr"] = lr_at(cfg, step)
        clips, labels = make_batch(cfg.train_seed * 1_000_003 + step, cfg.train_batch, cfg.frames, cfg.size)
        gen = torch.Generator().manual_seed(cfg.train_seed * 7_919 + step)
        loss = rf_loss(model, torch.from_numpy(clips), torch.from_numpy(labels), gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        decay = min(cfg.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - decay)
        wall = time.perf_counter() - t0
        curve.append((step, float(loss.detach()), round(wall, 2)))
        done = step == cfg.train_steps
        if state_file is not None and (step % save_every == 0 or done):
            tmp = state_file.with_suffix(".tmp")
            torch.save({"key": key, "model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                        "step": step, "curve": curve, "wall_s": wall}, tmp)
            tmp.replace(state_file)
        yield {"step": step, "loss": curve[-1][1], "lr": lr_at(cfg, step), "wall_s": wall, "model": ema, "curve": curve,
               "checkpoint": state_file is not None and (step % save_every == 0 or done), "done": done}
    if start >= cfg.train_steps:  # already complete: hand the finished model back once
        yield {"step": start, "loss": curve[-1][1] if curve else float("nan"), "lr": lr_at(cfg, start), "wall_s": wall0,
               "model": ema, "curve": curve, "checkpoint": False, "done": True}
