"""Log readers on small fixtures in each real format; malformed logs refused with file and line; growing files followed."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from engines.reasoning import LogError, LogFollower, canonical, read_log

FIX = Path(__file__).parent / "fixtures"


def test_trl_trainer_state_reads_with_trls_names_and_canonical_ones():
    run = read_log(FIX / "trl_trainer_state.json")
    assert run.format == "trl"
    raw = json.loads((FIX / "trl_trainer_state.json").read_text())["log_history"]
    steps, reward = run.series("score")
    entries = [h for h in raw if "reward" in h]
    np.testing.assert_array_equal(steps, [h["step"] for h in entries])
    np.testing.assert_allclose(reward, [h["reward"] for h in entries])
    assert np.allclose(run.series("entropy")[1], [h["entropy"] for h in entries])
    assert {"score", "entropy", "response_length", "clip_ratio", "no_signal"} <= set(run.metric_names())


def test_verl_file_logger_reads_step_and_data():
    run = read_log(FIX / "verl_file_logger.jsonl")
    assert run.format == "verl" and [r["step"] for r in run.rows] == [1, 2, 3, 4, 5]
    steps, ent = run.series("entropy")
    np.testing.assert_allclose(ent, [0.62 - 0.04 * s for s in range(1, 6)])
    steps, p1 = run.series("pass1/aime25")
    assert steps.tolist() == [1, 5] and np.allclose(p1, [0.32, 0.40])


def test_own_metrics_read_rl_and_sft_rows():
    run = read_log(FIX / "own_metrics.jsonl")
    assert run.format == "own" and run.seeds() == [0]
    assert run.series("pass1/math")[0].tolist() == [0, 2]  # the full evaluation at step 0 and a light one at step 2
    assert run.series("sft_loss")[1].size == 0  # SFT rows have sft_step, not step: not on the RL axis
    assert any(r.get("sft_step") == 50 for r in run.rows)


def test_canonical_names():
    assert canonical("val-core/math/acc/mean@32") == "pass1/math" and canonical("reward") == "score"
    assert canonical("completions/clipped_ratio") == canonical("response_length/clip_ratio") == "clip_ratio"
    assert canonical("timing_s/gen") is None


@pytest.mark.parametrize("name, corrupt, line", [
    ("verl_file_logger.jsonl", lambda t: t.replace('{"step":3,', '{"step":3', 1)[:-1] + "\n", 3),
    ("verl_file_logger.jsonl", lambda t: t.replace('{"step":2,"data":', '{"step":2,"metrics":', 1), 2),
    ("verl_file_logger.jsonl", lambda t: t.replace('{"step":4,', '{"step":"four",', 1), 4),
    ("own_metrics.jsonl", lambda t: t + '{"seed": 0, "critic/score/mean": 0.5}\n', 5),
    ("own_metrics.jsonl", lambda t: t + "[1, 2]\n", 5),
    ("own_metrics.jsonl", lambda t: t.replace('"actor/entropy": 0.2,', '"actor/entropy": "low",', 1), 4),
])
def test_malformed_jsonl_is_refused_with_file_and_line(tmp_path, name, corrupt, line):
    bad = tmp_path / name
    bad.write_text(corrupt((FIX / name).read_text()))
    with pytest.raises(LogError, match=rf"^{bad}: line {line}: "):
        read_log(bad)


def test_malformed_trainer_state_is_refused_with_file_and_line(tmp_path):
    text = (FIX / "trl_trainer_state.json").read_text()
    lines = text.splitlines()
    bad = tmp_path / "trainer_state.json"
    bad.write_text("\n".join(lines[:30]) + "\n")  # cut off mid-file
    with pytest.raises(LogError, match=rf"^{bad}: line \d+: not JSON"):
        read_log(bad)
    state = json.loads(text)
    del state["log_history"][2]["step"]
    bad.write_text(json.dumps(state, indent=2, sort_keys=True))
    second = [i + 1 for i, s in enumerate(bad.read_text().splitlines()) if s == "    {"][2]
    with pytest.raises(LogError, match=rf"^{bad}: line {second}: log_history entry 2 has no 'step'"):
        read_log(bad)
    bad.write_text(json.dumps({"global_step": 3}))
    with pytest.raises(LogError, match="no 'log_history'"):
        read_log(bad)


def test_follower_reads_only_what_was_appended_and_waits_for_a_whole_line(tmp_path):
    src = (FIX / "verl_file_logger.jsonl").read_text().splitlines(keepends=True)
    path = tmp_path / "run.jsonl"
    path.write_text("".join(src[:2]))
    f = LogFollower(path)
    assert [r["step"] for r in f.poll()] == [1, 2]
    assert f.poll() == []
    with open(path, "a") as h:
        h.write(src[2] + src[3][:20])  # line 4 only half written
    assert [r["step"] for r in f.poll()] == [3]
    with open(path, "a") as h:
        h.write(src[3][20:] + src[4])
    assert [r["step"] for r in f.poll()] == [4, 5]
    assert [r["step"] for r in f.run.rows] == [1, 2, 3, 4, 5]


def test_follower_rereads_a_rewritten_trainer_state(tmp_path):
    state = json.loads((FIX / "trl_trainer_state.json").read_text())
    full = state["log_history"]
    path = tmp_path / "trainer_state.json"
    state["log_history"] = full[:2]
    path.write_text(json.dumps(state, indent=2))
    f = LogFollower(tmp_path)  # a folder stands for the log in it
    assert len(f.poll()) == 2 and f.poll() == []
    state["log_history"] = full
    path.write_text(json.dumps(state, indent=2, sort_keys=True))
    assert len(f.poll()) == len(full) - 2


def test_folder_without_a_log_and_missing_file_are_refused(tmp_path):
    with pytest.raises(LogError, match="no log here"):
        read_log(tmp_path)
    with pytest.raises(LogError, match="no such file"):
        read_log(tmp_path / "nope.jsonl")


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is not None, reason="tensorboard is installed")
def test_tensorboard_without_the_package_says_how_to_get_it(tmp_path):
    (tmp_path / "events.out.tfevents.1.host").write_bytes(b"\x00" * 16)
    with pytest.raises(LogError, match="optional 'tensorboard' package"):
        read_log(tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="the optional tensorboard package is not installed")
def test_tensorboard_event_files_read_when_the_package_exists(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(str(tmp_path))
    for step in range(1, 4):
        w.add_scalar("critic/score/mean", 0.1 * step, step)
        w.add_scalar("actor/entropy", 1.0 / step, step)
    w.close()
    run = read_log(tmp_path)
    assert run.format == "tensorboard"
    np.testing.assert_allclose(run.series("score")[1], [0.1, 0.2, 0.3], rtol=1e-6)


def test_readers_do_not_need_torch(tmp_path):
    shutil.copy(FIX / "own_metrics.jsonl", tmp_path / "metrics.jsonl")
    import subprocess

    code = f"import sys; from engines.reasoning import read_log; read_log({str(tmp_path)!r}); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[3], timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_hostile_logs_are_refused_or_read_without_nan(tmp_path):
    deep = tmp_path / "trainer_state.json"
    deep.write_text("[" * 100_000)
    with pytest.raises(LogError, match="nested too deeply"):
        read_log(deep)
    rows = tmp_path / "metrics.jsonl"
    rows.write_text('{"step": 1, "critic/score/mean": NaN}\n{"step": 2, "critic/score/mean": 0.5}\n' + "[" * 100_000 + "\n")
    with pytest.raises(LogError, match=rf"^{rows}: line 3: JSON nested too deeply"):
        read_log(rows)
    rows.write_text('{"step": 1, "critic/score/mean": NaN}\n{"step": 2, "critic/score/mean": Infinity}\n')
    run = read_log(rows)
    assert all(v is None for r in run.rows for k, v in r.items() if k != "step")  # gaps, never NaN in a curve
