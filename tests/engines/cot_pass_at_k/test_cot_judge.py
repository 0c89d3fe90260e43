"""The noisy judge: zero error rates equal exact verification; its acceptance rates match the binomial closed form."""

from __future__ import annotations

import numpy as np
import pytest

from engines.cot_pass_at_k import judge
from engines.reasoning.tasks import heldout_tasks, trace_text


def _world_samples():
    tasks = heldout_tasks("math", 12, (2, 3), seed=7)
    rng = np.random.default_rng(0)
    prompts, responses = [], []
    for t in tasks:
        for kind in ("right", "wrong", "lucky", "right"):
            prompts.append(t.prompt)
            responses.append(trace_text(t, kind, rng))
    return prompts, responses


@pytest.mark.parametrize("how", judge.AGGREGATIONS)
@pytest.mark.parametrize("calls", [1, 2, 5])
def test_zero_error_judge_equals_exact_verification(how, calls):
    prompts, responses = _world_samples()
    exact = np.array([v.chain_correct for v in judge.exact_verdicts(prompts, responses)])
    assert exact.any() and not exact.all()  # both kinds present, so the test can fail
    assert np.array_equal(judge.judged_chain(exact, calls, 0.0, 0.0, how, seed=3), exact)


def test_exact_verification_names_the_failing_step_of_a_lucky_chain():
    prompts, responses = _world_samples()
    verdicts = judge.exact_verdicts(prompts, responses)
    lucky = [v for v in verdicts if v.lucky]
    assert lucky and all(v.failed_step is not None and not v.step_ok[v.failed_step] for v in lucky)


@pytest.mark.parametrize("how", judge.AGGREGATIONS)
def test_acceptance_rates_match_the_binomial_closed_form(how):
    n = 200_000
    chain = np.zeros(n, bool)
    chain[: n // 2] = True
    got = judge.judged_chain(chain, 3, 0.2, 0.1, how, seed=11)
    for truth, part in ((True, got[: n // 2]), (False, got[n // 2:])):
        want = judge.acceptance(truth, 3, 0.2, 0.1, how)
        assert part.mean() == pytest.approx(want, abs=4 * np.sqrt(want * (1 - want) / (n // 2)) + 1e-9)


def test_lenient_majority_strict_are_nested_per_sample():
    chain = np.random.default_rng(1).random(5000) < 0.5
    v = judge.votes(chain, 4, 0.3, 0.3, seed=2)
    strict, maj, lenient = (judge.aggregate(v, h) for h in ("all", "majority", "any"))
    assert np.all(strict <= maj) and np.all(maj <= lenient) and lenient.sum() > strict.sum()


def test_bad_judge_settings_are_refused():
    with pytest.raises(ValueError, match="calls"):
        judge.votes(np.ones(3, bool), 0, 0.0, 0.0, 0)
    with pytest.raises(ValueError, match="false_positive"):
        judge.votes(np.ones(3, bool), 1, 1.5, 0.0, 0)
    with pytest.raises(ValueError, match="unknown"):
        judge.aggregate(np.ones((3, 2), bool), "mean")
