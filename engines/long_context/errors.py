"""The engine's error type."""

from __future__ import annotations

from engines.inputs import InputError


class LongContextError(InputError):
    """Bad input to the long-context engine: a malformed config.json or recorded run, named with what was expected."""
