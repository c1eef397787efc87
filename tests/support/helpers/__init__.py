"""Helpers shared by several test files, one module per part of the package (``tests/support``
is on pytest's ``pythonpath``: ``from helpers.cli import one_line_error``)."""
