"""Trace generators and loaders: real files, round trips, bad rows with line numbers."""

import numpy as np
import pytest

from engines.memory_pool import Config, run
from engines.memory_pool import traces as T

AZURE = T.azure_trace_path()
needs_azure = pytest.mark.skipif(not AZURE.exists(), reason="../shared/data/azure_llm_2023_conv.csv is absent")


@needs_azure
def test_real_azure_trace_loads_with_its_published_statistics():
    tr = T.load(AZURE)
    assert T.sniff_format(AZURE) == "azure"
    assert 19_300 <= len(tr) <= 19_400
    assert np.median(tr.input_tokens) == pytest.approx(1020, abs=5)
    assert np.median(tr.output_tokens) == pytest.approx(129, abs=3)
    assert tr.input_tokens.max() == 14050
    assert 3000 < tr.arrival_s[-1] < 4000  # about one hour
    assert np.all(np.diff(tr.arrival_s) >= 0) and tr.arrival_s[0] == 0


def test_time_scaling_reaches_the_target_rate_and_keeps_the_shape():
    tr = T.synthetic(1, 500, 2.0, 1.0, 1000, 100)
    fast = tr.scaled(rate=10.0)
    assert fast.rate == pytest.approx(10.0, rel=1e-12)
    np.testing.assert_allclose(fast.arrival_s / fast.arrival_s[-1], tr.arrival_s / tr.arrival_s[-1])
    assert len(tr.scaled(limit=50)) == 50


def test_generators_are_seeded_and_have_the_asked_rate():
    a, b = T.synthetic(3, 4000, 5.0, 1.0, 512, 64), T.synthetic(3, 4000, 5.0, 1.0, 512, 64)
    np.testing.assert_array_equal(a.input_tokens, b.input_tokens)
    assert a.rate == pytest.approx(5.0, rel=0.06)
    gaps = np.diff(a.arrival_s)
    assert np.std(gaps) / np.mean(gaps) == pytest.approx(1.0, abs=0.08)  # Poisson: CV 1
    bursty = np.diff(T.synthetic(3, 4000, 5.0, 3.0, 512, 64).arrival_s)
    assert np.std(bursty) / np.mean(bursty) > 2.4
    mix = T.long_context_mix(0, 2000, 1.0, 1.0)
    assert mix.input_tokens.min() >= 32768 and mix.input_tokens.max() <= 131072
    assert mix.output_tokens.min() >= 1024 and mix.output_tokens.max() <= 4096


def test_burstgpt_and_mooncake_round_trip(tmp_path):
    bg = tmp_path / "burst.csv"
    bg.write_text(
        "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
        "5,ChatGPT,100,20,120,Conversation log\n7.5,GPT-4,300,0,300,Conversation log\n9,ChatGPT,50,10,60,API log\n"
    )
    tr = T.load(bg)
    assert tr.skipped == 1 and len(tr) == 2
    np.testing.assert_allclose(tr.arrival_s, [0.0, 4.0])
    assert tr.input_tokens.tolist() == [100, 50]
    mc = tmp_path / "mooncake.jsonl"
    mc.write_text(
        '{"timestamp": 0, "input_length": 7000, "output_length": 12, "hash_ids": [1, 2]}\n\n'
        '{"timestamp": 1500, "input_length": 300, "output_length": 40}\n'
    )
    tr = T.load(mc)
    np.testing.assert_allclose(tr.arrival_s, [0.0, 1.5])
    assert tr.output_tokens.tolist() == [12, 40]


@pytest.mark.parametrize(
    "name, text, where",
    [
        ("a.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,10,2\n2023-11-16 18:15:47.1,ten,2\n", ":3:"),
        ("b.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,10,2\n", ":2:"),
        ("c.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,-4,2\n", ":2:"),
        ("d.csv", "Timestamp,Model,Request tokens,Response tokens\n1,m,5,5\nnope,m,5,5\n", ":3:"),
        ("e.jsonl", '{"timestamp": 0, "input_length": 5, "output_length": 5}\n{"timestamp": 1, "input_length": 5\n', ":2:"),
        ("f.jsonl", '{"timestamp": 0, "input_length": 5}\n', ":1:"),
        ("g.txt", "what,is,this\n", ":1:"),
        ("h.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,inf,2\n", ":2: ContextTokens is 'inf'"),
        ("i.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,12.7,2\n", ":2: ContextTokens is '12.7'"),
        ("j.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,10,2\n,10,2\n", ":3: TIMESTAMP ''"),
        ("k.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,10\n", ":2: GeneratedTokens is missing"),
        ("l.csv", "Timestamp,Model,Request tokens,Response tokens\nnan,m,5,5\n", ":2: Timestamp is 'nan'"),
        ("m.jsonl", '{"timestamp": NaN, "input_length": 5, "output_length": 5}\n', ":1: NaN is not a number JSON allows"),
        (
            "n.csv",
            "TIMESTAMP,ContextTokens,GeneratedTokens,ContextTokens\n2023-11-16 18:15:46.68,10,2,99\n",
            ":1: column.s. ContextTokens appear",
        ),
        (
            "o.csv",
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,10," + "9" * 200_000 + "\n",
            ":2: not a well-formed CSV row",
        ),
        ("p.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-02-30 18:15:46.68,10,2\n", ":2: TIMESTAMP '2023-02-30"),
        ("q.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n12023-01-01 00:00:00,10,2\n", ":2: TIMESTAMP"),
        ("r.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-01-01 00:00:00,1_000,2\n", ":2: ContextTokens is '1_000'"),
        ("s.csv", "Timestamp,Model,Request tokens,Response tokens\n-3,m,5,5\n", ":2: Timestamp is '-3', expected seconds in"),
        ("t.jsonl", '{"timestamp": 0, "input_length": 5.5, "output_length": 5}\n', ":1: input_length is 5.5"),
        ("u.jsonl", '{"timestamp": 0, "input_length": true, "output_length": 5}\n', ":1: input_length is 'True'"),
        ("v.jsonl", '{"timestamp": 0, "input_length": 5, "output_length": 5}\n' + "[" * 100 + "]" * 100 + "\n", ":2: JSON nested deeper"),
        ("w.jsonl", '{"timestamp": 0, "input_length": 5, "output_length": 99999999999999999999999}\n', ":1: output_length is '9999"),
    ],
)
def test_malformed_trace_files_name_the_line(tmp_path, name, text, where):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(T.TraceError, match=where):
        T.load(path)


