"""The tokenizer (a real PreTrainedTokenizerFast round trip), SFT batches (labels only on the response) and the schedule;
checkpoints (fp16 save_pretrained folders that load back as the same policy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engines.reasoning import WAIT, verify
from engines.reasoning.checkpoints import list_checkpoints, load_checkpoint, save_checkpoint
from engines.reasoning.model import ModelShape, tiny_llama
from engines.reasoning.sft import SFTSettings, TraceMix, draw_example, encode_pairs, lr_factor, train_sft
from engines.reasoning.tokenizer import char_tokenizer


def test_tokenizer_is_per_character_adds_bos_and_round_trips_through_save_pretrained(tmp_path):
    from transformers import AutoTokenizer

    tok = char_tokenizer()
    text = f"4*5=20;{WAIT}4*5=20>20"
    ids = tok(text, add_special_tokens=False).input_ids
    assert len(ids) == len(text) - len(WAIT) + 1  # one id per character, one for [wait]
    assert tok(text).input_ids[0] == tok.bos_token_id
    assert tok.decode(ids + [tok.eos_token_id, tok.pad_token_id], skip_special_tokens=True) == text
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again(text).input_ids == tok(text).input_ids and again.decode(ids) == text


def test_sft_labels_cover_the_response_and_eos_only():
    tok = char_tokenizer()
    ids, mask, labels = encode_pairs(tok, ["3+4=", "x=3;y=x*4;?y"], ["3+4=7>7", "y=3*4=12>12"], "cpu")
    for row in range(2):
        lab = labels[row][labels[row] != -100]
        n_prompt = len(tok(["3+4=", "x=3;y=x*4;?y"][row]).input_ids)
        assert (labels[row, :n_prompt] == -100).all()
        assert tok.decode(lab[:-1].tolist()) == ["3+4=7>7", "y=3*4=12>12"][row] and lab[-1] == tok.eos_token_id
        assert torch.equal(ids[row][mask[row] == 1][n_prompt:], lab)


def test_the_data_mix_has_the_shares_it_was_given():
    rng = np.random.default_rng(0)
    mix = TraceMix(code_share=0.3, wrong_share=0.2, lucky_share=0.1, self_check_share=0.0)
    pairs = [draw_example(rng, mix) for _ in range(1500)]
    verdicts = [verify(t.prompt, r) for t, r in pairs]
    assert abs(np.mean([t.family == "code" for t, _ in pairs]) - 0.3) < 0.04
    assert abs(np.mean([not v.answer_correct for v in verdicts]) - 0.2) < 0.03
    lucky = np.mean([v.lucky for v in verdicts])
    assert 0.05 < lucky < 0.1  # 0.1 asked; level-1 tasks have no non-final step to get wrong


def test_a_fixed_dataset_has_its_prompts_times_its_responses():
    from engines.reasoning.sft import sft_dataset

    data = sft_dataset(np.random.default_rng(0), TraceMix(prompts=50, responses_per_prompt=4, wrong_share=0.5))
    assert len(data) == 200 and len({t.prompt for t, _ in data}) == 50
    per_prompt = {}
    for t, r in data:
        per_prompt.setdefault(t.prompt, set()).add(r)
    assert np.mean([len(v) > 1 for v in per_prompt.values()]) > 0.5  # the responses to one prompt differ


def test_lr_schedule_warms_up_then_decays_by_cosine():
    assert lr_factor(0, 10, 100, 0.1) == pytest.approx(0.1) and lr_factor(9, 10, 100, 0.1) == pytest.approx(1.0)
    assert lr_factor(55, 10, 100, 0.1) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_factor(100, 10, 100, 0.1) == pytest.approx(0.1)


def test_sft_lowers_the_loss_and_a_checkpoint_loads_back_as_the_same_policy(tmp_path):
    torch.manual_seed(0)
    tok = char_tokenizer()
    model = tiny_llama(tok, ModelShape(32, 2, 2, 64, 64), seed=0)
    rows = list(train_sft(model, tok, TraceMix(), SFTSettings(steps=60, batch_size=16, lr=3e-3, warmup=5), seed=0, log_every=20))
    assert rows[-1]["sft/loss"] < 0.9 * rows[0]["sft/loss"]  # seeded: the same numbers every run
    path = save_checkpoint(model, tok, tmp_path / "sft", seed=0, step=0, stage="sft")
    back, tok2, meta = load_checkpoint(path)
    assert meta == {"dtype": "float16", "seed": 0, "step": 0, "stage": "sft"}
    ids = tok(["3+4*5-2="], return_tensors="pt").input_ids
    with torch.no_grad():
        a, b = model(input_ids=ids).logits, back(input_ids=ids).logits
    assert torch.allclose(a, b, atol=0.05)  # fp16 weights
    assert [c["stage"] for c in list_checkpoints(tmp_path)] == ["sft"]
    assert (path / "model.safetensors").stat().st_size < 2.2 * sum(p.numel() for p in model.parameters())
