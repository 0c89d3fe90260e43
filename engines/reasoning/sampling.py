"""Batched, KV-cached sampling from any Hugging Face causal LM, with temperature and top-p.

Prompts are left-padded; positions count real tokens only (``cumsum(mask) − 1``), so a padded prompt sees
the positions it would see alone. The prompt is run once, then one token per step through the model's KV
cache: a ``transformers.StaticCache`` preallocated for prompt + ``max_new_tokens`` (a ``DynamicCache`` re-copies
the growing keys and values every step — measured 2.5× slower over a 1,024-row evaluation). With logits z
and temperature T at each step:

    p_T = softmax(z / T)                      the sampling distribution before top-p
    H_T = −Σ_v p_T(v) log p_T(v)              per-token entropy in nats (veRL's / TRL's ``entropy``)
    log π(y) = log p_T(y)                     the token log-prob the GRPO loss recomputes

Top-p keeps the smallest set of most probable tokens whose p_T sum reaches ``top_p`` and renormalises;
the token is drawn by inverting the CDF at one uniform number per row of the batch and step (``torch.rand``
from the caller's generator), so the cached and the uncached decoder (``reference.sample_uncached``) draw the
same tokens. Rows that finished leave the batch (and the cache, ``Cache.reorder_cache``) once they are half of it,
and decoding runs with eager attention (measured on 256 rows × 32 tokens: StaticCache 2.5× faster than
DynamicCache over an evaluation, compaction 1.2×, eager attention 1.1× over SDPA).
``temperature = 0`` is greedy (H and log π then at T = 1). A finished row (it produced EOS) is fed padding
and masked out; a row with no EOS within ``max_new_tokens`` is *truncated*.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch


@dataclass
class Rollout:
    """Sampled responses: ids (B, L), mask (1 on response tokens incl. EOS), log π and H_T per token, truncation."""

    prompt_ids: torch.Tensor
    prompt_mask: torch.Tensor
    tokens: torch.Tensor
    mask: torch.Tensor
    logprobs: torch.Tensor
    entropy: torch.Tensor
    truncated: torch.Tensor

    @property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(1).long()

    def texts(self, tokenizer) -> list[str]:
        """Each response decoded up to (not including) its EOS."""
        eos = tokenizer.eos_token_id
        out = []
        for row, n in zip(self.tokens.tolist(), self.lengths.tolist()):
            ids = row[:n]
            if ids and ids[-1] == eos:
                ids = ids[:-1]
            out.append(tokenizer.decode(ids, skip_special_tokens=True))
        return out


def left_pad(prompts: list[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, mask) with every prompt right-aligned."""
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        if p:
            ids[i, width - len(p):] = torch.tensor(p, dtype=torch.long)
            mask[i, width - len(p):] = 1
    return ids.to(device), mask.to(device)


def positions(mask: torch.Tensor) -> torch.Tensor:
    return (mask.cumsum(1) - 1).clamp(min=0)


def uniforms(batch: int, temperature: float, generator, device) -> torch.Tensor | None:
    """One uniform number per row of the whole batch (None when greedy): both decoders draw exactly these."""
    return torch.rand(batch, 1, generator=generator, device=device) if temperature > 0 else None


