"""The paper's estimators, per prompt and averaged over prompts, with bootstrap bands over prompts.

For a prompt with ``n`` samples of which ``c`` have the right answer, the unbiased estimator of the chance
that at least one of ``K`` samples drawn without replacement is right is

    Pass@K = 1 − C(n−c, K) / C(n, K) = 1 − ∏_{i=n−c+1}^{n} (1 − K / i)

(the product form: no huge binomials, no cancellation; it is 1 when ``n − c < K``). CoT-Pass@K is the same
with ``D`` — the samples whose answer *and* every step of the chain are right — in place of ``c``. The
curves average the per-prompt estimates over prompts. ``P(CA)`` = c/n per prompt; ``P(CC|CA)`` = D/c per prompt
(undefined where c = 0). Bands: resample prompts with replacement, recompute the mean curve, take the
percentile interval; paired differences resample the same prompts for both checkpoints.
"""

from __future__ import annotations

import numpy as np


def pass_at_k(n, c, k) -> np.ndarray:
    """Unbiased Pass@K of prompts with ``n`` samples and ``c`` successes (arrays broadcast), product form."""
    n, c, k = np.broadcast_arrays(np.asarray(n, np.int64), np.asarray(c, np.int64), np.asarray(k, np.int64))
    if np.any(c < 0) or np.any(c > n) or np.any(k < 1) or np.any(k > n):
        raise ValueError("pass_at_k: needs 0 ≤ c ≤ n and 1 ≤ k ≤ n")
    out = np.empty(n.shape, float)
    for idx in np.ndindex(n.shape):
        ni, ci, ki = int(n[idx]), int(c[idx]), int(k[idx])
        if ni - ci < ki:
            out[idx] = 1.0
        else:
            i = np.arange(ni - ci + 1, ni + 1, dtype=float)
            out[idx] = 1.0 - float(np.prod(1.0 - ki / i))
    return out


def curve_per_prompt(n: np.ndarray, c: np.ndarray, kmax: int) -> np.ndarray:
    """(P, kmax) table of Pass@K for K = 1..kmax for every prompt (``n`` samples, ``c`` successes each)."""
    n, c = np.asarray(n, np.int64), np.asarray(c, np.int64)
    if len(n) and kmax > int(n.min()):
        raise ValueError(f"curve_per_prompt: K up to {kmax} needs at least {kmax} samples per prompt (smallest n = {int(n.min())})")
    out = np.ones((len(n), kmax))
    ks = np.arange(1, kmax + 1, dtype=float)
    for p, (ni, ci) in enumerate(zip(n.tolist(), c.tolist())):
        i = np.arange(ni - ci + 1, ni + 1, dtype=float)  # the c factors of the product
        if ci == 0:
            out[p] = 0.0
            continue
        factors = 1.0 - ks[:, None] / i[None, :]  # (K, c); a factor ≤ 0 means n − c < K: Pass@K = 1
        prod = np.where((factors <= 0).any(1), 0.0, np.prod(np.clip(factors, 0.0, None), 1))
        out[p] = 1.0 - prod
    return out


def counts(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, c) per prompt from a (P, n) boolean table."""
    flags = np.asarray(flags, bool)
    return np.full(flags.shape[0], flags.shape[1]), flags.sum(1)


def p_ca(correct: np.ndarray) -> np.ndarray:
    """P(CA) per prompt: the share of its samples with the right answer."""
    return np.asarray(correct, bool).mean(1)


def p_cc_given_ca(correct: np.ndarray, cot: np.ndarray) -> np.ndarray:
    """P(CC|CA) per prompt: of its right-answer samples, the share whose chain is right too (NaN where none is right)."""
    correct, cot = np.asarray(correct, bool), np.asarray(cot, bool)
    c = correct.sum(1)
    d = (correct & cot).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0, d / np.maximum(c, 1), np.nan)


def logic_prior(correct: np.ndarray, chain: np.ndarray) -> dict:
    """The paper's "logic prior": P(CA | chain right) against P(CA | chain wrong), pooled over every sample."""
    correct, chain = np.asarray(correct, bool).ravel(), np.asarray(chain, bool).ravel()
    right, wrong = int(chain.sum()), int((~chain).sum())
    a = float(correct[chain].mean()) if right else float("nan")
    b = float(correct[~chain].mean()) if wrong else float("nan")
    return {"p_ca_given_cc": a, "p_ca_given_wrong_chain": b, "holds": bool(a > b) if right and wrong else None,
            "samples_cc": right, "samples_wrong_chain": wrong}


def bootstrap_indices(prompts: int, rounds: int, seed: int) -> np.ndarray:
    """(rounds, prompts) indices of prompts drawn with replacement (one table shared by every checkpoint: paired bands)."""
    return np.random.default_rng(seed).integers(0, prompts, size=(rounds, prompts))


def band(per_prompt: np.ndarray, idx: np.ndarray, level: float = 0.9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, lo, hi) of the mean over prompts of a (P, K) table: the mean and its bootstrap percentile interval."""
    per_prompt = np.asarray(per_prompt, float)
    mean = per_prompt.mean(0)
    if idx.size == 0 or per_prompt.shape[0] < 2:
        return mean, mean.copy(), mean.copy()
    boot = per_prompt[idx].mean(1)  # (rounds, K)
    q = (1 - level) / 2
    return mean, np.quantile(boot, q, axis=0), np.quantile(boot, 1 - q, axis=0)


def crossing(k: np.ndarray, base: np.ndarray, tuned: np.ndarray) -> float | None:
    """The K where the base curve catches up with the tuned one: tuned above at small K, base at or above later.

    The first sign change of ``tuned − base`` from positive to ≤ 0, interpolated linearly in log K between the
    two K around it; None when the tuned curve never falls to the base's (or starts below it).
    """
    k, d = np.asarray(k, float), np.asarray(tuned, float) - np.asarray(base, float)
    if len(d) == 0 or d[0] <= 0:
        return None
    below = np.nonzero(d <= 0)[0]
    if len(below) == 0:
        return None
    j = int(below[0])
    x0, x1, y0, y1 = np.log(k[j - 1]), np.log(k[j]), d[j - 1], d[j]
    t = y0 / (y0 - y1) if y0 != y1 else 1.0
    return float(np.exp(x0 + t * (x1 - x0)))
