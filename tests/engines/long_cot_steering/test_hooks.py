"""Hooks change only the selected units; contrastive selection recovers units planted in a synthetic model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engines.long_cot_steering.hooks import Controller, Recorder, act_modules, last_layers, mean_response_activation, select_units


def tiny(layers=3, inter=48, vocab=20, seed=0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=inter, num_hidden_layers=layers, num_attention_heads=4,
                      num_key_value_heads=4, max_position_embeddings=64, attn_implementation="eager")
    return LlamaForCausalLM(cfg).eval()


def test_controller_scales_only_selected_units():
    model = tiny()
    ids = torch.randint(0, 20, (2, 7), generator=torch.Generator().manual_seed(1))
    layers = list(range(3))
    with Recorder(model, layers) as plain:
        model(input_ids=ids)
    units = {2: torch.tensor([3, 10, 41])}
    # record the last layer after the controller (hooks run in registration order) and the earlier layers too
    with Controller(model, units) as ctl, Recorder(model, layers) as rec:
        ctl.scale = torch.tensor([2.5, 0.5])
        model(input_ids=ids)
    before, after = plain.calls[2][0], rec.calls[2][0]
    mask = torch.zeros(48, dtype=torch.bool)
    mask[units[2]] = True
    torch.testing.assert_close(after[..., ~mask], before[..., ~mask])  # other units of the layer: untouched
    torch.testing.assert_close(after[0][..., mask], 2.5 * before[0][..., mask])  # per-row factors
    torch.testing.assert_close(after[1][..., mask], 0.5 * before[1][..., mask])
    for i in (0, 1):  # layers before the controlled one see exactly the same input
        torch.testing.assert_close(rec.calls[i][0], plain.calls[i][0])
    assert all(not m._forward_hooks for m in act_modules(model))  # every hook removed on exit


def test_controller_changes_logits_and_scale_one_is_identity():
    model = tiny()
    ids = torch.randint(0, 20, (1, 6), generator=torch.Generator().manual_seed(2))
    base = model(input_ids=ids).logits
    with Controller(model, {2: torch.arange(48)}) as ctl:
        ctl.scale = 1.0
        same = model(input_ids=ids).logits
        ctl.scale = 3.0
        moved = model(input_ids=ids).logits
    torch.testing.assert_close(same, base)
    assert (moved - base).abs().max() > 1e-3


def test_last_layers_and_non_llama_refused():
    model = tiny(layers=5)
    assert last_layers(model, 2) == [3, 4]
    with pytest.raises(ValueError, match="Llama-style"):
        act_modules(torch.nn.Linear(2, 2))


def planted_model(planted: dict[int, list[int]], marker: int = 7):
    """A random Llama whose planted gate units read a direction only the marker token's embedding carries."""
    model = tiny(layers=3, inter=48)
    emb = model.model.embed_tokens.weight
    with torch.no_grad():
        v = torch.randn(32, generator=torch.Generator().manual_seed(3))
        v /= v.norm()
        emb -= (emb @ v)[:, None] * v[None, :]  # no token but the marker has any component along v
        emb[marker] = 4.0 * v
        for layer, units in planted.items():
            gate = model.model.layers[layer].mlp.gate_proj.weight
            ln = model.model.layers[layer].post_attention_layernorm.weight
            for u in units:
                gate[u] = 6.0 * v / ln
    return model


def test_selection_recovers_planted_units():
    planted = {1: [5, 17], 2: [2, 30, 44]}
    model = planted_model(planted)
    g = torch.Generator().manual_seed(4)
    prompt = torch.randint(0, 6, (16, 4), generator=g)
    pos_resp = torch.randint(0, 6, (16, 12), generator=g)
    pos_resp[:, ::3] = 7  # positives: responses that keep using the marker token
    neg_resp = torch.randint(0, 6, (16, 5), generator=g)

    def batch(resp):
        ids = torch.cat([prompt, resp], 1)
        rm = torch.zeros_like(ids)
        rm[:, prompt.shape[1]:] = 1
        return ids, torch.ones_like(ids), rm

    layers = [1, 2]
    P = mean_response_activation(model, batch(pos_resp), layers)
    N = mean_response_activation(model, batch(neg_resp), layers)
    sel = select_units(P, N, layers, top_n=5)
    got = {(int(a), int(b)) for a, b in zip(sel.unit_layer, sel.unit_index)}
    assert got == {(layer, u) for layer, us in planted.items() for u in us}
    assert sel.per_layer() == {1: 2, 2: 3}
    assert {k: v.tolist() for k, v in sel.units().items()} == {1: [5, 17], 2: [2, 30, 44]}


def test_select_units_is_top_n_of_the_difference():
    rng = np.random.default_rng(0)
    P, N = rng.normal(size=(2, 10)), rng.normal(size=(2, 10))
    sel = select_units(P, N, [4, 5], top_n=3)
    brute = sorted(((P - N)[i, j], 4 + i, j) for i in range(2) for j in range(10))[::-1][:3]
    assert [(int(a), int(b)) for a, b in zip(sel.unit_layer, sel.unit_index)] == [(li, j) for _, li, j in brute]
    np.testing.assert_allclose(sel.score, [s for s, _, _ in brute])
