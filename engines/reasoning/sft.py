"""Supervised fine-tuning by teacher forcing on generated traces (the "distilled" start of the RL recipe).

Every step draws a fresh batch from the training split: a share ``code_share`` of code tasks, the rest
math; each trace is ``wrong`` with probability ``wrong_share``, ``lucky`` with ``lucky_share``, else right,
and carries a ``[wait]`` self-check with probability ``self_check_share`` (see ``tasks.trace_text``). The
loss is the mean cross-entropy over response tokens (prompt tokens and padding are masked with −100),

    L = −(1/N) Σ_i Σ_{t ∈ response_i} log π(y_t | prompt_i, y_<t),

with AdamW, linear warm-up then cosine decay to ``min_lr_ratio · lr``, gradient-norm clipping.

``prompts > 0`` trains on a fixed dataset instead: that many distinct training prompts with
``responses_per_prompt`` traces each (drawn independently, so they differ in kind and self-checks), in
shuffled passes — the two ways AceReason-1.1 grows SFT data (more prompts, more responses per prompt).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from .tasks import Task, make_task, trace_text


@dataclass(frozen=True)
class TraceMix:
    """What the SFT data holds: task families and levels, and the shares of wrong, lucky and self-checked traces."""

    code_share: float = 0.5
    wrong_share: float = 0.1
    lucky_share: float = 0.05
    self_check_share: float = 0.05
    math_levels: tuple[int, ...] = (1, 2, 3)
    code_levels: tuple[int, ...] = (1, 2, 3)
    absorb: float = 0.0
    prompts: int = 0  # 0 = a fresh prompt for every trace; N = a fixed set of N prompts
    responses_per_prompt: int = 1


@dataclass(frozen=True)
class SFTSettings:
    steps: int = 1500
    batch_size: int = 64
    lr: float = 1e-3
    warmup: int = 100
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.0
    grad_clip: float = 1.0


def draw_example(rng: np.random.Generator, mix: TraceMix) -> tuple[Task, str]:
    """One training task and its trace."""
    family = "code" if rng.random() < mix.code_share else "math"
    levels = mix.code_levels if family == "code" else mix.math_levels
    task = make_task(family, rng, int(rng.choice(levels)), "train", mix.absorb)
    return task, draw_trace(rng, mix, task)


def draw_trace(rng: np.random.Generator, mix: TraceMix, task: Task) -> str:
    u = rng.random()
    kind = "wrong" if u < mix.wrong_share else "lucky" if u < mix.wrong_share + mix.lucky_share else "right"
    return trace_text(task, kind, rng, self_check=bool(rng.random() < mix.self_check_share))


def sft_dataset(rng: np.random.Generator, mix: TraceMix) -> list[tuple[Task, str]]:
    """``mix.prompts`` distinct training prompts × ``mix.responses_per_prompt`` independently drawn traces each."""
    tasks, seen = [], set()
    while len(tasks) < mix.prompts:
        task, _ = draw_example(rng, mix)
        if task.prompt not in seen:
            seen.add(task.prompt)
            tasks.append(task)
    return [(t, draw_trace(rng, mix, t)) for t in tasks for _ in range(mix.responses_per_prompt)]


def _batches(rng: np.random.Generator, mix: TraceMix, batch_size: int):
    if mix.prompts <= 0:
        while True:
            yield [draw_example(rng, mix) for _ in range(batch_size)]
    data = sft_dataset(rng, mix)
    order: list[int] = []
    while True:
        while len(order) < batch_size:
            order.extend(rng.permutation(len(data)).tolist())
        yield [data[i] for i in order[:batch_size]]
        del order[:batch_size]


def encode_pairs(tokenizer, prompts: list[str], responses: list[str], device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded (input_ids, attention_mask, labels): prompt (with the tokenizer's BOS) + response + EOS; labels only on the response."""
    p_ids = tokenizer(prompts).input_ids
    r_ids = tokenizer(responses, add_special_tokens=False).input_ids
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    rows = [(p, r + [eos]) for p, r in zip(p_ids, r_ids)]
    width = max(len(p) + len(r) for p, r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (p, r) in enumerate(rows):
        n = len(p) + len(r)
        ids[i, :n] = torch.tensor(p + r)
        labels[i, len(p):n] = torch.tensor(r)
        mask[i, :n] = 1
    return ids.to(device), mask.to(device), labels.to(device)


def lr_factor(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Linear warm-up to 1 over ``warmup`` steps, then cosine decay to ``min_ratio`` at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    frac = (step - warmup) / max(total - warmup, 1)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))


def train_sft(model, tokenizer, mix: TraceMix, settings: SFTSettings, seed: int, log_every: int = 50) -> Iterator[dict]:
    """Run SFT in place on ``model``; every ``log_every`` steps yield a row: ``sft_step``, ``sft/loss``, ``sft/lr``, ``perf/throughput``."""
    device = next(model.parameters()).device
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, betas=(0.9, 0.95), weight_decay=settings.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, settings.warmup, settings.steps, settings.min_lr_ratio))
    model.train()
    losses, tokens, t0 = [], 0, time.perf_counter()
    batches = _batches(rng, mix, settings.batch_size)
    for step in range(1, settings.steps + 1):
        pairs = next(batches)
        ids, mask, labels = encode_pairs(tokenizer, [t.prompt for t, _ in pairs], [r for _, r in pairs], device)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        tokens += int(mask.sum())
        if step % log_every == 0 or step == settings.steps:
            dt = time.perf_counter() - t0
            yield {"sft_step": step, "sft/loss": float(np.mean(losses)), "sft/lr": sched.get_last_lr()[0], "perf/throughput": tokens / dt}
            losses, tokens, t0 = [], 0, time.perf_counter()
    model.eval()
