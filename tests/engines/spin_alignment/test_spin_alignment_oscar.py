"""OSCAR files: lossless round trips in all three flavours, SMASH's own layout, the same analysis as the Monte Carlo
(a Result like the model's), reasons in words where a file has no pairs, and clear errors for bad input."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

from engines.spin_alignment import FORMATS, Config, OscarError, Result, analyse_events, read_oscar, run, simulate_events, write_oscar
from tests.engines.spin_alignment.smash_layout import hadron_gas, merge, write_smash


@pytest.fixture(scope="module")
def lists():
    return simulate_events(Config(seed=21), 400)


def _same_lists(a, b, columns):
    assert np.array_equal(a.event, b.event)
    assert np.array_equal(a.impact, b.impact)
    assert np.array_equal(a.list_event, b.list_event) and np.array_equal(a.list_ensemble, b.list_ensemble)
    for name in columns:
        assert np.array_equal(a.data[name], b.data[name]), name
        assert a.data[name].dtype == b.data[name].dtype, name


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_is_lossless_in_every_flavour(lists, tmp_path, fmt):
    path = write_oscar(tmp_path / "particle_lists.oscar", lists, fmt)
    back = read_oscar(path)
    assert back.format == fmt and back.path == str(path)
    _same_lists(back, lists, back.columns)
    if fmt == "OSCAR2013Extended":
        assert back.columns == lists.columns
        a, b = analyse_events(back), analyse_events(lists)
        assert np.array_equal(a.rho00_moment, b.rho00_moment, equal_nan=True) and np.array_equal(a.hist, b.hist)


def test_the_file_result_is_a_result_with_summary_and_save(lists, tmp_path):
    path = write_oscar(tmp_path / "events.oscar", lists)
    res = run(Config(oscar=str(path)), device="cpu")
    assert isinstance(res, Result) and isinstance(res.config, Config) and res.source.name == "events.oscar"
    s = res.summary()
    assert s["source"]["format"] == "OSCAR2013Extended" and s["source"]["events"] == lists.n_events
    assert set(s["headline"]) == set(s["paper"]) and all("events.oscar" in f["what"] for f in s["headline"].values())
    for i, m in enumerate(("kstar0", "phi", "rho0")):
        n = res.source.accepted[i]
        assert n > 50 and s["rho00"][m]["helicity"]["n"] == n and s["source"]["mesons"][m]["why_no_pairs"] == ""
        assert np.isfinite(res.delta_rho00[i]).all()
    out = res.save(tmp_path / "out")
    assert (out / "result.json").exists() and (out / "rho00.csv").exists() and (out / "cos_theta_histograms.png").exists()
    assert "events.oscar" in repr(res)


def test_smash_layout_with_a_hadron_gas_background_reads_and_analyses(tmp_path):
    """SMASH 3's printf layout (ensemble numbers, %g / %.9g, the version line), decays among other particles."""
    decays = simulate_events(Config(seed=3), 300)
    both = merge(decays, hadron_gas(decays.n_lists, 40, seed=1))
    path = write_smash(tmp_path / "particle_lists.oscar", both)
    text = path.read_text()
    assert "# event 0 ensemble 0 out" in text and "# SMASH-3.1" in text and "scattering_projectile_target yes" in text
    back = read_oscar(path)
    assert back.n_events == decays.n_lists and len(back) == len(both)
    res = analyse_events(back)
    ref = analyse_events(decays)
    assert res.source.pairs == ref.source.pairs  # the background adds no pair
    # %.9g momenta: the same ρ00 to far below its error
    assert np.allclose(res.rho00_moment[..., 0], ref.rho00_moment[..., 0], atol=1e-6)


def test_a_file_without_those_decays_says_why_in_words(tmp_path):
    res = analyse_events(read_oscar(write_smash(tmp_path / "gas.oscar", hadron_gas(12, 60, seed=2))))
    for i, label in enumerate(("K*0", "φ", "ρ0")):
        assert res.source.accepted[i] == 0 and res.counts[i] == 0
        why = res.source.reasons[i]
        assert why.startswith(f"no {label} decays recorded") and "12 events" in why and "720 particles" in why
    assert "charged kaons and" in res.source.reasons[0] and "charged pions" in res.source.reasons[2]
    assert res.summary()["headline"]["delta_rho00_kstar0_reaction_plane"]["value"] is None  # JSON null, never NaN


