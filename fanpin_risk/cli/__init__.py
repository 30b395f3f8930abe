"""The command line: one typer app, ``fanpin-risk <command>``."""

from ._app import app, main, write_table

__all__ = ["app", "main", "write_table"]
