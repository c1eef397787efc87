"""The ``handgrad`` command: ``main`` parses the arguments, runs a subcommand and turns every error
into one line on standard error and an exit status."""

from .app import main

__all__ = ["main"]
