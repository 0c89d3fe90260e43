"""The calculator: Llama-3.1-8B at 128K against a hand computation, presets, and the config.json reader."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engines.long_context import PRESETS, ModelConfigError, model_report, read_model_config

ROOT = Path(__file__).resolve().parents[3]
LLAMA = PRESETS["Llama-3.1-8B"]


def test_llama31_8b_at_128k_matches_a_hand_computation():
    L = 131072
    # parameters: embedding 128256·4096; per layer q, o 4096·4096, k, v 4096·1024, MLP 3·4096·14336, two norms 4096;
    # final norm; untied LM head 128256·4096
    embed = 128256 * 4096  # 525,336,576
    layer = 2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336 + 2 * 4096  # 218,112,000
    params = embed + 32 * layer + 4096 + embed
    assert params == 8_030_261_248  # the published "8.03B"
    r = model_report(LLAMA, L)
    assert r.parameters == params
    # KV cache: K and V, 32 layers, 8 KV heads of 128, bf16 (2 bytes) = 131,072 B a token; × 131,072 tokens = 16 GiB
    assert r.kv_bytes_per_token == 2 * 32 * 8 * 128 * 2 == 131072
    assert r.at_length["kv_cache_bytes"] == 131072 * 131072 == 16 * 2**30
    # attention FLOPs of the 131,072-th token: 32 layers × 32 heads × 128 dims × 131,072 keys × (2 for q·k + 2 for Σ p·v)
    assert r.at_length["attention_flops_per_token"] == 4 * 32 * 32 * 128 * L == 68_719_476_736
    assert r.at_length["dense_flops_per_token"] == 2 * (params - embed) == 15_009_849_344
    assert r.at_length["attention_share"] == pytest.approx(68_719_476_736 / (68_719_476_736 + 15_009_849_344))
    # prefill: bf16 weights 16.06 GB + the 16 GiB cache + one layer's MLP phase (residual, normed, gate, up) at 131,072 tokens
    weights = params * 2
    activations = L * 2 * (2 * 4096 + 2 * 14336)  # 9,663,676,416 B (9 GiB)
    assert r.at_length["prefill_memory_bytes"] == weights + 16 * 2**30 + activations == 42_904_068_096
    assert r.at_length["eager_scores_bytes"] == 32 * L * L * 2 == 2**40  # what an attention that forms the scores needs
    # llama3 scaling: λ_i = 2π·500000^(i/64) is kept below 8192/4 = 2048 tokens (i ≤ 28: i < 64·ln(2048/2π)/ln 5e5 = 28.2),
    # divided by 8 above 8192/1 (i ≥ 35: i > 64·ln(8192/2π)/ln 5e5 = 34.98), blended for i = 29 … 34
    assert (r.at_length["extrapolated_pairs"], r.at_length["blended_pairs"], r.at_length["interpolated_pairs"]) == (29, 6, 29)
    assert np.allclose(r.scaled_wavelength[35:], 8 * r.wavelength[35:]) and np.allclose(r.scaled_wavelength[:29], r.wavelength[:29])
    assert r.wavelength[0] == pytest.approx(2 * math.pi)


def test_kv_cache_grows_linearly_from_128k_to_4m():
    r = model_report(LLAMA, 131072)
    assert list(r.kv_lengths) == [2**17, 2**18, 2**19, 2**20, 2**21, 2**22]
    assert np.allclose(r.kv_cache_bytes / 2**30, [16, 32, 64, 128, 256, 512])
    assert np.allclose(r.attention_flops_per_token / r.attention_flops_per_token[0], [1, 2, 4, 8, 16, 32])
    fp8 = model_report(LLAMA, 131072, kv_element_bytes=1)
    assert fp8.at_length["kv_cache_bytes"] == 8 * 2**30


def test_ultralong_presets_interpolate_the_same_band_as_llama3_with_yarn_beta_4():
    # YaRN's ramp dims d(r) = 128·ln(8192/(2πr)) / (2 ln 500000): r = β_fast = 4 → 28.2 (floor 28), r = β_slow = 1 → 34.98 (ceil 35)
    for name, window, s in (("UltraLong-8B-1M", 2**20, 128), ("UltraLong-8B-2M", 2**21, 256), ("UltraLong-8B-4M", 2**22, 512)):
        f = PRESETS[name]
        r = model_report(f, window)
        assert f.max_position_embeddings == window and r.factor == s
        assert (r.at_length["extrapolated_pairs"], r.at_length["blended_pairs"], r.at_length["interpolated_pairs"]) == (29, 6, 29)
        assert r.attention_factor == pytest.approx(0.1 * math.log(s) + 1)
        assert r.parameters == 8_030_261_248
    assert model_report(PRESETS["UltraLong-8B-4M"], 2**22).at_length["kv_cache_bytes"] == 512 * 2**30


def test_smollm2_135m_parameters_and_override_scalings():
    r = model_report(PRESETS["SmolLM2-135M"], 8192)
    assert r.parameters == 134_515_008  # tied embeddings: 49152·576 once
    assert r.at_length["interpolated_pairs"] == 0 and r.factor == 1.0  # no rope_scaling in its config
    lin = model_report(PRESETS["SmolLM2-135M"], 32768, scaling="linear")
    assert lin.factor == 4.0 and np.allclose(lin.scaled_wavelength, 4 * lin.wavelength) and lin.at_length["interpolated_pairs"] == 32
    ntk = model_report(PRESETS["SmolLM2-135M"], 32768, scaling="dynamic_ntk")
    assert ntk.factor == pytest.approx(4.0) and ntk.interpolation[0] == 0.0 and ntk.interpolation[-1] == pytest.approx(1.0)
    yarn = model_report(PRESETS["SmolLM2-135M"], 32768, scaling="yarn", factor=8.0)
    assert yarn.factor == 8.0 and yarn.at_length["within_window"] is False


def _hf_json(facts, style: str) -> dict:
    """A config.json as transformers 4.x (rope_scaling + rope_theta beside it) or 5.x (rope_parameters) writes it."""
    rp = dict(facts.rope_parameters)
    out = {"architectures": ["LlamaForCausalLM"], "hidden_size": facts.hidden_size, "num_hidden_layers": facts.num_hidden_layers,
           "num_attention_heads": facts.num_attention_heads, "num_key_value_heads": facts.num_key_value_heads,
           "intermediate_size": facts.intermediate_size, "vocab_size": facts.vocab_size,
           "max_position_embeddings": facts.max_position_embeddings, "tie_word_embeddings": facts.tie_word_embeddings,
           "torch_dtype": facts.dtype}
    if style == "4.x":
        out["rope_theta"] = rp.pop("rope_theta")
        out["rope_scaling"] = None if rp["rope_type"] == "default" else rp
    else:
        out["rope_parameters"] = rp
    return out


@pytest.mark.parametrize("style", ["4.x", "5.x"])
@pytest.mark.parametrize("name", list(PRESETS))
def test_reading_a_config_json_gives_the_preset_back(tmp_path, name, style):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(_hf_json(PRESETS[name], style)))
    facts = read_model_config(path)
    a, b = model_report(facts, 131072), model_report(PRESETS[name], 131072)
    assert a.parameters == b.parameters and a.at_length == b.at_length
    assert np.array_equal(a.scaled_wavelength, b.scaled_wavelength)


def _write(tmp_path, data) -> Path:
    path = tmp_path / "config.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
    return path


@pytest.mark.parametrize("change, key", [
    ({"num_attention_heads": None}, "num_attention_heads"),
    ({"hidden_size": "4096"}, "hidden_size"),
    ({"num_hidden_layers": -2}, "num_hidden_layers"),
    ({"vocab_size": 1.5}, "vocab_size"),
    ({"num_key_value_heads": 5}, "num_key_value_heads"),
    ({"torch_dtype": "int3"}, "torch_dtype"),
    ({"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0}}, "rope_scaling.high_freq_factor"),
    ({"rope_scaling": {"rope_type": "yarn", "factor": -4}}, "rope_scaling.factor"),
    ({"rope_scaling": {"rope_type": "su", "factor": 4}}, "rope_scaling.rope_type"),
    ({"rope_scaling": [8]}, "rope_scaling"),
    ({"rope_theta": "big"}, "rope_theta"),
    ({"rope_scaling": {"rope_type": "linear", "factor": 2.0, "rope_theta": 0}}, "rope_scaling.rope_theta"),
])
def test_a_malformed_config_json_is_refused_naming_the_file_and_the_key(tmp_path, change, key):
    data = _hf_json(LLAMA, "4.x")
    for k, v in change.items():
        if v is None:
            data.pop(k)
        else:
            data[k] = v
    path = _write(tmp_path, data)
    with pytest.raises(ModelConfigError) as err:
        read_model_config(path)
    text = str(err.value)
    assert text.startswith(str(path)) and f"'{key}'" in text and "\n" not in text


def test_broken_json_names_the_line_and_a_missing_file_is_refused(tmp_path):
    path = _write(tmp_path, '{\n  "hidden_size": 4096,\n  "num_hidden_layers": 32\n  "vocab_size": 1\n}')
    with pytest.raises(ModelConfigError, match=r"config\.json:4: not valid JSON"):
        read_model_config(path)
    with pytest.raises(ModelConfigError, match="no such file"):
        read_model_config(tmp_path / "absent.json")
    with pytest.raises(ModelConfigError, match="expected a JSON object"):
        read_model_config(_write(tmp_path, "[1, 2]"))


def test_missing_rope_theta_takes_transformers_default_and_says_so(tmp_path):
    data = _hf_json(PRESETS["SmolLM2-135M"], "4.x")
    data.pop("rope_theta")
    facts = read_model_config(_write(tmp_path, data))
    assert facts.rope_parameters["rope_theta"] == 10000.0 and "default 10000" in facts.notes[0]


def test_the_cli_refuses_a_malformed_config_json_in_one_line(tmp_path):
    data = _hf_json(LLAMA, "5.x")
    data.pop("intermediate_size")
    path = _write(tmp_path, data)
    out = subprocess.run([sys.executable, "-m", "engines", "run", "long_context", "--set", "source=recorded", "--set",
                          f"model_config={path}", "--out", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and str(path) in last and "'intermediate_size' is missing" in last


def test_hostile_config_files_are_refused_at_once(tmp_path):
    import os

    os.mkfifo(tmp_path / "fifo.json")  # reading it would block
    with pytest.raises(ModelConfigError, match="not a regular file"):
        read_model_config(tmp_path / "fifo.json")
    with pytest.raises(ModelConfigError, match="is a folder"):
        read_model_config(tmp_path)
    with pytest.raises(ModelConfigError, match="nested deeper"):
        read_model_config(_write(tmp_path, "[" * 100_000))
    with pytest.raises(ModelConfigError, match="NaN"):
        read_model_config(_write(tmp_path, '{"hidden_size": NaN}'))
