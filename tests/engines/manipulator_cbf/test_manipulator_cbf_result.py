"""The result's contract shape: headline beside the paper's figures, the stream's parts, what the panel reads."""

import numpy as np
import pytest

from engines.manipulator_cbf import CONTROLLERS, MILLI, Config, Result, run, stream

SMALL = dict(duration=1.5, sweep_points=2, backend_samples=6, mc_scenarios=6, mc_duration=0.3)


@pytest.fixture(scope="module")
def snaps():
    return list(stream(Config(**SMALL), device="cpu"))


def test_each_part_is_named_once_and_the_last_is_final(snaps):
    with_result = [s for s in snaps if s.result is not None]
    # the final snapshot names nothing: a receiver that skipped some (or draws only the last) redraws everything
    assert [sorted(s.changed) for s in with_result] == [["episodes"], ["backends"], ["sweep"], []]
    assert with_result[-1] is snaps[-1] and snaps[-1].progress == 1.0
    # every yielded result is its own object: later parts never reach an earlier snapshot
    assert len({id(s.result) for s in with_result}) == 4
    assert with_result[0].result.sweep_ns.size == 0 and with_result[0].result.backends == {}
    assert with_result[1].result.backends and with_result[1].result.mc_min_h.shape == (3, 0)
    assert with_result[3].result.mc_min_h.shape == (3, 6)


def test_without_optional_parts_the_episodes_are_final():
    snaps = list(stream(Config(duration=0.5, sweep_points=0, backend_samples=0, mc_scenarios=0), device="cpu"))
    final = [s for s in snaps if s.result is not None]
    assert len(final) == 1 and final[0].progress == 1.0 and final[0].changed == frozenset()


def test_headline_is_the_controllers_min_h_in_thousandths_and_unsafe_steps(snaps):
    r = snaps[-1].result
    s = r.summary()
    head = r.headline()
    for c in ("adaptive", "fixed_gain"):
        assert head[f"{c}_min_h"].value == pytest.approx(MILLI * s["controllers"][c]["min_h"])
        assert head[f"{c}_min_h"].unit == "mm"
        assert head[f"{c}_unsafe_steps"].value == s["controllers"][c]["violations"]
    assert set(s["paper"]) == set(Result.PAPER) and "adaptive_unsafe_steps" in head
    assert s["paper"]["adaptive_unsafe_steps"]["value"] == 0
    assert s["paper"]["impulse_ns"]["value"] == Config().impulse_ns
    assert "claim holds" in r.verdict() and ("does not hold" in r.verdict()) != r.claim_holds()
    assert "adaptive-gain CBF: unsafe steps" in repr(r)


def test_series_and_histograms_the_views_draw(snaps):
    r = snaps[-1].result
    np.testing.assert_array_equal(r.min_h_series(), r.h.min(axis=2))
    k = int(np.argmin(r.min_h_series()[CONTROLLERS.index("fixed_gain")]))
    assert r.deepest_t("fixed_gain") == r.t[k]
    edges, counts = r.mc_histogram(bins=10)
    assert edges.shape == (11,) and counts.shape == (3, 10) and (counts.sum(axis=1) == 6).all()


@pytest.mark.parametrize("changes, unit", [(dict(), "mm"), (dict(barrier="circle", obstacle_x=1.5, obstacle_y=-0.75, obstacle_r=0.12),
                                                              "10⁻³ m²"),
                                           (dict(barrier="floor+circle", joint_limits=True), "10⁻³ (m | m² | rad)")])
def test_milli_unit_names_the_barriers_units(changes, unit):
    r = run(Config(duration=0.05, impulse_mode="none", sweep_points=0, backend_samples=0, mc_scenarios=0, **changes), device="cpu")
    assert r.min_h_milli_unit() == unit and r.headline()["adaptive_min_h"].unit == unit
