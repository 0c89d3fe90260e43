"""The toy experiment end to end on a small config, the RoPE injection against transformers' own scaled model, the Config."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from engines.long_context import SCALINGS, Config, Result, rope, stream
from engines.long_context import model as toy
from engines.long_context.scalings import rope_parameters

SMALL = Config(train_length=32, base_steps=150, extend_factor=4, extend_steps=20, eval_lengths="1,4", n_depths=3, samples_per_cell=8)


@pytest.fixture(scope="module")
def small_run():
    snaps = list(stream(SMALL, device="cpu"))
    return snaps, snaps[-1].result


def test_a_small_run_learns_the_fused_needle_and_reports_every_scaling(small_run):
    _, r = small_run
    s = r.summary()
    assert set(s["accuracy"]) == set(SCALINGS) == {"none", "linear", "dynamic_ntk", "yarn", "llama3", "ultralong", "ultralong_control"}
    assert all(len(v) == 2 for v in s["accuracy"].values()) and s["lengths"] == [32, 128] and len(s["depths"]) == 3
    assert r.heatmap.shape == (7, 2, 3) and not np.isnan(r.heatmap).any() and not np.isnan(r.local_accuracy).any()
    assert r.short_accuracy("none") >= 90  # the known-easy case: retrieval at L_train is learned in 150 steps
    assert r.at("yarn", 4.0) >= 90 and r.at("ultralong", 4.0) >= 90
    assert s["short_context_accuracy"]["ultralong"] == r.short_accuracy("ultralong")
    assert set(s["headline"]) >= {"yarn_minus_none", "niah_ultralong", "ultralong_short_change"} and "niah_ultralong" in s["paper"]
    assert s["acceptance"]["yarn_minus_none_at_8x"] is None  # 8× is not in this grid
    assert len(r.base_answer_loss) == 150 and len(r.ultralong_lm_loss) == 20 and len(r.control_answer_loss) == 20
    assert r.base_answer_loss[-10:].mean() < 0.5 * r.base_answer_loss[:10].mean()


def test_each_row_ran_with_the_rope_its_scaling_prescribes(small_run):
    _, r = small_run
    j = 1  # 4× L_train
    assert list(r.scale[:, j]) == [1.0, 4.0, pytest.approx(4.0), 4.0, 4.0, 4.0, 1.0]
    for name, kind, factor in (("linear", "linear", 4.0), ("yarn", "yarn", 4.0), ("llama3", "llama3", 4.0), ("ultralong", "yarn", 4.0),
                               ("none", "none", 1.0), ("ultralong_control", "none", 1.0)):
        theta, attention = rope.inv_freq(rope_parameters(SMALL, kind, factor), SMALL.head_dim, SMALL.train_length)
        i = r.row(name)
        assert np.allclose(r.theta[i, j], theta) and r.attention_factor[i, j] == pytest.approx(attention)
    assert r.attention_factor[r.row("yarn"), j] == pytest.approx(0.1 * math.log(4) + 1)
    assert np.allclose(r.theta[:, 0][:5], r.base_theta)  # at L_train every zero-shot scaling is plain RoPE


def test_the_stream_grows_monotonically_and_never_touches_a_yielded_result(small_run):
    snaps, r = small_run
    progress = [s.progress for s in snaps]
    assert progress == sorted(progress) and progress[-1] == 1.0 and all(p < 1.0 for p in progress[:-1])
    first_grid = next(s for s in snaps if "heatmap" in s.changed)
    assert np.isnan(first_grid.result.heatmap[1:]).all()  # later rows did not leak into an earlier snapshot
    early_training = next(s for s in snaps if "training" in s.changed)
    assert len(early_training.result.base_answer_loss) < 150
    assert {"training", "heatmap"} <= set().union(*(s.changed for s in snaps))
    assert isinstance(r, Result) and r.source == "train" and r.parameters > 50_000


def test_saving_writes_the_summary_arrays_tables_and_figures(small_run, tmp_path):
    _, r = small_run
    r.save(tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"result.json", "arrays.npz", "accuracy.csv", "local_accuracy.csv", "calculator_lengths.csv", "niah_heatmaps.png"} <= names
    with np.load(tmp_path / "arrays.npz") as npz:
        assert npz["heatmap"].shape == (7, 2, 3) and "calc_wavelength" in npz


def test_the_same_config_gives_the_same_numbers():
    cfg = Config(train_length=32, base_steps=4, extend_factor=2, extend_steps=2, eval_lengths="1,2", n_depths=2, samples_per_cell=3,
                 distractors=1, needle="key_value")
    a, b = (list(stream(cfg, "cpu"))[-1].result for _ in range(2))
    assert np.array_equal(a.heatmap, b.heatmap) and np.array_equal(a.local_accuracy, b.local_accuracy)
    assert np.array_equal(a.base_answer_loss, b.base_answer_loss) and np.array_equal(a.control_lm_loss, b.control_lm_loss)


@pytest.mark.parametrize("kind, factor", [("yarn", 8.0), ("linear", 8.0), ("llama3", 8.0), ("dynamic_ntk", 1.0)])
def test_our_rope_in_the_toy_model_equals_transformers_scaled_model(kind, factor):
    """Our θ and attention factor written into a default-RoPE Llama give the logits of transformers' own scaled Llama."""
    cfg = Config(yarn_beta_fast=32.0)
    params = rope_parameters(cfg, kind, factor)
    hf_params = {("dynamic" if k == "dynamic_ntk" else k): v for k, v in params.items()}
    hf_params["rope_type"] = {"dynamic_ntk": "dynamic"}.get(kind, kind)
    length = 8 * cfg.train_length
    ours = toy.build(100, 64, 2, 4, 192, cfg.rope_theta, 0, torch.device("cpu"))
    theta, attention = rope.inv_freq(params, cfg.head_dim, cfg.train_length, seq_len=length)
    toy.set_rope(ours, theta, attention)
    torch.manual_seed(0)
    theirs = LlamaForCausalLM(LlamaConfig(vocab_size=100, hidden_size=64, intermediate_size=192, num_hidden_layers=2, num_attention_heads=4,
                                          num_key_value_heads=4, max_position_embeddings=cfg.train_length, rope_parameters=hf_params,
                                          tie_word_embeddings=False, attn_implementation="sdpa", use_cache=False))
    tokens = np.random.default_rng(0).integers(0, 100, (2, length))
    with torch.no_grad():
        a = toy.logits(ours, tokens, torch.device("cpu"))
        b = theirs(input_ids=torch.as_tensor(tokens)).logits
    assert torch.allclose(a, b, atol=2e-5)
    plain = toy.build(100, 64, 2, 4, 192, cfg.rope_theta, 0, torch.device("cpu"))
    with torch.no_grad():
        assert not torch.allclose(toy.logits(plain, tokens, torch.device("cpu")), b, atol=1e-3)  # the scaling matters


