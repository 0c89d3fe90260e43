"""Every registered panel, at 1280×800 after its default job, against its committed baseline PNG.

``pytest --update-screenshots`` rewrites the baselines; a mismatch writes ``failures/<id>-actual.png`` and
``failures/<id>-diff.png`` (differing pixels in red) next to this file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.screenshot import DEFAULT_SIZE, panel_image
from panels import PANELS
from tests.screenshots import compare

HERE = Path(__file__).resolve().parent
BASELINES = HERE / "baselines"
FAILURES = HERE / "failures"


@pytest.mark.parametrize("panel_id", [s.id for s in PANELS])
def test_panel_matches_its_baseline(qapp, panel_id, update_screenshots):
    actual = compare.to_array(panel_image(panel_id, DEFAULT_SIZE))
    assert actual.shape == (DEFAULT_SIZE[1], DEFAULT_SIZE[0], 4)
    assert actual[..., :3].std() > 5, "the panel rendered blank"
    baseline = BASELINES / f"{panel_id}.png"
    if update_screenshots:
        BASELINES.mkdir(exist_ok=True)
        compare.from_array(actual).save(str(baseline))
        pytest.skip(f"baseline rewritten: {baseline.name}")
    assert baseline.exists(), f"no baseline for {panel_id}: run `pytest tests/screenshots --update-screenshots`"
    expected = compare.load(baseline)
    assert expected.shape == actual.shape, f"size changed: {expected.shape} -> {actual.shape}"
    mask = compare.differing(actual, expected)
    allowed = int(compare.MAX_DIFFERING_FRACTION * mask.size)
    for stale in FAILURES.glob(f"{panel_id}-*.png"):  # pictures of an earlier failure would mislead
        stale.unlink()
    if mask.sum() > allowed:
        FAILURES.mkdir(exist_ok=True)
        compare.from_array(actual).save(str(FAILURES / f"{panel_id}-actual.png"))
        compare.from_array(compare.diff_image(actual, expected, mask)).save(str(FAILURES / f"{panel_id}-diff.png"))
    assert mask.sum() <= allowed, f"{int(mask.sum())} pixels differ (allowed {allowed}); see {FAILURES}"


def test_comparison_tolerates_noise_and_catches_real_change():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (200, 300, 4), dtype=np.uint8)
    noisy = np.clip(base.astype(int) + rng.integers(-20, 21, base.shape), 0, 255).astype(np.uint8)
    assert compare.differing(noisy, base).sum() == 0
    changed = base.copy()
    changed[50:60, 50:80, :3] = 255 - changed[50:60, 50:80, :3]
    mask = compare.differing(changed, base)
    assert mask.sum() > compare.MAX_DIFFERING_FRACTION * mask.size
    assert (compare.to_array(compare.from_array(base)) == base).all()
