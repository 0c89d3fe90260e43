"""The generation loop: "wait" forced exactly where the rule says, the control factor exactly 1 + α·f(t), same seeds alike."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engines.long_cot_steering.generate import Steering, generate
from engines.long_cot_steering.worlds import World


class CharWorld(World):
    sentence_chars = ";"

    def __init__(self):
        from engines.reasoning.model import ModelShape, tiny_llama
        from engines.reasoning.tasks import WAIT
        from engines.reasoning.tokenizer import char_tokenizer

        tok = char_tokenizer()
        model = tiny_llama(tok, ModelShape(hidden_size=32, layers=2, heads=4, intermediate_size=64, max_positions=96), seed=0).eval()
        with torch.no_grad():  # a random model that likes digits and ';' (so sentences end and hold digits), never EOS
            bias = torch.zeros(len(tok))
            for ch in "0123456789;":
                bias[tok.convert_tokens_to_ids(ch)] = 3.0
            bias[tok.eos_token_id] = -1e4
            model.lm_head.weight.data *= 0.1
            self.bias = bias
        model.lm_head.register_forward_hook(lambda m, i, o: o + bias.to(o.dtype))
        super().__init__(model, tok, "random")
        self.wait_ids = [tok.convert_tokens_to_ids(WAIT)]
        self.trigger_ids = set(self.wait_ids)

    def encode_prompt(self, prompt):
        return self.tok(prompt).input_ids


@pytest.fixture(scope="module")
def world():
    return CharWorld()


def run(world, steering, seed=0, n=6, units=None, temperature=1.0):
    ids = [world.encode_prompt(p) for p in ["3+4=", "1*2*3=", "x=1;?x", "9-8=", "2+2+2=", "5*5="][:n]]
    units = {1: torch.tensor([0, 5, 9])} if units is None else units
    gen = torch.Generator().manual_seed(seed)
    return generate(world.model, world, ids, steering, units, 40, temperature, 1.0, gen)


def expected_forced(world, tokens, min_digits, lockout):
    """Replay the rule on the emitted tokens: positions after which a wait must follow."""
    out, digits, since = [], 0, lockout
    for k, tid in enumerate(tokens[:-1]):
        text = world.token_text(tid)
        digits += sum(ch.isdigit() for ch in text)
        if ";" in text:
            heavy, digits = digits >= min_digits, 0
            since += 1
            if heavy and since > lockout:
                out.append(k)
                since = 0
    return out


@pytest.mark.parametrize("min_digits,lockout", [(2, 0), (3, 2), (4, 1)])
def test_wait_forced_after_digit_heavy_sentences_with_lockout(world, min_digits, lockout):
    g = run(world, Steering("none", True, min_digits=min_digits, lockout=lockout))
    wait = world.wait_ids[0]
    total = 0
    for toks, forced in zip(g.tokens, g.forced):
        where = expected_forced(world, toks, min_digits, lockout)
        assert all(toks[k + 1] == wait for k in where)
        assert forced == len(where)
        total += forced
    assert total > 0  # the rule fired somewhere


def test_no_forcing_without_the_flag_and_same_seed_same_text(world):
    a = run(world, Steering("none", False))
    b = run(world, Steering("none", False), units={})
    assert a.texts == b.texts and sum(a.forced) == 0  # scale 1: the hooks change nothing
    c = run(world, Steering("constant", False, constant_factor=1.0))
    assert c.texts == a.texts


def test_control_factor_is_the_law_after_each_trigger(world):
    st = Steering("control", True, alpha=4.0, a=0.17, b=0.033, c=-0.997, min_digits=2, lockout=0, trigger_at_start=True)
    g = run(world, st)
    checked = 0
    for i, toks in enumerate(g.tokens):
        t = 0.0
        trig = set(g.triggers[i])
        for k in range(len(toks) - 1):
            t = 1.0 if k in trig else t + 1.0
            want = 1 + 4.0 * max(0.17 - 0.033 * math.log(t - 0.997), 0.0)
            assert g.scales[i, k] == pytest.approx(want, rel=1e-9)
            checked += 1
        assert trig == {k for k, x in enumerate(toks[:-1]) if x in world.trigger_ids}
    assert checked > 50


def test_amplification_changes_the_activations_it_records(world):
    plain = run(world, Steering("none", False), temperature=0.0)
    amp = run(world, Steering("constant", False, constant_factor=3.0), temperature=0.0)
    k = 0  # the first fed token is the same greedy token in both; its recorded activation is 3× (recorded after the scale)
    assert plain.tokens[0][0] == amp.tokens[0][0]
    assert amp.acts[0, k] == pytest.approx(3.0 * plain.acts[0, k], rel=1e-4)
    assert np.isnan(plain.acts[:, -1]).all()  # the last sampled token is never fed