def test_spreadsheet_quirks_are_accepted(tmp_path):
    """A byte-order mark and CRLF line ends (as spreadsheet programs write) read as the plain file does."""
    plain = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,10,2\n2023-11-16 18:15:47.1,20,3\n"
    (tmp_path / "plain.csv").write_text(plain)
    (tmp_path / "excel.csv").write_bytes(b"\xef\xbb\xbf" + plain.replace("\n", "\r\n").encode())
    a, b = T.load(tmp_path / "plain.csv"), T.load(tmp_path / "excel.csv")
    np.testing.assert_array_equal(a.arrival_s, b.arrival_s)
    np.testing.assert_array_equal(a.input_tokens, b.input_tokens)
    (tmp_path / "b.csv").write_bytes(b"\xef\xbb\xbfTimestamp,Model,Request tokens,Response tokens\r\n1,m,5,5\r\n")
    (tmp_path / "m.jsonl").write_bytes(b'\xef\xbb\xbf{"timestamp": 5, "input_length": 5, "output_length": 6}\r\n')
    assert T.load(tmp_path / "b.csv").input_tokens.tolist() == [5] and T.load(tmp_path / "m.jsonl").output_tokens.tolist() == [6]


def test_azure_timestamps_outside_the_nanosecond_range_do_not_wrap(tmp_path):
    """numpy's datetime64[ns] holds 1678–2262 only; the reader counts exact nanoseconds for any year 1–9999."""
    path = tmp_path / "old.csv"
    path.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "1600-01-01 00:00:00.000000001,10,2\n2300-01-01 00:00:00,10,2\n1600-01-01 00:00:01,10,2\n9999-12-31T23:59:59.999999999,1,1\n"
    )
    tr = T.load(path)
    days_1600_2300 = (np.datetime64("2300-01-01", "D") - np.datetime64("1600-01-01", "D")).astype(int)
    assert tr.arrival_s[1] == pytest.approx(1.0 - 1e-9, abs=1e-12)
    assert tr.arrival_s[2] == pytest.approx(days_1600_2300 * 86400.0, rel=1e-15)
    assert tr.lines.tolist() == [2, 4, 3, 5]  # sorted by arrival, each request still knows its line


def test_special_files_are_refused_without_reading_them(tmp_path):
    import os

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    for path in (fifo, "/dev/zero"):
        with pytest.raises(T.TraceError, match="not a regular file"):
            T.load(path)
        with pytest.raises(ValueError, match="^trace: .*not a regular file"):
            Config(trace=str(path))


def test_unreadable_trace_files_are_trace_errors(tmp_path):
    binary = tmp_path / "trace.csv"
    binary.write_bytes(b"TIMESTAMP,ContextTokens,GeneratedTokens\n\x89PNG\xff\xfe\n")
    for fmt in ("auto", "azure", "mooncake"):
        with pytest.raises(T.TraceError, match="trace.csv:2: not UTF-8 text"):
            T.load(binary, fmt)
    with pytest.raises(T.TraceError, match="is a folder, expected a file"):
        T.load(tmp_path, "azure")


def test_replaying_a_trace_file_through_the_engine(tmp_path):
    path = tmp_path / "t.csv"
    rows = "\n".join(f"2023-11-16 18:15:{10 + i:02d}.5000000,{200 + 50 * i},{20 + i}" for i in range(12))
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n" + rows + "\n")
    res = run(Config(trace=str(path), export_snapshot=False))
    assert res.summary()["trace"]["requests"] == 12
    for p in ("static_chunked", "static_unchunked", "elastic"):
        assert res.runs[p].stats["finished"] == 12
    bad = tmp_path / "bad.csv"
    bad.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:10,1,x\n")
    with pytest.raises(ValueError, match="^trace: .*bad.csv:2"):
        Config(trace=str(bad))  # a bad file is a bad Config: the CLI exits 2 with this line
