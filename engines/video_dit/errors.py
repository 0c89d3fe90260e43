"""The engine's error type."""

from ..inputs import InputError


class VideoDiTError(InputError):
    """A recorded checkpoint or input file that this engine cannot use (names the file and what was expected)."""
