"""The sft_temperature engine end to end on a tiny world: the study's starts at equal budgets, the summary's scaling and
temperature parts checked against the records by hand, the recorded study read back (without torch), the advisor mode,
bad input, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engines import sft_temperature as st
from engines.sft_temperature.result import mean_se
from engines.sft_temperature.study import _mix, reference, sft_steps, starts

ROOT = Path(__file__).resolve().parents[3]
TINY = dict(mode="study", seeds=2, hidden_size=32, layers=1, heads=2, intermediate_size=64, base_prompts=8, sizes="1,2",
            sft_epochs=2.0, sft_batch=8, rl_steps=2, prompts_per_step=2, group_size=2, pool_size=8, eval_prompts=4, eval_samples=2,
            advisor_prompts=2, advisor_samples=2, advisor_max_new_tokens=8, max_new_tokens=12, temperatures="0.5,1.0,2.0",
            cpu_threads=1)


@pytest.fixture(scope="module")
def tiny():
    return st.run(st.Config(**TINY), device="cpu")


def test_both_arms_hold_the_same_traces_at_every_size():
    cfg = st.Config(base_prompts=64, sizes="1,2,4")
    s = {x.name: x for x in starts(cfg)}
    assert list(s) == ["base", "prompts×2", "prompts×4", "responses×2", "responses×4"]
    for m in (2, 4):
        p, r = s[f"prompts×{m}"], s[f"responses×{m}"]
        assert p.traces == r.traces == m * 64 and (p.prompts, p.responses, r.prompts, r.responses) == (m * 64, 1, 64, m)
        assert sft_steps(cfg, p) == sft_steps(cfg, r) == 2 * sft_steps(cfg, s["base"]) * m // 2
    assert reference(cfg).name == "prompts×4"


def test_datasets_have_the_promised_prompts_and_responses():
    from engines.reasoning.sft import sft_dataset

    cfg = st.Config(base_prompts=16, sizes="1,3")
    s = {x.name: x for x in starts(cfg)}
    base = sft_dataset(np.random.default_rng(5), _mix(cfg, s["base"]))
    more_prompts = sft_dataset(np.random.default_rng(5), _mix(cfg, s["prompts×3"]))
    more_responses = sft_dataset(np.random.default_rng(5), _mix(cfg, s["responses×3"]))
    assert len(base) == 16 and len(more_prompts) == len(more_responses) == 48
    assert len({t.prompt for t, _ in more_prompts}) == 48
    assert {t.prompt for t, _ in base} <= {t.prompt for t, _ in more_prompts}  # the larger set grows the smaller one
    counts = {}
    for t, _ in more_responses:
        counts[t.prompt] = counts.get(t.prompt, 0) + 1
    assert len(counts) == 16 and set(counts.values()) == {3}


def test_mean_se_is_the_standard_error_over_seeds():
    m = mean_se([0.2, 0.4, 0.9])
    assert m["mean"] == pytest.approx(0.5) and m["se"] == pytest.approx(np.std([0.2, 0.4, 0.9], ddof=1) / np.sqrt(3))
    assert mean_se([0.3], [0.05]) == {"mean": 0.3, "se": 0.05, "n": 1, "per_seed": [0.3]}
    assert mean_se([None, float("nan")])["mean"] is None


def test_study_summary_has_scaling_and_temperature_with_errors(tiny):
    s = tiny.summary()
    sc, te = s["scaling"], s["temperature"]
    assert [o["start"] for o in sc["starts"]] == ["base", "prompts×2", "responses×2"]
    for o in sc["starts"]:
        for when in ("sft", "rl"):
            assert o[when]["n"] == 2 and 0 <= o[when]["mean"] <= 1 and o[when]["se"] is not None
    # the gap between starts, by hand from the records: per seed max − min over starts
    for when, kind, key in (("sft", "sft", "sft_acc"), ("rl", "rl", "rl_acc")):
        per_seed = []
        for seed in (0, 1):
            vals = [r[key] for r in tiny.study if r["kind"] == kind and r["seed"] == seed and (kind == "sft" or r["arm"] == "advised")]
            per_seed.append(max(vals) - min(vals))
        assert sc["gap"][when]["mean"] == pytest.approx(np.mean(per_seed))
    p2 = {r["seed"]: r["sft_acc"] for r in tiny.study if r["kind"] == "sft" and r["start"] == "prompts×2"}
    r2 = {r["seed"]: r["sft_acc"] for r in tiny.study if r["kind"] == "sft" and r["start"] == "responses×2"}
    assert sc["prompts_over_responses"]["2"]["sft"]["mean"] == pytest.approx(np.mean([p2[k] - r2[k] for k in (0, 1)]))
    # temperature: H_T on the grid, the advised T inside it, three RL arms at low < advised < high
    assert te["temperatures"] == [0.5, 1.0, 2.0] and len(te["H_T"]) == 3
    assert 0.5 <= te["advised_T"] <= 2.0
    arms = te["rl"]
    assert set(arms) == {"low", "advised", "high"}
    assert arms["low"]["temperature"]["mean"] == pytest.approx(0.7 * arms["advised"]["temperature"]["mean"])
    assert arms["high"]["temperature"]["mean"] == pytest.approx(1.2 * arms["advised"]["temperature"]["mean"])
    assert set(s["headline"]) >= {"advised_T", "target_entropy", "prompts_over_responses", "gap_sft", "gap_rl"}
    assert s["paper"]["advised_T"]["value"] == 0.85


def test_rl_curves_have_every_step_of_each_arm(tiny):
    c = tiny.rl_curves()
    assert set(c) == {"low", "advised", "high"}
    for arm in c.values():
        assert list(arm["steps"]) == [1, 2] and np.all(arm["score"]["lo"] <= arm["score"]["hi"])


def test_the_recorded_study_reads_back_without_torch(tiny, tmp_path):
    from engines.recorded import write_provenance

    tiny.save(tmp_path)
    write_provenance(tmp_path, "test", seeds=[0, 1])
    code = ("import sys, json; from engines.sft_temperature import load_recorded; r = load_recorded(folder=sys.argv[1]); "
            "print(json.dumps({'torch': 'torch' in sys.modules, 'gap': r.summary()['scaling']['gap']['sft']['mean']}))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["torch"] is False and got["gap"] == pytest.approx(tiny.summary()["scaling"]["gap"]["sft"]["mean"])


def test_a_malformed_recorded_study_names_the_file_and_line(tmp_path):
    from engines.recorded import write_provenance

    write_provenance(tmp_path, "test")
    (tmp_path / "study.jsonl").write_text('{"kind": "sft", "seed": 0, "start": "base"}\n{"kind": "sft", "seed": \n')
    with pytest.raises(st.SFTTemperatureError, match=r"study.jsonl: line 2"):
        st.read_study(tmp_path)
    (tmp_path / "study.jsonl").write_text('{"kind": "nope", "seed": 0, "start": "base"}\n')
    with pytest.raises(st.SFTTemperatureError, match=r"line 1: expected a record"):
        st.read_study(tmp_path)


def test_advisor_mode_measures_a_checkpoint_beside_a_study(tiny, tmp_path):
    from engines.reasoning.checkpoints import save_checkpoint
    from engines.reasoning.model import ModelShape, tiny_llama
    from engines.reasoning.tokenizer import char_tokenizer
    from engines.recorded import write_provenance

    tok = char_tokenizer()
    save_checkpoint(tiny_llama(tok, ModelShape(16, 1, 2, 32, 64), 0), tok, tmp_path / "ckpt")
    tiny.save(tmp_path / "study")
    write_provenance(tmp_path / "study", "test")
    r = st.run(st.Config(checkpoint=str(tmp_path / "ckpt"), study_dir=str(tmp_path / "study"), temperatures="0.5,1.5",
                         advisor_prompts=2, advisor_samples=2, advisor_max_new_tokens=6, target_entropy=3.0), device="cpu")
    t = r.summary()["temperature"]
    assert t["measured_on"] == "ckpt" and len(t["H_T"]) == 2 and t["H_T"][0] < t["H_T"][1]
    lo, hi = t["H_T"]
    if lo < 3.0 < hi:
        assert t["advised_T"] == pytest.approx(0.5 + (3.0 - lo) / (hi - lo))
    assert r.summary()["scaling"]["starts"]  # the study shown beside it
    assert [c["name"] for c in r.entropy_curves()] == ["ckpt", "study start prompts×2 (2 seeds)"]


def test_bad_input_is_one_line_naming_the_field():
    with pytest.raises(ValueError, match="temperatures"):
        st.Config(temperatures="0.5,hot")
    with pytest.raises(ValueError, match="sizes"):
        st.Config(sizes="2,4")
    with pytest.raises(st.SFTTemperatureError, match="no such file"):
        st.run(st.Config(checkpoint="/nonexistent/model"))


def test_cli_run_writes_the_summary(tmp_path):
    sets = [x for k, v in TINY.items() if k not in ("seeds",) for x in ("--set", f"{k}={v}")]
    out = subprocess.run([sys.executable, "-m", "engines", "run", "sft_temperature", *sets, "--set", "seeds=1", "--out", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads((tmp_path / "result.json").read_text())
    assert set(summary["scaling"]) >= {"starts", "gap", "prompts_over_responses"}
    assert set(summary["temperature"]) >= {"H_T", "advised_T", "rl"}
    assert (tmp_path / "study.jsonl").is_file() and (tmp_path / "scaling.csv").is_file()


def test_record_writes_the_study_and_its_provenance(tmp_path):
    cfg = st.Config(**{**TINY, "seeds": 1, "rl_steps": 1})
    prov = st.record(tmp_path, cfg, device="cpu")
    assert prov["seeds"] == [0, 1, 2] and prov["starts"] == ["base", "prompts×2", "responses×2"]  # at least 3 seeds
    assert "seeds=" not in prov["command"]  # 3 seeds is the recording's own default
    assert "--set base_prompts=8" in prov["command"] and prov["commit"] and prov["cpu_s"] > 0
    assert not (tmp_path / "study.partial.jsonl").exists()
    rows, read = st.read_study(tmp_path)
    assert read["command"] == prov["command"] and len([r for r in rows if r["kind"] == "sft"]) == 3 * 3
    assert st.load_recorded(folder=tmp_path).seeds() == [0, 1, 2]


def test_temperature_arms_from_the_recorded_policy_join_the_study(tiny, tmp_path):
    from engines.recorded import write_provenance
    from engines.sft_temperature.study import RECORDED_START

    if not (RECORDED_START / "config.json").is_file():
        pytest.skip("the reasoning world's recorded checkpoints are absent")
    cfg = st.Config(**{**TINY, "scaling": False, "temperature_start": "recorded", "seeds": 1})
    arms = st.run(cfg, device="cpu")
    assert {r["kind"] for r in arms.study} == {"advisor", "rl"} and not arms.scaling()
    te = arms.temperature()
    assert te["rl_start"] == "recorded sft" and set(te["rl"]) == {"low", "advised", "high"}
    adv = te["study_advised_T"]["recorded sft"]["mean"]
    assert te["rl"]["high"]["temperature"]["mean"] == pytest.approx(1.2 * adv)
    assert te["rl_by_start"]["recorded sft"]["start_acc"]["n"] == 1
    # saved under the study's recorded_start/, the advisor mode shows both: the study's scaling, the recorded arms
    tiny.save(tmp_path)
    write_provenance(tmp_path, "test")
    arms.save(tmp_path / "recorded_start")
    write_provenance(tmp_path / "recorded_start", "test arms")
    both = st.load_recorded(folder=tmp_path)
    assert both.scaling()["starts"] and both.temperature()["rl_start"] == "recorded sft"
    assert set(both.temperature()["rl_by_start"]) == {"prompts×2", "recorded sft"}
    assert both.study_source["recorded_start"]["command"] == "test arms"
    with pytest.raises(ValueError, match="scaling"):
        st.Config(scaling=False)
