"""The command line: thin commands over the library, and every terminal table.

``main`` holds the group and the error boundary; the commands live by what they do (``look``,
``mail``, ``life``, ``service``, ``editor``) and register themselves on import.
"""

from digest.cli import editor, life, look, mail, service
from digest.cli.main import accept_config_everywhere, cli, main

accept_config_everywhere(cli)  # after every command has registered itself

__all__ = ["cli", "editor", "life", "look", "mail", "main", "service"]
