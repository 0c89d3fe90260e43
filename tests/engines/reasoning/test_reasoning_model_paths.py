"""A policy path from the user (`model=PATH`) is refused in one line, at once, whatever it points at."""

from __future__ import annotations

import os

import pytest

from engines.reasoning.errors import ReasoningError
from engines.reasoning.model import load_policy


def _cases(tmp_path):
    (tmp_path / "fifo.gguf").parent.mkdir(exist_ok=True)
    os.mkfifo(tmp_path / "fifo.gguf")  # opening it would block: refused before anything reads it
    (tmp_path / "short.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 16)  # a header cut short
    (tmp_path / "noise.gguf").write_bytes(os.urandom(64))
    (tmp_path / "weights.bin").write_bytes(b"\x00" * 8)
    (tmp_path / "empty_folder").mkdir()
    (tmp_path / "bad_config").mkdir()
    (tmp_path / "bad_config" / "config.json").write_text('{"model_type": "llama", "hidden_size": -3}')
    (tmp_path / "broken_json").mkdir()
    (tmp_path / "broken_json" / "config.json").write_text("{")
    return {
        "fifo.gguf": "not a regular file", "short.gguf": "cannot be loaded", "noise.gguf": "GGUF", "weights.bin": "must be GGUF",
        "empty_folder": "no config.json", "bad_config": "cannot be loaded", "broken_json": "cannot be loaded", "missing": "no such file",
    }


def test_bad_model_paths_are_refused_in_one_line(tmp_path):
    for name, words in _cases(tmp_path).items():
        with pytest.raises(ReasoningError) as err:
            load_policy(tmp_path / name)
        message = str(err.value)
        assert words in message and "\n" not in message and str(tmp_path / name) in message, (name, message)
