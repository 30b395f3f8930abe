"""Error types raised by fanpin_risk.

Every problem the library detects in user input is raised as a subclass of
:class:`FanpinError`, so callers can catch one type instead of pandas' or
numpy's internals.
"""

from __future__ import annotations


class FanpinError(Exception):
    """Base class of every error fanpin_risk raises on purpose."""


class ContractError(FanpinError, ValueError):
    """Input does not fit the data contract (missing field, wrong type, ...)."""


class ReadError(FanpinError, ValueError):
    """A file could not be read (format, encoding, sheet, empty file)."""


class MissingLineError(FanpinError, KeyError):
    """No monitoring line is known for some (province, year)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ModelError(FanpinError, ValueError):
    """A model file is missing, tampered, of another schema, or unusable."""
