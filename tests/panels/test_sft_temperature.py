"""The sft_temperature panel: its advisor job beside a (tiny) recorded study draws every view from the result."""

from __future__ import annotations

import numpy as np
import pytest

from engines import sft_temperature as st
from engines.base import Snapshot
from panels.sft_temperature import SftTemperaturePanel

TINY = dict(mode="study", seeds=2, hidden_size=32, layers=1, heads=2, intermediate_size=64, base_prompts=8, sizes="1,2",
            sft_epochs=2.0, sft_batch=8, rl_steps=3, prompts_per_step=2, group_size=2, pool_size=8, eval_prompts=4, eval_samples=2,
            advisor_prompts=2, advisor_samples=2, advisor_max_new_tokens=8, max_new_tokens=12, temperatures="0.5,1.0,2.0")


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    from engines.recorded import write_provenance

    folder = tmp_path_factory.mktemp("study")
    st.run(st.Config(**TINY), device="cpu").save(folder)
    write_provenance(folder, "test", seeds=[0, 1])
    return folder


@pytest.fixture
def panel(build_panel):
    return build_panel(SftTemperaturePanel)


def test_advisor_job_beside_a_study_draws_every_view(panel, qtbot, study_dir):
    panel.set_config(st.Config(study_dir=str(study_dir), checkpoints="sft", temperatures="0.6,1.0,1.4", advisor_prompts=4,
                               advisor_samples=2, advisor_max_new_tokens=12))
    panel.run_job()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=240_000)
    r = panel.result
    sc = r.scaling()
    # scaling: base + prompts×2 on the prompts curve, base + responses×2 on the other, after SFT and after RL
    for (arm, when), series in panel.scaling.items():
        x, y = series.curve.getData()
        want = [o for o in sc["starts"] if o["arm"] in ("base", arm)]
        assert len(x) == 2 and np.allclose(sorted(y), sorted(o[when]["mean"] for o in want))
    # H_T: the recorded checkpoint's curve and the study's, the target line, the advised T
    curves = r.entropy_curves()
    assert [c["name"] for c in curves][0] == "recorded sft" and len(curves) == 2
    for band, c in zip(panel.entropy_curves, curves):
        assert np.allclose(band.curve.getData()[1], c["entropy"])
    assert panel.target_line.value() == pytest.approx(0.1)
    assert panel.advised_line.value() == pytest.approx(r.temperature()["advised_T"])
    # RL at three temperatures: every arm drawn at its steps
    for arm, c in r.rl_curves().items():
        assert np.allclose(panel.reward_bands[arm].curve.getData()[1], c["score"]["mean"])
        assert np.allclose(panel.arm_entropy_bands[arm].curve.getData()[1], c["entropy"]["mean"])
    # the vocabulary tab: ln V and the Gaussian/Zipf curves
    assert np.allclose(panel.vocab_curves["max"].getData()[1], r.vocab["max_entropy"])
    head = panel.headline.text()
    assert "(paper: 0.85)" in head and "(paper: 0.3 nats)" in head
    assert str(r.headline()["advised_T"]) in head


def test_a_result_without_a_study_says_how_to_make_one(panel):
    r = st.Result(st.Config(), vocab=st.vocab_scaling(vocabs=(50, 500), temperatures=(1.0,)))
    panel.show_snapshot(Snapshot(1.0, "", r))
    assert "record sft_temperature" in panel.scaling_empty.toPlainText()
    assert len(panel.scaling[("prompts", "sft")].curve.getData()[0] or []) == 0
