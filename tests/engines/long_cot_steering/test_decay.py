"""Both decay laws are recovered from synthetic trajectories; the better-fitting law is the one that made the data."""

from __future__ import annotations

import numpy as np
import pytest

from engines.long_cot_steering.decay import PAPER_LOG, decay_part, exp_law, fit_both, fit_exp, fit_log, log_law


def test_log_fit_recovers_the_papers_parameters():
    t = np.arange(1, 60, dtype=float)
    y = log_law(t, **PAPER_LOG)
    fit = fit_log(t, y)
    assert fit.params["a"] == pytest.approx(0.17, abs=1e-4)
    assert fit.params["b"] == pytest.approx(0.033, abs=1e-4)
    assert fit.params["c"] == pytest.approx(-0.997, abs=1e-4)
    assert fit.rss < 1e-10


def test_log_fit_with_noise_and_positive_c():
    rng = np.random.default_rng(0)
    t = np.arange(1, 80, dtype=float)
    y = log_law(t, 1.2, 0.25, 3.0) + rng.normal(0, 1e-3, len(t))
    fit = fit_log(t, y)
    assert fit.params["a"] == pytest.approx(1.2, abs=0.03)
    assert fit.params["b"] == pytest.approx(0.25, abs=0.01)
    assert fit.params["c"] == pytest.approx(3.0, abs=0.3)
    assert fit.rmse == pytest.approx(1e-3, rel=0.3)  # the residual is the noise


def test_exp_fit_recovers_parameters():
    t = np.arange(1, 40, dtype=float)
    y = exp_law(t, 0.8, 6.0, 0.05)
    fit = fit_exp(t, y)
    assert fit.params["A"] == pytest.approx(0.8, rel=1e-3)
    assert fit.params["tau"] == pytest.approx(6.0, rel=1e-3)
    assert fit.params["B"] == pytest.approx(0.05, abs=1e-4)


@pytest.mark.parametrize("law", ["log", "exp"])
def test_the_generating_law_fits_better(law):
    rng = np.random.default_rng(1)
    t = np.arange(1, 50, dtype=float)
    y = log_law(t, **PAPER_LOG) if law == "log" else exp_law(t, 0.3, 4.0, 0.02)
    both = fit_both(t, y + rng.normal(0, 2e-4, len(t)))
    assert both["better"] == law
    assert both[law]["rss"] < both["exp" if law == "log" else "log"]["rss"]


def test_decay_part_starts_at_the_peak():
    y = np.array([0.0, 0.1, 0.5, 0.3, 0.2, np.nan, 0.1])
    t, tail, peak = decay_part(y)
    assert peak == 2
    np.testing.assert_array_equal(t, [1, 2, 3, 5])
    np.testing.assert_array_equal(tail, [0.5, 0.3, 0.2, 0.1])
