"""The generation loop of the four conditions: KV-cached sampling with the controller's scale set before every step
and "wait" forced after digit-heavy sentences.

Each row keeps ``t``, the tokens since its last trigger (a "wait" token, sampled or forced, and with
``trigger_at_start`` the start of the response), counted from 1 at the trigger's own position: the forward pass
that feeds a token whose row has ``t`` scales the selected units by

    baseline, forced_wait:  1
    constant:               constant_factor                  on every generated token
    control:                1 + α·max(f(t), 0),  f(t) = a − b·log(t + c)     (1 before any trigger)

Forced wait (forced_wait and control): when a sentence ends (:meth:`World.sentence_end`) having at least
``min_digits`` digits and at least ``lockout`` sentences have ended since the row's last forced "wait", the
world's wait tokens are fed next instead of sampled ones. Sampling draws one uniform per row and step from the
caller's generator (``sampling.next_token``), so every condition sees the same random numbers.

The loop also records the mean activation of the selected units at every fed token (``acts``, NaN after EOS) and
where the triggers fell, from which the engine builds the trajectory after triggers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from engines.reasoning.sampling import attention, left_pad, next_token, positions, uniforms

from .config import CONDITIONS  # noqa: F401  (the conditions this module steers)
from .hooks import Controller, Recorder


@dataclass(frozen=True)
class Steering:
    """How one condition steers: amplification mode, the law, forced wait."""

    mode: str = "none"  # none | constant | control
    forced_wait: bool = False
    alpha: float = 4.0
    a: float = 0.17
    b: float = 0.033
    c: float = -0.997
    constant_factor: float = 1.68
    min_digits: int = 4
    lockout: int = 2
    trigger_at_start: bool = True

    def law(self, t: np.ndarray) -> np.ndarray:
        """f(t) = a − b·log(t + c) at t ≥ 1 (0 where t + c ≤ 0 or t is undefined)."""
        t = np.asarray(t, float)
        with np.errstate(all="ignore"):
            f = self.a - self.b * np.log(t + self.c)
        return np.where(np.isfinite(f) & (t >= 1), f, 0.0)

    def scales(self, t: np.ndarray) -> np.ndarray:
        """The factor of the selected units for rows whose tokens-since-trigger are ``t`` (NaN = no trigger yet)."""
        if self.mode == "constant":
            return np.full(len(t), self.constant_factor)
        if self.mode == "control":
            return np.where(np.isnan(t), 1.0, 1.0 + self.alpha * np.maximum(self.law(np.nan_to_num(t, nan=0.0)), 0.0))
        return np.ones(len(t))


def steering_for(name: str, cfg) -> Steering:
    common = dict(alpha=cfg.alpha, a=cfg.a, b=cfg.b, c=cfg.c, constant_factor=cfg.constant_factor, min_digits=cfg.min_digits,
                  lockout=cfg.lockout, trigger_at_start=cfg.trigger_at_start)
    return {
        "baseline": Steering("none", False, **common),
        "constant": Steering("constant", False, **common),
        "forced_wait": Steering("none", True, **common),
        "control": Steering("control", True, **common),
    }[name]


@dataclass
class Generation:
    """One batch's output: token ids per row, texts, the forced "wait"s, activations and trigger positions."""

    tokens: list[list[int]]
    texts: list[str]
    truncated: list[bool]
    forced: list[int]
    acts: np.ndarray  # (B, L) mean activation of the selected units at each fed response token (NaN = not fed)
    triggers: list[list[int]] = field(default_factory=list)  # per row: response positions of trigger tokens
    scales: np.ndarray | None = None  # (B, L) the factor applied at each fed token


class _Row:
    __slots__ = ("t", "digits", "since_forced", "queue", "forced", "triggers")

    def __init__(self, lockout: int):
        self.t = math.nan
        self.digits = 0
        self.since_forced = lockout  # the first digit-heavy sentence may be followed by a wait
        self.queue: list[int] = []
        self.forced = 0
        self.triggers: list[int] = []


