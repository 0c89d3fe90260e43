"""ASTRAEA's token selection and token cache, and the samplers every method runs through.

Rectified-flow Euler sampling from t = 1 (noise) to t = 0 over ``steps`` uniform steps. At step k ASTRAEA recomputes
only ``round(b_k · N)`` tokens, ranked by the score

    S_i = w_a · (LSE_i · Δtoken_i) + w_b · e^{n_i}

(Δtoken_i: L2 change of the token's noisy input since it was last computed; LSE_i: the log-sum-exp of its attention
row the last time it was computed, mean over heads and blocks; n_i: consecutive steps it was skipped). The selected
tokens run through every block with queries from them only and keys/values of all tokens (``attention``); the
velocity of a skipped token is its cached one. Keys/values of skipped tokens are either the cached ones
(``kv="cached"``, the paper's memory-efficient form) or recomputed from their cached block inputs with the current
step's modulation (``kv="recompute"``). The first step has an empty cache and is always full.

``forward_tokens`` with ``index=None`` is the full pass (identical to :meth:`VideoDiT.forward`); every method's
full steps go through it, so a budget of 1.0 at every step reproduces the full-compute video exactly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .attention import attention
from .model import VideoDiT


@dataclass
class TokenCache:
    """What ASTRAEA keeps between steps (B videos, N tokens)."""

    h: list  # per block: the block's input hidden states [B, N, d] when each token was last computed
    k: list  # per block: keys [B, H, N, d_head]
    v: list  # per block: values
    out: torch.Tensor  # [B, N, p²] the last velocity of each token
    x_last: torch.Tensor  # [B, N, p²] each token's noisy input when it was last computed
    lse: torch.Tensor  # [B, N] mean attention LSE of each token when last computed
    skipped: torch.Tensor  # [B, N] consecutive steps skipped (n_i)


@dataclass
class SampleInfo:
    tokens: np.ndarray  # [steps] tokens computed per video at each step
    masks: np.ndarray | None = None  # [B, steps, N] which tokens were recomputed
    computed_steps: np.ndarray | None = None  # [steps] bool: the model ran at this step (step_cache)
    wall_s: float = 0.0
    cpu_s: float = 0.0  # process CPU time: with one torch thread, the compute itself, whatever else the machine runs
    extra: dict = field(default_factory=dict)


def _rows(index: torch.Tensor, width: int) -> torch.Tensor:
    return index.unsqueeze(-1).expand(-1, -1, width)


def flat_index(index: torch.Tensor, n: int) -> torch.Tensor:
    """Row numbers [B·k] of the tokens ``index`` [B, k] in a [B·N, …] view of a per-token cache."""
    return (index + n * torch.arange(index.shape[0]).unsqueeze(1)).reshape(-1)


def put_rows(cache: torch.Tensor, flat: torch.Tensor, rows: torch.Tensor) -> None:
    """cache [B, N, …][selected] = rows [B, k, …], through one index_copy_ on the flattened view (scatter_ is slower)."""
    cache.view(-1, *cache.shape[2:]).index_copy_(0, flat, rows.reshape(-1, *cache.shape[2:]))


def forward_tokens(model: VideoDiT, x_tok: torch.Tensor, c: torch.Tensor, index: torch.Tensor | None = None,
                   cache: TokenCache | None = None, kv: str = "cached") -> tuple[torch.Tensor, torch.Tensor]:
    """Velocity tokens [B, n, p²] and mean LSE [B, n] of the tokens ``index`` [B, n] (None = all, in order).

    With ``index`` the keys/values of the other tokens come from ``cache`` (cached, or recomputed from the cached
    hidden states); with a ``cache`` it is updated with what this pass computed. Caches are token-major ([B, N, …]),
    so that a step writes its selected rows with one index_copy_ each.
    """
    b, n = x_tok.shape[0], model.n_tokens
    if index is None:
        h = model.embed(x_tok) + model.pos
    else:
        flat = flat_index(index, n)
        h = model.embed(x_tok.reshape(b * n, -1).index_select(0, flat).view(b, index.shape[1], -1)) + model.pos[index]
    lse_sum = None
    for layer, block in enumerate(model.blocks):
        mod = block.modulation(c)
        qkv = block.qkv_tokens(h, mod[0], mod[1])  # [B, n, 3, H, dh]
        q = qkv[:, :, 0].transpose(1, 2)
        if index is None:
            k, v = qkv[:, :, 1].transpose(1, 2), qkv[:, :, 2].transpose(1, 2)
            if cache is not None:
                cache.h[layer] = h
                cache.k[layer], cache.v[layer] = qkv[:, :, 1].contiguous(), qkv[:, :, 2].contiguous()
        else:
            put_rows(cache.h[layer], flat, h)
            if kv == "cached":
                put_rows(cache.k[layer], flat, qkv[:, :, 1])
                put_rows(cache.v[layer], flat, qkv[:, :, 2])
            else:  # recompute every token's K/V from its cached block input under this step's modulation
                full = block.qkv_tokens(cache.h[layer], mod[0], mod[1])
                cache.k[layer], cache.v[layer] = full[:, :, 1], full[:, :, 2]
            k, v = cache.k[layer].transpose(1, 2), cache.v[layer].transpose(1, 2)
        out, lse = attention(q, k, v)
        lse_sum = lse.mean(1) if lse_sum is None else lse_sum + lse.mean(1)
        h = block.finish(h, out, mod)
    return model.head(h, c), lse_sum / len(model.blocks)


def new_cache(model: VideoDiT, batch: int) -> TokenCache:
    n, p2 = model.n_tokens, model.patch ** 2
    z = torch.zeros(batch, n, p2)
    return TokenCache(h=[None] * len(model.blocks), k=[None] * len(model.blocks), v=[None] * len(model.blocks), out=z.clone(),
                      x_last=z.clone(), lse=torch.zeros(batch, n), skipped=torch.zeros(batch, n))


def token_score(cache: TokenCache, x_tok: torch.Tensor, w_a: float, w_b: float) -> torch.Tensor:
    """S = w_a · (LSE · Δtoken) + w_b · e^{n} for every token [B, N]."""
    delta = (x_tok - cache.x_last).norm(dim=-1)
    return w_a * (cache.lse * delta) + w_b * torch.exp(cache.skipped.clamp(max=80.0))


def tokens_for(budget: float, n: int) -> int:
    return int(min(n, max(1, round(budget * n))))


def time_grid(steps: int) -> np.ndarray:
    return np.linspace(1.0, 0.0, steps + 1)


@torch.inference_mode()
def sample_full(model: VideoDiT, noise: torch.Tensor, y: torch.Tensor, steps: int) -> tuple[np.ndarray, SampleInfo]:
    """The full-compute reference: every token at every step."""
    ts = time_grid(steps)
    x = noise.clone()
    t0, c0 = time.perf_counter(), time.process_time()
    for k in range(steps):
        c = model.condition(torch.full((x.shape[0],), float(ts[k])), y)
        v_tok, _ = forward_tokens(model, model.patchify(x), c)
        x = x + float(ts[k + 1] - ts[k]) * model.unpatchify(v_tok)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return x.numpy(), SampleInfo(tokens=np.full(steps, model.n_tokens), wall_s=wall, cpu_s=cpu)


@torch.inference_mode()
def sample_tokens(model: VideoDiT, noise: torch.Tensor, y: torch.Tensor, schedule: np.ndarray, select: str = "score",
                  kv: str = "cached", w_a: float = 1.0, w_b: float = 0.05, seed: int = 0, keep_masks: bool = False,
                  force_sparse: bool = False) -> tuple[np.ndarray, SampleInfo]:
    """Token-selective sampling with per-step budgets ``schedule`` [steps] (ASTRAEA: select="score"; or "random").

    A step whose budget covers every token runs the full pass (as does the first); ``force_sparse`` sends those through
    the gathered query-sparse path instead (a test of that path against the full one).
    """
    steps = len(schedule)
    ts = time_grid(steps)
    b, n = noise.shape[0], model.n_tokens
    x = noise.clone()
    cache = new_cache(model, b)
    gen = torch.Generator().manual_seed(seed)
    tokens = np.zeros(steps, np.int64)
    masks = np.zeros((b, steps, n), bool) if keep_masks else None
    t0, c0 = time.perf_counter(), time.process_time()
    for k in range(steps):
        c = model.condition(torch.full((b,), float(ts[k])), y)
        x_tok = model.patchify(x)
        m = n if k == 0 else tokens_for(float(schedule[k]), n)
        if m == n and not (force_sparse and k > 0):
            v_tok, lse = forward_tokens(model, x_tok, c, None, cache)
            cache.out, cache.x_last, cache.lse = v_tok, x_tok, lse
            cache.skipped.zero_()
            if masks is not None:
                masks[:, k] = True
        else:
            if select == "score":
                score = token_score(cache, x_tok, w_a, w_b)
                index = torch.topk(score, m, dim=1, sorted=False).indices
            else:
                index = torch.argsort(torch.rand(b, n, generator=gen), dim=1)[:, :m]
            index = torch.sort(index, dim=1).values
            v_sel, lse = forward_tokens(model, x_tok, c, index, cache, kv)
            flat = flat_index(index, n)
            put_rows(cache.out, flat, v_sel)
            put_rows(cache.x_last, flat, x_tok.reshape(b * n, -1).index_select(0, flat))
            put_rows(cache.lse, flat, lse)
            cache.skipped += 1
            put_rows(cache.skipped, flat, torch.zeros_like(lse))
            if masks is not None:
                masks[np.arange(b)[:, None], k, index.numpy()] = True
        tokens[k] = m
        x = x + float(ts[k + 1] - ts[k]) * model.unpatchify(cache.out)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return x.numpy(), SampleInfo(tokens=tokens, masks=masks, wall_s=wall, cpu_s=cpu)


@torch.inference_mode()
def sample_fewer_steps(model: VideoDiT, noise: torch.Tensor, y: torch.Tensor, steps: int) -> tuple[np.ndarray, SampleInfo]:
    """Whole-step skipping: the full model on a coarser uniform grid of ``steps`` steps."""
    video, info = sample_full(model, noise, y, steps)
    return video, info


def _indicator(model: VideoDiT, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """TeaCache's cheap indicator: the timestep-modulated input of the first block."""
    block = model.blocks[0]
    shift, scale = block.modulation(c)[:2]
    h = model.embed(model.patchify(x)) + model.pos
    return block.norm1(h) * (1 + scale) + shift


