"""Property-based tests of the OSCAR readers (all three flavours): valid particle lists round-trip exactly; random and
mutated files either raise OscarError or give finite, checked data that the analysis turns into a Result without NaN
where it reports pairs. Examples are bounded by the hypothesis profile in tests/conftest.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.spin_alignment import FORMATS, Config, OscarError, ParticleLists, analyse_events, read_oscar, write_oscar
from engines.spin_alignment.oscar import EXTENDED_COLUMNS, INT_COLUMNS, MAX_MOMENTUM

finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
momentum = st.floats(-50.0, 50.0, allow_nan=False, allow_infinity=False)
mass = st.floats(0.0, 5.0, allow_nan=False, allow_infinity=False)
integer = st.integers(-(10**12), 10**12)
# daughters and parents that the decay reconstruction looks for, often enough to form pairs
pdg = st.one_of(st.sampled_from([211, -211, 321, -321, 2212, 111]), integer)
mother = st.one_of(st.sampled_from([313, -313, 333, 113, 0]), integer)


@st.composite
def particle(draw) -> dict:
    p = [draw(momentum) for _ in range(3)]
    m = draw(mass)
    row = {c: draw(integer) if c in INT_COLUMNS else draw(finite) for c in EXTENDED_COLUMNS}
    row.update(px=p[0], py=p[1], pz=p[2], mass=m, p0=float(np.sqrt(m * m + p[0] ** 2 + p[1] ** 2 + p[2] ** 2)) or 1e-3)
    row.update(pdg=draw(pdg), pdg_mother1=draw(mother), proc_type_origin=draw(st.sampled_from([5, 1, 45])),
               proc_id_origin=draw(st.integers(0, 6)))
    return row


DECAYS = {313: (321, -211, 0.494, 0.140), 333: (321, -321, 0.494, 0.494), 113: (211, -211, 0.140, 0.140)}


@st.composite
def decay_pair(draw, proc: int) -> list[dict]:
    """The two daughters of one K*0, φ or ρ0 decay (process ``proc``), inside the default acceptance."""
    parent = draw(st.sampled_from(sorted(DECAYS)))
    rows = []
    for pdg_d, m in zip(DECAYS[parent][:2], DECAYS[parent][2:]):
        row = draw(particle())
        p = [draw(st.floats(-1.0, 1.0, allow_nan=False)) for _ in range(3)]
        row.update(pdg=pdg_d, mass=m, px=p[0], py=p[1], pz=p[2], p0=float(np.sqrt(m * m + sum(x * x for x in p))),
                   proc_type_origin=5, pdg_mother1=parent, proc_id_origin=proc)
        rows.append(row)
    return rows


@st.composite
def particle_lists(draw) -> ParticleLists:
    """One to four events, each a single list of zero to six particles and up to three decay pairs, distinct event
    and ensemble numbers."""
    n_lists = draw(st.integers(1, 4))
    events = draw(st.lists(st.integers(0, 2**31 - 1), min_size=n_lists, max_size=n_lists, unique=True))
    rows, event = [], []
    for k in range(n_lists):
        for _ in range(draw(st.integers(0, 6))):
            rows.append(draw(particle()))
            event.append(k)
        for j in range(draw(st.integers(0, 3))):
            rows += draw(decay_pair(100 + j))
            event += [k, k]
    data = {c: np.array([r[c] for r in rows], dtype=np.int64 if c in INT_COLUMNS else float) for c in EXTENDED_COLUMNS}
    impact = np.array([draw(st.floats(0.0, 1e3, allow_nan=False)) for _ in range(n_lists)])
    ens = np.array([draw(st.integers(0, 3)) for _ in range(n_lists)], dtype=np.int64)
    return ParticleLists("OSCAR2013Extended", EXTENDED_COLUMNS, data, np.array(event, dtype=np.int64), impact,
                         np.array(events, dtype=np.int64), ens)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("oscar_properties")


def _check(lists: ParticleLists) -> None:
    """What a successful read guarantees: finite floats, int64 integer columns, timelike particles, consistent indices."""
    n = len(lists.event)
    assert lists.event.dtype == np.int64 and ((lists.event >= 0) & (lists.event < max(lists.n_lists, 1))).all() or n == 0
    for name, col in lists.data.items():
        assert len(col) == n
        if name in INT_COLUMNS:
            assert col.dtype == np.int64, name
        else:
            assert col.dtype == np.float64 and np.isfinite(col).all(), name
    p = np.stack([lists.data["px"], lists.data["py"], lists.data["pz"]], -1)
    p0 = lists.data["p0"]
    assert (p0 > 0).all() and (np.abs(p) <= MAX_MOMENTUM).all()
    assert (p0 * (1 + 1e-6) + 1e-9 >= np.sqrt((p * p).sum(-1))).all()
    assert np.all(np.isnan(lists.impact) | ((lists.impact >= 0) & (lists.impact <= 1e3)))  # NaN only where the file gives none
    assert len(lists.list_event) == len(lists.list_ensemble) == lists.n_lists


def _check_analysis(lists: ParticleLists) -> None:
    res = analyse_events(lists, Config(n_bins=4, n_pt_bins=1))
    for i in range(3):
        if res.source.accepted[i]:
            assert np.isfinite(res.rho00_moment[i, :, 0]).all() and np.isfinite(res.delta_rho00[i, :, 1]).all()
            assert res.source.reasons[i] == ""
        else:
            assert res.source.reasons[i] and res.source.why[i]


@pytest.mark.parametrize("fmt", FORMATS)
@given(lists=particle_lists())
def test_valid_lists_round_trip_exactly(folder, fmt, lists):
    path = write_oscar(folder / f"round_trip_{fmt}.oscar", lists, fmt)
    back = read_oscar(path)
    _check(back)
    assert back.format == fmt and back.n_lists == lists.n_lists
    assert np.array_equal(back.event, lists.event) and np.array_equal(back.impact, lists.impact)
    assert np.array_equal(back.list_event, lists.list_event) and np.array_equal(back.list_ensemble, lists.list_ensemble)
    for name in back.columns:
        assert np.array_equal(back.data[name], lists.data[name]), name
    if fmt == "OSCAR2013Extended":
        _check_analysis(back)


MUTATIONS = ("delete", "duplicate", "swap", "token", "truncate", "insert")


EDITS = st.lists(st.tuples(st.sampled_from(MUTATIONS), st.integers(0, 10**6), st.text(max_size=12)), min_size=1, max_size=3)


@given(case=st.tuples(st.sampled_from(FORMATS), particle_lists()), edits=EDITS)
def test_mutated_files_raise_oscar_error_or_give_checked_data(folder, case, edits):
    fmt, lists = case
    path = write_oscar(folder / "mutated.oscar", lists, fmt)
    lines = path.read_text().split("\n")
    for kind, at, text in edits:
        k = at % max(len(lines), 1)
        if kind == "delete" and lines:
            del lines[k]
        elif kind == "duplicate" and lines:
            lines.insert(k, lines[k])
        elif kind == "swap" and len(lines) > 1:
            lines[k], lines[k - 1] = lines[k - 1], lines[k]
        elif kind == "token" and lines:
            parts = lines[k].split(" ")
            parts[at % len(parts)] = text
            lines[k] = " ".join(parts)
        elif kind == "truncate":
            lines = "\n".join(lines)[: at % (len("\n".join(lines)) + 1)].split("\n")
        else:
            lines.insert(k, text)
    path.write_bytes("\n".join(lines).encode("utf-8", "replace"))
    try:
        back = read_oscar(path)
    except OscarError as err:
        assert str(err).startswith(str(path))
        return
    _check(back)
    _check_analysis(back)


@given(raw=st.binary(max_size=400), header=st.sampled_from([b"", b"#!OSCAR2013 particle_lists t x y z mass p0 px py pz pdg ID charge\n",
                                                            b"# OSC1999A\n"]))
def test_random_bytes_raise_oscar_error_or_give_checked_data(folder, raw, header):
    path = folder / "random.oscar"
    path.write_bytes(header + raw)
    try:
        back = read_oscar(path)
    except OscarError as err:
        assert str(err).startswith(str(path))
        return
    _check(back)
