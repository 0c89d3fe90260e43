"""GRPO: the loss against a hand-computed example (token-level normalisation, zero advantage for all-equal groups),
the clipped loss against a plain loop, overlong filtering, and one real update that raises the reward of what it rewarded."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from engines.reasoning.grpo import GRPO, GRPOSettings, Stage, group_advantages, response_logprobs, token_loss, update
from engines.reasoning.model import ModelShape, tiny_llama
from engines.reasoning.reference import grpo_loss_loop
from engines.reasoning.sampling import sample
from engines.reasoning.tokenizer import char_tokenizer

# two groups of G = 4: group A rewards 1,0,0,1 (signal), group B all 1 (no signal); response lengths 1,2,3,5 and 2,2,2,2
REWARDS = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0])
LENGTHS = [1, 2, 3, 5, 2, 2, 2, 2]


def _mask():
    m = torch.zeros(8, 5)
    for i, n in enumerate(LENGTHS):
        m[i, :n] = 1
    return m


def test_group_advantages_by_hand():
    adv = group_advantages(REWARDS, 4)
    a = 0.5 / math.sqrt(1 / 3)  # (1 − 0.5) / std with Bessel: std = sqrt(4 · 0.25 / 3)
    torch.testing.assert_close(adv, torch.tensor([a, -a, -a, a, 0, 0, 0, 0]), atol=1e-5, rtol=0)


def test_on_policy_loss_is_token_mean_and_all_equal_groups_give_no_gradient():
    mask = _mask()
    logp = torch.randn(8, 5, dtype=torch.float64, requires_grad=True)
    adv = group_advantages(REWARDS, 4).double()
    loss, clipfrac = token_loss(logp, logp.detach(), adv, mask.double(), clip_eps=0.2)
    a = 0.5 / math.sqrt(1 / 3)
    n_tokens = sum(LENGTHS)  # 19: every response token counts once, whatever response it is in
    assert loss.item() == pytest.approx(-(a * 1 - a * 2 - a * 3 + a * 5) / n_tokens, abs=1e-5)
    assert clipfrac.item() == 0.0  # ratio = 1: clipping never binds
    loss.backward()
    expected = -(adv[:, None] * mask.double()) / n_tokens
    torch.testing.assert_close(logp.grad, expected)
    assert (logp.grad[4:] == 0).all(), "a group whose rewards are all equal contributes no gradient"


def test_clipped_loss_matches_the_plain_loop():
    gen = torch.Generator().manual_seed(0)
    mask = _mask()
    old = torch.randn(8, 5, generator=gen, dtype=torch.float64)
    new = old + 0.6 * torch.randn(8, 5, generator=gen, dtype=torch.float64)  # ratios far outside [0.8, 1.2]
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0])
    loss, clipfrac = token_loss(new, old, group_advantages(rewards, 4).double(), mask.double(), 0.2)
    assert loss.item() == pytest.approx(grpo_loss_loop(new.tolist(), old.tolist(), rewards.tolist(), 4, mask.tolist(), 0.2), abs=1e-6)
    assert 0 < clipfrac.item() < 1


@pytest.fixture(scope="module")
def small():
    tok = char_tokenizer()
    return tiny_llama(tok, ModelShape(hidden_size=32, layers=2, heads=2, intermediate_size=64, max_positions=64), seed=1), tok


def test_recomputed_logprobs_equal_the_samplers(small):
    model, tok = small
    roll = sample(model, [tok(p).input_ids for p in ["3+4=", "x=3;y=x*4;?y"] * 3], 12, tok.eos_token_id, tok.pad_token_id, 0.8,
                  generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        again = response_logprobs(model, roll, 0.8)
    torch.testing.assert_close(again * roll.mask, roll.logprobs, atol=2e-5, rtol=0)


def test_an_update_raises_the_probability_of_rewarded_responses_and_overlong_ones_are_masked(small):
    model, tok = small
    gen = torch.Generator().manual_seed(2)
    roll = sample(model, [tok("3+4=").input_ids] * 8, 6, tok.eos_token_id, tok.pad_token_id, 1.0, generator=gen)
    rewards = torch.tensor([1.0, 0, 0, 0, 1.0, 0, 0, 0])
    s = GRPOSettings(group_size=8, lr=1e-2, overlong_filter=False)
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr)
    with torch.no_grad():
        before = (response_logprobs(model, roll, 1.0) * roll.mask).sum(1)
    stats = update(model, opt, roll, rewards, s)
    with torch.no_grad():
        after = (response_logprobs(model, roll, 1.0) * roll.mask).sum(1)
    gain = (after - before).numpy()
    assert gain[[0, 4]].min() > gain[[1, 2, 3, 5, 6, 7]].max()
    assert stats["actor/pg_clipfrac"] == 0.0 and abs(stats["actor/ppo_kl"]) < 1e-4
    # with overlong filtering every one of these (all cut at 6 tokens) is masked: no gradient at all
    assert roll.truncated.all()
    params = [p.detach().clone() for p in model.parameters()]
    update(model, torch.optim.SGD(model.parameters(), lr=1.0), roll, rewards, GRPOSettings(group_size=8))
    assert all(torch.equal(a, b) for a, b in zip(params, model.parameters()))


@pytest.mark.parametrize("mode, k, updates", [("minibatch", 4, 2), ("epochs", 3, 3)])
def test_several_updates_per_batch_go_off_policy_and_clip(small, mode, k, updates):
    model, tok = small
    model = copy.deepcopy(model)
    roll = sample(model, [tok(p).input_ids for p in ["3+4=", "5*6="] for _ in range(4)], 6, tok.eos_token_id, tok.pad_token_id, 1.0,
                  generator=torch.Generator().manual_seed(4))
    rewards = torch.tensor([1.0, 0, 0, 0, 0, 1.0, 1.0, 0])
    s = GRPOSettings(group_size=4, lr=5e-2, updates_per_batch=k, update_mode=mode, overlong_filter=False, clip_eps=0.05)
    stats = update(model, torch.optim.AdamW(model.parameters(), lr=s.lr), roll, rewards, s)
    assert stats["actor/updates"] == updates  # mini-batches are whole groups: 2 groups → at most 2
    assert stats["actor/pg_clipfrac"] > 0 and stats["actor/ppo_kl"] != 0.0  # the later updates are off-policy


def _plain_update(model, opt, roll, rewards, s):
    """The full-batch update with no skipping: every response forward and backward (the oracle)."""
    adv = group_advantages(rewards, s.group_size)
    mask = roll.mask * (~roll.truncated).float()[:, None] if s.overlong_filter else roll.mask
    for _ in range(s.updates_per_batch):
        logp = response_logprobs(model, roll, s.temperature)
        loss, _ = token_loss(logp, roll.logprobs, adv, mask, s.clip_eps)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
        opt.step()


@pytest.mark.parametrize("rewards, k", [([1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0], 1), ([0, 1, 0, 0, 1, 1, 1, 1, 1, 0, 1, 1], 3),
                                        ([1] * 12, 1)])
def test_skipping_zero_advantage_responses_gives_the_plain_updates_parameters(small, rewards, k):
    model, tok = small
    roll = sample(model, [tok(p).input_ids for p in ["3+4=", "x=2;y=x+1;?y", "9-3*2="] for _ in range(4)], 10, tok.eos_token_id,
                  tok.pad_token_id, 1.2, generator=torch.Generator().manual_seed(7))
    s = GRPOSettings(group_size=4, lr=1e-3, updates_per_batch=k, update_mode="epochs", overlong_filter=False)
    a, b = copy.deepcopy(model).double(), copy.deepcopy(model).double()
    roll.logprobs = roll.logprobs.double()
    update(a, torch.optim.AdamW(a.parameters(), lr=s.lr), roll, torch.tensor(rewards, dtype=torch.float64), s)
    _plain_update(b, torch.optim.AdamW(b.parameters(), lr=s.lr), roll, torch.tensor(rewards, dtype=torch.float64), s)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-12)


def test_pass_rate_filter_drops_prompts_already_solved(small):
    model, tok = small
    trainer = GRPO(model, tok, GRPOSettings(prompts_per_step=4, group_size=2, pool_size=16, filter_samples=2), seed=0)
    stage = Stage("math@8", "math", "math", (1,), 8, steps=1, filter_above=-1.0)  # everything is "solved above −1": keep the hardest batch
    kept, info = trainer.pool(stage)
    assert len(kept) == 4 and info["data/pool_size"] == 16 and info["data/pool_kept"] == 4
    stage = Stage("math@8", "math", "math", (1,), 8, steps=1, filter_above=1.0)  # nothing exceeds 1
    kept, info = trainer.pool(stage)
    assert len(kept) == 16
    metrics, samples = trainer.step(kept[:4], 8)
    assert set(np.unique([m for m in (metrics["batch/solve_none"], metrics["batch/solve_all"])])) <= {0.0, 0.25, 0.5, 0.75, 1.0}
    assert metrics["batch/no_signal"] == pytest.approx(metrics["batch/solve_none"] + metrics["batch/solve_all"])
    assert len(samples) == 4 and {"prompt", "response", "reward", "failed_step"} <= set(samples[0])