@torch.inference_mode()
def sample_step_cache(model: VideoDiT, noise: torch.Tensor, y: torch.Tensor, steps: int, threshold: float
                      ) -> tuple[np.ndarray, SampleInfo]:
    """A step-level cache in the style of TeaCache / FORA: reuse the whole velocity while the accumulated relative L1
    change of the first block's modulated input stays below ``threshold`` (first and last steps always computed)."""
    ts = time_grid(steps)
    b = noise.shape[0]
    x = noise.clone()
    computed = np.zeros(steps, bool)
    acc, prev, vel = 0.0, None, None
    t0, c0 = time.perf_counter(), time.process_time()
    for k in range(steps):
        c = model.condition(torch.full((b,), float(ts[k])), y)
        ind = _indicator(model, x, c)
        if prev is not None:
            acc += float((ind - prev).abs().mean() / prev.abs().mean().clamp(min=1e-12))
        prev = ind
        if vel is None or acc >= threshold or k == steps - 1:
            v_tok, _ = forward_tokens(model, model.patchify(x), c)
            vel = model.unpatchify(v_tok)
            computed[k] = True
            acc = 0.0
        x = x + float(ts[k + 1] - ts[k]) * vel
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return x.numpy(), SampleInfo(tokens=computed * model.n_tokens, computed_steps=computed, wall_s=wall, cpu_s=cpu)


