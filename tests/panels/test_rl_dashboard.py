"""The RL dashboard: opens on the recorded run and draws its curves (checked against the recorded files, read here with
plain ``json``), draws each real log format with the same views, shows a bad log's error (file and line) without losing
what it showed, follows a growing log, and trains live (from scratch and from a checkpoint) through the job runner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.jobs import JobRunner
from panels.rl_dashboard import FAIL_BG, RlDashboardPanel

ROOT = Path(__file__).resolve().parents[2]
RECORDED = ROOT / "resources" / "reasoning"
FIX = ROOT / "tests" / "engines" / "reasoning" / "fixtures"
WAIT = 120_000
TINY = dict(hidden_size=16, layers=1, heads=2, intermediate_size=32, sft_steps=6, sft_batch=8, math_steps=2, code_steps=1,
            prompts_per_step=2, group_size=2, pool_size=8, filter_samples=1, eval_prompts=2, eval_samples=2, light_samples=1,
            eval_every=1, ablation_steps=2, checkpoint_every=1)


@pytest.fixture
def panel(qtbot):
    p = RlDashboardPanel(runner=JobRunner())
    qtbot.addWidget(p)
    p.resize(1280, 800)
    return p


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _open_recorded(panel, qtbot):
    panel.run_job()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=WAIT)
    return panel.result


def _xy(item) -> tuple[np.ndarray, np.ndarray]:
    x, y = item.getData()
    return (np.zeros(0), np.zeros(0)) if x is None else (np.asarray(x), np.asarray(y))


def _val(row: dict, family: str):
    return next((v for k, v in row.items() if k.startswith(f"val-core/{family}/acc/mean@")), None)


def test_opens_on_the_recorded_run_and_draws_its_curves(panel, qtbot):
    res = _open_recorded(panel, qtbot)
    rows = _jsonl(RECORDED / "metrics.jsonl")
    main = [r for r in rows if r.get("run", "main") == "main" and "step" in r]
    seeds = sorted({r["seed"] for r in main})
    assert seeds == [0, 1, 2] and res.seeds() == seeds
    # every seed's reward curve is its rows' critic/score/mean, in step order; the band's centre is their mean
    per_seed = []
    for i, s in enumerate(seeds):
        mine = sorted((r["step"], r["critic/score/mean"]) for r in main if r["seed"] == s and "critic/score/mean" in r)
        x, y = _xy(panel.plots["score"].seed_curves[i])
        np.testing.assert_array_equal(x, [m[0] for m in mine])
        np.testing.assert_allclose(y, [m[1] for m in mine])
        per_seed.append([m[1] for m in mine])
    x, y = _xy(panel.plots["score"].band.curve)
    np.testing.assert_allclose(y, np.mean(per_seed, axis=0))
    lo, hi = _xy(panel.plots["score"].band._lo)[1], _xy(panel.plots["score"].band._hi)[1]
    se = np.std(per_seed, axis=0, ddof=1) / np.sqrt(3)
    np.testing.assert_allclose(hi - lo, 2 * se, atol=1e-12)
    # held-out math pass@1 of seed 0: its evaluation rows; the SFT baseline line: result.json's SFT math pass@1
    evals = sorted((r["step"], _val(r, "math")) for r in main if r["seed"] == 0 and _val(r, "math") is not None)
    x, y = _xy(panel.plots["pass1/math"].seed_curves[0])
    np.testing.assert_array_equal(x, [e[0] for e in evals])
    np.testing.assert_allclose(y, [e[1] for e in evals])
    summary = json.loads((RECORDED / "result.json").read_text())
    for fam in ("math", "code"):
        line = panel.plots[f"pass1/{fam}"].baseline
        assert line.isVisible() and line.value() == pytest.approx(summary["stages"]["sft"][f"{fam}_pass1"]["mean"])
    # the stage boundaries: the SFT end at 0, then between steps where a stage starts; labelled in the paper's words
    first_step: dict[str, int] = {}
    for r in main:
        if r["seed"] == 0 and r["stage"] != "sft":
            first_step[r["stage"]] = min(first_step.get(r["stage"], r["step"]), r["step"])
    starts = sorted(first_step.values())
    lines = panel.plots["entropy"].stage_lines
    assert [ln.value() for ln in lines] == [0.0] + [s - 0.5 for s in starts]
    labels = " ".join(ln.label.toPlainText() for ln in lines)
    assert "SFT" in labels and "math-only" in labels and "code-only" in labels
    # the ablation: both arms' entropy as in ablation.csv, in the small plot and in its tab (built when first shown)
    panel.tabs.setCurrentIndex([panel.tabs.tabText(i) for i in range(panel.tabs.count())].index("Updates per batch"))
    x, y = _xy(panel.mini_arms["updates_k"])
    assert len(x) == json.loads((RECORDED / "provenance.json").read_text())["ablation_steps"]
    table = np.genfromtxt(RECORDED / "ablation.csv", delimiter=",", names=True)
    for arm, column in (("updates_1", "entropy_updates_1"), ("updates_k", "entropy_updates_k")):
        x, y = _xy(panel.ab_curves[("entropy", arm)])
        np.testing.assert_allclose(y[: len(table)], table[column], rtol=1e-6)
        np.testing.assert_array_equal(x[: len(table)], table["step"])
    # the banner: our gain with its error beside the paper's +14.6; the showing line: recorded, with its command
    head = summary["headline"]["math_gain"]
    text = panel.headline.text()
    assert f"{head['value']:+.3f} ± {head['error']:.3f}" in text and "+14.6 points" in text and "Recorded run" in text
    prov = json.loads((RECORDED / "provenance.json").read_text())
    assert "recorded run" in panel.source and prov["command"] in panel.source
    # the checkpoints of the recorded run are offered to start from
    assert panel.checkpoint_box.count() == len(list((RECORDED / "checkpoints").rglob("checkpoint.json")))


def test_samples_mark_each_step_and_highlight_the_failing_one(panel, qtbot):
    res = _open_recorded(panel, qtbot)
    panel.tabs.setCurrentIndex([panel.tabs.tabText(i) for i in range(panel.tabs.count())].index("Samples"))  # drawn when shown
    t = panel.samples_table
    newest = res.samples[::-1][: t.rowCount()]
    assert t.rowCount() == min(80, len(res.samples)) > 0
    heads = [t.horizontalHeaderItem(j).text() for j in range(t.columnCount())]
    first = heads.index("step 1")
    checked = failed_seen = 0
    for i, s in enumerate(newest):
        assert t.item(i, heads.index("prompt")).text() == s["prompt"]
        for k, step in enumerate(s["steps"]):
            item = t.item(i, first + k)
            assert item.text() == f"{'✓' if s['step_ok'][k] else '✗'} {step}"
            assert (item.background().color() == FAIL_BG) == (k == s["failed_step"])
            checked += 1
            failed_seen += k == s["failed_step"]
    assert checked > 0 and failed_seen > 0  # the recorded samples hold both kinds


@pytest.mark.parametrize("name, fmt", [("trl_trainer_state.json", "trl"), ("verl_file_logger.jsonl", "verl"),
                                       ("own_metrics.jsonl", "own")])
def test_each_log_format_is_drawn_with_the_same_views(panel, qtbot, tmp_path, name, fmt):
    path = tmp_path / name
    shutil.copyfile(FIX / name, path)
    panel.open_file(str(path))
    qtbot.waitUntil(lambda: panel.result is not None and (panel.result.recorded or {}).get("log") == str(path), timeout=WAIT)
    assert panel.result.recorded["format"] == fmt
    if fmt == "trl":
        raw = [h for h in json.loads(path.read_text())["log_history"] if "reward" in h]
        want = [(h["step"], h["reward"]) for h in raw]
    elif fmt == "verl":
        want = [(r["step"], r["data"]["critic/score/mean"]) for r in _jsonl(path) if "critic/score/mean" in r["data"]]
    else:
        want = [(r["step"], r["critic/score/mean"]) for r in _jsonl(path) if "step" in r and "critic/score/mean" in r]
    x, y = _xy(panel.plots["score"].band.curve)
    assert len(want) > 1
    np.testing.assert_array_equal(x, [w[0] for w in want])
    np.testing.assert_allclose(y, [w[1] for w in want])
    assert path.name in panel.source and "Opened log" in panel.headline.text()
    assert panel.source_file == path and panel.follow_timer.isActive()
    if fmt == "verl":  # a foreign log's held-out set (aime25) lands on the pass@1 plot
        x, y = _xy(panel.plots["pass1/math"].band.curve)
        assert x.tolist() == [1, 5] and np.allclose(y, [0.32, 0.40])
        assert "aime25" in panel.plots["pass1/math"].widget.plotItem.titleLabel.text


def test_a_bad_log_shows_the_readers_error_and_keeps_the_views(panel, qtbot, tmp_path):
    _open_recorded(panel, qtbot)
    shown_rows, source = len(panel.result.rows), panel.source
    lines = (FIX / "verl_file_logger.jsonl").read_text().splitlines()
    lines[2] = lines[2].replace('"step":3,', '"step":"three",')
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    panel.open_file(str(bad))
    qtbot.waitUntil(lambda: not panel.error.isHidden(), timeout=WAIT)
    assert str(bad) in panel.error.text() and "line 3" in panel.error.text()
    assert len(panel.result.rows) == shown_rows and panel.source == source and not panel.follow_timer.isActive()
    # a first line that is not JSON: refused when the format is sniffed, before any job
    worse = tmp_path / "worse.jsonl"
    worse.write_text("{not json\n")
    panel.open_file(str(worse))
    assert not panel.error.isHidden() and str(worse) in panel.error.text() and "line 1" in panel.error.text()
    assert len(panel.result.rows) == shown_rows


def test_a_growing_log_is_redrawn_and_a_later_bad_line_stops_following(panel, qtbot, tmp_path):
    lines = (FIX / "verl_file_logger.jsonl").read_text().splitlines(keepends=True)
    path = tmp_path / "verl.jsonl"
    path.write_text("".join(lines[:2]))
    panel.follow_timer.setInterval(50)
    panel.open_file(str(path))

    def points() -> int:
        return len(_xy(panel.plots["entropy"].band.curve)[0])

    qtbot.waitUntil(lambda: points() == 2, timeout=WAIT)
    with open(path, "a") as f:  # a line and a half: the half waits for its newline
        f.write(lines[2] + lines[3][:10])
    qtbot.waitUntil(lambda: points() == 3, timeout=WAIT)
    with open(path, "a") as f:
        f.write(lines[3][10:] + lines[4])
    qtbot.waitUntil(lambda: points() == 5, timeout=WAIT)
    x, y = _xy(panel.plots["entropy"].band.curve)
    np.testing.assert_allclose(y, [json.loads(ln)["data"]["actor/entropy"] for ln in lines[:5]])
    assert "5 rows" in panel.source and "following" in panel.source
    with open(path, "a") as f:
        f.write('{"step": 6, "data": {"actor/entropy": "low"}}\n')
    qtbot.waitUntil(lambda: not panel.error.isHidden(), timeout=WAIT)
    assert "line 6" in panel.error.text() and "following stopped" in panel.error.text()
    assert points() == 5 and not panel.follow_timer.isActive()


def test_a_log_rewritten_from_the_start_is_read_again(panel, qtbot, tmp_path):
    lines = (FIX / "verl_file_logger.jsonl").read_text().splitlines(keepends=True)
    path = tmp_path / "verl.jsonl"
    path.write_text("".join(lines[:4]))
    panel.follow_timer.setInterval(50)
    panel.open_file(str(path))
    qtbot.waitUntil(lambda: panel.result is not None and len(panel.result.rows) == 4, timeout=WAIT)
    path.write_text("".join(lines[:2]))  # a restarted run truncates its log
    qtbot.waitUntil(lambda: len(panel.result.rows) == 2, timeout=WAIT)
    x, _ = _xy(panel.plots["entropy"].band.curve)
    assert x.tolist() == [1, 2] and panel.error.isHidden()


def test_a_rewritten_trainer_state_is_redrawn(panel, qtbot, tmp_path):
    state = json.loads((FIX / "trl_trainer_state.json").read_text())
    history = state["log_history"]
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps({**state, "log_history": history[:2]}, indent=2, sort_keys=True))
    panel.follow_timer.setInterval(50)
    panel.open_file(str(path))
    qtbot.waitUntil(lambda: panel.result is not None and len(panel.result.rows) == 2, timeout=WAIT)
    full = json.dumps(state, indent=2, sort_keys=True)
    path.write_text(full[: len(full) // 2])  # caught mid-write: the reader's error, the views keep their two rows
    qtbot.waitUntil(lambda: not panel.error.isHidden(), timeout=WAIT)
    assert str(path) in panel.error.text() and "line" in panel.error.text() and "re-read" in panel.error.text()
    assert len(panel.result.rows) == 2 and panel.follow_timer.isActive()
    path.write_text(full)  # TRL rewrites the whole file at each save
    qtbot.waitUntil(lambda: len(panel.result.rows) == len(history), timeout=WAIT)
    assert panel.error.isHidden()
    x, _ = _xy(panel.plots["score"].band.curve)
    assert x.tolist() == [h["step"] for h in history if "reward" in h]


def test_train_live_draws_as_it_goes_and_back_to_the_recorded_run(panel, qtbot):
    panel.set_config(panel.engine.Config(**TINY, recorded=True))  # Train ignores the box: it always trains live
    job = panel.train()
    qtbot.waitUntil(lambda: panel.shown is not None and panel.shown.recorded is None and len(panel.shown.rows) > 0, timeout=WAIT)
    assert "live training" in panel.source and "Live run" in panel.headline.text()  # said while it runs, not only at the end
    qtbot.waitUntil(lambda: not job.is_running(), timeout=WAIT)
    res = panel.result
    assert res.recorded is None and "live training" in panel.source and "Live run" in panel.headline.text()
    rl = sorted(r["step"] for r in res.rows if r.get("run", "main") == "main" and "critic/score/mean" in r)
    assert _xy(panel.plots["score"].seed_curves[0])[0].tolist() == rl == [1, 2, 3]
    assert panel.checkpoint_box.count() == len(res.checkpoints) > 0
    assert len(_xy(panel.mini_arms["updates_k"])[0]) == TINY["ablation_steps"]
    panel.show_recorded()
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.recorded is not None, timeout=WAIT)
    assert "recorded run" in panel.source


def test_train_from_a_checkpoint_starts_rl_from_its_weights(panel, qtbot):
    _open_recorded(panel, qtbot)
    i = panel.checkpoint_box.findText("seed 0 · math (", Qt.MatchFlag.MatchStartsWith)
    assert i >= 0
    panel.checkpoint_box.setCurrentIndex(i)
    path = panel.checkpoint_box.currentData()
    panel.set_config(panel.engine.Config(**{**TINY, "math_steps": 1, "code_steps": 0, "ablation_steps": 0, "checkpoint_every": 0}))
    job = panel.train_from_checkpoint()
    qtbot.waitUntil(lambda: not job.is_running(), timeout=WAIT)
    res = panel.result
    assert res.config.model == path and res.config.sft_steps == 0 and res.recorded is None
    assert not any("sft_step" in r for r in res.rows) and any(r.get("step") == 1 for r in res.rows)
    assert res.parameters == json.loads((RECORDED / "provenance.json").read_text())["parameters"]


def test_export_of_an_opened_log_records_the_file_and_its_curves(panel, qtbot, tmp_path):
    path = tmp_path / "metrics.jsonl"
    shutil.copyfile(FIX / "own_metrics.jsonl", path)
    panel.open_file(str(path))
    qtbot.waitUntil(lambda: panel.result is not None and (panel.result.recorded or {}).get("log") == str(path), timeout=WAIT)
    out = panel.export(tmp_path / "export")
    source = json.loads((out / "source.json").read_text())
    assert source["file"]["path"] == str(path.resolve()) and (out / source["file"]["copy"]).read_bytes() == path.read_bytes()
    saved = _jsonl(out / "metrics.jsonl")
    assert [r.get("step") for r in saved] == [r.get("step") for r in _jsonl(path)]
    assert (out / "views.png").stat().st_size > 0 and "headline" in json.loads((out / "result.json").read_text())


def test_an_event_file_without_tensorboard_or_corrupt_says_why(panel, qtbot, tmp_path):
    path = tmp_path / "events.out.tfevents.1700000000.host"
    path.write_bytes(b"\x00not an event file")
    panel.open_file(str(path))
    qtbot.waitUntil(lambda: not panel.error.isHidden(), timeout=WAIT)
    assert str(path) in panel.error.text() and "tensorboard" in panel.error.text().lower()
    assert panel.result is None and not panel.follow_timer.isActive()


def test_stop_ends_a_live_run_and_keeps_its_curves(panel, qtbot):
    _open_recorded(panel, qtbot)
    recorded = panel.result
    panel.set_config(panel.engine.Config(**{**TINY, "math_steps": 200, "eval_every": 0}))
    job = panel.train()
    qtbot.waitUntil(lambda: panel.shown is not recorded and any(r.get("run") == "main" and "critic/score/mean" in r
                                                                 for r in panel.shown.rows), timeout=WAIT)
    panel.stop_button.click()
    qtbot.waitUntil(lambda: not job.is_running(), timeout=WAIT)
    drawn = len(_xy(panel.plots["score"].band.curve)[0])
    assert 0 < drawn < 200 + TINY["code_steps"] and panel.result is recorded  # a stopped run is not a final result
    assert "live training" in panel.source
