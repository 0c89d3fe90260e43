"""The video preview panel: a quick job through the runner draws videos, masks, schedule, EA, front; Export adds GIFs."""

import numpy as np
import pytest

from engines.video_dit import Config
from panels.video_preview import VideoPreviewPanel

QUICK = dict(steps=8, n_videos=2, population=3, generations=1, search_videos=1, front_budgets="0.5")


@pytest.fixture
def panel(build_panel):
    return build_panel(VideoPreviewPanel)


def test_quick_job_draws_every_view(panel, qtbot, tmp_path):
    panel.set_config(Config(**QUICK))
    assert panel.run_job() is not None
    qtbot.waitUntil(lambda: panel.result is not None, timeout=300_000)
    r = panel.result
    # three videos side by side: full, ASTRAEA, the best baseline, each showing the result's frame
    assert r.best_baseline() in ("uniform", "fewer_steps", "random_tokens", "step_cache")
    np.testing.assert_array_equal(panel.video_views["full"].image.image, np.clip(r.videos["full"][0], -1, 1))
    np.testing.assert_array_equal(panel.video_views["baseline"].image.image, np.clip(r.videos[r.best_baseline()][0], -1, 1))
    # the overlay is the mask of the chosen step on the frame shown, upsampled to pixels
    panel.mask_step.setValue(3)
    overlay = panel.video_views["astraea"].overlay.image
    g, p = r.grid, r.patch
    expected = np.kron(r.masks[3].reshape(-1, g, g)[0], np.ones((p, p), bool))
    np.testing.assert_array_equal(overlay[..., 3] > 0, expected)
    assert 0 < expected.mean() < 1
    panel.player.set_frame(1)
    np.testing.assert_array_equal(panel.video_views["astraea"].image.image, np.clip(r.videos["astraea"][1], -1, 1))
    # PSNR per frame, schedule, EA fitness and the front come from the result
    x, y = panel.frame_curves["astraea"].getData()
    np.testing.assert_allclose(y, r.psnr_frames["astraea"])
    np.testing.assert_allclose(panel.sched_best.getData()[1], r.search["best_schedule"])
    assert len(panel.ea_best.getData()[1]) == QUICK["generations"] + 1
    b, _, psnr = r.front_of("fewer_steps")
    np.testing.assert_allclose(panel.front_curves["fewer_steps"].getData()[1], psnr)
    head = panel.headline.text()
    assert f"{r.methods['astraea']['psnr_db']:.1f}" in head and "1.86" in head and "speed-ups: hover" in head
    assert "×" in panel.headline.toolTip()
    out = panel.export(tmp_path / "exp")
    for name in ("full", "astraea", "fewer_steps"):
        assert (out / "videos" / f"{name}.gif").stat().st_size > 100
    assert (out / "result.json").exists() and (out / "front.csv").exists()
