"""The project's error type: every invalid input surfaces as a GenomeError naming the offending field."""

from __future__ import annotations


class NasbenchError(Exception):
    """Base class of every error nasbench raises on purpose (bad input, bad configuration)."""


def error_line(error: BaseException) -> str:
    """The first line of ``error``'s message (its type's name when it has none), for a one-line error."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class GenomeError(NasbenchError, ValueError):
    """An architecture genome is invalid; ``field`` is the dotted path of the offending field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)
