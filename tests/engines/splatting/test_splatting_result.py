"""The Result's contract (headline, verdict, frozen snapshots) and the one S² rule shared by renderer and viewport."""

from __future__ import annotations

import numpy as np
import torch

from engines.splatting import TARGET, Config, ResortRule, ViewSorter, orbit_path, procedural_scene, stream
from engines.splatting.pipeline import Renderer
from engines.splatting.rasterizer import to_device


def test_headline_is_the_ratio_of_summed_work_and_the_verdict_follows_the_target():
    cfg = Config(scene="procedural", procedural_gaussians=3000, width=64, height=40, frames=3, method="rc", rc_k=2, rc_pos_step=0.0)
    snaps = list(stream(cfg, "cpu"))
    r = snaps[-1].result
    assert isinstance(r.config, Config) and r.frames_done == 3
    ratio = r.exact_evals.sum() / r.method_evals.sum()
    head = r.headline()
    assert np.isclose(head["work_ratio"].value, ratio) and np.isclose(r.details()["work_ratio"], ratio)
    assert np.isclose(head["psnr_mean_db"].value, np.mean(np.minimum(r.psnr_db, 100)))
    pays = ratio >= TARGET["work_ratio"].value and r.psnr_mean_db >= TARGET["psnr_mean_db"].value
    assert r.meets_target == pays and r.details()["meets_target"] == pays
    assert ("does not pay" in r.verdict()) == (not pays) and f"{ratio:.2f}×" in r.verdict()
    # every yielded result is a snapshot: growing the next frame left the earlier ones as they were
    done = [s.result.frames_done for s in snaps if s.result is not None]
    assert done == [1, 2, 3] and [int((s.result.exact_evals > 0).sum()) for s in snaps if s.result is not None] == done


def test_viewport_and_renderer_share_one_sort_rule():
    # the same camera sequence: the renderer re-sorts exactly where the viewport's sorter does, for a window and thresholds
    scene = procedural_scene(2000, seed=2)
    cams = orbit_path([0, 0, 0.7], 6.5, 2.0, 12, 33.0, 64, 40, 60, start_deg=-90)  # 3° per frame
    for window, angle in ((4, 90.0), (6, 5.0), (1, 90.0)):
        cfg = Config(scene="procedural", method="s2", s2_window=window, s2_max_angle_deg=angle, s2_max_translation=100.0)
        r = Renderer(to_device(scene, torch.device("cpu"), torch.float32), cfg)
        sorter = ViewSorter(scene)
        rule = ResortRule.from_config(cfg)
        renderer_sorts = [bool(r.render(c).info["s2_resort"]) for c in cams]
        viewport_sorts = [not sorter.sort(c, rule).reused for c in cams]
        assert renderer_sorts == viewport_sorts
        assert sum(renderer_sorts) == (12 if window == 1 else (6 if angle == 5.0 else 3))


def test_contention_worker_reports_every_frame_and_its_thread_policy():
    # the benchmark's worker (run in a subprocess by the bench, one per policy): frame times and the policy it ran under
    import torch

    from engines.splatting.contention import _stats, worker

    before = torch.get_num_threads()
    try:
        out = worker(1, 2, width=48, height=32)
    finally:
        torch.set_num_threads(before)
    assert len(out["frame_ms"]) == 2 and min(out["frame_ms"]) > 0
    assert out["threads"]["torch_threads"] == 1 and out["threads"]["OMP_WAIT_POLICY"]
    s = _stats([1.0, 2.0, 3.0, 10.0])
    assert s["median_ms"] == 2.5 and s["max_ms"] == 10.0 and 3.0 < s["p95_ms"] < 10.0
