"""The evaluator end to end on the recorded checkpoints (tiny draws): the summary's shape, curves equal to enumeration
over the stored flags, the dump round trip, the noisy judge at zero error equal to exact, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engines import cot_pass_at_k as cot
from engines.base import jsonable
from engines.cot_pass_at_k import reference as ref
from engines.cot_pass_at_k.dumps import Table

ROOT = Path(__file__).resolve().parents[3]
TINY = dict(checkpoints="sft,math", prompts=6, samples=5, bootstrap=200, cpu_threads=1)


@pytest.fixture(scope="module")
def tiny():
    return cot.run(cot.Config(**TINY), device="cpu")


def test_summary_has_curves_with_band_edges_and_the_crossing(tiny):
    s = json.loads(json.dumps(jsonable(tiny.summary())))
    assert set(s["curves"]) == {"sft", "math"}
    for c in s["curves"].values():
        assert c["k"] == [1, 2, 3, 4, 5]
        for key in ("pass_at_k", "cot_pass_at_k", "pass_at_k_lo", "pass_at_k_hi", "cot_pass_at_k_lo", "cot_pass_at_k_hi"):
            assert len(c[key]) == 5
        p, q = np.array(c["pass_at_k"]), np.array(c["cot_pass_at_k"])
        assert np.all(np.diff(p) >= -1e-12) and np.all(q <= p + 1e-12)
        assert np.all(np.array(c["cot_pass_at_k_lo"]) <= q + 1e-12) and np.all(q <= np.array(c["cot_pass_at_k_hi"]) + 1e-12)
    assert "crossing_k" in s and set(s["headline"]) >= {"cot_gain_share", "crossing_k"}
    assert s["cot_gain"]["base"] == "sft" and s["cot_gain"]["tuned"] == "math"
    assert [r["name"] for r in s["dynamics"]["rows"]] == ["sft", "math"]


def test_curves_equal_enumeration_over_the_stored_flags(tiny):
    for name, c in tiny.curves().items():
        a, d = tiny.correct[name], tiny.cot(name)
        for k in (1, 3, 5):
            assert c["pass_at_k"][k - 1] == pytest.approx(np.mean([ref.pass_at_k_enumerated(list(r), k) for r in a]))
            assert c["cot_pass_at_k"][k - 1] == pytest.approx(np.mean([ref.pass_at_k_enumerated(list(r), k) for r in d]))


def test_the_same_config_gives_the_same_samples():
    again = cot.run(cot.Config(**{**TINY, "checkpoints": "sft"}), device="cpu")
    first = cot.run(cot.Config(**{**TINY, "checkpoints": "sft"}), device="cpu")
    assert np.array_equal(again.correct["sft"], first.correct["sft"]) and np.array_equal(again.chain["sft"], first.chain["sft"])


def test_noisy_judge_with_zero_error_equals_exact(tiny):
    noisy = cot.run(cot.Config(**TINY, judge="noisy", false_positive=0.0, false_negative=0.0, judge_calls=3), device="cpu")
    for name in tiny.correct:
        assert np.array_equal(noisy.cot(name), tiny.cot(name))
        assert np.array_equal(noisy.cot(name, "lenient"), tiny.cot(name)) and np.array_equal(noisy.cot(name, "strict"), tiny.cot(name))


def test_lucky_samples_name_a_failing_step_that_is_wrong(tiny):
    for s in tiny.lucky_samples:
        k = s["failed_step"]
        assert k is not None and (k >= len(s["step_ok"]) or not s["step_ok"][k])


def test_a_dump_of_the_samples_gives_the_same_curves(tiny, tmp_path):
    back = cot.open_dump(cot.dump_result(tiny, tmp_path / "d.jsonl"), cot.Config(bootstrap=200, curves="sft,math"))
    for name, c in tiny.curves().items():
        b = back.curves()[name]
        assert np.allclose(b["pass_at_k"], c["pass_at_k"]) and np.allclose(b["cot_pass_at_k"], c["cot_pass_at_k"])
    assert back.summary()["crossing_k"] == tiny.summary()["crossing_k"]
    def rows(r):  # chain flags travel too: the logic prior is the same (a dump has no stage names)
        return [{k: v for k, v in row.items() if k != "stage"} for row in jsonable(r.dynamics()["rows"])]

    assert rows(back) == rows(tiny)
    got = [(s["response"], s["failed_step"]) for s in back.lucky_samples]
    assert got == [(s["response"], s["failed_step"]) for s in tiny.lucky_samples]
    # without chain flags a dump still gives the curves, but no logic prior
    tables = [Table(n, tiny.steps[i], [f"p{j}" for j in range(len(tiny.prompts))], tiny.correct[n], tiny.cot(n))
              for i, n in enumerate(tiny.names)]
    bare = cot.open_dump(cot.write_dump(tmp_path / "bare.jsonl", tables), cot.Config(bootstrap=200))
    assert np.allclose(bare.curves()["math"]["cot_pass_at_k"], tiny.curves()["math"]["cot_pass_at_k"])
    assert bare.dynamics()["rows"][0]["p_ca_given_cc"] is None


def test_dump_judge_votes_are_aggregated(tmp_path):
    correct = np.ones((2, 3), bool)
    votes = np.array([[[1, 1, 0], [1, 0, 0], [0, 0, 0]], [[1, 1, 1], [0, 1, 0], [1, 0, 1]]], bool)
    path = cot.write_dump(tmp_path / "v.jsonl", [Table("m", None, ["a", "b"], correct, correct, votes)])
    for how, want in (("any", votes.any(-1)), ("all", votes.all(-1)), ("majority", votes.sum(-1) >= 2)):
        r = cot.run(cot.Config(source="dump", dump=str(path), judge="votes", aggregate=how, bootstrap=0))
        assert np.array_equal(r.cot("m"), want)


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(ValueError, match="judge"):
        cot.Config(judge="votes")
    with pytest.raises(ValueError, match="dump"):
        cot.Config(source="dump")
    with pytest.raises(cot.CotPassError, match="no checkpoints"):
        cot.run(cot.Config(checkpoint_root=str(tmp_path)))
    with pytest.raises(cot.CotPassError, match="no checkpoint named"):
        cot.run(cot.Config(checkpoints="sft,nope", prompts=2, samples=1))


def test_cli_run_writes_curves_and_the_crossing(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "engines", "run", "cot_pass_at_k", "--out", str(out), "--device", "cpu",
           "--set", "checkpoints=sft,math", "--set", "prompts=4", "--set", "samples=3", "--set", "bootstrap=20"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    s = json.loads((out / "result.json").read_text())
    assert {"k", "pass_at_k", "cot_pass_at_k", "pass_at_k_lo", "cot_pass_at_k_hi"} <= set(s["curves"]["math"])
    assert "crossing_k" in s
    bad = subprocess.run([*cmd[:7], "--set", "source=dump", "--set", f"dump={tmp_path / 'missing.jsonl'}"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "missing.jsonl: no such file" in bad.stderr
