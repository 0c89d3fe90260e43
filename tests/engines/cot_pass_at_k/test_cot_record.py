"""The lucky-chain recording repeats the recorded run's first RL stage from its SFT checkpoint; only the prompts' absorb share differs."""

from __future__ import annotations

import dataclasses
import json

from engines import acereason
from engines.cot_pass_at_k import Config
from engines.cot_pass_at_k.record import LUCKY, REASONING, lucky_recipe


def test_lucky_recipe_is_the_recorded_first_stage_with_absorbing_prompts():
    ours = lucky_recipe(Config())
    theirs = acereason.recipe_for(acereason.Config())
    first = theirs.stages[0]
    assert (ours.stages[0].family, ours.stages[0].levels, ours.stages[0].max_new_tokens) == (first.family, first.levels,
                                                                                              first.max_new_tokens)
    assert ours.stages[0].steps == 40 == sum(s.steps for s in theirs.stages if s.name == first.name)
    keep = {f.name for f in dataclasses.fields(theirs.grpo)} - {"absorb"}
    assert {k: getattr(ours.grpo, k) for k in keep} == {k: getattr(theirs.grpo, k) for k in keep}
    assert theirs.grpo.absorb == 0.0 and ours.grpo.absorb == 0.5
    assert ours.sft.steps == 0 and ours.model_path == str(REASONING / "checkpoints" / "seed0" / "sft")


def test_the_shipped_recording_has_provenance_and_its_checkpoints():
    prov = json.loads((LUCKY / "provenance.json").read_text())
    assert prov["command"].startswith("python -m engines record cot_pass_at_k") and prov["train_absorb"] == 0.5
    names = {c["name"] for c in prov["checkpoints"]}
    assert names == {"sft", "step_0020", "math"}
    for n in names:
        assert (LUCKY / "checkpoints" / "seed0" / n / "model.safetensors").is_file()
    assert prov["default_samples"]["file"] == "default_samples.jsonl" and (LUCKY / "default_samples.jsonl").is_file()
