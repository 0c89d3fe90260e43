"""Reading a user's file: regular files only, text with a BOM or CRLF accepted, hostile JSON refused with the line."""

from __future__ import annotations

import os

import pytest

from engines.inputs import InputError, exact_int, finite_float, json_load, read_text, regular_file


class MyError(InputError):
    pass


def test_a_fifo_a_folder_a_device_and_a_missing_file_are_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(MyError, match="not a regular file"):
        regular_file(fifo, MyError)  # would block forever if opened
    with pytest.raises(MyError, match="is a folder"):
        regular_file(tmp_path, MyError)
    with pytest.raises(MyError, match="not a regular file"):
        regular_file("/dev/zero", MyError)  # would be read until memory runs out
    with pytest.raises(MyError, match="no such file"):
        regular_file(tmp_path / "absent.csv", MyError)


def test_text_with_a_byte_order_mark_and_crlf_reads_as_plain_lines(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes("\ufeffTIMESTAMP,A\r\n1,2\r\n".encode())
    assert read_text(p).splitlines() == ["TIMESTAMP,A", "1,2"]


def test_binary_and_non_utf8_text_is_refused_with_the_line(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes(b"ok\nok\n\xff\xfe bad\n")
    with pytest.raises(InputError, match=r"t.txt:3: not UTF-8"):
        read_text(p)
    p.write_bytes(b"a\n\x00b")
    with pytest.raises(InputError, match=r"t.txt:2: a NUL byte"):
        read_text(p)


def test_json_deep_nesting_nan_and_syntax_errors_are_refused_with_the_file(tmp_path):
    p = tmp_path / "x.json"
    p.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError, match="nested deeper"):
        json_load(p)
    p.write_text('{"a": NaN}')
    with pytest.raises(InputError, match="NaN is not a number JSON allows"):
        json_load(p)
    p.write_text('{"a": 1,\n "b": }')
    with pytest.raises(InputError, match=r"x.json:2: not valid JSON"):
        json_load(p)
    p.write_text('{"a": "[[[[ in a string ]", "b": [1, 2]}')
    assert json_load(p) == {"a": "[[[[ in a string ]", "b": [1, 2]}


def test_numbers_are_checked_after_conversion():
    assert finite_float("1.5", "f:1: x") == 1.5
    for bad in ("nan", "inf", "1e400", "abc"):
        with pytest.raises(InputError, match="^f:1: x: "):
            finite_float(bad, "f:1: x")
    with pytest.raises(InputError, match="out of range"):
        finite_float("5", "f:1: x", lo=0, hi=1)
    assert exact_int(" 211 ", "pdg") == 211
    for bad in ("211.5", "2e2", ""):
        with pytest.raises(InputError, match="expected an integer"):
            exact_int(bad, "pdg")


def test_integers_with_underscores_or_other_digits_are_not_integers_here():
    for bad in ("1_000", "４２", "0x10"):
        with pytest.raises(InputError, match="expected an integer"):
            exact_int(bad, "n")