def test_a_file_without_parent_columns_says_so(lists, tmp_path):
    res = analyse_events(read_oscar(write_oscar(tmp_path / "plain.oscar", lists, "OSCAR2013")))
    assert not res.source.has_parents
    assert all(r.startswith("no parent columns: this OSCAR2013 file lists no proc_id_origin") for r in res.source.reasons)
    assert f"{lists.n_events} events" in res.source.reasons[0]


def test_pairs_outside_the_acceptance_are_explained(lists, tmp_path):
    res = analyse_events(lists, Config(pt_min=9.0, pt_max=10.0))
    assert res.source.accepted == (0, 0, 0) and res.source.pairs[0] > 0
    assert "none inside the acceptance" in res.source.reasons[0] and "9 ≤ pT < 10 GeV" in res.source.reasons[0]


def test_absorbed_daughters_are_not_reconstructed(lists):
    absorbed = lists.data["ncoll"] > 0
    assert absorbed.any() and (~absorbed).any()
    res = analyse_events(lists)
    assert 2 * sum(res.source.accepted) <= int((~absorbed).sum())  # every reconstructed pair has two unscattered daughters


def test_file_analysis_sees_the_intrinsic_alignment():
    """One real decay per resonance, drawn from W(cosθ) with ρ00 = 0.45 in the helicity frame, no rescattering."""
    lists = simulate_events(Config(rescattering=False, intrinsic_rho00=0.45, intrinsic_frame="helicity", seed=5), 6000)
    res = analyse_events(lists)
    for i in range(3):
        for arr in (res.rho00_moment, res.rho00_fit):
            v, e = arr[i, 2]
            assert abs(v - 0.45) < 3 * e


def test_only_the_final_list_of_each_event_is_analysed(lists, tmp_path):
    """SMASH with Only_Final: No writes the initial and intermediate lists too: the decays are counted once."""
    path = write_oscar(tmp_path / "one.oscar", lists)
    text = path.read_text().splitlines()
    doubled = [text[0], text[1]]
    for line in text[2:]:
        if line.startswith("# event") and " end " in line:
            continue
        doubled.append(line)
    # write every event's block twice (an intermediate and a final list), then the end lines
    blocks, cur = [], None
    for line in doubled[2:]:
        if line.startswith("# event"):
            cur = [line]
            blocks.append(cur)
        elif cur is not None:
            cur.append(line)
    out = doubled[:2]
    for k, block in enumerate(blocks):
        out += block + block + [f"# event {k} ensemble 0 end 0 impact 1.0 scattering_projectile_target yes"]
    twice = tmp_path / "twice.oscar"
    twice.write_text("\n".join(out) + "\n")
    back = read_oscar(twice)
    assert back.n_lists == 2 * lists.n_lists and back.n_events == lists.n_events and back.final.sum() == lists.n_events
    assert analyse_events(back).source.pairs == analyse_events(lists).source.pairs


def test_intrinsic_alignment_in_each_frame_cannot_be_written_as_real_decays():
    with pytest.raises(ValueError, match="intrinsic_frame"):
        simulate_events(Config(intrinsic_rho00=0.4), 10)


HEADER = "#!OSCAR2013 particle_lists t x y z mass p0 px py pz pdg ID charge\n# Units: fm fm fm fm GeV GeV GeV GeV GeV none none e\n"
ROW = "1 0 0 0 0.138 0.2 0.1 0.1 0.1 211 0 1\n"
ROW99 = "0 211 0 0.1 0.1 0.1 0.2 0.138 0 0 0 1\n"


def _write(tmp_path, text, name="f.oscar"):
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def test_reads_plain_oscar2013_and_osc1999a(tmp_path):
    p = _write(tmp_path, HEADER + "# event 0 out 2\n" + ROW + ROW + "# event 0 end 0 impact 3.5 scattering_projectile_target yes\n")
    pl = read_oscar(p)
    assert pl.format == "OSCAR2013" and len(pl) == 2 and pl.impact[0] == 3.5
    assert pl.data["pdg"].tolist() == [211, 211] and pl.data["pdg"].dtype == np.int64
    text = "# OSC1999A\n# final_id_p_x\n# smash\n#\n0 2 1\n" + ROW99 * 2 + "0 0 1\n"
    pl = read_oscar(_write(tmp_path, text, "g.oscar"))
    assert pl.format == "OSC1999A" and len(pl) == 2 and pl.data["p0"].tolist() == [0.2, 0.2]


