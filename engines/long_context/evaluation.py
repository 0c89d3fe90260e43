"""The NIAH grid: needle accuracy per length × depth and the local (next-token) accuracy per length.

Every scaling is scored on the very same documents: cell (L, j) draws its ``samples_per_cell`` documents from
``numpy.random.default_rng([seed, 3, L, j])``. A needle counts as retrieved when the argmax over the whole vocabulary
at the last position is the needle's value; the local accuracy is the share of determined haystack tokens
(``x_t = π(x_{t−2})``, not a noise draw) whose argmax prediction is right.
"""

from __future__ import annotations

import numpy as np
import torch

from . import model as toy
from .config import Config
from .task import Documents, Haystack, needle_documents

CHUNK_TOKENS = 32768  # tokens per forward pass in evaluation


def depths(cfg: Config) -> np.ndarray:
    return np.linspace(0.0, 1.0, cfg.n_depths)


def grid_documents(cfg: Config, hay: Haystack, length: int) -> list[Documents]:
    """One batch of documents per depth for ``length`` tokens, each from its own seeded generator."""
    return [needle_documents(np.random.default_rng([cfg.seed, 3, length, j]), hay, cfg.needle, cfg.distractors,
                             cfg.samples_per_cell, length, depth=float(d)) for j, d in enumerate(depths(cfg))]


def score(model, docs: list[Documents], device: torch.device) -> tuple[np.ndarray, int, int]:
    """(needle accuracy in % per depth, determined tokens predicted right, determined tokens)."""
    acc = np.empty(len(docs))
    right = total = 0
    with torch.inference_mode():
        for j, d in enumerate(docs):
            hits = 0
            rows = max(1, CHUNK_TOKENS // d.tokens.shape[1])
            for a in range(0, len(d.tokens), rows):
                out = toy.logits(model, d.tokens[a: a + rows], device).argmax(-1).cpu().numpy()
                hits += int(np.sum(out[:, -1] == d.answer[a: a + rows]))
                mask = d.determined[a: a + rows]
                right += int(np.sum(out[mask] == d.lm_target[a: a + rows][mask]))
                total += int(mask.sum())
            acc[j] = 100.0 * hits / len(d.tokens)
    return acc, right, total