@torch.no_grad()
def generate(model, world, prompt_ids: list[list[int]], steering: Steering, units: dict[int, torch.Tensor], max_new_tokens: int,
             temperature: float, top_p: float, generator: torch.Generator) -> Generation:
    """Sample responses to ``prompt_ids`` under ``steering`` with the selected ``units`` (see the module docstring)."""
    from transformers import StaticCache

    device = next(model.parameters()).device
    eos, pad = world.eos_id, world.pad_id
    ids, mask = left_pad(prompt_ids, pad, device)
    pos = positions(mask)
    B = len(prompt_ids)
    rows = [_Row(steering.lockout) for _ in range(B)]
    if steering.trigger_at_start:
        for r in rows:
            r.t = 0.0  # becomes 1 at the first fed response token
    cols: list[torch.Tensor] = []
    acts = np.full((B, max_new_tokens), np.nan)
    scales = np.full((B, max_new_tokens), np.nan)
    done = torch.zeros(B, dtype=torch.bool, device=device)
    fast = "eager" if next(model.parameters()).dtype != torch.float64 else "sdpa"
    ctl = Controller(model, units)
    rec = Recorder(model, sorted(units), units)
    with attention(model, fast), ctl, rec:
        ctl.scale = 1.0
        cache = StaticCache(config=model.config, max_cache_len=ids.shape[1] + max_new_tokens)
        out = model(input_ids=ids, attention_mask=mask, position_ids=pos, cache=cache, use_cache=True, logits_to_keep=1)
        rec.clear()
        last = pos[:, -1:]
        for step in range(max_new_tokens):
            u = uniforms(B, temperature, generator, device)
            tok, _, _ = next_token(out.logits[:, -1], temperature, top_p, u)
            tok = tok.clone()
            for i, r in enumerate(rows):
                if r.queue and not bool(done[i]):
                    tok[i] = r.queue.pop(0)
            tok = torch.where(done, torch.full_like(tok, pad), tok)
            cols.append(tok)
            done_before = done.clone()
            done |= tok == eos
            if bool(done.all()) or step == max_new_tokens - 1:
                break
            ids_list = tok.tolist()
            t_now = np.empty(B)
            for i, r in enumerate(rows):
                if bool(done_before[i]):
                    t_now[i] = math.nan
                    continue
                tid = ids_list[i]
                if tid in world.trigger_ids:
                    r.t = 0.0
                    r.triggers.append(step)
                r.t += 1.0  # the fed token's position: 1 at the trigger itself
                t_now[i] = r.t
                text = world.token_text(tid)
                r.digits += sum(ch.isdigit() for ch in text)
                if world.sentence_end(text):
                    digit_heavy = r.digits >= steering.min_digits
                    r.digits = 0
                    r.since_forced += 1
                    if steering.forced_wait and digit_heavy and r.since_forced > steering.lockout and not r.queue:
                        r.queue = list(world.wait_ids)
                        r.forced += 1
                        r.since_forced = 0
            s = steering.scales(t_now)
            scales[:, step] = np.where(done_before.cpu().numpy(), np.nan, s)
            ctl.scale = torch.tensor(s, dtype=torch.float32, device=device) if steering.mode != "none" else 1.0
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
            last = last + 1
            out = model(input_ids=tok[:, None], attention_mask=mask, position_ids=last, cache=out.cache, use_cache=True)
            a = torch.stack([c[:, -1].mean(-1) for c in (rec.calls[k][-1] for k in sorted(units))]).mean(0) if units else torch.zeros(B)
            acts[:, step] = np.where(done_before.cpu().numpy(), np.nan, a.numpy())
    toks = torch.stack(cols, 1).tolist() if cols else [[] for _ in range(B)]
    out_tokens, texts, truncated = [], [], []
    for row in toks:
        n = next((k for k, x in enumerate(row) if x == eos), None)
        keep = row[:n] if n is not None else row
        out_tokens.append(keep)
        texts.append(world.decode(keep))
        truncated.append(n is None)
    return Generation(out_tokens, texts, truncated, [r.forced for r in rows], acts, [r.triggers for r in rows], scales)
