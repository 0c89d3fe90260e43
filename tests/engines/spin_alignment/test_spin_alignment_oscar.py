"""OSCAR files: a lossless round trip, the same analysis as the Monte Carlo, and clear errors for bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest

from engines.spin_alignment import Config, OscarError, analyse_events, read_oscar, stream_file, write_oscar2013_extended
from engines.spin_alignment.events import simulate_events


@pytest.fixture(scope="module")
def lists():
    return simulate_events(Config(seed=21), 400)


def test_round_trip_is_lossless(lists, tmp_path):
    path = write_oscar2013_extended(tmp_path / "particle_lists.oscar", lists)
    back = read_oscar(path)
    assert back.format == "OSCAR2013Extended"
    assert np.array_equal(back.event, lists.event)
    assert np.array_equal(back.impact, lists.impact)
    for name, col in lists.data.items():
        assert np.array_equal(back.data[name], col), name
    assert analyse_events(back) == analyse_events(lists)


def test_absorbed_daughters_are_not_reconstructed(lists):
    d = lists.data
    absorbed = d["ncoll"] > 0
    assert absorbed.any() and (~absorbed).any()
    a = analyse_events(lists)
    n_decays_kept = sum(v["reaction_plane"]["n"] for v in a.values())
    # every reconstructed pair has two unscattered daughters
    assert 2 * n_decays_kept <= int((~absorbed).sum())


def test_file_analysis_sees_the_intrinsic_alignment():
    """One real decay per resonance, drawn from W(cosθ) with ρ00 = 0.45 in the helicity frame, no rescattering."""
    lists = simulate_events(Config(rescattering=False, intrinsic_rho00=0.45, intrinsic_frame="helicity", seed=5), 6000)
    a = analyse_events(lists)
    for meson in ("kstar0", "phi", "rho0"):
        e = a[meson]["helicity"]
        assert abs(e["value"] - 0.45) < 3 * e["error"]
        assert abs(e["fit_value"] - 0.45) < 3 * e["fit_error"]


def test_intrinsic_alignment_in_each_frame_cannot_be_written_as_real_decays():
    with pytest.raises(ValueError, match="intrinsic_frame"):
        simulate_events(Config(intrinsic_rho00=0.4), 10)


HEADER = "#!OSCAR2013 particle_lists t x y z mass p0 px py pz pdg ID charge\n# Units: fm fm fm fm GeV GeV GeV GeV GeV none none e\n"
ROW = "1 0 0 0 0.138 0.2 0.1 0.1 0.1 211 0 1\n"


def _write(tmp_path, text, name="f.oscar"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_reads_plain_oscar2013_and_osc1999a(tmp_path):
    p = _write(tmp_path, HEADER + "# event 0 out 2\n" + ROW + ROW + "# event 0 end 0 impact 3.5 scattering_projectile_target yes\n")
    pl = read_oscar(p)
    assert pl.format == "OSCAR2013" and len(pl) == 2 and pl.impact[0] == 3.5
    assert pl.data["pdg"].tolist() == [211, 211]
    with pytest.raises(OscarError, match="Extended"):
        analyse_events(pl)
    with pytest.raises(OscarError, match=f"^{re.escape(str(p))}: OSCAR2013: parent identification needs the OSCAR2013 Extended columns"):
        list(stream_file(p, device="cpu"))
    text = "# OSC1999A\n# final_id_p_x\n# smash\n#\n0 2 1\n" + "0 211 0 0.1 0.1 0.1 0.2 0.138 0 0 0 1\n" * 2 + "0 0 1\n"
    pl = read_oscar(_write(tmp_path, text, "g.oscar"))
    assert pl.format == "OSC1999A" and len(pl) == 2 and pl.data["p0"].tolist() == [0.2, 0.2]


def test_reads_smash_files_with_ensemble_numbers(tmp_path):
    """SMASH >= 2 writes '# event N ensemble E out M' and OSC1999A blocks 'n_in n_out event ensemble' closed by
    '0 0 event ensemble impact'; the same particles read the same as without the ensemble."""
    old = read_oscar(_write(tmp_path, HEADER + "# event 0 out 2\n" + ROW + ROW
                            + "# event 0 end 0 impact 3.5 scattering_projectile_target yes\n"))
    new = read_oscar(_write(tmp_path, HEADER + "# SMASH-3.2\n# event 0 ensemble 0 out 2\n" + ROW + ROW
                            + "# event 0 ensemble 0 end 0 impact   3.500 scattering_projectile_target yes\n", "new.oscar"))
    assert new.n_events == 1 and new.impact.tolist() == [3.5]
    for name, col in old.data.items():
        assert np.array_equal(new.data[name], col), name
    row = "0 211 0 0.1 0.1 0.1 0.2 0.138 0 0 0 1\n"
    text = ("# OSC1999A\n# final_id_p_x\n# SMASH-3.2\n# Block format:\n# nin nout event_number ensemble_number\n#\n"
            "2 0 0 0\n" + row * 2 + "0 0 0 0   7.250\n" + "1 0 1 0\n" + row + "0 0 1 0   1.000\n")
    pl = read_oscar(_write(tmp_path, text, "smash.oscar1999"))
    assert pl.format == "OSC1999A" and pl.n_events == 2 and len(pl) == 3
    assert pl.impact.tolist() == [7.25, 1.0] and pl.event.tolist() == [0, 0, 1]


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("#!OSCAR2000 particle_lists t x\n", 1, "expected"),
        ("hello\n", 1, "expected an OSCAR header"),
        ("#!OSCAR2013 particle_lists t x y z\n", 1, "lacks the columns"),
        (HEADER + "# event 0 out 2\n" + ROW + "1 0 0 0 0.138 0.2\n", 5, "expected 12 columns"),
        (HEADER + "# event 0 out 1\n" + "1 0 0 0 0.138 abc 0.1 0.1 0.1 211 0 1\n", 4, "column 'p0': cannot read 'abc'"),
        (HEADER + "# event 0 out 3\n" + ROW + ROW + "# event 0 end 0 impact 1.0\n", 6, "event 0 truncated: expected 3"),
        (HEADER + "# event 0 out 3\n" + ROW, 4, "event 0 truncated"),
        (HEADER + "# event 0 out x\n", 3, "integers"),
        (HEADER + "# event 0 ensemble 0 out x\n", 3, "integers"),
        (HEADER + "# event 0 ensemble 0 out 2\n" + ROW, 4, "event 0 truncated: expected 2"),
        ("# OSC1999A\n2 0 0 0\n" + "0 211 0 0.1 0.1 0.1 0.2 0.138 0 0 0 1\n" + "0 0 0 0 3.0\n", 4, "event 0 truncated"),
        ("# OSC1999A\n0 2 1 x\n", 2, "expected an event line"),
        ("# OSC1999A\n0 2 1\n" + "0 211 0 0.1 0.1 0.1 0.2 0.138 0 0 0 1\n", 3, "event 1 truncated"),
        ("# OSC1999A\n0 1 1\n" + "0 211 0 0.1 0.1 0.1 0.2 0.138 0 0\n", 3, "expected 12 columns"),
    ],
)
def test_bad_files_name_file_line_and_expectation(tmp_path, text, line, message):
    p = _write(tmp_path, text)
    with pytest.raises(OscarError) as err:
        read_oscar(p)
    assert f"{p}:{line}:" in str(err.value)
    assert message in str(err.value)


def test_config_refuses_bad_values():
    with pytest.raises(ValueError, match="centrality_max"):
        Config(centrality_min=60.0, centrality_max=20.0)
    with pytest.raises(ValueError, match="energy"):
        Config(energy=100.0)
    with pytest.raises(ValueError, match="tau_kin"):
        Config(tau_kin=5.0)
