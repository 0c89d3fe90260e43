"""The recorded run in resources/long_context: it meets the issue's claims, says how it was made, and its checkpoints reproduce it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from engines.long_context import Config, LongContextError, load_model, run
from engines.long_context import model as toy
from engines.long_context.engine import vocabulary
from engines.long_context.evaluation import grid_documents, score
from engines.long_context.record import default_dir
from engines.long_context.scalings import toy_rope
from engines.long_context.task import Haystack

RECORDED = default_dir()


@pytest.fixture(scope="module")
def recorded():
    return run(Config(source="recorded"), device="cpu")


def test_the_recorded_run_meets_the_issues_claims(recorded):
    r = recorded
    s = r.summary()
    assert s["source"] == "recorded" and r.config.source == "recorded"
    for name in ("none", "linear", "dynamic_ntk", "yarn", "ultralong", "ultralong_control"):
        assert len(s["accuracy"][name]) == len(s["lengths"])
    assert r.at("yarn", 8.0) - r.at("none", 8.0) >= 50  # YaRN zero-shot beats plain RoPE at 8× by at least 50 points
    assert abs(r.short_accuracy("ultralong") - r.short_accuracy("none")) <= 2  # the miniature keeps its 1× accuracy
    assert s["acceptance"]["yarn_beats_none_by_50_at_8x"] and s["acceptance"]["ultralong_keeps_1x_within_2"]
    assert r.heatmap.shape[0] == 7 and not np.isnan(r.heatmap).any()


def test_the_recorded_run_says_how_it_was_made_and_stays_small(recorded):
    r = recorded
    p = r.provenance
    assert p["command"].startswith("python -m engines record long_context")
    assert p["seed"] == r.config.seed and p["steps"]["base"] == r.config.base_steps and p["steps"]["ultralong"] == r.config.extend_steps
    assert p["wall_time_s"] > 0 and p["commit"] and "torch" in p["versions"]
    total = sum(f.stat().st_size for f in RECORDED.iterdir() if f.is_file())
    assert total <= 10 * 2**20
    for name in ("base", "ultralong", "control"):
        assert (RECORDED / f"{name}.safetensors").exists()


def test_recorded_mode_keeps_the_runs_experiment_and_this_configs_calculator():
    r = run(Config(source="recorded", model="SmolLM2-135M", base_steps=3), device="cpu")
    recorded_cfg = json.loads((RECORDED / "config.json").read_text())
    assert r.config.base_steps == recorded_cfg["base_steps"]  # the experiment is the recorded one
    assert r.calculator.facts.name == "SmolLM2-135M" and r.config.model == "SmolLM2-135M"


@pytest.mark.parametrize("name, scaling", [("base", "yarn"), ("ultralong", "ultralong"), ("control", "ultralong_control")])
def test_the_shipped_checkpoints_reproduce_the_recorded_grid(recorded, name, scaling):
    r = recorded
    model, cfg = load_model(name)
    hay = Haystack(vocabulary(cfg), cfg.haystack_noise, cfg.seed)
    j = int(np.flatnonzero(np.isclose(r.length_ratio, 8.0))[0])
    n = int(r.lengths[j])
    docs = grid_documents(cfg, hay, n)[:2]  # the first two depths: the very documents the grid scored
    theta, attention, _ = toy_rope(cfg, scaling, n)

    toy.set_rope(model, theta, attention)
    acc, _, _ = score(model, docs, torch.device("cpu"))
    one_document = 100.0 / cfg.samples_per_cell
    assert np.all(np.abs(acc - r.heatmap[r.row(scaling), j, :2]) <= one_document + 1e-9)


def test_a_damaged_recorded_run_is_refused_naming_the_file(tmp_path):
    bad = tmp_path / "run"
    shutil.copytree(RECORDED, bad)
    cfg = json.loads((bad / "config.json").read_text())
    (bad / "config.json").write_text(json.dumps({**cfg, "warp_drive": 1}))
    with pytest.raises(LongContextError, match=r"config\.json: key 'warp_drive'"):
        run(Config(source="recorded", recorded_dir=str(bad)))
    (bad / "config.json").write_text(json.dumps(cfg))
    (bad / "arrays.npz").unlink()
    with pytest.raises(LongContextError, match=r"arrays\.npz: missing"):
        run(Config(source="recorded", recorded_dir=str(bad)))
    with pytest.raises(LongContextError, match="nothing: no such folder"):
        run(Config(source="recorded", recorded_dir=str(tmp_path / "nothing")))
    (bad / "result.json").unlink()
    os.mkfifo(bad / "result.json")  # reading it would block
    with pytest.raises(LongContextError, match=r"result\.json: not a regular file"):
        run(Config(source="recorded", recorded_dir=str(bad)))
    with pytest.raises(LongContextError, match="not a folder"):
        run(Config(source="recorded", recorded_dir=str(bad / "result.json")))
    with pytest.raises(LongContextError, match="not recorded"):
        load_model("teacher")
    assert Path(RECORDED).is_dir()


def test_extend_starts_from_the_recorded_base_and_redoes_only_the_extension(recorded):
    cfg = Config(source="extend", d_model=32, extend_factor=2, extend_steps=3, eval_lengths="1,2", n_depths=2, samples_per_cell=4)
    r = run(cfg, device="cpu")
    assert r.config.d_model == recorded.config.d_model and r.config.base_steps == recorded.config.base_steps  # the recorded base
    assert r.config.extend_factor == 2 and len(r.ultralong_answer_loss) == 3  # this Config's extension
    assert np.array_equal(r.base_answer_loss, recorded.base_answer_loss)
    assert r.short_accuracy("none") >= 90  # the trained base, not a fresh one
