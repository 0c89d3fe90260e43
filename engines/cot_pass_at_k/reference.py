"""The slow, obvious oracles the estimators are checked against: enumeration over every K-subset of the samples."""

from __future__ import annotations

import itertools
import math


def pass_at_k_enumerated(flags: list[bool], k: int) -> float:
    """The share of the C(n, K) subsets of size K that hold at least one success (exactly what Pass@K estimates)."""
    subsets = list(itertools.combinations(range(len(flags)), k))
    return sum(any(flags[i] for i in s) for s in subsets) / len(subsets)


def pass_at_k_binomial(n: int, c: int, k: int) -> float:
    """1 − C(n−c, K)/C(n, K) with exact integer binomials (the formula as the paper writes it)."""
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)
