"""The command line: thin commands over the library, and every terminal table."""

from digest.cli.commands import cli, main

__all__ = ["cli", "main"]