@pytest.mark.parametrize("changes, field", [
    ({"n_heads": 3}, "n_heads"), ({"distractors": 8}, "distractors"), ({"eval_lengths": "1,x"}, "eval_lengths"),
    ({"eval_lengths": "1,200"}, "eval_lengths"), ({"eval_scale": 4.0}, "eval_scale"), ({"eval_lengths": "1,64", "train_length": 256},
                                                                                       "eval_lengths"),
    ({"samples_per_cell": 256, "n_depths": 21}, "samples_per_cell"),
    ({"yarn_beta_fast": 1.0}, "yarn_beta_fast"), ({"llama3_high_freq": 0.5}, "llama3_high_freq"), ({"batch_size": 256, "train_length": 512},
                                                                                                   "batch_size"),
    ({"lr": float("nan")}, "lr"), ({"base_steps": 0}, "base_steps"), ({"source": "cache"}, "source"),
])
def test_bad_configs_are_refused_naming_the_field(changes, field):
    with pytest.raises(ValueError) as err:
        Config(**changes)
    assert str(err.value).startswith(f"{field}:") and "allowed" in str(err.value)


def test_config_derived_lengths_always_include_l_train():
    cfg = Config(eval_lengths="16, 4,2")
    assert cfg.length_ratios == (1.0, 2.0, 4.0, 16.0) and cfg.lengths == (128, 256, 512, 2048) and cfg.pack_length == 1024
    assert Config(eval_scale=16.0).eval_scale == 16.0