def calibrate_step_cache(model: VideoDiT, noise: torch.Tensor, y: torch.Tensor, steps: int, budget: float,
                         iters: int = 12) -> float:
    """The threshold at which the step cache computes round(budget · steps) steps on ``noise`` (bisection)."""
    target = max(2, round(budget * steps))
    lo, hi = 0.0, 1.0
    while sample_step_cache(model, noise, y, steps, hi)[1].computed_steps.sum() > target and hi < 1e3:
        lo, hi = hi, hi * 4
    best = hi
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        count = sample_step_cache(model, noise, y, steps, mid)[1].computed_steps.sum()
        if count > target:
            lo = mid
        else:
            hi, best = mid, mid
            if count == target:
                break
    return best


def uniform_schedule(budget: float, steps: int, lo: float = 0.0) -> np.ndarray:
    """Per-step budgets with mean ``budget``: the first step full, every other step equal."""
    return project(np.full(steps, budget), budget, lo)


def project(schedule: np.ndarray, budget: float, lo: float) -> np.ndarray:
    """The schedule moved onto {s_0 = 1, lo ≤ s_k ≤ 1, mean = budget} by a common shift of the free steps (bisection)."""
    s = np.asarray(schedule, float).copy()
    steps = len(s)
    s[0] = 1.0
    target = budget * steps - 1.0
    free = s[1:]
    if steps == 1:
        return s
    lo = min(lo, target / (steps - 1))
    a, b = -2.0, 2.0
    for _ in range(60):
        mid = 0.5 * (a + b)
        if np.clip(free + mid, lo, 1.0).sum() < target:
            a = mid
        else:
            b = mid
    s[1:] = np.clip(free + 0.5 * (a + b), lo, 1.0)
    return s


def compute_share(schedule: np.ndarray, n: int) -> float:
    """The mean share of tokens actually computed by a schedule (after rounding to whole tokens)."""
    return float(np.mean([n if k == 0 else tokens_for(float(b), n) for k, b in enumerate(schedule)]) / n)


def flops_per_token(model: VideoDiT) -> float:
    """Multiply-adds per token per step outside attention (embedding, QKV, projection, MLP, head)."""
    d, p2 = model.dim, model.patch ** 2
    hidden = model.blocks[0].fc1.out_features
    return p2 * d + len(model.blocks) * (3 * d * d + d * d + 2 * d * hidden) + d * p2
