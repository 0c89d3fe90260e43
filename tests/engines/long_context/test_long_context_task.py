"""The documents: the toy language, needles at their depth, RULER-style distractors, packed documents."""

from __future__ import annotations

import numpy as np
import pytest

from engines.long_context.task import IGNORE, Haystack, Vocabulary, needle_documents, packs, text_document

V = Vocabulary(n_filler=32, n_keys=8, n_values=16, fused=True)
KV = Vocabulary(n_filler=32, n_keys=8, n_values=16, fused=False)


def _is_filler(v, t):
    return (t >= v.filler0) & (t < v.key0)


def test_the_haystack_follows_its_skip_gram_rule_where_it_is_determined():
    hay = Haystack(V, noise=0.2, seed=3)
    tokens, determined = hay.text(np.random.default_rng(0), 16, 300)
    x = tokens - V.filler0
    rule = hay.perm[x[:, :-2]] == x[:, 2:]  # x_t = π(x_{t−2})
    assert np.all(rule[determined[:, 2:]])
    assert not determined[:, :2].any()
    share = determined[:, 2:].mean()
    assert 0.75 < share < 0.85  # 1 − noise
    assert np.all(_is_filler(V, tokens))


def test_a_needle_sits_at_its_depth_and_the_query_names_its_key():
    hay = Haystack(V, 0.1, 0)
    for depth, where in ((0.0, 1), (1.0, 100 - 3), (0.5, 1 + round(0.5 * 96))):
        d = needle_documents(np.random.default_rng(1), hay, "fused", 0, 5, 100, depth=depth)
        assert d.tokens.shape == (5, 100) and np.all(d.needle_position == where)
        needle = d.tokens[np.arange(5), d.needle_position]
        key, value = divmod(needle - V.fused0, V.n_values)
        assert np.all(d.tokens[:, -1] == V.key0 + key) and np.all(d.tokens[:, -2] == V.QUERY) and np.all(d.tokens[:, 0] == V.BOS)
        assert np.all(d.answer == V.value0 + value)
        # the needle is neither predicted as text nor the token two back of a text target
        assert np.all(d.lm_target[np.arange(5), d.needle_position - 1] == IGNORE)
        assert np.all(d.lm_target[np.arange(5), np.minimum(d.needle_position + 1, 96)] == IGNORE)


def test_targets_are_next_tokens_of_the_chain_only():
    hay = Haystack(V, 0.1, 0)
    d = needle_documents(np.random.default_rng(2), hay, "fused", 2, 8, 64)
    b, t = np.nonzero(d.lm_target != IGNORE)
    assert np.all(d.lm_target[b, t] == d.tokens[b, t + 1])
    assert np.all(_is_filler(V, d.tokens[b, t + 1])) and np.all(_is_filler(V, d.tokens[b, t - 1]))
    bd, td = np.nonzero(d.determined)
    assert np.all(hay.perm[d.tokens[bd, td - 1] - V.filler0] == d.tokens[bd, td + 1] - V.filler0)


@pytest.mark.parametrize("vocab, needle", [(V, "fused"), (KV, "key_value")])
def test_distractors_have_other_keys_and_do_not_overlap(vocab, needle):
    hay = Haystack(vocab, 0.1, 0)
    d = needle_documents(np.random.default_rng(4), hay, needle, 5, 32, 80)
    asked = d.tokens[:, -1] - vocab.key0
    for row, key in zip(d.tokens, asked):
        if needle == "fused":
            keys = (row[(row >= vocab.fused0)] - vocab.fused0) // vocab.n_values
        else:
            keys = row[1:-2][(row[1:-2] >= vocab.key0) & (row[1:-2] < vocab.value0)] - vocab.key0
            values = row[1:-2][(row[1:-2] >= vocab.value0) & (row[1:-2] < vocab.fused0)]
            assert len(values) == 6
        assert len(keys) == 6 and len(set(keys)) == 6 and key in keys  # none overwrote another
    if needle == "key_value":
        p = d.needle_position
        assert np.all(d.tokens[np.arange(32), p] == d.tokens[:, -1]) and np.all(d.tokens[np.arange(32), p + 1] == d.answer)


def test_documents_are_the_same_for_the_same_seed():
    a = needle_documents(np.random.default_rng([7, 3]), Haystack(V, 0.1, 7), "fused", 1, 4, 50, depth=0.3)
    b = needle_documents(np.random.default_rng([7, 3]), Haystack(V, 0.1, 7), "fused", 1, 4, 50, depth=0.3)
    assert np.array_equal(a.tokens, b.tokens) and np.array_equal(a.lm_target, b.lm_target)


def test_log_uniform_needle_lengths_are_uniform_in_log_length():
    hay = Haystack(V, 0.1, 0)
    lengths = {}
    for kind in ("uniform", "log_uniform"):
        p = packs(np.random.default_rng(1), hay, "fused", 0, 400, 512, 64, kind)
        lengths[kind] = np.array([512 - np.flatnonzero(row == V.BOS)[-1] for row in p.tokens])
    log = np.log2(lengths["log_uniform"] / 64)  # in [0, 3]: each octave holds about a third
    assert lengths["log_uniform"].min() >= 64 and abs(np.mean(log < 1) - 1 / 3) < 0.07 and abs(np.mean(log >= 2) - 1 / 3) < 0.07
    assert np.mean(lengths["uniform"] < 128) < 0.2  # uniform in n: one in seven below 2 × L_train


def test_a_pack_is_text_documents_then_one_needle_document_separated_by_bos():
    hay = Haystack(V, 0.1, 0)
    p = packs(np.random.default_rng(5), hay, "fused", 0, 6, 512, 64)
    assert p.tokens.shape == (6, 512)
    for row, target, pos in zip(p.tokens, p.lm_target, p.needle_position):
        starts = np.flatnonzero(row == V.BOS)
        assert starts[0] == 0 and np.all(np.diff(starts) >= 8)
        assert 512 - starts[-1] >= 64  # the needle document is at least L_train long
        assert row[-2] == V.QUERY and starts[-1] < pos < 510 and row[pos] >= V.fused0
        assert np.sum(row >= V.fused0) == 1  # text documents hold no needle
        assert np.all(target[starts[1:] - 1] == IGNORE)  # no target across a separator
    doc = text_document(np.random.default_rng(0), hay, 40)
    assert doc.tokens[0, 0] == V.BOS and np.all(_is_filler(V, doc.tokens[0, 1:]))
