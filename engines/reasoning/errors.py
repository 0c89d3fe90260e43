"""The reasoning world's one error type: bad input named with its file, line or record and what was expected."""

from __future__ import annotations


class ReasoningError(ValueError):
    """A malformed prompt, program, log file or model path (the message names where and what was expected)."""