def next_token(logits: torch.Tensor, temperature: float, top_p: float, u: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
    """Draw one token per row from p_T with top-p at the uniforms ``u``; return (token, log p_T(token), H_T)."""
    z = logits.float() / (temperature if temperature > 0 else 1.0)
    logp = torch.log_softmax(z, -1)
    p = logp.exp()
    entropy = -(p * logp).sum(-1)
    if temperature <= 0:
        tok = z.argmax(-1)
    else:
        probs, order = p.sort(-1, descending=True)
        if top_p < 1.0:
            keep = (probs.cumsum(-1) - probs) < top_p
            probs = probs * keep
        cdf = probs.cumsum(-1)
        idx = torch.searchsorted(cdf, u * cdf[:, -1:]).clamp(max=z.shape[-1] - 1)
        tok = order.gather(-1, idx).squeeze(-1)
    return tok, logp.gather(-1, tok[:, None]).squeeze(-1), entropy


class _Decode:
    """The bookkeeping both decoders share: which rows are done, what they emitted."""

    def __init__(self, batch: int, eos_id: int, pad_id: int, device):
        self.eos_id, self.pad_id = eos_id, pad_id
        self.done = torch.zeros(batch, dtype=torch.bool, device=device)
        self.cols: list[tuple[torch.Tensor, ...]] = []

    def take(self, tok, logp, ent, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Record one step (values for ``rows`` only when given; the other rows are done) and return the full column."""
        if rows is not None:
            full = torch.full((len(self.done),), self.pad_id, dtype=tok.dtype, device=tok.device)
            tok, logp, ent = (full.index_copy(0, rows, tok), torch.zeros(len(self.done), device=tok.device).index_copy(0, rows, logp),
                              torch.zeros(len(self.done), device=tok.device).index_copy(0, rows, ent))
        live = ~self.done
        tok = torch.where(live, tok, torch.full_like(tok, self.pad_id))
        self.cols.append((tok, live.float(), torch.where(live, logp, 0.0), torch.where(live, ent, 0.0)))
        self.done |= tok == self.eos_id
        return tok

    def result(self, prompt_ids, prompt_mask) -> Rollout:
        tok, mask, logp, ent = (torch.stack(c, 1) for c in zip(*self.cols))
        return Rollout(prompt_ids, prompt_mask, tok, mask, logp, ent, ~self.done)


@contextlib.contextmanager
def attention(model, impl: str):
    """The model's attention implementation set to ``impl`` for the block (restored after)."""
    old = getattr(model.config, "_attn_implementation", None)
    if old == impl or not hasattr(model, "set_attn_implementation"):
        yield
        return
    model.set_attn_implementation(impl)
    try:
        yield
    finally:
        model.set_attn_implementation(old)


@torch.no_grad()
def sample(model, prompts: list[list[int]], max_new_tokens: int, eos_id: int, pad_id: int, temperature: float = 1.0,
           top_p: float = 1.0, generator: torch.Generator | None = None) -> Rollout:
    """Sample up to ``max_new_tokens`` after each prompt (token-id lists), all rows at once through the KV cache."""
    from transformers import StaticCache

    # one query token against a short cache: plain matmul-softmax beats SDPA's CPU kernel; not in float64, where
    # transformers' eager mask overflows to −inf on left padding (NaN rows)
    fast = "eager" if next(model.parameters()).dtype != torch.float64 else "sdpa"
    with attention(model, fast):
        return _sample(model, prompts, max_new_tokens, eos_id, pad_id, temperature, top_p, generator, StaticCache)


def _sample(model, prompts, max_new_tokens, eos_id, pad_id, temperature, top_p, generator, StaticCache) -> Rollout:
    device = next(model.parameters()).device
    ids, mask = left_pad(prompts, pad_id, device)
    pmask, pos = mask, positions(mask)
    cache = StaticCache(config=model.config, max_cache_len=ids.shape[1] + max_new_tokens)
    out = model(input_ids=ids, attention_mask=mask, position_ids=pos, cache=cache, use_cache=True, logits_to_keep=1)
    state = _Decode(len(prompts), eos_id, pad_id, device)
    last, rows = pos[:, -1:], torch.arange(len(prompts), device=device)  # rows: the batch rows still run through the model
    for _ in range(max_new_tokens):
        u = uniforms(len(prompts), temperature, generator, device)
        tok = state.take(*next_token(out.logits[:, -1], temperature, top_p, None if u is None else u[rows]), rows)
        if bool(state.done.all()):
            break
        live = ~state.done[rows]
        if len(rows) >= 16 and int(live.sum()) <= len(rows) // 2:  # compact: finished rows leave the batch and the cache
            keep = live.nonzero().squeeze(1)
            out.cache.reorder_cache(keep)
            mask, last, rows = mask[keep], last[keep], rows[keep]
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
        last = last + 1
        out = model(input_ids=tok[rows][:, None], attention_mask=mask, position_ids=last, cache=out.cache, use_cache=True)
    return state.result(ids, pmask)