def test_reads_smash_files_with_ensemble_numbers_and_smash1_null_lines(tmp_path):
    """SMASH >= 2 writes '# event N ensemble E out M' and OSC1999A blocks 'n_in n_out event ensemble' closed by
    '0 0 event ensemble impact'; SMASH 1 closes with '0 0 event impact'; the same particles read the same."""
    old = read_oscar(_write(tmp_path, HEADER + "# event 0 out 2\n" + ROW + ROW
                            + "# event 0 end 0 impact 3.5 scattering_projectile_target yes\n"))
    new = read_oscar(_write(tmp_path, HEADER + "# SMASH-3.2\n# event 0 ensemble 0 out 2\n" + ROW + ROW
                            + "# event 0 ensemble 0 end 0 impact   3.500 scattering_projectile_target yes\n", "new.oscar"))
    assert new.n_events == 1 and new.impact.tolist() == [3.5]
    for name, col in old.data.items():
        assert np.array_equal(new.data[name], col), name
    text = ("# OSC1999A\n# final_id_p_x\n# SMASH-3.2\n# Block format:\n# nin nout event_number ensemble_number\n#\n"
            "2 0 0 0\n" + ROW99 * 2 + "0 0 0 0   7.250\n" + "1 0 1 0\n" + ROW99 + "0 0 1 0   1.000\n")
    pl = read_oscar(_write(tmp_path, text, "smash.oscar1999"))
    assert pl.format == "OSC1999A" and pl.n_events == 2 and len(pl) == 3
    assert pl.impact.tolist() == [7.25, 1.0] and pl.event.tolist() == [0, 0, 1]
    smash1 = read_oscar(_write(tmp_path, "# OSC1999A\n# final_id_p_x\n2 0 4\n" + ROW99 * 2 + "0 0 4   6.125\n", "smash1.oscar1999"))
    assert smash1.impact.tolist() == [6.125] and smash1.list_event.tolist() == [4] and smash1.list_ensemble.tolist() == [0]


def test_a_byte_order_mark_and_crlf_line_ends_are_accepted(tmp_path):
    text = HEADER + "# event 0 out 2\n" + ROW + ROW + "# event 0 end 0 impact 3.5\n"
    plain = read_oscar(_write(tmp_path, text))
    quirky = read_oscar(_write(tmp_path, b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode(), "bom.oscar"))
    for name, col in plain.data.items():
        assert np.array_equal(quirky.data[name], col)


