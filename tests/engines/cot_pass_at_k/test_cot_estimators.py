"""The estimators against enumeration over every K-subset, exact binomials, and a resampling check of the bands."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from engines.cot_pass_at_k import estimators as est
from engines.cot_pass_at_k import reference as ref


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_pass_at_k_equals_enumeration_over_all_k_subsets(n):
    rng = np.random.default_rng(n)
    for _ in range(6):
        flags = list(rng.random(n) < rng.random())
        c = sum(flags)
        table = est.curve_per_prompt(np.array([n]), np.array([c]), n)[0]
        for k in range(1, n + 1):
            want = ref.pass_at_k_enumerated(flags, k)
            assert est.pass_at_k(n, c, k) == pytest.approx(want, abs=1e-12)
            assert table[k - 1] == pytest.approx(want, abs=1e-12)


def test_cot_pass_at_k_counts_only_samples_with_answer_and_chain_right():
    # 6 samples: answers right at 0,1,2,4; chains right at 0,3,4 -> D = {0,4}
    answer = np.array([[1, 1, 1, 0, 1, 0]], bool)
    chain = np.array([[1, 0, 0, 1, 1, 0]], bool)
    n, d = est.counts(answer & chain)
    for k in range(1, 7):
        brute = np.mean([any(answer[0, i] and chain[0, i] for i in s) for s in itertools.combinations(range(6), k)])
        assert est.curve_per_prompt(n, d, 6)[0, k - 1] == pytest.approx(brute)
    assert est.p_cc_given_ca(answer, chain)[0] == pytest.approx(2 / 4)
    assert est.p_ca(answer)[0] == pytest.approx(4 / 6)


def test_product_form_is_stable_where_binomials_are_huge():
    n, c = 1000, 3
    for k in (1, 10, 500, 997, 998, 1000):
        assert est.pass_at_k(n, c, k) == pytest.approx(ref.pass_at_k_binomial(n, c, k), rel=1e-10, abs=1e-12)
    assert est.curve_per_prompt(np.array([1000]), np.array([3]), 1000)[0, -1] == 1.0


def test_edge_counts_and_bad_arguments():
    assert est.pass_at_k(5, 0, 3) == 0.0 and est.pass_at_k(5, 5, 1) == 1.0
    with pytest.raises(ValueError):
        est.pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        est.curve_per_prompt(np.array([4, 2]), np.array([1, 1]), 3)
    assert np.isnan(est.p_cc_given_ca(np.zeros((1, 3), bool), np.zeros((1, 3), bool))[0])


def test_bootstrap_band_holds_the_mean_and_shrinks_with_more_prompts():
    rng = np.random.default_rng(0)
    small = rng.random((20, 4))
    big = rng.random((2000, 4))
    m, lo, hi = est.band(small, est.bootstrap_indices(20, 400, 1))
    assert np.all(lo <= m) and np.all(m <= hi)
    mb, lob, hib = est.band(big, est.bootstrap_indices(2000, 400, 1))
    assert np.all(hib - lob < (hi - lo))
    # the 90 % band of a mean of uniforms: ± 1.645 σ/√P with σ² = 1/12
    assert np.mean(hib - lob) == pytest.approx(2 * 1.645 * np.sqrt(1 / 12 / 2000), rel=0.2)


def test_crossing_interpolates_in_log_k_and_is_none_without_a_sign_change():
    k = np.array([1, 2, 4, 8])
    tuned = np.array([0.6, 0.7, 0.8, 0.85])
    base = np.array([0.4, 0.6, 0.8, 0.9])
    assert est.crossing(k, base, tuned) == pytest.approx(4.0)
    base2 = np.array([0.4, 0.6, 0.85, 0.9])  # d: 0.2, 0.1, -0.05 -> between 2 and 4 at t = 2/3 in log space
    assert est.crossing(k, base2, tuned) == pytest.approx(np.exp(np.log(2) + (2 / 3) * np.log(2)))
    assert est.crossing(k, base - 0.5, tuned) is None
    assert est.crossing(k, tuned + 0.1, tuned) is None


def test_logic_prior_compares_answer_rates_by_chain():
    correct = np.array([[1, 1, 0, 1, 0, 0]], bool)
    chain = np.array([[1, 1, 0, 0, 0, 0]], bool)
    lp = est.logic_prior(correct, chain)
    assert lp["p_ca_given_cc"] == 1.0 and lp["p_ca_given_wrong_chain"] == pytest.approx(1 / 4) and lp["holds"]
