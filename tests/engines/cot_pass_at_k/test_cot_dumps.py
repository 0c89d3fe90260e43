"""The JSONL dump reader: a round trip, and malformed rows refused with the file and line number."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engines.cot_pass_at_k.dumps import CotPassError, Table, read_dump, write_dump
from engines.inputs import InputError


def _rows(n_prompts=3, n=4):
    return [{"prompt_id": f"p{p}", "sample_id": s, "answer_correct": (p + s) % 2 == 0, "cot_correct": (p + s) % 4 == 0}
            for p in range(n_prompts) for s in range(n)]


def _write(tmp_path, rows, name="d.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_round_trip_of_several_checkpoints_with_votes(tmp_path):
    rng = np.random.default_rng(0)
    tables = []
    for i, name in enumerate(("base", "rl")):
        correct = rng.random((5, 6)) < 0.5
        cot = correct & (rng.random((5, 6)) < 0.7)
        tables.append(Table(name, 10 * i, [f"q{j}" for j in range(5)], correct, cot, rng.random((5, 6, 3)) < 0.5))
    back = read_dump(write_dump(tmp_path / "t.jsonl", tables))
    assert [t.name for t in back] == ["base", "rl"] and [t.step for t in back] == [0, 10]
    for a, b in zip(tables, back):
        assert np.array_equal(a.correct, b.correct) and np.array_equal(a.cot, b.cot) and np.array_equal(a.votes, b.votes)


def test_crlf_bom_and_blank_lines_are_fine(tmp_path):
    path = tmp_path / "w.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n\r\n".join(json.dumps(r) for r in _rows()).encode() + b"\r\n")
    (t,) = read_dump(path)
    assert t.correct.shape == (3, 4) and t.step is None and t.name == "dump"


BAD = [
    ("not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ({"prompt_id": "p0", "sample_id": 9, "answer_correct": True}, "missing cot_correct"),
    ({"prompt_id": "p0", "sample_id": 9, "answer_correct": "yes", "cot_correct": False}, "answer_correct: expected true or false"),
    ({"prompt_id": "p0", "sample_id": 9, "answer_correct": False, "cot_correct": True}, "cot_correct is true but answer_correct"),
    ({"prompt_id": "p0", "sample_id": 1, "answer_correct": True, "cot_correct": True}, "appears twice"),
    ({"prompt_id": None, "sample_id": 9, "answer_correct": True, "cot_correct": True}, "prompt_id: expected"),
    ({"prompt_id": "p0", "sample_id": 9, "answer_correct": 2, "cot_correct": False}, "expected true or false"),
    ({"prompt_id": "p0", "sample_id": 9, "answer_correct": True, "cot_correct": False, "judge_votes": "yes"}, "judge_votes"),
    ({"prompt_id": "p0", "sample_id": 9, "answer_correct": True, "cot_correct": False, "step": -1}, "step"),
    ({"prompt_id": "p0", "sample_id": 9, "answer_correct": True, "cot_correct": False, "chain_correct": True}, "must be answer_correct"),
]


@pytest.mark.parametrize("bad, message", BAD)
def test_a_malformed_row_is_refused_with_its_line_number(tmp_path, bad, message):
    rows = _rows()
    rows.insert(5, bad)  # line 6
    with pytest.raises(CotPassError, match=message) as err:
        read_dump(_write(tmp_path, rows))
    assert "d.jsonl:6:" in str(err.value)
    assert isinstance(err.value, InputError) and isinstance(err.value, ValueError)


def test_unequal_sample_counts_and_prompt_sets_are_refused(tmp_path):
    rows = _rows()[:-1]  # p2 has 3 samples, the others 4
    with pytest.raises(CotPassError, match="has 3 samples, others have 4"):
        read_dump(_write(tmp_path, rows))
    a = [dict(r, checkpoint="a") for r in _rows()]
    b = [dict(r, checkpoint="b", prompt_id=r["prompt_id"] + "x") for r in _rows()]
    with pytest.raises(CotPassError, match="other prompts"):
        read_dump(_write(tmp_path, a + b))


def test_empty_file_folder_and_binary_are_refused(tmp_path):
    with pytest.raises(CotPassError, match="no rows"):
        read_dump(_write(tmp_path, [""]))
    with pytest.raises(CotPassError, match="folder"):
        read_dump(tmp_path)
    (tmp_path / "b.jsonl").write_bytes(b"\x00\x01")
    with pytest.raises(CotPassError):
        read_dump(tmp_path / "b.jsonl")
