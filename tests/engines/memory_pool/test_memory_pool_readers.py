"""Property-based tests of every reader (Azure, BurstGPT, Mooncake traces; memory snapshots): valid files round-trip,
random and mutated files raise only the reader's own error or give finite, checked data; a hostile pickle runs nothing."""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.memory_pool import Config, SnapshotError, TraceError, load_snapshot, load_trace, run
from engines.memory_pool import traces as T
from engines.memory_pool.snapshot import save_snapshot, validate_snapshot

tokens = st.integers(0, T.MAX_TOKENS)
stamps = st.tuples(st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59)), st.integers(0, 10**9 - 1))
quirks = st.sampled_from([("", "\n"), ("\ufeff", "\n"), ("\ufeff", "\r\n"), ("", "\r\n")])  # byte-order mark, line ends


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("readers")


def _write(path, text: str, quirk=("", "\n")) -> None:
    bom, end = quirk
    path.write_bytes((bom + text.replace("\n", end)).encode())


def _checked(tr: T.Trace) -> None:
    """What every loaded trace guarantees: finite sorted arrivals from 0, token counts in [1, MAX_TOKENS], one line each."""
    assert len(tr) >= 1 and np.all(np.isfinite(tr.arrival_s)) and tr.arrival_s[0] == 0 and np.all(np.diff(tr.arrival_s) >= 0)
    for x in (tr.input_tokens, tr.output_tokens):
        assert x.dtype == np.int64 and x.min() >= 1 and x.max() <= T.MAX_TOKENS
    assert len(tr.lines) == len(tr)


def _sorted(arrival, *cols):
    order = np.argsort(np.asarray(arrival, dtype=float), kind="stable")
    return [np.asarray(c)[order] for c in (arrival, *cols)]


@given(rows=st.lists(st.tuples(stamps, tokens, tokens), min_size=1, max_size=30), sep=st.sampled_from(" T"), quirk=quirks)
def test_azure_round_trip(workdir, rows, sep, quirk):
    lines = [f"{d.year:04d}-{d.month:02d}-{d.day:02d}{sep}{d:%H:%M:%S}.{ns:09d},{i},{o}" for (d, ns), i, o in rows]
    path = workdir / "azure.csv"
    _write(path, "TIMESTAMP,ContextTokens,GeneratedTokens\n" + "\n".join(lines) + "\n", quirk)
    tr = load_trace(path)
    _checked(tr)
    ns = [((d.replace(microsecond=0) - dt.datetime(1, 1, 1)) // dt.timedelta(seconds=1)) * 10**9 + n for (d, n), _, _ in rows]
    t0 = min(ns)
    arrival, inp, out = _sorted(np.array([x - t0 for x in ns], dtype=float) / 1e9, [r[1] for r in rows], [r[2] for r in rows])
    np.testing.assert_array_equal(tr.arrival_s, arrival - arrival[0])
    np.testing.assert_array_equal(tr.input_tokens, np.maximum(1, inp))
    np.testing.assert_array_equal(tr.output_tokens, np.maximum(1, out))


@given(
    rows=st.lists(st.tuples(st.floats(0, 1e9), tokens, st.integers(0, 10**6)), min_size=1, max_size=30),
    quirk=quirks,
)
def test_burstgpt_round_trip(workdir, rows, quirk):
    path = workdir / "burst.csv"
    body = "\n".join(f"{t!r},ChatGPT,{i},{o},{i + o},Conversation log" for t, i, o in rows)
    _write(path, "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n" + body + "\n", quirk)
    kept = [r for r in rows if r[2] > 0]
    if not kept:
        with pytest.raises(TraceError, match="no usable requests"):
            load_trace(path)
        return
    tr = load_trace(path)
    _checked(tr)
    assert tr.skipped == len(rows) - len(kept)
    arrival, inp, out = _sorted([r[0] for r in kept], [r[1] for r in kept], [r[2] for r in kept])
    np.testing.assert_array_equal(tr.arrival_s, arrival - arrival[0])
    np.testing.assert_array_equal(tr.input_tokens, np.maximum(1, inp))
    np.testing.assert_array_equal(tr.output_tokens, out)


@given(rows=st.lists(st.tuples(st.integers(0, 10**15), tokens, tokens), min_size=1, max_size=30), quirk=quirks)
def test_mooncake_round_trip(workdir, rows, quirk):
    path = workdir / "mooncake.jsonl"
    body = "\n".join(json.dumps(dict(timestamp=t, input_length=i, output_length=o, hash_ids=[1, 2])) for t, i, o in rows)
    _write(path, body + "\n", quirk)
    tr = load_trace(path)
    _checked(tr)
    arrival, inp, out = _sorted(np.array([r[0] for r in rows]) * 1e-3, [r[1] for r in rows], [r[2] for r in rows])
    np.testing.assert_array_equal(tr.arrival_s, arrival - arrival[0])
    np.testing.assert_array_equal(tr.input_tokens, np.maximum(1, inp))


HEADERS = [
    "TIMESTAMP,ContextTokens,GeneratedTokens\n",
    "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n",
    '{"timestamp": 0, "input_length": 5, "output_length": 5}\n',
]
VALID = [
    HEADERS[0] + "2023-11-16 18:15:46.6805900,1020,129\n2023-11-16 18:15:47.0100000,300,12\n",
    HEADERS[1] + "5,ChatGPT,100,20,120,Conversation log\n7.5,GPT-4,300,0,300,Conversation log\n",
    HEADERS[2] + '{"timestamp": 1500, "input_length": 300, "output_length": 40}\n',
]


def _load_only_trace_error(path, fmt="auto"):
    try:
        tr = load_trace(path, fmt)
    except TraceError as err:
        assert str(err).startswith(str(path)), err  # the message names the file (and the line where there is one)
        return
    _checked(tr)


@given(header=st.sampled_from(HEADERS), body=st.text(max_size=300), fmt=st.sampled_from(["auto", "azure", "burstgpt", "mooncake"]))
def test_random_text_after_a_real_header_is_read_or_refused_clearly(workdir, header, body, fmt):
    path = workdir / "random.txt"
    path.write_text(header + body, encoding="utf-8")
    _load_only_trace_error(path, fmt)


@given(
    which=st.integers(0, len(VALID) - 1),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255), st.sampled_from("rid")), max_size=8),
)
def test_mutated_trace_files_are_read_or_refused_clearly(workdir, which, edits):
    data = bytearray(VALID[which].encode())
    for pos, byte, op in edits:
        i = pos % (len(data) + 1)
        if op == "r" and i < len(data):
            data[i] = byte
        elif op == "i":
            data.insert(i, byte)
        elif op == "d" and i < len(data):
            del data[i]
    path = workdir / "mutated.csv"
    path.write_bytes(bytes(data))
    _load_only_trace_error(path)


