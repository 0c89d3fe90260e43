"""Sampling: the KV-cached batched sampler against uncached decoding, token for token; log-probs and entropy in closed form."""

from __future__ import annotations

import copy

import pytest
import torch

from engines.reasoning.model import ModelShape, tiny_llama
from engines.reasoning.reference import sample_uncached
from engines.reasoning.sampling import next_token, sample
from engines.reasoning.tokenizer import char_tokenizer

PROMPTS = ["3+4=", "x=3;y=x*4;?y", "9*9-1=", "1=", "a=2;b=a+a;c=b*a;?c", "7-2*3+1="]


@pytest.fixture(scope="module")
def policy():
    tok = char_tokenizer()
    model = tiny_llama(tok, ModelShape(hidden_size=32, layers=2, heads=2, intermediate_size=64, max_positions=64), seed=0)
    return model.eval(), tok  # float32, as trained: the sampler decodes with eager attention, the reference with SDPA


def _ids(tok):
    return [tok(p).input_ids for p in PROMPTS * 2]


@pytest.mark.parametrize("temperature, top_p", [(1.0, 1.0), (0.7, 0.9), (1.5, 0.5), (0.0, 1.0)])
def test_cached_sampling_matches_uncached_decoding_token_for_token(policy, temperature, top_p):
    model, tok = policy
    args = (model, _ids(tok), 24, tok.eos_token_id, tok.pad_token_id, temperature, top_p)
    a = sample(*args, generator=torch.Generator().manual_seed(11))
    b = sample_uncached(*args, generator=torch.Generator().manual_seed(11))
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.mask, b.mask) and torch.equal(a.truncated, b.truncated)
    torch.testing.assert_close(a.logprobs, b.logprobs, rtol=0, atol=2e-5)
    torch.testing.assert_close(a.entropy, b.entropy, rtol=0, atol=2e-5)


def test_finished_rows_are_masked_and_padded(policy):
    model, tok = policy
    roll = sample(model, _ids(tok), 24, tok.eos_token_id, tok.pad_token_id, 2.0, 1.0, torch.Generator().manual_seed(3))
    finished = ~roll.truncated
    assert finished.any(), "some row should have sampled EOS at temperature 2"
    for row, n, fin in zip(roll.tokens, roll.lengths, finished):
        if fin:
            assert row[n - 1] == tok.eos_token_id and (row[n:] == tok.pad_token_id).all()
    assert torch.equal(roll.mask.sum(1).long(), roll.lengths) and (roll.logprobs[roll.mask == 0] == 0).all()


def test_a_prompt_samples_the_same_alone_and_in_a_padded_batch(policy):
    model, tok = policy
    ids = _ids(tok)
    alone = sample(model, [ids[4]], 16, tok.eos_token_id, tok.pad_token_id, 0.0)
    batch = sample(model, ids, 16, tok.eos_token_id, tok.pad_token_id, 0.0)
    n = alone.tokens.shape[1]
    assert torch.equal(alone.tokens[0], batch.tokens[4, :n])
    torch.testing.assert_close(alone.entropy[0], batch.entropy[4, :n], rtol=0, atol=2e-5)


def test_float64_models_decode_the_same_as_uncached(policy):
    model, tok = policy
    model = copy.deepcopy(model).double()
    args = (model, _ids(tok), 16, tok.eos_token_id, tok.pad_token_id, 1.0, 1.0)
    a = sample(*args, generator=torch.Generator().manual_seed(1))
    b = sample_uncached(*args, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a.tokens, b.tokens) and not torch.isnan(a.logprobs).any()
    torch.testing.assert_close(a.logprobs, b.logprobs, rtol=0, atol=1e-10)


def test_logprob_and_entropy_are_those_of_softmax_logits_over_t():
    torch.manual_seed(0)
    z = torch.randn(5, 50, dtype=torch.float64) * 3
    for T in (0.5, 1.0, 2.0):
        tok, logp, ent = next_token(z, T, 1.0, torch.rand(5, 1, generator=torch.Generator().manual_seed(0)))
        dist = torch.distributions.Categorical(logits=z / T)
        torch.testing.assert_close(ent, dist.entropy().float())
        torch.testing.assert_close(logp, dist.log_prob(tok).float())


def test_top_p_keeps_only_the_nucleus():
    z = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    draws = torch.stack([next_token(z, 1.0, 0.8, torch.rand(1, 1, generator=torch.Generator().manual_seed(s)))[0] for s in range(400)])
    assert set(draws.flatten().tolist()) == {0, 1}  # 0.5 + 0.3 reaches 0.8: the rest never drawn
    share = (draws == 0).float().mean().item()
    assert abs(share - 0.5 / 0.8) < 0.08
    greedy = next_token(z, 1.0, 1e-9, torch.rand(1, 1, generator=torch.Generator().manual_seed(0)))[0]
    assert greedy.item() == 0


def test_rows_that_finished_leave_the_batch_and_the_tokens_stay_those_of_uncached_decoding(policy):
    model, tok = policy
    ids = [tok(p).input_ids for p in PROMPTS * 8]  # 48 rows
    sizes = []
    hook = model.model.register_forward_pre_hook(lambda mod, args, kw: sizes.append(kw["input_ids"].shape[0]), with_kwargs=True)
    try:
        a = sample(model, ids, 40, tok.eos_token_id, tok.pad_token_id, 5.0, 1.0, torch.Generator().manual_seed(5))
    finally:
        hook.remove()
    assert min(sizes) < 48, "half the rows finished: the batch should have been compacted"
    b = sample_uncached(model, ids, 40, tok.eos_token_id, tok.pad_token_id, 5.0, 1.0, torch.Generator().manual_seed(5))
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.truncated, b.truncated)
    torch.testing.assert_close(a.logprobs, b.logprobs, rtol=0, atol=2e-5)
