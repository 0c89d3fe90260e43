"""Needle-in-a-haystack documents, and the packed long documents of the UltraLong-style continued training.

A document of L tokens is ``<s> haystack… needle …haystack QUERY KEY_k`` and its answer is ``VALUE_v``:

- the *haystack* is text of a toy language, a skip-gram Markov chain ``x_t = π(x_{t−2})`` (π a fixed random
  permutation of the filler tokens) that a uniformly random token replaces with probability ``noise``. Predicting
  it needs a head that looks exactly two tokens back, the kind of local positional circuit a pretrained LLM has
  and that position interpolation blurs; the next-token loss on it is the toy's "pretraining" and the share of
  determined tokens it predicts is its *local accuracy*, the short-range skill;
- the *needle* at depth δ ∈ [0, 1] (0 = right after ``<s>``, 1 = just before the query) is either ``fused``, one token
  FUSED(k, v) that carries key and value, or ``key_value``, the two tokens KEY_k VALUE_v (retrieving it needs an
  induction head: thousands of steps at this size);
- *distractors* (RULER's multi-key needle): further needles with other keys and random values at random places.

A *pack* (continued training) is ``pack_length`` tokens of documents, each starting with the separator ``<s>`` as in
the paper, with no cross-document mask: haystack-only text documents, then one needle document at the end whose
length is drawn uniformly in [L_train, pack_length] so that needle distances cover the extended window.
Everything is drawn from a numpy Generator the caller seeds: the same seed gives the same tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IGNORE = -100  # the target of a position without a loss (torch's cross-entropy ignore_index)


@dataclass(frozen=True)
class Vocabulary:
    """Token ids: ``<s>`` 0, QUERY 1, then filler, keys, values and (fused needles only) the key×value fused tokens."""

    n_filler: int
    n_keys: int
    n_values: int
    fused: bool
    BOS: int = 0
    QUERY: int = 1

    @property
    def filler0(self) -> int:
        return 2

    @property
    def key0(self) -> int:
        return self.filler0 + self.n_filler

    @property
    def value0(self) -> int:
        return self.key0 + self.n_keys

    @property
    def fused0(self) -> int:
        return self.value0 + self.n_values

    @property
    def size(self) -> int:
        return self.fused0 + (self.n_keys * self.n_values if self.fused else 0)

    def fused_token(self, key, value):
        return self.fused0 + np.asarray(key) * self.n_values + np.asarray(value)


@dataclass
class Documents:
    """A batch of equal-length token rows with their answers and per-position next-token targets."""

    tokens: np.ndarray  # (B, L) int64
    answer: np.ndarray  # (B,) the VALUE token the last position must predict
    lm_target: np.ndarray  # (B, L) next haystack token where it continues the chain, else IGNORE
    determined: np.ndarray  # (B, L) bool: lm_target is the chain's determined continuation (not a noise draw)
    needle_position: np.ndarray  # (B,) index of the (first token of the) asked needle


class Haystack:
    """The toy language ``x_t = π(x_{t−2})``, a random token with probability ``noise`` (and at the first two places)."""

    def __init__(self, vocab: Vocabulary, noise: float, seed: int):
        self.vocab, self.noise = vocab, noise
        self.perm = np.random.default_rng([seed, 0]).permutation(vocab.n_filler)

    def _powers(self, m: int) -> np.ndarray:
        """P[k, a] = π^k(a) for k < m."""
        table = np.empty((max(m, 1), self.vocab.n_filler), dtype=np.int64)
        table[0] = np.arange(self.vocab.n_filler)
        for k in range(1, m):
            table[k] = self.perm[table[k - 1]]
        return table

    def text(self, rng: np.random.Generator, batch: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(tokens (batch, n) as vocabulary ids, determined (batch, n)): x_t = π^k(x_r), r the last random draw of t's parity."""
        reset = rng.random((batch, n)) < self.noise
        reset[:, :2] = True
        draws = rng.integers(0, self.vocab.n_filler, (batch, n))
        out = np.empty((batch, n), dtype=np.int64)
        for parity in (0, 1):
            r, v = reset[:, parity::2], draws[:, parity::2]
            m = r.shape[1]
            if m == 0:
                continue
            idx = np.arange(m)
            last = np.maximum.accumulate(np.where(r, idx, -1), axis=1)
            start = np.take_along_axis(v, last, axis=1)
            out[:, parity::2] = self._powers(m)[idx - last, start]
        return out + self.vocab.filler0, ~reset