@given(data=st.binary(max_size=400))
def test_random_bytes_are_refused_clearly(workdir, data):
    path = workdir / "bytes.bin"
    path.write_bytes(data)
    _load_only_trace_error(path)


# ---- memory snapshots -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def snapshot(workdir):
    res = run(Config(workload="long_context_mix", n_requests=3, rate_rps=0.5, policy="elastic", snapshot_max_entries=40, n_frames=4))
    return res.snapshots["elastic"]


def test_snapshot_round_trips_as_pickle_and_as_json(workdir, snapshot):
    assert load_snapshot(save_snapshot(snapshot, workdir / "snap.pickle")) == snapshot
    (workdir / "snap.json").write_text(json.dumps(snapshot))
    assert load_snapshot(workdir / "snap.json") == json.loads(json.dumps(snapshot))  # tuples come back as lists
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):  # PyTorch writes whatever protocol its pickle defaults to
        (workdir / "p.pickle").write_bytes(pickle.dumps(snapshot, protocol=protocol))
        assert load_snapshot(workdir / "p.pickle") == snapshot


class _RunsCode:
    """What a crafted pickle does: unpickling calls os.system (here: touching a marker file)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(workdir, snapshot, protocol):
    marker = workdir / f"pwned-{protocol}"
    evil = dict(snapshot, segments=[_RunsCode(marker)])
    path = workdir / "evil.pickle"
    path.write_bytes(pickle.dumps(evil, protocol=protocol))
    with pytest.raises(SnapshotError, match=r"evil.pickle: refused: it names (posix|os|nt)\.system"):
        load_snapshot(path)
    assert not marker.exists()
    # the same refusal for any class a pickle names, however harmless it looks
    path.write_bytes(pickle.dumps({"segments": [], "device_traces": [[]], "x": dt.date(2024, 1, 1)}, protocol=protocol))
    with pytest.raises(SnapshotError, match="refused: it names datetime.date"):
        load_snapshot(path)


@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255), st.sampled_from("rid")), min_size=1, max_size=6))
def test_mutated_snapshot_pickles_are_read_or_refused_clearly(workdir, snapshot, edits):
    data = bytearray(pickle.dumps(snapshot))
    for pos, byte, op in edits:
        i = pos % (len(data) + 1)
        if op == "r" and i < len(data):
            data[i] = byte
        elif op == "i":
            data.insert(i, byte)
        elif op == "d" and i < len(data):
            del data[i]
    path = workdir / "mutated.pickle"
    path.write_bytes(bytes(data))
    try:
        snap = load_snapshot(path)
    except SnapshotError as err:
        assert str(err).startswith(str(path))
        return
    validate_snapshot(snap)  # accepted means it has the documented shape


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["segments", "device_traces", "blocks", "size", "action", "addr"]), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(value=json_values)
def test_arbitrary_structures_are_refused_unless_they_have_the_shape(workdir, value):
    path = workdir / "structure.pickle"
    path.write_bytes(pickle.dumps(value))
    try:
        snap = load_snapshot(path)
    except SnapshotError:
        return
    validate_snapshot(snap)


def test_special_and_missing_snapshot_files_are_snapshot_errors(workdir):
    with pytest.raises(SnapshotError, match="not a regular file"):
        load_snapshot("/dev/zero")
    with pytest.raises(SnapshotError, match="no such file"):
        load_snapshot(workdir / "absent.pickle")
    (workdir / "empty.pickle").write_bytes(b"")
    with pytest.raises(SnapshotError, match="not a readable pickle"):
        load_snapshot(workdir / "empty.pickle")


def test_a_trace_entry_whose_action_is_not_text_is_refused():
    # found by the mutation test above: an unhashable action made `action in ACTIONS` raise TypeError
    from engines.memory_pool.snapshot import SnapshotError, validate_snapshot

    for action in ({"alloc": 1}, ["alloc"], None, 3):
        entry = {"action": action, "addr": 0, "size": 0, "stream": 0, "time_us": 0, "frames": []}
        with pytest.raises(SnapshotError, match=r"device_traces\[0\]\[0\]: bad trace entry"):
            validate_snapshot({"segments": [], "device_traces": [[entry]]})
