"""The AceReason engine end to end on a tiny world: SFT → math RL → code RL, the summary's shape, metrics and checkpoints
written, the recorded run opened without training (and without torch), the CLI, and the bench against TRL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engines import acereason as ar
from engines.reasoning import read_log

ROOT = Path(__file__).resolve().parents[3]
TINY = dict(hidden_size=32, layers=2, heads=2, intermediate_size=64, sft_steps=40, sft_batch=16, math_steps=5, math_lengths="16,20",
            code_steps=2, code_lengths="24", prompts_per_step=4, group_size=4, pool_size=16, filter_samples=1, eval_prompts=6,
            eval_samples=2, light_samples=1, eval_every=2, ablation_steps=2, checkpoint_every=2, cpu_threads=1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    return ar.run(ar.Config(**TINY, run_dir=str(run_dir)), device="cpu")


def test_defaults_are_the_papers_schedule():
    recipe = ar.recipe_for(ar.Config())
    assert [(s.name, s.phase, s.max_new_tokens, s.filter_above) for s in recipe.stages] == [
        ("math@24", "math", 24, None), ("math@32", "math", 32, 0.9), ("code@40", "code", 40, 0.9)]
    g = recipe.grpo
    assert (g.updates_per_batch, g.lr, g.prompts_per_step, g.group_size, g.temperature) == (1, 1e-4, 32, 8, 1.0)
    assert recipe.ablation_updates == 4 and recipe.ablation_steps > 0
    assert recipe.eval.prompts >= 128 and recipe.eval.samples >= 32


def test_summary_has_every_stage_with_errors_and_the_transfer(tiny):
    s = tiny.summary()
    assert list(s["stages"])[:3] == ["sft", "math", "code"] and {"math@16", "math@20", "code@24"} <= set(s["stages"])
    for name in ("sft", "math", "code"):
        st = s["stages"][name]
        for key in ("math_pass1", "code_pass1"):
            assert 0.0 <= st[key]["mean"] <= 1.0 and st[key]["se"] is not None
        assert st["entropy"]["mean"] > 0
    assert s["stages"]["sft"]["steps"] == 40 and s["stages"]["math"]["steps"] == 5 and s["stages"]["code"]["steps"] == 2
    math, sft = s["stages"]["math"]["code_pass1"]["mean"], s["stages"]["sft"]["code_pass1"]["mean"]
    assert s["transfer"]["mean"] == pytest.approx(math - sft) and s["transfer"]["se"] is not None
    assert set(s["headline"]) >= {"math_gain", "transfer"} and set(s["paper"]) == {"math_gain", "transfer"}
    json.dumps(s)


def test_rows_carry_veRL_names_every_step_and_evaluations_where_asked(tiny):
    rl = [r for r in tiny.rows if r.get("run") == "main" and "critic/score/mean" in r]
    assert [r["step"] for r in rl] == list(range(1, 8))
    for r in rl:
        for key in ("actor/entropy", "response_length/mean", "response_length/clip_ratio", "batch/no_signal", "perf/throughput"):
            assert np.isfinite(r[key])
        assert r["actor/pg_clipfrac"] == 0.0  # one update per batch: the clip never binds
    full = [r for r in tiny.rows if r.get("eval") == "full"]
    assert [r["step"] for r in full] == [0, 5, 7] and all("val-core/math/acc/mean@2" in r for r in full)
    assert any("val-core/code/acc/mean@1" in r for r in rl)  # a light evaluation inside a stage
    arm = [r for r in tiny.rows if r.get("run") == "ablation"]
    assert [r["actor/updates"] for r in arm] == [4, 4]  # 4 prompts per step: 4 mini-batches of one group each
    bounds = tiny.stage_bounds()
    assert [(b["name"], b["start"], b["end"]) for b in bounds] == [("sft", 0, 0), ("math@16", 1, 3), ("math@20", 4, 5), ("code@24", 6, 7)]


def test_curves_and_samples_are_ready_for_the_panel(tiny):
    c = tiny.curve("pass1/math")
    assert c["steps"][0] == 0 and len(c["mean"]) == len(c["steps"]) and (c["lo"] <= c["hi"]).all()
    assert np.isfinite(tiny.curve("entropy")["mean"]).all()
    ab = tiny.ablation_curves()
    assert set(ab) == {"updates_1", "updates_k"} and len(ab["updates_k"]["entropy"]) == 2
    s = tiny.samples[-1]
    assert {"prompt", "response", "steps", "step_ok", "failed_step", "reward", "stage"} <= set(s)
    assert len(s["steps"]) == len(s["step_ok"])


def test_save_writes_metrics_checkpoints_and_result(tiny, tmp_path):
    tiny.save(tmp_path)
    assert json.loads((tmp_path / "result.json").read_text())["stages"]["math"]["steps"] == 5
    run = read_log(tmp_path / "metrics.jsonl")
    assert len(run.rows) == len(tiny.rows)
    names = sorted(p.name for p in (tmp_path / "checkpoints" / "seed0").iterdir())
    assert names == ["code", "math", "sft", "step_0002", "step_0004", "step_0006"]
    from engines.reasoning.checkpoints import load_checkpoint

    model, tok, meta = load_checkpoint(tmp_path / "checkpoints" / "seed0" / "math")
    assert meta["step"] == 5 and meta["stage"] == "math@20" and type(model).__name__ == "LlamaForCausalLM"
    assert (tmp_path / "curves.png").exists() and (tmp_path / "ablation.png").exists()


def test_a_checkpoint_is_a_policy_to_continue_from(tiny, tmp_path):
    ckpt = next(c["path"] for c in tiny.checkpoints if c["name"] == "math")
    cfg = ar.Config(**{**TINY, "sft_steps": 0, "math_steps": 0, "ablation_steps": 0, "code_steps": 1}, model=ckpt, run_dir=str(tmp_path))
    r = ar.run(cfg, device="cpu")
    assert [b["name"] for b in r.stage_bounds()] == ["sft", "code@24"]
    first = next(row for row in r.rows if row.get("eval") == "full")
    last = next(row for row in tiny.rows if row.get("eval") == "full" and row["step"] == 5)
    assert first["val-core/math/acc/mean@2"] == pytest.approx(last["val-core/math/acc/mean@2"], abs=0.5)


def test_record_then_open_the_recorded_run_without_training(tmp_path):
    cfg = ar.Config(**{**TINY, "sft_steps": 10, "math_steps": 2, "code_steps": 1, "ablation_steps": 0, "math_lengths": "16"})
    prov = ar.record(tmp_path, cfg, device="cpu")
    assert prov["seeds"] == [0, 1, 2] and prov["command"].startswith("python -m engines record acereason --set hidden_size=32")
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["seed0"]
    r = ar.load_recorded(ar.Config(recorded=True), tmp_path)
    assert r.recorded["command"] == prov["command"] and r.seeds() == [0, 1, 2]
    assert r.summary()["stages"]["math"]["math_pass1"]["n"] == 3
    code = ("import sys; from engines import acereason as ar; "
            f"r = ar.load_recorded(ar.Config(recorded=True), {str(tmp_path)!r}); r.summary(); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr


def test_a_foreign_log_opens_with_the_same_views():
    fixtures = ROOT / "tests" / "engines" / "reasoning" / "fixtures"
    trl = ar.open_log(fixtures / "trl_trainer_state.json")
    raw = [h for h in json.loads((fixtures / "trl_trainer_state.json").read_text())["log_history"] if "entropy" in h]
    c = trl.curve("entropy")
    np.testing.assert_allclose(c["mean"], [h["entropy"] for h in raw])
    assert [b["name"] for b in trl.stage_bounds()] == ["log"] and trl.recorded["format"] == "trl"
    verl = ar.open_log(fixtures / "verl_file_logger.jsonl")
    assert verl.curve("pass1/aime25")["steps"].tolist() == [1, 5] and verl.curve("score")["steps"].tolist() == [1, 2, 3, 4, 5]


def test_bad_config_and_bad_model_path_are_refused(tmp_path):
    with pytest.raises(ValueError, match="^math_lengths:"):
        ar.Config(math_lengths="24,x")
    with pytest.raises(ValueError, match="^heads:"):
        ar.Config(hidden_size=30, heads=4)
    with pytest.raises(ValueError, match="^sft_steps:"):
        ar.Config(sft_steps=0)
    with pytest.raises(ar.AceReasonError, match="no such file"):
        ar.run(ar.Config(**{**TINY, "sft_steps": 0}, model="/nonexistent/model", run_dir=str(tmp_path)), device="cpu")


def test_cli_run_writes_metrics_checkpoints_and_result(tmp_path):
    fields = {**TINY, "sft_steps": 10, "math_steps": 1, "math_lengths": "16", "code_steps": 1, "ablation_steps": 0,
              "run_dir": str(tmp_path / "run")}
    sets = [a for k, v in fields.items() for a in ("--set", f"{k}={v}")]
    out = subprocess.run([sys.executable, "-m", "engines", "run", "acereason", *sets, "--device", "cpu", "--out", str(tmp_path / "out")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    d = tmp_path / "out"
    summary = json.loads((d / "result.json").read_text())
    assert {"sft", "math", "code"} <= set(summary["stages"]) and "transfer" in summary
    assert (d / "metrics.jsonl").exists() and (d / "checkpoints" / "seed0" / "code" / "model.safetensors").exists()


def test_bench_quick_measures_both_trainers_on_the_same_work():
    r = ar.bench(quick=True, device="cpu")
    for side in ("ours", "trl"):
        assert r[side]["tokens_per_s"] > 0 and r[side]["step_s_median"] > 0
    assert 0.5 < r["ours"]["tokens_per_step"] / r["trl"]["tokens_per_step"] < 2.0  # same prompts, G, lengths
    assert r["ratio"] == pytest.approx(r["ours"]["tokens_per_s"] / r["trl"]["tokens_per_s"]) and r["torch_threads"] == 1
