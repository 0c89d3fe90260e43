"""Memory arithmetic and the roofline against hand calculations and closed forms."""

import numpy as np
import pytest

from engines.memory_pool import Config
from engines.memory_pool.engine import make_params, make_trace
from engines.memory_pool.models import GPUS, MODELS, ModelSpec, Roofline
from engines.memory_pool.simulator import Simulator


def test_parameter_counts_match_the_published_models():
    # published parameter counts of the Hugging Face checkpoints
    assert MODELS["Llama-3.1-8B"].params == 8_030_261_248
    assert MODELS["Qwen2.5-7B"].params == 7_615_616_512
    assert MODELS["Llama-3.1-70B-TP4"].params == 70_553_706_496


def test_kv_bytes_per_token_is_2_L_nkv_d_b():
    m = MODELS["Llama-3.1-8B"]
    assert m.kv_bytes_per_token == 2 * 32 * 8 * 128 * 2 == 131_072
    # a 128K-token request holds exactly 16 GiB of KV
    assert m.kv_bytes_per_token * 131072 == 16 * 2**30
    # tensor parallel splits the KV heads: 70B on 4 GPUs holds 2 of its 8 KV heads per GPU
    assert MODELS["Llama-3.1-70B-TP4"].kv_bytes_per_token == 2 * 80 * 2 * 128 * 2


def test_activation_bytes_formula():
    m = MODELS["Llama-3.1-8B"]
    # N·b·(h + 3I) + S·V·8 + workspace
    assert m.activation_bytes(1000, 3, 7) == 1000 * 2 * (4096 + 3 * 14336) + 3 * 128256 * 8 + 7
    # Qwen2.5-7B (4 KV heads, wide MLP) has a far larger activation-to-KV ratio than Llama-3.1-8B
    assert MODELS["Qwen2.5-7B"].activation_to_kv > 2.5 * MODELS["Llama-3.1-8B"].activation_to_kv


def test_from_hf_config_reads_a_llama_config_json():
    cfg = {
        "num_hidden_layers": 32,
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "vocab_size": 128256,
        "torch_dtype": "bfloat16",
        "tie_word_embeddings": False,
    }
    m = ModelSpec.from_hf("llama", cfg)
    assert m.head_dim == 128 and m.params == MODELS["Llama-3.1-8B"].params


def test_static_kv_capacity_llama8b_80gb_util_0_9_matches_hand_calculation():
    """vLLM's arithmetic by hand: util × total − weights − overhead − profiled reserve, in 16-token blocks."""
    total = 81559 * 2**20  # H100-80G as nvidia-smi reports it
    cap = int(0.9 * total)  # 76,969,643,212
    weights = 8_030_261_248 * 2  # bf16
    overhead = 2**30
    block = 16 * 131072  # 2 MiB
    for budget, blocks in ((8192, 27_910), (131072, 22_390)):
        reserve = budget * 2 * (4096 + 3 * 14336) + 256 * 128256 * 8 + 256 * 2**20  # A(budget, max_num_seqs)
        assert (cap - weights - overhead - reserve) // block == blocks
    cfg = Config(workload="long_context", n_requests=2)
    p = make_params(cfg)
    tr = make_trace(cfg)
    assert Simulator("static_chunked", p, tr).memory.n_blocks == 27_910
    unchunked = Simulator("static_unchunked", p, tr)
    assert unchunked.memory.n_blocks == 22_390
    # two 128K requests with up to 4K outputs fit (2 × 8448 blocks), three do not
    assert 2 * (131072 + 4096) / 16 <= 22_390 < 3 * 131072 / 16


def test_decode_step_is_bytes_bound_and_reads_every_resident_kv():
    m, g = MODELS["Llama-3.1-8B"], GPUS["H100-80G"]
    rf = Roofline(m, g, mfu=0.6, mbu=0.8, step_overhead_s=0.0)
    ctx = 2 * 131072
    t = float(rf.decode_time(2, ctx))
    expected = (m.weight_bytes + m.kv_bytes_per_token * (ctx + 2)) / (g.hbm_bytes_per_s * 0.8)
    assert t == pytest.approx(expected, rel=1e-12)
    # one more resident 128K request costs its 16 GiB of KV reads per step
    assert float(rf.decode_time(3, 3 * 131072)) - t == pytest.approx(
        (16 * 2**30 + m.kv_bytes_per_token) / (g.hbm_bytes_per_s * 0.8), rel=1e-9
    )


def test_prefill_is_flop_bound_and_chunking_preserves_attention_work():
    m, g = MODELS["Llama-3.1-8B"], GPUS["H100-80G"]
    rf = Roofline(m, g, step_overhead_s=0.0)
    n = 131072
    flops = 2 * m.linear_params_per_gpu * n + 2 * m.hidden_size * m.vocab_size + m.attn_flops_per_pair * n * (n + 1) / 2
    assert rf.prefill_time(n, n) == pytest.approx(flops / (g.peak_flops * 0.6), rel=1e-12)
    # chunk pairs c·p + c(c+1)/2 summed over chunks equal N(N+1)/2: the same attention FLOPs
    starts = np.arange(0, n, 8192)
    c = np.minimum(8192, n - starts)
    assert int((c * starts + c * (c + 1) // 2).sum()) == n * (n + 1) // 2
    # chunked prefill costs at least as much (weights re-read per chunk never make it cheaper)
    assert rf.prefill_time(n, 8192) >= rf.prefill_time(n, n) * (1 - 1e-12)


def test_prefill_time_is_the_sum_of_its_chunk_steps_exactly():
    """One chunk or many, prefill_time is step_time summed over the chunks (the one-step shortcut included)."""
    rf = Roofline(MODELS["Qwen2.5-7B"], GPUS["A100-80G"])
    for n in (1, 15, 16, 17, 1000, 8191, 8192, 8193, 131072):
        for chunk in (1, 16, 8192, 131072):
            starts = np.arange(0, n, chunk, dtype=float)
            c = np.minimum(chunk, n - starts)
            want = float(rf.step_time(c, (starts + c >= n).astype(float), c * starts + c * (c + 1) / 2, starts).sum())
            assert rf.prefill_time(n, chunk) == want, (n, chunk)
    assert rf.prefill_time(0, 8192) == 0.0
