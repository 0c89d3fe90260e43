"""RoPE scalings: equal to transformers 5.24's ROPE_INIT_FUNCTIONS on a grid, and to their closed forms."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from transformers import LlamaConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

from engines.long_context import rope

HEAD_DIMS = (16, 64, 80, 128)
BASES = (500.0, 10000.0, 500000.0)
FACTORS = (1.0, 2.0, 8.0, 128.0)


def _hf(rope_parameters: dict, head_dim: int, max_position: int, seq_len=None):
    cfg = LlamaConfig(hidden_size=4 * head_dim, num_attention_heads=4, head_dim=head_dim, max_position_embeddings=max_position,
                      rope_parameters=dict(rope_parameters))
    theta, attention = ROPE_INIT_FUNCTIONS[rope_parameters["rope_type"]](cfg, torch.device("cpu"), seq_len=seq_len)
    return theta.double().numpy(), attention


def _cases():
    for hd, base, s in itertools.product(HEAD_DIMS, BASES, FACTORS):
        yield {"rope_type": "linear", "rope_theta": base, "factor": s}, hd, None
        for seq in (1024, 32768, 100000, 1_000_000):
            yield {"rope_type": "dynamic", "rope_theta": base, "factor": s}, hd, seq
        for fast, slow, truncate in ((32.0, 1.0, True), (4.0, 1.0, True), (4.0, 1.0, False), (16.0, 2.0, False)):
            yield ({"rope_type": "yarn", "rope_theta": base, "factor": s, "original_max_position_embeddings": 8192,
                    "beta_fast": fast, "beta_slow": slow, "truncate": truncate}, hd, None)
        for low, high in ((1.0, 4.0), (2.0, 8.0)):
            yield ({"rope_type": "llama3", "rope_theta": base, "factor": s, "original_max_position_embeddings": 8192,
                    "low_freq_factor": low, "high_freq_factor": high}, hd, None)


def test_every_scaling_equals_transformers_to_1e6_on_a_grid_of_head_sizes_bases_and_scales():
    n = 0
    for params, hd, seq in _cases():
        want, want_a = _hf(params, hd, 32768, seq)
        got, got_a = rope.inv_freq(params, hd, 32768, seq)
        assert got.shape == want.shape
        assert np.max(np.abs(got - want)) < 1e-6, (params, hd, seq)
        assert np.max(np.abs(got - want) / want) < 1e-5, (params, hd, seq)  # float32 against float64: a few ulp
        assert got_a == pytest.approx(want_a, abs=1e-9), (params, hd, seq)
        n += 1
    assert n == len(HEAD_DIMS) * len(BASES) * len(FACTORS) * 11


@pytest.mark.parametrize("extra", [{}, {"attention_factor": 1.3}, {"mscale": 1.0, "mscale_all_dim": 0.5}, {"partial_rotary_factor": 0.5}])
def test_yarn_options_and_defaults_follow_transformers(extra):
    params = {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 16.0, "original_max_position_embeddings": 4096, **extra}
    want, want_a = _hf(params, 64, 65536)
    got, got_a = rope.inv_freq(params, 64, 65536)
    assert np.max(np.abs(got - want)) < 1e-6 and got_a == pytest.approx(want_a, abs=1e-9)


def test_closed_forms_and_limits():
    theta = rope.default_frequencies(500.0, 16)
    assert theta[0] == 1.0 and theta[-1] == pytest.approx(500.0 ** (-14 / 16))
    assert np.allclose(rope.linear_scaling(500.0, 16, 4.0)[0], theta / 4)
    # at s = 1 every scaling is plain RoPE with attention factor 1
    for fn in (lambda: rope.yarn_scaling(500.0, 16, 1.0, 128), lambda: rope.llama3_scaling(500.0, 16, 1.0, 128),
               lambda: rope.dynamic_ntk_scaling(500.0, 16, 1.0, 128, 128), lambda: rope.linear_scaling(500.0, 16, 1.0)):
        t, a = fn()
        assert np.allclose(t, theta, rtol=0, atol=1e-15) and a == 1.0
    # YaRN: pairs below the β_fast dim keep θ, pairs above the β_slow dim are θ/s; temperature 0.1 ln s + 1
    t, a = rope.yarn_scaling(500.0, 16, 8.0, 128, beta_fast=4.0, beta_slow=1.0)
    low = math.floor(16 * math.log(128 / (4 * 2 * math.pi)) / (2 * math.log(500.0)))
    high = math.ceil(16 * math.log(128 / (2 * math.pi)) / (2 * math.log(500.0)))
    assert (low, high) == (2, 4)
    assert np.allclose(t[: low + 1], theta[: low + 1]) and np.allclose(t[high:], theta[high:] / 8)
    assert t[3] == pytest.approx(0.5 * theta[3] + 0.5 * theta[3] / 8)
    assert a == pytest.approx(0.1 * math.log(8) + 1)
    # dynamic NTK: θ_i'/θ_i = α^(−2i/(d−2)), so the last pair is interpolated by exactly α = L/L_orig
    t, _ = rope.dynamic_ntk_scaling(500.0, 16, 1.0, 1024, 128)
    assert theta[-1] / t[-1] == pytest.approx(8.0) and t[0] == 1.0


def test_interpolation_fraction_reads_kept_and_interpolated_pairs():
    theta = rope.default_frequencies(500.0, 16)
    scaled, _ = rope.yarn_scaling(500.0, 16, 8.0, 128, beta_fast=4.0, beta_slow=1.0)
    frac = rope.interpolation_fraction(theta, scaled, 8.0)
    assert np.allclose(frac, [0, 0, 0, 0.5, 1, 1, 1, 1])
    assert np.allclose(rope.interpolation_fraction(theta, theta / 8, 8.0), 1.0)
    assert np.allclose(rope.wavelengths(theta), 2 * np.pi / theta)


@pytest.mark.parametrize("params, text", [
    ({"rope_type": "linear", "rope_theta": 1e4}, "factor: missing"),
    ({"rope_type": "linear", "rope_theta": -5.0, "factor": 2.0}, "rope_theta: -5.0"),
    ({"rope_type": "longrope", "rope_theta": 1e4, "factor": 2.0}, "not supported"),
    ({"rope_type": "llama3", "rope_theta": 1e4, "factor": 2.0, "low_freq_factor": 1.0}, "high_freq_factor: missing"),
])
def test_bad_rope_parameters_are_refused_naming_the_key(params, text):
    with pytest.raises(rope.RopeError, match=text):
        rope.inv_freq(params, 64, 4096)
