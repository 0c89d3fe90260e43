"""Who decides that a chain is right: the world's exact step check, or a simulated noisy judge.

*Exact*: :func:`engines.reasoning.verifier.verify` checks every step against the canonical chain and names the
first failing one — the world can do what the paper's LLM judge approximates.

*Noisy*: each of ``calls`` judge calls looks at the true chain flag and errs independently — it passes a wrong
chain with the false-positive rate and fails a right one with the false-negative rate — and the calls are
aggregated: ``any`` (one pass is enough: the paper's lenient verification), ``all`` (every call must pass: the
strict one) or ``majority`` (more than half; a tie fails). The votes of all three aggregations come from the
same draws, so per sample ``all`` ⊆ ``majority`` ⊆ ``any``: the lenient and strict curves bound the band.
With both rates zero every call is the truth and every aggregation equals the exact check.
"""

from __future__ import annotations

import numpy as np

AGGREGATIONS = ("any", "majority", "all")


def exact_verdicts(prompts: list[str], responses: list[str]) -> list:
    """The world's verdict of each (prompt, response): answer, chain, failing step."""
    from engines.reasoning.verifier import verify

    return [verify(p, r) for p, r in zip(prompts, responses)]


def votes(chain: np.ndarray, calls: int, fpr: float, fnr: float, seed: int) -> np.ndarray:
    """(…, calls) boolean judge votes on chains whose true flags are ``chain``; seeded, one uniform per call."""
    if calls < 1:
        raise ValueError("calls: at least one judge call (allowed: ≥ 1)")
    for name, rate in (("false_positive", fpr), ("false_negative", fnr)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name}: {rate} is not a probability (allowed: [0, 1])")
    chain = np.asarray(chain, bool)
    u = np.random.default_rng(seed).random(chain.shape + (calls,))
    truth = chain[..., None]
    return np.where(truth, u >= fnr, u < fpr)


def aggregate(v: np.ndarray, how: str) -> np.ndarray:
    """The judged chain flag from the last axis of votes: ``any``, ``all`` or ``majority`` (strictly more than half)."""
    v = np.asarray(v, bool)
    if how == "any":
        return v.any(-1)
    if how == "all":
        return v.all(-1)
    if how == "majority":
        return 2 * v.sum(-1) > v.shape[-1]
    raise ValueError(f"aggregate: {how!r} unknown (allowed: {', '.join(AGGREGATIONS)})")


def judged_chain(chain: np.ndarray, calls: int, fpr: float, fnr: float, how: str, seed: int) -> np.ndarray:
    """The chain flags a noisy judge reports (``calls`` calls aggregated by ``how``)."""
    return aggregate(votes(chain, calls, fpr, fnr, seed), how)


def acceptance(truth: bool, calls: int, fpr: float, fnr: float, how: str) -> float:
    """The closed-form chance the aggregated judge passes a chain whose true flag is ``truth`` (binomial in the calls)."""
    from math import comb

    p = (1 - fnr) if truth else fpr  # one call's chance to pass
    if how == "any":
        return 1 - (1 - p) ** calls
    if how == "all":
        return p**calls
    if how == "majority":
        return sum(comb(calls, j) * p**j * (1 - p) ** (calls - j) for j in range(calls // 2 + 1, calls + 1))
    raise ValueError(f"aggregate: {how!r} unknown (allowed: {', '.join(AGGREGATIONS)})")
