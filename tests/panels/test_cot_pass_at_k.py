"""The CoT-Pass@K panel: opens on the recorded samples, draws every view from the result, File → Open reads a dump
and refuses a malformed one with its line number."""

from __future__ import annotations

import json
from html import escape

import numpy as np
import pytest

from engines import cot_pass_at_k as cot
from engines.cot_pass_at_k.dumps import Table
from panels.cot_pass_at_k import CotPassAtKPanel


@pytest.fixture
def panel(build_panel):
    return build_panel(CotPassAtKPanel)


def _run(panel, qtbot, config=None):
    panel.run_job(config)
    qtbot.waitUntil(lambda: panel.result is not None and not panel.busy(), timeout=300_000)
    return panel.result


def test_default_job_draws_every_view(panel, qtbot):
    r = _run(panel, qtbot)
    curves = r.curves()
    assert set(panel.kitems) == set(curves) and len(curves) >= 2
    for name, (solid, dashed) in panel.kitems.items():
        x, y = solid.curve.getData()
        assert np.allclose(y, curves[name]["cot_pass_at_k"]) and len(x) == r.n()
        assert np.allclose(dashed.curve.getData()[1], curves[name]["pass_at_k"])
    ck = r.crossing_k()
    assert panel.cross.isVisible() == (ck is not None)
    if ck is not None:
        assert panel.cross.value() == pytest.approx(np.log10(ck)) and f"{ck:.1f}" in panel.cross_text.textItem.toPlainText()
    counts = r.p_cc_given_ca()[panel.hist_names[0]]["hist_counts"]
    assert np.allclose(panel.bars.items[0].opts["height"], counts)
    rows = [row for row in r.dynamics()["rows"] if row["step"] is not None]
    assert np.allclose(panel.dyn["cot_pass_at_1"].curve.getData()[1], [row["cot_pass_at_1"] for row in rows])
    assert panel.table.rowCount() == len(r.lucky_samples) > 0
    head = panel.headline.text()
    for fig in r.headline().values():
        assert escape(str(fig), quote=False) in head
    assert "(paper: 1)" in head


def test_failing_step_is_highlighted():
    from panels.cot_pass_at_k import response_html

    html = response_html({"steps": ["4*5=21", "3+21=24"], "failed_step": 0, "answer": 23})
    assert "color:#c00000" in html and html.index("4*5=21") < html.index("3+21=24") and html.endswith("&gt;23")


def test_file_open_reads_a_dump_and_refuses_a_malformed_one(panel, qtbot, tmp_path):
    rng = np.random.default_rng(0)
    tables = []
    for i, name in enumerate(("base", "rl")):
        correct = rng.random((8, 6)) < (0.4 + 0.2 * i)
        tables.append(Table(name, 10 * i, [f"q{j}" for j in range(8)], correct, correct & (rng.random((8, 6)) < 0.8)))
    good = cot.write_dump(tmp_path / "mine.jsonl", tables)
    panel.open_file(str(good))
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.source == "dump" and not panel.busy()
                    and set(panel.result.correct) == {"base", "rl"}, timeout=60_000)
    assert set(panel.kitems) == {"base", "rl"} and "mine.jsonl" in panel.source
    bad = tmp_path / "bad.jsonl"
    lines = good.read_text().splitlines()
    lines[3] = json.dumps({"prompt_id": "q0", "sample_id": 99, "answer_correct": "maybe", "cot_correct": False})
    bad.write_text("\n".join(lines) + "\n")
    before = panel.config()
    panel.open_file(str(bad))
    assert "bad.jsonl:4:" in panel.error.text() and panel.config() == before


def test_noisy_judge_draws_the_lenient_and_strict_curves(panel, qtbot):
    cfg = panel.config().replace(judge="noisy", false_positive=0.3, false_negative=0.1, judge_calls=3)
    r = _run(panel, qtbot, cfg)
    assert r.config.judge == "noisy"
    for name, c in r.curves().items():
        lenient, strict = panel.judge_items[name]
        assert lenient.isVisible() and np.allclose(lenient.getData()[1], c["cot_pass_at_k_lenient"])
        assert np.allclose(strict.getData()[1], c["cot_pass_at_k_strict"])
        assert np.all(c["cot_pass_at_k_strict"] <= c["cot_pass_at_k_lenient"] + 1e-12)
