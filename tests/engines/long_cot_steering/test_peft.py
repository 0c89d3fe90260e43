"""PEFT arms: adapters start as the identity, only adapters train, parameter counts match the closed form."""

from __future__ import annotations

import copy

import torch

from engines.long_cot_steering import peft


def tiny():
    from engines.reasoning.model import ModelShape, tiny_llama
    from engines.reasoning.tokenizer import char_tokenizer

    tok = char_tokenizer()
    return tiny_llama(tok, ModelShape(hidden_size=32, layers=3, heads=4, intermediate_size=48, max_positions=64), seed=0).eval(), tok


def test_arms_start_at_the_base_model_and_count_parameters():
    base, tok = tiny()
    ids = tok(["3+4*5="]).input_ids
    x = torch.tensor(ids)
    want = base(input_ids=x).logits
    h, inter, L, r = 32, 48, 3, 4
    per_layer = r * (4 * (h + h) + 2 * (h + inter) + (inter + h))
    for arm, expected in ((peft.ARMS[0], L * per_layer), (peft.ARMS[1], inter + r * 2 * (h + h))):
        m = copy.deepcopy(base)
        n = peft.build(m, arm, rank=r, seed=0)
        assert n == expected
        torch.testing.assert_close(m(input_ids=x).logits, want)  # B = 0, g = 0: the base model exactly


def test_training_moves_only_the_adapters():
    from engines.long_cot_steering.record import MIX
    from engines.reasoning.sft import TraceMix

    base, tok = tiny()
    m = copy.deepcopy(base)
    peft.build(m, peft.ARMS[1], rank=4, seed=0)
    frozen = {k: v.clone() for k, v in m.state_dict().items() if not k.endswith((".A", ".B", ".g"))}
    losses = peft.train(m, tok, TraceMix(**MIX), steps=3, batch=4, lr=1e-2, seed=0)
    assert len(losses) == 3
    after = m.state_dict()
    assert all(torch.equal(after[k], v) for k, v in frozen.items())
    assert after["model.layers.2.mlp.act_fn.g"].abs().sum() > 0


def test_quick_bench_reports_both_arms_beside_the_start():
    from engines.long_cot_steering import bench

    r = bench(quick=True, device="cpu")
    assert set(r["arms"]) == {"start", "full_lora", "amp_lora"}
    # the recorded-world Llama: hidden 128, MLP 384, 4 layers, rank 8
    assert r["arms"]["full_lora"]["trainable_parameters"] == 4 * 8 * (4 * 256 + 2 * 512 + 512)
    assert r["arms"]["amp_lora"]["trainable_parameters"] == 384 + 8 * 2 * 256
    for a in r["arms"].values():
        assert 0 <= a["accuracy"] <= 1 and a["mean_length"] > 0
    assert r["threads"]["torch_threads"] == 1