def _lm_targets(tokens: np.ndarray, chained: np.ndarray, determined: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Target at t is token t+1 where t+1 continues the chain (its token two back is text of the same document)."""
    target = np.full(tokens.shape, IGNORE, dtype=np.int64)
    target[:, :-1] = np.where(chained[:, 1:], tokens[:, 1:], IGNORE)
    det = np.zeros(tokens.shape, dtype=bool)
    det[:, :-1] = chained[:, 1:] & determined[:, 1:]
    return target, det


def needle_documents(rng: np.random.Generator, hay: Haystack, needle: str, distractors: int, batch: int, length: int,
                     depth: float | None = None) -> Documents:
    """``batch`` documents of ``length`` tokens; the asked needle at ``depth`` (None = uniform random per document)."""
    v = hay.vocab
    width = 1 if needle == "fused" else 2
    n_hay = length - 3
    if n_hay < width * (1 + distractors) + 2:
        raise ValueError(f"length: {length} tokens cannot hold {1 + distractors} needles (allowed: longer documents)")
    text, det = hay.text(rng, batch, n_hay)
    chained = np.ones_like(det)
    chained[:, :2] = False
    keys = np.argsort(rng.random((batch, v.n_keys)), axis=1)[:, : 1 + distractors]  # distinct keys per row, column 0 asked
    values = rng.integers(0, v.n_values, (batch, 1 + distractors))
    slots = n_hay - width + 1
    if depth is None:
        pos = rng.integers(0, slots, batch)
    else:
        pos = np.full(batch, int(round(depth * (slots - 1))))
    places = np.empty((batch, 1 + distractors), dtype=np.int64)
    places[:, 0] = pos
    for b in range(batch):  # distractors: random slots not overlapping the needle or each other
        free = np.ones(slots, dtype=bool)
        free[max(0, pos[b] - width + 1): pos[b] + width] = False
        for j in range(1, 1 + distractors):
            p = rng.choice(np.flatnonzero(free))
            places[b, j] = p
            free[max(0, p - width + 1): p + width] = False
    rows = np.arange(batch)[:, None]
    if needle == "fused":
        text[rows, places] = v.fused_token(keys, values)
        covered = [places]
    else:
        text[rows, places] = v.key0 + keys
        text[rows, places + 1] = v.value0 + values
        covered = [places, places + 1]
    for c in covered:  # a needle token is not text, nor is the token two after it a continuation
        chained[rows, c] = False
        inside = c + 2 < n_hay
        chained[np.nonzero(inside)[0], (c + 2)[inside]] = False
    tokens = np.empty((batch, length), dtype=np.int64)
    tokens[:, 0] = v.BOS
    tokens[:, 1:-2] = text
    tokens[:, -2] = v.QUERY
    tokens[:, -1] = v.key0 + keys[:, 0]
    ch = np.zeros((batch, length), dtype=bool)
    ch[:, 1:-2] = chained
    dt = np.zeros((batch, length), dtype=bool)
    dt[:, 1:-2] = det
    target, determined = _lm_targets(tokens, ch, dt)
    return Documents(tokens, v.value0 + values[:, 0], target, determined, 1 + pos)


def text_document(rng: np.random.Generator, hay: Haystack, length: int) -> Documents:
    """One haystack-only document ``<s> text…`` (no needle, no answer: answer −1)."""
    text, det = hay.text(rng, 1, length - 1)
    tokens = np.concatenate([[[hay.vocab.BOS]], text], axis=1)
    ch = np.zeros((1, length), dtype=bool)
    ch[:, 3:] = True
    dt = np.zeros((1, length), dtype=bool)
    dt[:, 1:] = det
    target, determined = _lm_targets(tokens, ch, dt)
    return Documents(tokens, np.array([-1]), target, determined, np.array([-1]))


def packs(rng: np.random.Generator, hay: Haystack, needle: str, distractors: int, batch: int, pack_length: int,
          train_length: int, needle_lengths: str = "uniform") -> Documents:
    """``batch`` packs of ``pack_length`` tokens: text documents of [L_train/2, 2·L_train] tokens, then a needle document
    of n tokens, n in [L_train, pack_length]: ``uniform`` in n, or ``log_uniform`` (uniform in log n: as many needle
    documents within 1–2 × L_train as within 4–8 ×, as heavy-tailed real corpora have)."""
    rows = []
    for _ in range(batch):
        if needle_lengths == "log_uniform":
            n_needle = int(round(train_length * (pack_length / train_length) ** rng.random()))
        else:
            n_needle = int(rng.integers(train_length, pack_length + 1))
        rest = pack_length - n_needle
        if 0 < rest < 8:
            n_needle, rest = pack_length, 0
        lengths = []
        while rest > 0:
            n = int(rng.integers(train_length // 2, 2 * train_length + 1))
            n = rest if rest - n < 8 else n
            lengths.append(n)
            rest -= n
        docs = [text_document(rng, hay, n) for n in lengths]
        docs.append(needle_documents(rng, hay, needle, distractors, 1, n_needle))
        rows.append(Documents(
            tokens=np.concatenate([d.tokens for d in docs], axis=1),
            answer=docs[-1].answer,
            lm_target=np.concatenate([d.lm_target for d in docs], axis=1),
            determined=np.concatenate([d.determined for d in docs], axis=1),
            needle_position=docs[-1].needle_position + (pack_length - n_needle),
        ))
    return Documents(*(np.concatenate([getattr(r, f) for r in rows]) for f in ("tokens", "answer", "lm_target", "determined",
                                                                              "needle_position")))