def test_an_event_end_without_particles_is_an_empty_event(tmp_path):
    """SMASH with Only_Final: IfNotEmpty writes only the end line of an event without collisions."""
    pl = read_oscar(_write(tmp_path, HEADER + "# event 0 out 1\n" + ROW + "# event 0 end 0 impact 3.5\n"
                           + "# event 1 ensemble 0 end 0 impact  14.000 scattering_projectile_target no\n"))
    assert pl.n_events == 2 and pl.n_lists == 2 and len(pl) == 1 and pl.impact.tolist() == [3.5, 14.0]


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("#!OSCAR2000 particle_lists t x\n", 1, "expected"),
        ("hello\n", 1, "expected an OSCAR header"),
        ("#!OSCAR2013 full_event_history t x y z mass p0 px py pz pdg ID charge\n", 1, "expected '#!OSCAR2013 particle_lists'"),
        ("#!OSCAR2013 particle_lists t x y z\n", 1, "lacks the columns"),
        ("#!OSCAR2013 particle_lists t x y z mass p0 px py pz pdg ID charge px\n", 1, "names the column px twice"),
        (HEADER + "# event 0 out 2\n" + ROW + "1 0 0 0 0.138 0.2\n", 5, "expected 12 columns"),
        (HEADER + "# event 0 out 1\n" + "1 0 0 0 0.138 abc 0.1 0.1 0.1 211 0 1\n", 4, "column 'p0': expected a number, got 'abc'"),
        (HEADER + "# event 0 out 1\n" + "1 0 0 0 0.138 nan 0.1 0.1 0.1 211 0 1\n", 4, "column 'p0': 'nan' is not a finite number"),
        (HEADER + "# event 0 out 1\n" + "1 0 0 0 0.138 0.2 1e999 0.1 0.1 211 0 1\n", 4, "column 'px': '1e999' is not a finite"),
        (HEADER + "# event 0 out 1\n" + "1 0 0 0 0.138 0.2 0.1 0.1 0.1 211.5 0 1\n", 4, "column 'pdg': expected an integer, got '211.5'"),
        (HEADER + "# event 0 out 1\n" + "1 0 0 0 0.138 0.2 0.1 0.1 0.1 2e2 0 1\n", 4, "column 'pdg': expected an integer"),
        (HEADER + "# event 0 out 1\n" + "1 0 0 0 0.138 0.1 0.3 0.0 0.0 211 0 1\n", 4, "p0 = 0.1 GeV with |p| = 0.3 GeV"),
        (HEADER + "# event 0 out 1\n" + "1 0 0 0 0.138 -0.2 0.0 0.0 0.0 211 0 1\n", 4, "must have p0 > 0"),
        (HEADER + "# event 0 out 1\n" + "1 0 0 0 0.138 1e300 0.1 0.1 0.1 211 0 1\n", 4, "beyond 1e+06 GeV"),
        (HEADER + "# event 0 out 3\n" + ROW + ROW + "# event 0 end 0 impact 1.0\n", 6, "event 0 truncated: expected 3"),
        (HEADER + "# event 0 out 3\n" + ROW, 4, "event 0 truncated"),
        (HEADER + "# event 0 out x\n", 3, "particle count: expected an integer"),
        (HEADER + "# event 0 out -3\n", 3, "particle count: -3 is out of range"),
        (HEADER + "# event -1 out 0\n", 3, "event number: -1 is out of range"),
        (HEADER + "# event 0 ensemble 0 out x\n", 3, "particle count: expected an integer"),
        (HEADER + "# event 0 ensemble 0 out 2\n" + ROW, 4, "event 0 truncated: expected 2"),
        (HEADER + "# event 0 out 1 2\n", 3, "expected '# event N [ensemble E] out M'"),
        (HEADER + "# event 0 sideways 1\n", 3, "expected '# event N [ensemble E] out M' or"),
        (HEADER + "# event 0 out 0\n# event 0 end 0 impact 1\n# event 0 end 0 impact 1\n", 5, "ends a second time (first on line 4)"),
        (HEADER + "# event 0 end 0 impact 1\n# event 0 out 1\n" + ROW, 4, "after that event's end on line 3"),
        (HEADER + "# event 0 out 0\n# event 0 end 0 impact nan\n", 4, "impact parameter: 'nan' is not a finite number"),
        (HEADER + "# event 0 out 0\n# event 0 end 0 impact -2\n", 4, "impact parameter: -2 is out of range"),
        (HEADER + ROW, 3, "expected an event header"),
        ("# OSC1999A\n2 0 0 0\n" + ROW99 + "0 0 0 0 3.0\n", 4, "event 0 truncated"),
        ("# OSC1999A\n0 2 1 x\n", 2, "ensemble number: expected an integer"),
        ("# OSC1999A\n0 -2 1\n", 2, "n_out: -2 is out of range"),
        ("# OSC1999A\n2 2 1\n", 2, "is a collision history"),
        ("# OSC1999A\n0 2 1 0 5\n", 2, "a block line has 3 or 4 fields"),
        ("# OSC1999A\n0 2 1\n" + ROW99, 3, "event 1 truncated"),
        ("# OSC1999A\n0 1 1\n" + "0 211 0 0.1 0.1 0.1 0.2 0.138 0 0\n", 3, "expected 12 columns"),
        ("# OSC1999A\n0 1 1\n" + "0 211.9 0 0.1 0.1 0.1 0.2 0.138 0 0 0 1\n", 3, "column 'pdg': expected an integer"),
        ("# OSC1999A\n0 1 1\n" + "0 211 0 0.3 0.1 0.1 0.2 0.138 0 0 0 1\n", 3, "a particle must have p0 > 0 and p0 ≥ |p|"),
        ("# OSC1999A\n0 1 1\n" + ROW99 + "0 0 1 0 -1.0\n", 4, "impact parameter: -1 is out of range"),
    ],
)
def test_bad_files_name_file_line_and_expectation(tmp_path, text, line, message):
    p = _write(tmp_path, text)
    with pytest.raises(OscarError) as err:
        read_oscar(p)
    assert str(err.value).startswith(f"{p}:{line}: "), str(err.value)
    assert message in str(err.value)


