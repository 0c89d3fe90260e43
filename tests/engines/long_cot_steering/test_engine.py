"""The engine end to end on the task-world model: the four conditions on the same prompts, the summary's shape, the
recorded run round trip, the CLI; SmolLM2 when installed (skipped cleanly when not)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engines import long_cot_steering as ls
from engines.reasoning.tasks import WAIT
from engines.reasoning.verifier import verify

ROOT = Path(__file__).resolve().parents[3]
SMALL = dict(prompts=8, samples=1, max_new_tokens=40, contrast=8, top_n=8, min_digits=3, lockout=1)


@pytest.fixture(scope="module")
def small():
    return ls.run(ls.Config(**SMALL), device="cpu")


def test_summary_has_the_four_conditions_and_the_decay(small):
    s = small.summary()
    assert set(s["conditions"]) == set(ls.CONDITIONS)
    for c in s["conditions"].values():
        assert c["responses"] == 8
        for key in ("mean_length", "reflection_rate", "accuracy"):
            assert c[key] is not None and c[key + "_se"] is not None
        assert 0 <= c["reflection_rate"] <= 1 and 0 <= c["accuracy"] <= 1
    for law in ("log", "exp"):
        assert set(s["decay"][law]) >= {"params", "rss", "rmse"}
    assert s["decay"]["better"] in ("log", "exp") and s["decay"]["triggers"] > 0
    assert sum(s["selection"]["per_layer"].values()) == 8
    assert json.loads(json.dumps(s)) == s  # JSON-safe


def test_conditions_are_scored_independently(small):
    """Recount accuracy, reflections and forced waits of the kept examples straight from their texts."""
    for name, exs in small.examples.items():
        for ex in exs:
            v = verify(ex["prompt"], ex["text"])
            assert ex["correct"] == (v.answer_correct and not ex["truncated"])
            assert ex["reflections"] == v.reflections == ex["text"].count(WAIT) - ex["text"].startswith(WAIT)
            assert ex["forced_waits"] <= ex["reflections"] + ex["text"].startswith(WAIT)
            assert "".join(t for t, _ in ex["segments"]) == ex["text"]
            assert all(t.startswith(WAIT) for t, refl in ex["segments"] if refl)
        runs = small.runs[name]
        if name in ("baseline", "constant"):
            assert runs["forced"].sum() == 0
    # forced waits appear only where forcing is on, and every forced wait is a reflection
    assert small.runs["forced_wait"]["forced"].sum() > 0
    assert np.all(small.runs["forced_wait"]["reflect"] >= small.runs["forced_wait"]["forced"])


def test_same_prompts_in_every_condition(small):
    prompts = {n: [e["prompt"] for e in exs] for n, exs in small.examples.items()}
    assert len({tuple(p) for p in prompts.values()}) == 1


def test_recorded_run_round_trip(small, tmp_path):
    small.save(tmp_path)
    (tmp_path / "provenance.json").write_text(json.dumps({"command": "test"}))
    back = ls.load_recorded(small.config.replace(recorded=True), tmp_path)
    a, b = small.summary(), back.summary()
    for key in ("conditions", "decay", "selection", "examples", "headline"):
        assert a[key] == b[key]
    np.testing.assert_array_equal(back.trajectory, small.trajectory)


def test_missing_recording_is_one_line_error(tmp_path):
    with pytest.raises(ls.SteeringError, match="provenance.json"):
        ls.load_recorded(ls.Config(recorded=True), tmp_path)


def test_bad_config_refused():
    with pytest.raises(ValueError, match="levels"):
        ls.Config(levels="9")
    with pytest.raises(ValueError, match="model"):
        ls.Config(model="gpt")


def test_cli_run_writes_the_summary(tmp_path):
    out = tmp_path / "run"
    sets = [a for k, v in dict(prompts=2, samples=1, max_new_tokens=24, contrast=4).items() for a in ("--set", f"{k}={v}")]
    proc = subprocess.run([sys.executable, "-m", "engines", "run", "long_cot_steering", "--out", str(out), "--device", "cpu", *sets],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    s = json.loads((out / "result.json").read_text())
    assert set(s["conditions"]) == set(ls.CONDITIONS)
    assert {"log", "exp"} <= set(s["decay"]) or s["decay"]["triggers"] < 4


@pytest.mark.skipif(not ls.smollm2_available(), reason=f"SmolLM2 not installed ({ls.HOW_TO_GET})")
def test_smollm2_runs_the_same_conditions():
    r = ls.run(ls.Config(model="smollm2", prompts=1, max_new_tokens=20, contrast=4, top_n=8, min_digits=2, lockout=0), device="cpu")
    s = r.summary()
    assert s["model_info"]["layers"] == 30 and s["model_info"]["intermediate_size"] == 1536
    assert set(s["conditions"]) == set(ls.CONDITIONS)
    assert all(int(x) >= 28 for x in s["selection"]["per_layer"])  # the last two of 30 layers
