"""The engine's error type."""

from __future__ import annotations


class LongContextError(ValueError):
    """Bad input to the long-context engine: a malformed config.json or recorded run, named with what was expected."""