@pytest.mark.parametrize("content, message", [
    (b"#!OSCAR2013 particle_lists t x y z mass p0 px py pz pdg ID charge\n\xff\xfe\x00garbage", "not UTF-8 text"),
    (b"#!OSCAR2013 particle_lists\x00\x00", "a NUL byte: this is a binary file"),
    (b"", "found an empty file"),
])
def test_binary_and_empty_files_are_refused_by_name(tmp_path, content, message):
    p = _write(tmp_path, content)
    with pytest.raises(OscarError, match=re.escape(message)) as err:
        read_oscar(p)
    assert str(err.value).startswith(str(p))


def test_special_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.oscar"
    os.mkfifo(fifo)
    with pytest.raises(OscarError, match="not a regular file"):
        read_oscar(fifo)
    with pytest.raises(OscarError, match="is a folder"):
        read_oscar(tmp_path)
    with pytest.raises(OscarError, match="no such file"):
        run(Config(oscar=str(tmp_path / "missing.oscar")), device="cpu")
    with pytest.raises(OscarError, match="not a regular file"):
        read_oscar("/dev/zero")


def test_config_refuses_bad_values():
    with pytest.raises(ValueError, match="centrality_max"):
        Config(centrality_min=60.0, centrality_max=20.0)
    with pytest.raises(ValueError, match="energy"):
        Config(energy=100.0)
    with pytest.raises(ValueError, match="tau_kin"):
        Config(tau_kin=5.0)
    with pytest.raises(ValueError, match="oscar: not a file path"):
        Config(oscar="a\x00b")


@pytest.mark.parametrize("fields, field", [
    (dict(n_resonances=50_000_000), "n_resonances"), (dict(scan_resonances=10**7), "scan_resonances"),
    (dict(chunk_size=4_000_000), "chunk_size"), (dict(n_bins=10_000), "n_bins"), (dict(quad_nodes=1000), "quad_nodes"),
    (dict(map_bins=4096), "map_bins"), (dict(resonances_per_event=10**6), "resonances_per_event"),
    (dict(n_resonances=10_000_000, quad_nodes=64), "n_resonances"),  # each within bounds, together minutes too many
    (dict(scan="energy", scan_resonances=2_000_000), "n_resonances"), (dict(sigma_pion=float("inf")), "sigma_pion"),
    (dict(tau_kin=1e300, tau_chem=1e-300), "tau_"),
])
def test_every_size_is_bounded_so_a_job_finishes_in_minutes(fields, field):
    with pytest.raises(ValueError, match=f"^{field}"):
        Config(**fields)


def test_the_largest_allowed_job_is_at_the_work_limit():
    from engines.spin_alignment.config import MAX_WORK

    assert Config(n_resonances=10_000_000).work() == MAX_WORK
    assert Config(oscar="particle_lists.oscar", n_resonances=10_000_000, quad_nodes=128).oscar  # a file: no Monte Carlo to bound


def test_a_block_parsed_in_slices_reads_the_same_and_names_the_right_line(tmp_path):
    """Huge blocks are parsed a slice of rows at a time (bounded memory): same values, errors on the right line."""
    from engines.spin_alignment.oscar import BASE_COLUMNS, _parse_block

    rows = [(10 + k, f"{k} 0 0 0 0.138 {0.2 + k} 0.1 0.1 0.1 211 {k} 1") for k in range(20)]
    whole, sliced = _parse_block("f.oscar", rows, BASE_COLUMNS), _parse_block("f.oscar", rows, BASE_COLUMNS, slice_rows=7)
    for c in BASE_COLUMNS:
        assert np.array_equal(whole[c], sliced[c]) and whole[c].dtype == sliced[c].dtype
    rows[17] = (27, "1 0 0 0 0.138 0.2 0.1 0.1 0.1 211.5 0 1")
    with pytest.raises(OscarError, match=r"^f\.oscar:27: column 'pdg'"):
        _parse_block("f.oscar", rows, BASE_COLUMNS, slice_rows=7)
