"""The slow, obvious implementations the fast paths are checked against (tests only).

:func:`sample_uncached` re-runs the whole sequence for every new token (no KV cache) and draws with the same
:func:`sampling.next_token`, so with the same generator it must emit the cached sampler's tokens. :func:`grpo_loss_loop`
writes the token-level GRPO objective as a plain double loop over responses and tokens.
"""

from __future__ import annotations

import math

import torch

from .sampling import Rollout, _Decode, left_pad, next_token, positions, uniforms


@torch.no_grad()
def sample_uncached(model, prompts: list[list[int]], max_new_tokens: int, eos_id: int, pad_id: int, temperature: float = 1.0,
                    top_p: float = 1.0, generator: torch.Generator | None = None) -> Rollout:
    device = next(model.parameters()).device
    ids, pmask = left_pad(prompts, pad_id, device)
    seq, mask = ids, pmask
    state = _Decode(len(prompts), eos_id, pad_id, device)
    for _ in range(max_new_tokens):
        logits = model(input_ids=seq, attention_mask=mask, position_ids=positions(mask), use_cache=False).logits[:, -1]
        tok = state.take(*next_token(logits, temperature, top_p, uniforms(len(prompts), temperature, generator, device)))
        if bool(state.done.all()):
            break
        seq = torch.cat([seq, tok[:, None]], 1)
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
    return state.result(ids, pmask)


def grpo_loss_loop(logp, old_logp, rewards, group_size: int, mask, clip_eps: float, eps: float = 1e-6) -> float:
    """Σ_i Σ_t −min(ρ A_i, clip(ρ, 1−ε, 1+ε) A_i) m_it / Σ m_it with A_i = (r_i − mean_g)/(std_g + eps), ρ = exp(logp − old)."""
    n = len(rewards)
    adv = []
    for i in range(n):
        g = i // group_size
        grp = [float(rewards[j]) for j in range(g * group_size, (g + 1) * group_size)]
        mean = sum(grp) / len(grp)
        std = math.sqrt(sum((r - mean) ** 2 for r in grp) / (len(grp) - 1)) if len(grp) > 1 else 1.0
        adv.append((float(rewards[i]) - mean) / (std + eps))
    total, count = 0.0, 0.0
    for i in range(n):
        for t in range(len(mask[i])):
            m = float(mask[i][t])
            if not m:
                continue
            ratio = math.exp(float(logp[i][t]) - float(old_logp[i][t]))
            clipped = min(max(ratio, 1 - clip_eps), 1 + clip_eps)
            total += -min(ratio * adv[i], clipped * adv[i]) * m
            count += m
    return total / max(count, 1.0)
